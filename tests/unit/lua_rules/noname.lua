-- noname.lua: no name.
return { on_message = function() end }
