-- retry.lua: rejects "slow" with a retry_after_ms, "slowbad" with a bad one.
return {
	name = "retry",
	on_message = function(ctx)
		if ctx.text == "slow" then return reject("rate_limited", "wait", 1234) end
		if ctx.text == "slowbad" then return reject("rate_limited", "wait", -1) end
	end,
}
