-- loop.lua: never returns.
return {
	name = "loop",
	on_message = function(ctx)
		while true do end
	end,
}
