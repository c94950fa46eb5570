-- pcall_loop.lua: tries to swallow the budget error with pcall.
return {
	name = "pcall_loop",
	on_message = function(ctx)
		while true do
			pcall(function() while true do end end)
		end
	end,
}
