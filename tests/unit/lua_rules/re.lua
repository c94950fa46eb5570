-- re.lua: regex helpers; ctx.reason picks the operation, ctx.text is the
-- subject, ctx.title / ctx.target_user_id extra arguments.
local EMAIL = re.compile([[(\w+)@(\w+)\.com]])
local WORD = re.compile("darn|heck", "i")
local OPT = re.compile("a(b)?(c)")
local CYR = re.compile("привет", "i")

local function join(...)
	local t = table.pack(...)
	for i = 1, t.n do t[i] = tostring(t[i]) end
	return table.concat(t, ",", 1, t.n)
end

local C = {}
C.find = function(ctx) return join(EMAIL:find(ctx.text, tonumber(ctx.title))) end
C.match = function(ctx) return join(EMAIL:match(ctx.text)) end
C.match0 = function(ctx) return join(WORD:match(ctx.text)) end
C.opt = function(ctx) return join(OPT:match(ctx.text)) end
C.test = function(ctx) return join(WORD:test(ctx.text)) end
C.mask = function(ctx) return join(WORD:mask(ctx.text, ctx.title)) end
C.maskcyr = function(ctx) return join(CYR:mask(ctx.text, ctx.title)) end
C.ffind = function(ctx) return join(re.find(ctx.text, ctx.title, ctx.target_user_id)) end
C.fmatch = function(ctx) return join(re.match(ctx.text, ctx.title, ctx.target_user_id)) end
C.ftest = function(ctx) return join(re.test(ctx.text, ctx.title, ctx.target_user_id)) end
C.fmask = function(ctx) return join(re.mask(ctx.text, ctx.title, ctx.target_user_id, "#")) end
C.tostring = function(ctx) return tostring(EMAIL) end
C.many = function(ctx)   -- handles made and dropped at hook time are collected
	local n = 0
	for i = 1, 5000 do
		if re.compile("x" .. i):test("x" .. i) then n = n + 1 end
	end
	return n
end

return {
	name = "re",
	on_message = function(ctx)
		local f = C[ctx.reason]
		if not f then return reject("bad_cmd", tostring(ctx.reason)) end
		return flag(f(ctx))
	end,
}
