-- shout.lua: rewrites ALL CAPS text to lower case.
return {
	name = "shout",
	on_message = function(ctx)
		local t = ctx.text
		if t and #t >= 4 and t:find("%u") and t == t:upper() then
			return rewrite(t:lower())
		end
	end,
}
