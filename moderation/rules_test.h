/* rules_test.h — `chatd rules test`: runs a rule set over a JSONL file of
 * cases and compares each decision with the case's expectation.
 *
 * A case is one JSON object per line (blank lines and lines starting with
 * '#' are skipped):
 *   hook        "on_message" (default) | "on_edit" | "on_conversation_create"
 *               | "on_join" | "on_report" | "on_connect"
 *   sender      ctx.sender_id, default "alice"
 *   conversation ctx.conversation_id, default "c1"
 *   kind        ctx.conversation_kind, default "group"
 *   members     ctx.member_count, default 3
 *   text        ctx.text (absent: nil)
 *   ts          absolute ms; or
 *   dt          ms after the previous case (default 1000); the first case
 *               is at ts 1764000000000 (+ dt when given)
 *   account_created_at, seq (integers), target (ctx.target_user_id),
 *   reason, title, client_message_id (strings)
 *   expect      "allow" | "reject" | "reject:CODE" | "shadow" | "hold" |
 *               "flag" | "rewrite" (required)
 *   expect_text the text after the rules (the rewritten text, else the
 *               original); optional
 *   comment     ignored
 * Any other key, a wrong type or bad JSON makes that case FAIL with the
 * reason (and line number); the run goes on.
 *
 * Sanctions apply as in the server: when mod_sanctions_blocking() says the
 * sender is banned or blocked at the case's ts, the result is reject:banned
 * / reject:blocked (rule "sanction:ban" / "sanction:block") and no rule
 * runs; for on_message and on_edit, an allow/flag/rewrite decision for a
 * shadowed sender becomes shadow (rule "sanction:shadow").  Rules' sanction()
 * calls land in the same table through rules_test_callbacks(), so later
 * cases see them.
 *
 * Thread: one thread.  Ownership: everything borrowed. */
#ifndef CHATD_RULES_TEST_H
#define CHATD_RULES_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lua_host.h"
#include "mod_sanctions.h"

#define RULES_TEST_TS0 1764000000000LL   /* the first case's default ts */
#define RULES_TEST_LINE_MAX (1024 * 1024) /* longest case line, bytes */

/* Test-mode callbacks: fills *cb (ud = sanctions, which must outlive the
 * host).  sanction() sets kind on user in `sanctions` until now +
 * duration_ms (0: permanent), now being mod_sanctions_last_now() — the
 * running case's ts, since rules_test_run asks the table about the sender
 * at that ts before running the case.  audit() records nothing and returns
 * 0 (its fields were still checked and encoded by the host). */
void rules_test_callbacks(struct lua_host_callbacks *cb, struct mod_sanctions *sanctions);

/* Runs every case of jsonl through h (its current rule set) and prints to
 * out either a table (line, hook, expected, got, rule, reason, PASS/FAIL)
 * or, with json_out, one JSON object per case; then the summary line
 * "N cases, P passed, F failed" (as {"summary":{...}} with json_out).
 * name_for_errors names the input in I/O error messages.  *n_failed (may be
 * NULL) gets F.  Returns 0, or -1 on an I/O error reading jsonl or writing
 * out (reported on out when possible). */
int rules_test_run(struct lua_host *h, struct mod_sanctions *sanctions, FILE *jsonl,
                   const char *name_for_errors, FILE *out, bool json_out, int *n_failed);

#endif
