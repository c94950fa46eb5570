/* mod_regex.h — a bounded cache of compiled PCRE2 patterns for rules.
 *
 * Patterns compile once with PCRE2_UTF | PCRE2_UCP (plus the MOD_REGEX_*
 * flags), are JIT-compiled when the JIT is available, and are cached by
 * (pattern, flags).  Each compiled regex owns one match-data block that is
 * reused by every match, so matching allocates nothing.  Every match runs
 * under the cache's match, depth and heap limits, so a catastrophic pattern
 * such as (a+)+$ fails fast with CHATD_ERR_TOO_LARGE instead of hanging.
 *
 * Subjects are NOT re-validated: the caller validates the message's UTF-8
 * once (core/utf8.c) and every match passes PCRE2_NO_UTF_CHECK.  Passing
 * invalid UTF-8 is undefined behaviour.
 *
 * Ownership: handles are reference counted.  mod_regex_compile() gives the
 * caller one reference, released with mod_regex_release().  The cache holds
 * its own reference; evicting or freeing the cache never invalidates a
 * handle a caller still holds; a handle is self-contained and may be
 * released after the cache is freed.
 * Thread: not thread-safe (shared match data); use from one thread. */
#ifndef CHATD_MOD_REGEX_H
#define CHATD_MOD_REGEX_H

#include <stddef.h>
#include <stdint.h>

#define MOD_REGEX_CASELESS  0x1u
#define MOD_REGEX_MULTILINE 0x2u
#define MOD_REGEX_DOTALL    0x4u
#define MOD_REGEX_FLAGS_ALL 0x7u

#define MOD_REGEX_PATTERN_MAX 4096  /* longest pattern, bytes */
#define MOD_REGEX_UNSET ((size_t)-1) /* offset of a capture that did not set */

struct mod_regex_limits {
	uint32_t match_limit;   /* pcre2_set_match_limit, > 0 */
	uint32_t depth_limit;   /* pcre2_set_depth_limit (interpreter), > 0 */
	uint32_t heap_limit_kib;/* pcre2_set_heap_limit (interpreter), > 0 */
};

/* Defaults: match 100000, depth 1000, heap 1024 KiB. */
void mod_regex_limits_default(struct mod_regex_limits *lim);

struct mod_regex_cache;
struct mod_regex;

/* Create a cache of at most max_entries compiled patterns (1 .. 65536).
 * limits may be NULL for the defaults; it is copied.  NULL on a bad
 * argument or no memory.  Free with mod_regex_cache_free(). */
struct mod_regex_cache *mod_regex_cache_new(size_t max_entries,
					    const struct mod_regex_limits *limits);

/* Drop the cache's references; handles held by callers stay valid. */
void mod_regex_cache_free(struct mod_regex_cache *cache);

/* Return in *rx a handle for (pattern, flags), compiling it on a miss.
 * pattern: NUL-terminated UTF-8, borrowed, <= MOD_REGEX_PATTERN_MAX bytes.
 * flags: MOD_REGEX_* bits.  errbuf (may be NULL) receives, on a compile
 * error, "offset N: message" where N is PCRE2's offset into the pattern.
 * Returns CHATD_OK (caller owns one reference: mod_regex_release()), or
 * CHATD_ERR_INVALID (bad pattern or argument; *rx = NULL),
 * CHATD_ERR_TOO_LARGE (pattern too long), CHATD_ERR_NOMEM. */
int mod_regex_compile(struct mod_regex_cache *cache, const char *pattern,
		      uint32_t flags, struct mod_regex **rx,
		      char *errbuf, size_t errlen);

/* Release one reference.  NULL is a no-op. */
void mod_regex_release(struct mod_regex *rx);

/* Match rx against subject[0..len) (valid UTF-8, borrowed).
 * ovector (may be NULL when max_pairs == 0) receives up to max_pairs
 * (start, end) byte-offset pairs: pair 0 the whole match, pair i capture i;
 * captures that did not participate read MOD_REGEX_UNSET.
 * Returns > 0 when matched: 1 + the highest capture number set (pairs
 * beyond max_pairs are not stored); 0 when no match; or a negative
 * chatd_status: CHATD_ERR_TOO_LARGE (match/depth/heap/JIT-stack limit hit),
 * CHATD_ERR_INVALID (bad argument), CHATD_ERR_INTERNAL (other PCRE2 error). */
int mod_regex_match(struct mod_regex *rx, const char *subject, size_t len,
		    size_t *ovector, size_t max_pairs);

/* mod_regex_match starting at byte offset start (<= len), which must be at
 * the start of a UTF-8 character.  Text before start is still seen by
 * lookbehinds and \b; offsets stay relative to subject. */
int mod_regex_match_at(struct mod_regex *rx, const char *subject, size_t len,
		       size_t start, size_t *ovector, size_t max_pairs);

/* The pattern text (NUL-terminated, owned by rx). */
const char *mod_regex_pattern(const struct mod_regex *rx);

/* Number of capture groups in the pattern. */
uint32_t mod_regex_capture_count(const struct mod_regex *rx);

/* 1 when the pattern runs on the JIT, 0 on the interpreter. */
int mod_regex_is_jit(const struct mod_regex *rx);

struct mod_regex_stats {
	uint64_t hits, misses, evictions;
	size_t entries;
};
void mod_regex_cache_stats(const struct mod_regex_cache *cache,
			   struct mod_regex_stats *out);

#endif
