-- ratelimit: per-user rates for messages, edits, group creation, joins and
-- reports, on token buckets kept in C (limit()).  Over a rate, the command
-- is refused with `rate_limited` and a `retry_after_ms` the client can wait.
--
-- Options (chatd.conf, moderation.rules entry `options`):
--   per_second = 5, burst = 10       messages and edits: sustained rate, burst
--   per_minute = 50                  messages and edits per minute
--   creates_per_hour = 5             group (and direct) conversation creation
--   joins_per_minute = 20            joins, per joining user
--   reports_per_hour = 20            reports filed per user

local per_second = config.per_second or 5
local burst = config.burst or 10
local per_minute = config.per_minute or 50
local creates_per_hour = config.creates_per_hour or 5
local joins_per_minute = config.joins_per_minute or 20
local reports_per_hour = config.reports_per_hour or 20

-- Takes a token from the bucket `key`; a refusal when it is empty.
local function take(key, rate, cap, what)
  local ok, retry_ms = limit(key, rate, cap)
  if not ok then
    return reject("rate_limited", "too many " .. what .. "; slow down", retry_ms)
  end
end

local function messages(ctx)
  return take("msg.s:" .. ctx.sender_id, per_second, burst, "messages")
      or take("msg.m:" .. ctx.sender_id, per_minute / 60, per_minute, "messages")
end

return {
  name = "ratelimit",
  on_message = messages,
  on_edit = messages,
  on_conversation_create = function(ctx)
    return take("create:" .. ctx.sender_id, creates_per_hour / 3600, creates_per_hour,
                "new conversations")
  end,
  on_join = function(ctx)
    local who = ctx.target_user_id or ctx.sender_id
    return take("join:" .. who, joins_per_minute / 60, joins_per_minute, "joins")
  end,
  on_report = function(ctx)
    return take("report:" .. ctx.sender_id, reports_per_hour / 3600, reports_per_hour, "reports")
  end,
}
