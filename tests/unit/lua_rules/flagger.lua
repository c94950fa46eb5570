-- flagger.lua: flags every message with the text it saw.
return {
	name = "flagger",
	on_message = function(ctx) return flag("saw:" .. (ctx.text or "")) end,
}
