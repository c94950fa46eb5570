-- flagger2.lua: a second flag, to show flags accumulate.
return {
	name = "flagger2",
	on_message = function(ctx) return flag("len:" .. #(ctx.text or "")) end,
}
