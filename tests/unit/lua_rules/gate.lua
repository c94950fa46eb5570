-- gate.lua: shadow on "spam", hold on "review" (both terminal).
return {
	name = "gate",
	on_message = function(ctx)
		local t = ctx.text or ""
		if t:find("spam", 1, true) then return shadow() end
		if t:find("review", 1, true) then return hold("needs review") end
	end,
}
