-- sandbox.lua: rejects if anything dangerous is reachable; checks isolation.
shared_global = "mine"           -- stays in this rule's own environment
return {
	name = "sandbox",
	on_message = function(ctx)
		local exposed = {}
		local names = { "io", "os", "debug", "package", "require", "load", "loadfile",
			"dofile", "collectgarbage", "print", "warn", "rawset",
			"getmetatable", "setmetatable", "coroutine" }
		for _, n in ipairs(names) do
			if _ENV[n] ~= nil then exposed[#exposed + 1] = n end
		end
		if string.dump ~= nil or ("").dump ~= nil then exposed[#exposed + 1] = "string.dump" end
		local ok = pcall(function() string.find = nil end)
		if ok then exposed[#exposed + 1] = "string writable" end
		if #exposed > 0 then return reject("exposed", table.concat(exposed, ",")) end
		return flag("sandbox ok")
	end,
}
