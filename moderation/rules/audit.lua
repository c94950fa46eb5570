-- audit: writes every decision that was not a plain allow to the audit log
-- (hash-chained, verified by GET /v1/audit/verify), with the rule, the
-- verdict and the rule set's version.  Runs after the chain (on_verdict),
-- so its position in moderation.rules does not matter.  Keep it enabled:
-- the provenance stored with each moderated message points at its entry.

return {
  name = "audit",
  on_verdict = function(ctx, v)
    audit("verdict", {
      verdict = v.kind,
      rule = v.rule,
      code = v.code or "",
      reason = v.reason or "",
      version = v.version,
    })
  end,
}
