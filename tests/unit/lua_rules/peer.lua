-- peer.lua: must not see sandbox.lua's global; checks every context field.
return {
	name = "peer",
	on_message = function(ctx)
		log("info", "peer saw " .. tostring(ctx.sender_id))
		return flag(string.format("%s|%s|%s|%s|%d|%d|%d|%s|%s",
			tostring(ctx.sender_id), tostring(ctx.conversation_id),
			tostring(ctx.conversation_kind), tostring(ctx.client_message_id),
			ctx.member_count, ctx.ts, ctx.account_created_at, tostring(ctx.text),
			tostring(shared_global)))
	end,
}
