-- allow.lua: allows everything, one explicitly and one by returning nil.
return {
	name = "allow_all",
	on_message = function(ctx) return allow() end,
	on_join = function(ctx) return nil end,
}
