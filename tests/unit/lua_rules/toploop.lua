-- toploop.lua: loops at load time.
while true do end
return { name = "toploop", on_message = function() end }
