-- capslock: messages written mostly in upper case ("shouting").
--
-- Counts the cased letters of the text (Unicode-aware: \p{Lu} and \p{Lt} are
-- upper case, \p{Ll} lower case; digits, punctuation and scripts without case
-- do not count).  A message with at least min_letters such letters, of which
-- at least `ratio` are upper case, is flagged for the moderators' queue (it is
-- still delivered) or refused.
--
-- Options (chatd.conf, moderation.rules entry `options`):
--   min_letters = 12     cased letters a message needs before it is judged
--   ratio = 0.7          share of upper-case letters that counts as shouting
--   action = "flag"      "flag" | "reject"

local min_letters = config.min_letters or 12
local ratio = config.ratio or 0.7
local action = config.action or "flag"

-- Checked at load: a bad option fails the (re)load, naming this file and line.
if math.type(min_letters) ~= "integer" or min_letters < 1 then
  error("min_letters must be an integer >= 1")
end
if type(ratio) ~= "number" or ratio <= 0 or ratio > 1 then
  error("ratio must be a number in (0, 1]")
end
if action ~= "flag" and action ~= "reject" then
  error('action must be "flag" or "reject"')
end

-- Compiled once, at load.  One match per letter: mask()'s second result is
-- the number of matches, which is the count we want.
local UPPER = re.compile([=[[\p{Lu}\p{Lt}]]=])
local LOWER = re.compile([[\p{Ll}]])

local function check(ctx)
  local text = ctx.text
  -- No text (a media message), or fewer bytes than the letters we need.
  if not text or #text < min_letters then return end
  local _, upper = UPPER:mask(text)
  local _, lower = LOWER:mask(text)
  local letters = upper + lower
  if letters < min_letters or upper < ratio * letters then return end
  if action == "reject" then
    return reject("shouting", "please do not write in all caps")
  end
  return flag(string.format("mostly upper case (%d of %d letters)", upper, letters))
end

return {
  name = "capslock",
  on_message = check,
  on_edit = check,      -- runs once edits reach the rules
}
