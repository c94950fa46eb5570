-- syntax.lua: a syntax error on line 4.
return {
	name = "syntax",
	on_message = function(ctx) return allow( end,
}
