-- membomb.lua: allocates until the cap (and tries to swallow it once).
return {
	name = "membomb",
	on_message = function(ctx)
		pcall(string.rep, "x", 1 << 30)
		local t = {}
		for i = 1, math.huge do
			t[i] = string.rep("x", 1000) .. i
		end
	end,
}
