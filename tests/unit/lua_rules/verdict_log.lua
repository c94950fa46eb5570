-- verdict_log.lua: only on_verdict; audits what it was shown, and whether
-- v could be written to.
return {
	name = config.name or "verdict_log",
	on_verdict = function(ctx, v)
		local ro = not pcall(function() v.kind = "allow" end)
			and not pcall(function() v.flags[1] = "x" end)
		audit("verdict", {
			kind = v.kind, rule = v.rule, code = v.code, reason = v.reason,
			hook = v.hook, text = v.text or "(nil)", nflags = #v.flags,
			flag1 = v.flags[1] or "", version = v.version, ra = v.retry_after_ms,
			ctext = ctx.text or "(nil)", ro = ro,
		})
		return reject("ignored", "on_verdict's return value is ignored")
	end,
}
