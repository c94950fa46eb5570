/* mod_regex.c — PCRE2 compile cache with JIT and bounded matching.
 * See mod_regex.h for the contract. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "mod_regex.h"

#include <pcre2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chatd/status.h"

struct mod_regex {
	unsigned refs;
	pcre2_code *code;
	pcre2_match_data *md;
	pcre2_match_context *mctx;      /* own copy: handle outlives cache */
	uint32_t capture_count;
	int jit;
	/* cache bookkeeping, valid while in the cache */
	struct mod_regex *hnext, *prev, *next;
	bool cached;
	uint64_t hash;
	uint32_t flags;
	size_t plen;
	char pattern[];
};

struct mod_regex_cache {
	struct mod_regex **slots;
	size_t nslots, count, max_entries;
	struct mod_regex *head, *tail;  /* LRU: head = most recent */
	struct mod_regex_limits limits;
	uint64_t hits, misses, evictions;
};

void mod_regex_limits_default(struct mod_regex_limits *lim)
{
	lim->match_limit = 100000;
	lim->depth_limit = 1000;
	lim->heap_limit_kib = 1024;
}

static uint64_t key_hash(const char *s, size_t len, uint32_t flags)
{
	uint64_t h = 1469598103934665603ULL ^ flags;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

struct mod_regex_cache *mod_regex_cache_new(size_t max_entries,
					    const struct mod_regex_limits *limits)
{
	if (max_entries == 0 || max_entries > 65536)
		return NULL;
	struct mod_regex_limits lim;
	if (limits)
		lim = *limits;
	else
		mod_regex_limits_default(&lim);
	if (lim.match_limit == 0 || lim.depth_limit == 0 ||
	    lim.heap_limit_kib == 0)
		return NULL;
	struct mod_regex_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	size_t n = 16;
	while (n < max_entries)
		n <<= 1;
	c->slots = calloc(n, sizeof(*c->slots));
	if (!c->slots) {
		free(c);
		return NULL;
	}
	c->nslots = n;
	c->max_entries = max_entries;
	c->limits = lim;
	return c;
}

void mod_regex_release(struct mod_regex *rx)
{
	if (!rx || --rx->refs > 0)
		return;
	pcre2_match_data_free(rx->md);
	pcre2_match_context_free(rx->mctx);
	pcre2_code_free(rx->code);
	free(rx);
}

static void lru_unlink(struct mod_regex_cache *c, struct mod_regex *rx)
{
	if (rx->prev)
		rx->prev->next = rx->next;
	else
		c->head = rx->next;
	if (rx->next)
		rx->next->prev = rx->prev;
	else
		c->tail = rx->prev;
	rx->prev = rx->next = NULL;
}

static void lru_push_head(struct mod_regex_cache *c, struct mod_regex *rx)
{
	rx->prev = NULL;
	rx->next = c->head;
	if (c->head)
		c->head->prev = rx;
	c->head = rx;
	if (!c->tail)
		c->tail = rx;
}

static void cache_drop(struct mod_regex_cache *c, struct mod_regex *rx)
{
	struct mod_regex **pp = &c->slots[rx->hash & (c->nslots - 1)];
	while (*pp && *pp != rx)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = rx->hnext;
	lru_unlink(c, rx);
	rx->cached = false;
	rx->hnext = NULL;
	c->count--;
	mod_regex_release(rx);
}

void mod_regex_cache_free(struct mod_regex_cache *c)
{
	if (!c)
		return;
	while (c->head)
		cache_drop(c, c->head);
	free(c->slots);
	free(c);
}

static void set_err(char *errbuf, size_t errlen, const char *fmt_msg,
		    long offset)
{
	if (!errbuf || errlen == 0)
		return;
	if (offset >= 0)
		snprintf(errbuf, errlen, "offset %ld: %s", offset, fmt_msg);
	else
		snprintf(errbuf, errlen, "%s", fmt_msg);
}

/* Compile a new handle (one reference, not yet cached). */
static int regex_build(const struct mod_regex_cache *c, const char *pattern,
		       size_t plen, uint32_t flags, struct mod_regex **out,
		       char *errbuf, size_t errlen)
{
	uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C;
	if (flags & MOD_REGEX_CASELESS)
		opts |= PCRE2_CASELESS;
	if (flags & MOD_REGEX_MULTILINE)
		opts |= PCRE2_MULTILINE;
	if (flags & MOD_REGEX_DOTALL)
		opts |= PCRE2_DOTALL;
	int ec = 0;
	PCRE2_SIZE eoff = 0;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, plen, opts,
					 &ec, &eoff, NULL);
	if (!code) {
		PCRE2_UCHAR msg[256];
		if (pcre2_get_error_message(ec, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", ec);
		set_err(errbuf, errlen, (const char *)msg, (long)eoff);
		return CHATD_ERR_INVALID;
	}
	struct mod_regex *rx = calloc(1, sizeof(*rx) + plen + 1);
	if (!rx) {
		pcre2_code_free(code);
		set_err(errbuf, errlen, "out of memory", -1);
		return CHATD_ERR_NOMEM;
	}
	rx->refs = 1;
	rx->code = code;
	/* JIT is an optimization: if it is unavailable or fails, the
	 * interpreter runs the same pattern under the same limits. */
	rx->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
	pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &rx->capture_count);
	rx->md = pcre2_match_data_create_from_pattern(code, NULL);
	rx->mctx = pcre2_match_context_create(NULL);
	if (!rx->md || !rx->mctx) {
		mod_regex_release(rx);
		set_err(errbuf, errlen, "out of memory", -1);
		return CHATD_ERR_NOMEM;
	}
	pcre2_set_match_limit(rx->mctx, c->limits.match_limit);
	pcre2_set_depth_limit(rx->mctx, c->limits.depth_limit);
	pcre2_set_heap_limit(rx->mctx, c->limits.heap_limit_kib);
	rx->flags = flags;
	rx->plen = plen;
	memcpy(rx->pattern, pattern, plen + 1);
	*out = rx;
	return CHATD_OK;
}

int mod_regex_compile(struct mod_regex_cache *c, const char *pattern,
		      uint32_t flags, struct mod_regex **rx,
		      char *errbuf, size_t errlen)
{
	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (rx)
		*rx = NULL;
	if (!c || !pattern || !rx || (flags & ~MOD_REGEX_FLAGS_ALL)) {
		set_err(errbuf, errlen, "invalid argument", -1);
		return CHATD_ERR_INVALID;
	}
	size_t plen = strnlen(pattern, MOD_REGEX_PATTERN_MAX + 1);
	if (plen > MOD_REGEX_PATTERN_MAX) {
		set_err(errbuf, errlen, "pattern too long", -1);
		return CHATD_ERR_TOO_LARGE;
	}
	uint64_t h = key_hash(pattern, plen, flags);
	size_t slot = h & (c->nslots - 1);
	for (struct mod_regex *e = c->slots[slot]; e; e = e->hnext) {
		if (e->hash == h && e->flags == flags && e->plen == plen &&
		    memcmp(e->pattern, pattern, plen) == 0) {
			c->hits++;
			lru_unlink(c, e);
			lru_push_head(c, e);
			e->refs++;
			*rx = e;
			return CHATD_OK;
		}
	}
	c->misses++;
	struct mod_regex *n = NULL;
	int st = regex_build(c, pattern, plen, flags, &n, errbuf, errlen);
	if (st != CHATD_OK)
		return st;
	if (c->count >= c->max_entries) {
		cache_drop(c, c->tail);
		c->evictions++;
	}
	n->hash = h;
	n->cached = true;
	n->refs++;                      /* the cache's reference */
	n->hnext = c->slots[slot];
	c->slots[slot] = n;
	lru_push_head(c, n);
	c->count++;
	*rx = n;
	return CHATD_OK;
}

int mod_regex_match(struct mod_regex *rx, const char *subject, size_t len,
		    size_t *ovector, size_t max_pairs)
{
	return mod_regex_match_at(rx, subject, len, 0, ovector, max_pairs);
}

int mod_regex_match_at(struct mod_regex *rx, const char *subject, size_t len,
		       size_t start, size_t *ovector, size_t max_pairs)
{
	if (!rx || (!subject && len > 0) || (!ovector && max_pairs > 0) ||
	    start > len)
		return CHATD_ERR_INVALID;
	if (!subject)
		subject = "";
	int rc = pcre2_match(rx->code, (PCRE2_SPTR)subject, len, start,
			     PCRE2_NO_UTF_CHECK, rx->md, rx->mctx);
	if (rc == PCRE2_ERROR_NOMATCH || rc == PCRE2_ERROR_PARTIAL)
		return 0;
	switch (rc) {
	case PCRE2_ERROR_MATCHLIMIT:
	case PCRE2_ERROR_DEPTHLIMIT:
	case PCRE2_ERROR_HEAPLIMIT:
	case PCRE2_ERROR_JIT_STACKLIMIT:
	case PCRE2_ERROR_NOMEMORY:
		return CHATD_ERR_TOO_LARGE;
	default:
		break;
	}
	if (rc < 0)
		return CHATD_ERR_INTERNAL;
	if (rc == 0)    /* ovector too small: cannot happen, sized by pattern */
		rc = (int)pcre2_get_ovector_count(rx->md);
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(rx->md);
	size_t have = (size_t)rc;
	for (size_t i = 0; i < max_pairs; i++) {
		bool set = i < have && ov[2 * i] != PCRE2_UNSET;
		ovector[2 * i] = set ? ov[2 * i] : MOD_REGEX_UNSET;
		ovector[2 * i + 1] = set ? ov[2 * i + 1] : MOD_REGEX_UNSET;
	}
	return rc;
}

const char *mod_regex_pattern(const struct mod_regex *rx)
{
	return rx ? rx->pattern : "";
}

uint32_t mod_regex_capture_count(const struct mod_regex *rx)
{
	return rx ? rx->capture_count : 0;
}

int mod_regex_is_jit(const struct mod_regex *rx)
{
	return rx ? rx->jit : 0;
}

void mod_regex_cache_stats(const struct mod_regex_cache *c,
			   struct mod_regex_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!c)
		return;
	out->hits = c->hits;
	out->misses = c->misses;
	out->evictions = c->evictions;
	out->entries = c->count;
}
