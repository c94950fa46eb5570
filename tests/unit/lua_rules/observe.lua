-- observe.lua: observe mode; would reject everything.
return {
	name = "observer",
	mode = "observe",
	on_message = function(ctx) return reject("observed", "would reject " .. (ctx.text or "")) end,
}
