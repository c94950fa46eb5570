-- wordfilter: words and phrases from a list, matched as whole words,
-- case-insensitively; the text is masked ("****"), or the message refused,
-- held or flagged.
--
-- Options:
--   list = "wordfilter"     list file under lists/ (one PCRE2 pattern a line)
--   words = { ... }         patterns given inline instead of a list file
--   action = "mask"         "mask" | "reject" | "hold" | "flag"
--   mask_char = "*"

local words = config.words or list(config.list or "wordfilter")
local action = config.action or "mask"
local mask_char = config.mask_char or "*"
local WORDS = #words > 0 and re.compile([[\b(?:]] .. table.concat(words, "|") .. [[)\b]], "i")

local function check(ctx)
  if not WORDS or not ctx.text or not WORDS:test(ctx.text) then return end
  if action == "reject" then
    return reject("blocked_word", "the message contains a blocked word")
  elseif action == "hold" then
    return hold("blocked word")
  elseif action == "flag" then
    return flag("blocked word")
  end
  return rewrite((WORDS:mask(ctx.text, mask_char)))
end

return {
  name = "wordfilter",
  on_message = check,
  on_edit = check,
}
