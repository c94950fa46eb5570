/* fmt.c — times, spans and JSON values as text for chatctl (see table.h). */
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void fmt_time(int64_t ms, char *buf, size_t n)
{
	if (ms <= 0) {
		snprintf(buf, n, "-");
		return;
	}
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	if (!gmtime_r(&s, &tm) || strftime(buf, n, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
		snprintf(buf, n, "%lld", (long long)ms);
}

void fmt_span(int64_t ms, char *buf, size_t n)
{
	if (ms <= 0) {
		snprintf(buf, n, "0s");
		return;
	}
	long long s = ms / 1000;
	if (s < 60)
		snprintf(buf, n, ms < 1000 ? "%lldms" : "%llds", ms < 1000 ? (long long)ms : s);
	else if (s < 3600)
		snprintf(buf, n, "%lldm %02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, n, "%lldh %02lldm", s / 3600, (s % 3600) / 60);
	else
		snprintf(buf, n, "%lldd %02lldh", s / 86400, (s % 86400) / 3600);
}

void fmt_json(const json_t *v, char *buf, size_t n)
{
	if (n == 0)
		return;
	if (!v || json_is_null(v)) {
		snprintf(buf, n, "-");
	} else if (json_is_string(v)) {
		snprintf(buf, n, "%s", json_string_value(v));
	} else if (json_is_integer(v)) {
		snprintf(buf, n, "%lld", (long long)json_integer_value(v));
	} else if (json_is_real(v)) {
		double d = json_real_value(v);
		snprintf(buf, n, d == (double)(long long)d && d < 1e15 && d > -1e15 ? "%.0f"
			 : "%.3g", d);
	} else if (json_is_boolean(v)) {
		snprintf(buf, n, "%s", json_is_true(v) ? "true" : "false");
	} else {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		snprintf(buf, n, "%s", s ? s : "?");
		free(s);
	}
}
