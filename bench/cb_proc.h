/* cb_proc.h — CPU time and resident memory of a process (Linux /proc), and
 * of chatbench itself (getrusage). */
#ifndef CB_PROC_H
#define CB_PROC_H

#include <stdint.h>
#include <sys/types.h>

struct cb_proc_sample {
	uint64_t cpu_ns;     /* utime + stime */
	uint64_t rss_bytes;  /* VmRSS (0 for self: see cb_proc_self) */
	uint64_t hwm_bytes;  /* VmHWM, peak RSS */
};

/* Read /proc/PID/stat (fields 14, 15: utime, stime in clock ticks) and
 * /proc/PID/status (VmRSS, VmHWM).  Returns 0, or -1 with errno when the
 * process is gone or the files cannot be parsed. */
int cb_proc_sample(pid_t pid, struct cb_proc_sample *out);

/* Parse the text of /proc/PID/stat (the command may hold spaces and
 * parentheses: fields are counted after the last ')').  Returns 0 or -1. */
int cb_proc_parse_stat(const char *text, uint64_t *utime_ticks, uint64_t *stime_ticks);
/* Value in bytes of a "Key:   123 kB" line of /proc/PID/status; -1 if absent. */
int cb_proc_parse_status_kb(const char *text, const char *key, uint64_t *bytes);

/* chatbench's own CPU (getrusage RUSAGE_SELF) and peak RSS (ru_maxrss). */
int cb_proc_self(struct cb_proc_sample *out);

/* CPU percent of one core used between two samples over wall_ns. */
double cb_proc_cpu_pct(const struct cb_proc_sample *a, const struct cb_proc_sample *b,
		       uint64_t wall_ns);

#endif
