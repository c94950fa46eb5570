-- verdict_err.lua: an on_message that flags, and an on_verdict that fails.
return {
	name = "verdict_err",
	on_message = function(ctx) return flag("seen") end,
	on_verdict = function(ctx, v) error("verdict hook broke") end,
}
