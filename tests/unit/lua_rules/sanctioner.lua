-- sanctioner.lua: "sanction KIND MS" sanctions the sender (through the
-- host's callback) and flags.
return {
	name = "sanctioner",
	on_message = function(ctx)
		local kind, ms = (ctx.text or ""):match("^sanction (%a+) (%d+)$")
		if kind then
			sanction(ctx.sender_id, kind, tonumber(ms), "asked for it")
			return flag("sanctioned " .. kind)
		end
	end,
}
