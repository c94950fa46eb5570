-- spam: repeated and near-duplicate messages, rapid sending, spam keywords,
-- and links from new accounts.  Each hit is a strike against the sender
-- (strike(), kept 24 h); strikes escalate:
--   below strikes_to_shadow   throttle: the message is refused as rate_limited
--   at strikes_to_shadow      shadow-ban: the sender's messages reach only them
--   at strikes_to_block       temporary block: sends are refused
-- Links from accounts younger than new_account_ms are held for review
-- instead (no strike): a moderator approves or rejects them.
--
-- Options:
--   duplicates = 2          near-duplicates among the sender's recent messages that make spam
--   rapid_per_10s = 20      messages in 10 s that make spam
--   strikes_to_shadow = 3, strikes_to_block = 5
--   throttle_ms = 2000      retry_after_ms of a throttle, times the strike count
--   shadow_ms = 86400000    shadow-ban length (0: permanent)
--   block_ms = 3600000      block length
--   new_account_ms = 86400000, new_account_links = "hold"  ("hold" | "reject" | "allow")
--   keywords_list = "spam_keywords"   list file under lists/ (one PCRE2 pattern a line)

local duplicates = config.duplicates or 2
local rapid_per_10s = config.rapid_per_10s or 20
local strikes_to_shadow = config.strikes_to_shadow or 3
local strikes_to_block = config.strikes_to_block or 5
local throttle_ms = config.throttle_ms or 2000
local shadow_ms = config.shadow_ms or 86400000
local block_ms = config.block_ms or 3600000
local new_account_ms = config.new_account_ms or 86400000
local new_account_links = config.new_account_links or "hold"

-- Compiled once, at load: a bad pattern fails the (re)load, not a message.
local keywords = list(config.keywords_list or "spam_keywords")
local KEYWORDS = #keywords > 0 and re.compile("(?:" .. table.concat(keywords, ")|(?:") .. ")", "i")
local LINK = re.compile([[(?:https?://|www\.)\S+]], "i")

local function what_is_wrong(ctx)
  local text = ctx.text
  if similar(ctx.sender_id, text) >= duplicates then
    return "repeated message"
  end
  if counter.incr("spam.rapid:" .. ctx.sender_id, 1, 10000) > rapid_per_10s then
    return "rapid sending"
  end
  if KEYWORDS and KEYWORDS:test(text) then
    return "spam keywords"
  end
end

local function check(ctx)
  if not ctx.text then return end
  local why = what_is_wrong(ctx)
  if not why then
    local age = account_age_ms()
    if age and age < new_account_ms and new_account_links ~= "allow" and LINK:test(ctx.text) then
      if new_account_links == "reject" then
        return reject("new_account_link", "new accounts cannot post links yet")
      end
      return hold("link from a new account")
    end
    return
  end
  local strikes = strike(ctx.sender_id)
  if strikes >= strikes_to_block then
    sanction(ctx.sender_id, "block", block_ms, "spam: " .. why)
    return reject("spam", "blocked for spam: " .. why)
  elseif strikes >= strikes_to_shadow then
    sanction(ctx.sender_id, "shadow", shadow_ms, "spam: " .. why)
    return shadow("spam: " .. why)
  end
  return reject("rate_limited", "slow down: " .. why, throttle_ms * strikes)
end

return {
  name = "spam",
  on_message = check,
  on_edit = check,
}
