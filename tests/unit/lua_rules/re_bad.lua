-- re_bad.lua: a bad pattern compiled at the top fails the load (line 3).
local OK = re.compile("fine")
local BAD = re.compile("abc(def")
return { name = "re_bad", on_message = function(ctx) return nil end }
