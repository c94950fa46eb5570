-- badword.lua: rejects texts containing a listed word (plain find).
local words = { "badword", "darn" }
return {
	name = "badword",
	on_message = function(ctx)
		local t = ctx.text or ""
		for _, w in ipairs(words) do
			if string.find(t, w, 1, true) then
				return reject("profanity", "contains '" .. w .. "'")
			end
		end
		return allow()
	end,
}
