-- joiner.lua: only on_join; rejects joins of accounts younger than a day.
return {
	name = "joiner",
	on_join = function(ctx)
		if ctx.account_created_at ~= 0 and ctx.ts - ctx.account_created_at < 86400000 then
			return reject("too_new", "account too new")
		end
	end,
}
