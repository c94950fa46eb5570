/* admin_metrics.h — GET /metrics on the admin listener: Prometheus text
 * format 0.0.4 (core_metrics.h).  A moderator or admin token is needed
 * unless admin.metrics_auth = false (scrapers on a private network). */
#ifndef CHATD_ADMIN_METRICS_H
#define CHATD_ADMIN_METRICS_H

#include "admin.h"

/* Answers r (path /metrics) and frees it.  r has been authenticated
 * unless admin.metrics_auth is false. */
void admin_metrics(struct admin_req *r);

#endif
