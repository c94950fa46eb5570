-- list_bad.lua: list() with a name given by the options (config.list).
local l = list(config.list)
return { name = "list_bad", on_message = function(ctx) return flag(#l) end }
