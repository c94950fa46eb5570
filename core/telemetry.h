/* telemetry.h — the web client's reports (POST /telemetry) turned into
 * metrics, on the core thread.
 *
 * The gateway checks the bearer token and hands the body over (BIN_POST);
 * here the user is checked against bans and revocations, rate limited
 * (TELEMETRY_BURST reports, then one per TELEMETRY_EVERY_S seconds), the
 * body parsed (web_rules.h) and the counters added:
 *   chatd_client_reconnects_total, chatd_client_stuck_sends_total,
 *   chatd_client_errors_total{code}  (code: a known code or "other"),
 *   chatd_client_telemetry_reports_total{result}.
 * The answer goes back as BOUT_POST: 204, 400, 401 or 429. */
#ifndef CHATD_TELEMETRY_H
#define CHATD_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>
#include "bridge.h"
#include "metrics.h"

#define TELEMETRY_BURST 5
#define TELEMETRY_EVERY_S 10

struct core;
struct telemetry;

/* Registers the families in reg (before other threads use it).  NULL on
 * ENOMEM. */
struct telemetry *telemetry_new(struct metrics *reg);
void telemetry_free(struct telemetry *t);

/* A BIN_POST item (ownership passes; it goes back as the answer). */
void telemetry_handle(struct core *c, struct bridge_post *p);

#endif
