-- helpers.lua: runs the helper named by ctx.reason (arguments from
-- ctx.title, ctx.target_user_id and ctx.text) and flags the result as text.
-- Reads list "words" at load; options: name, rate, burst, ttl.
local words = list("words")
local loaded_at = now()

local C = {}
C.limit = function(ctx)
	local ok, ra = limit(ctx.title, config.rate or 2, config.burst or 2)
	return tostring(ok) .. "," .. ra
end
C.incr = function(ctx) return counter.incr(ctx.title, tonumber(ctx.target_user_id), config.ttl or 1000) end
C.incr1 = function(ctx) return counter.incr(ctx.title, nil, config.ttl or 1000) end
C.get = function(ctx) return counter.get(ctx.title) end
C.strike = function(ctx) return strike(ctx.title, tonumber(ctx.target_user_id), config.ttl) end
C.strikes = function(ctx) return strikes(ctx.title) end
C.similar = function(ctx) return similar(ctx.sender_id, ctx.text) end
C.age = function(ctx) return tostring(account_age_ms()) end
C.now = function(ctx) return now() end
C.loaded_at = function(ctx) return loaded_at end
C.audit = function(ctx) return audit("test.event", { s = ctx.text, n = 3, b = true, f = 1.5 }) end
C.audit_nil = function(ctx) return audit("test.empty") end
C.audit_bad = function(ctx) return audit("test.event", { t = {} }) end
C.audit_badname = function(ctx) return audit("bad event", {}) end
C.sanction = function(ctx)
	return tostring(sanction(ctx.title, ctx.target_user_id, 60000, ctx.text))
end
C.sanction_bad = function(ctx) return tostring(sanction(ctx.title, "mute", 1, "x")) end
C.list = function(ctx) return #list("words") end
C.words = function(ctx) return table.concat(words, ",") end
C.limit_bad = function(ctx) return tostring(limit("k", 0, 1)) end
C.key_nul = function(ctx) return tostring(limit("a\0b", 1, 1)) end
C.key_long = function(ctx) return tostring(counter.incr(string.rep("k", 1025), 1, 10)) end
C.key_max = function(ctx) return tostring(counter.incr(string.rep("k", 1024), 1, 10)) end
C.ctx = function(ctx)
	return string.format("%s|%d|%s|%s|%s", ctx.hook, ctx.seq, tostring(ctx.title),
		tostring(ctx.target_user_id), tostring(ctx.reason))
end
C.config = function(ctx)
	local ok1 = pcall(function() config.x = 1 end)
	local ok2 = pcall(function() config.words[1] = "z" end)
	local ok3 = pcall(function() config.nested.deep.x = 2 end)
	local ok4 = true
	local keys = {}
	for k, v in pairs(config) do
		keys[#keys + 1] = k
		if k == "nested" then ok4 = pcall(function() v.deep = 1 end) end
	end
	table.sort(keys)
	local iw = {}
	for _, w in ipairs(config.words) do iw[#iw + 1] = w end
	return string.format("%s,%s,%s,%s|%s|%d|%s|%s|%s|%s|%s|%s", tostring(ok1), tostring(ok2),
		tostring(ok3), tostring(ok4), table.concat(keys, " "), #config.words,
		table.concat(config.words, "+"), math.type(config.nested.deep.x), tostring(config.n),
		tostring(config.flag), tostring(config.nul), table.concat(iw, "+"))
end

local function run(ctx)
	local f = C[ctx.reason]
	if not f then return reject("bad_cmd", tostring(ctx.reason)) end
	return flag(tostring(f(ctx)))
end

return {
	name = config.name or "helpers",
	on_message = run,
	on_report = function(ctx) return flag(C.ctx(ctx)) end,
	on_conversation_create = function(ctx) return flag(C.ctx(ctx)) end,
	on_join = function(ctx) return flag(C.ctx(ctx)) end,
	on_edit = run,
}
