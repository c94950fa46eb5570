-- errorer.lua: raises an error on line 5.
return {
	name = "errorer",
	on_message = function(ctx)
		error("boom")
	end,
}
