-- writer.lua: tries to write to the read-only context (line 5).
return {
	name = "writer",
	on_message = function(ctx)
		ctx.text = "changed"
	end,
}
