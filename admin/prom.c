/* prom.c — Prometheus text format reader and summary (see prom.h). */
#include "prom.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS_MAX 64

static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* A metric or label name at *p; advances.  NULL when there is none. */
static char *take_name(const char **p, const char *end)
{
	const char *s = *p;
	if (s >= end || !name_char(*s, true))
		return NULL;
	while (s < end && name_char(*s, false))
		s++;
	char *n = strndup(*p, (size_t)(s - *p));
	*p = s;
	return n;
}

static void skip_blanks(const char **p, const char *end)
{
	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
}

static void sample_free(struct prom_sample *s)
{
	free(s->name);
	for (size_t i = 0; i < s->nlabels; i++) {
		free(s->labels[i].name);
		free(s->labels[i].value);
	}
}

void prom_free(struct prom *p)
{
	for (size_t i = 0; i < p->nsamples; i++)
		sample_free(&p->samples[i]);
	free(p->samples);
	for (size_t i = 0; i < p->nfamilies; i++) {
		free(p->families[i].name);
		free(p->families[i].type);
		free(p->families[i].help);
	}
	free(p->families);
	memset(p, 0, sizeof *p);
}

static struct prom_family *family(struct prom *p, const char *name, size_t nlen, bool create)
{
	for (size_t i = 0; i < p->nfamilies; i++)
		if (strlen(p->families[i].name) == nlen &&
		    strncmp(p->families[i].name, name, nlen) == 0)
			return &p->families[i];
	if (!create)
		return NULL;
	struct prom_family *nf = realloc(p->families, (p->nfamilies + 1) * sizeof *nf);
	if (!nf)
		return NULL;
	p->families = nf;
	struct prom_family *f = &nf[p->nfamilies];
	memset(f, 0, sizeof *f);
	f->name = strndup(name, nlen);
	if (!f->name)
		return NULL;
	p->nfamilies++;
	return f;
}

/* "# TYPE name type" and "# HELP name text"; other comments are ignored. */
static int comment(struct prom *p, const char *s, const char *end)
{
	s++;
	skip_blanks(&s, end);
	bool is_type = (size_t)(end - s) > 5 && strncmp(s, "TYPE ", 5) == 0;
	bool is_help = (size_t)(end - s) > 5 && strncmp(s, "HELP ", 5) == 0;
	if (!is_type && !is_help)
		return 0;
	s += 5;
	skip_blanks(&s, end);
	const char *n = s;
	while (s < end && name_char(*s, s == n))
		s++;
	if (s == n)
		return -1;
	struct prom_family *f = family(p, n, (size_t)(s - n), true);
	if (!f)
		return -1;
	skip_blanks(&s, end);
	char **slot = is_type ? &f->type : &f->help;
	free(*slot);
	*slot = strndup(s, (size_t)(end - s));
	return *slot ? 0 : -1;
}

static int sample(struct prom *p, const char *s, const char *end, char *err, size_t errlen)
{
	struct prom_sample smp = { 0 };
	smp.name = take_name(&s, end);
	if (!smp.name) {
		snprintf(err, errlen, "expected a metric name");
		return -1;
	}
	if (s < end && *s == '{') {
		s++;
		for (;;) {
			skip_blanks(&s, end);
			if (s < end && *s == '}') {
				s++;
				break;
			}
			if (smp.nlabels == PROM_LABELS_MAX) {
				snprintf(err, errlen, "more than %d labels", PROM_LABELS_MAX);
				goto fail;
			}
			struct prom_label *l = &smp.labels[smp.nlabels];
			l->name = take_name(&s, end);
			if (!l->name || s + 1 >= end || s[0] != '=' || s[1] != '"') {
				free(l->name);
				l->name = NULL;
				snprintf(err, errlen, "bad label");
				goto fail;
			}
			smp.nlabels++;
			s += 2;
			char *v = malloc((size_t)(end - s) + 1);
			size_t o = 0;
			if (!v) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			while (s < end && *s != '"') {
				if (*s == '\\' && s + 1 < end) {
					s++;
					v[o++] = *s == 'n' ? '\n' : *s;
				} else {
					v[o++] = *s;
				}
				s++;
			}
			v[o] = '\0';
			l->value = v;
			if (s >= end) {
				snprintf(err, errlen, "unterminated label value");
				goto fail;
			}
			s++;
			skip_blanks(&s, end);
			if (s < end && *s == ',')
				s++;
			else if (s >= end || *s != '}') {
				snprintf(err, errlen, "expected ',' or '}' in labels");
				goto fail;
			}
		}
	}
	skip_blanks(&s, end);
	char num[64];
	size_t nl = 0;
	while (s < end && *s != ' ' && *s != '\t' && nl + 1 < sizeof num)
		num[nl++] = *s++;
	num[nl] = '\0';
	char *e = NULL;
	if (strcmp(num, "+Inf") == 0)
		smp.value = INFINITY;
	else if (strcmp(num, "-Inf") == 0)
		smp.value = -INFINITY;
	else if (strcmp(num, "NaN") == 0)
		smp.value = NAN;
	else
		smp.value = strtod(num, &e);
	if (!nl || (e && *e)) {
		snprintf(err, errlen, "bad value '%s'", num);
		goto fail;
	}
	/* A timestamp may follow; it is ignored. */
	struct prom_sample *ns = realloc(p->samples, (p->nsamples + 1) * sizeof *ns);
	if (!ns) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	p->samples = ns;
	ns[p->nsamples++] = smp;
	return 0;
fail:
	sample_free(&smp);
	return -1;
}

int prom_parse(const char *text, size_t len, struct prom *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	const char *p = text, *end = text + len;
	int line = 0;
	while (p < end) {
		line++;
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;
		const char *s = p;
		p = eol ? eol + 1 : end;
		while (le > s && (le[-1] == '\r' || le[-1] == ' ' || le[-1] == '\t'))
			le--;
		skip_blanks(&s, le);
		if (s == le)
			continue;
		char why[128] = "out of memory";
		int rc = *s == '#' ? comment(out, s, le) : sample(out, s, le, why, sizeof why);
		if (rc < 0) {
			snprintf(err, errlen, "line %d: %s", line, *s == '#' ? "bad comment" : why);
			prom_free(out);
			return -1;
		}
	}
	return 0;
}

const char *prom_label(const struct prom_sample *s, const char *name)
{
	for (size_t i = 0; i < s->nlabels; i++)
		if (strcmp(s->labels[i].name, name) == 0)
			return s->labels[i].value;
	return NULL;
}

double prom_bucket_quantile(double q, const double *le, const double *cum, size_t n)
{
	if (n == 0 || cum[n - 1] <= 0)
		return NAN;
	double rank = q * cum[n - 1];
	for (size_t i = 0; i < n; i++) {
		if (cum[i] >= rank) {
			if (isinf(le[i]))
				return i > 0 ? le[i - 1] : NAN;   /* above the last bound */
			double lo = i > 0 ? le[i - 1] : 0, below = i > 0 ? cum[i - 1] : 0;
			double in = cum[i] - below;
			return in > 0 ? lo + (le[i] - lo) * (rank - below) / in : le[i];
		}
	}
	return NAN;
}

/* name == family + suffix? */
static bool is_member(const char *name, const char *fam, const char *suffix)
{
	size_t f = strlen(fam);
	return strncmp(name, fam, f) == 0 && strcmp(name + f, suffix) == 0;
}

/* Labels of s other than skip, as a key (for counting series). */
static void series_key(const struct prom_sample *s, const char *skip, char *buf, size_t n)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < s->nlabels && o < n; i++)
		if (!skip || strcmp(s->labels[i].name, skip) != 0)
			o += (size_t)snprintf(buf + o, n - o, "%s=%s,", s->labels[i].name,
					      s->labels[i].value);
}

static void summarise_one(const struct prom *p, const char *fam, const char *type,
			  const char *label, const char *lvalue, struct prom_summary *sm)
{
	memset(sm, 0, sizeof *sm);
	sm->name = fam;
	sm->type = type ? type : "untyped";
	sm->p50 = sm->p90 = sm->p99 = NAN;
	bool hist = type && strcmp(type, "histogram") == 0;
	bool summ = type && strcmp(type, "summary") == 0;
	double le[BUCKETS_MAX], cum[BUCKETS_MAX];
	size_t nb = 0;
	char keys[64][256];
	size_t nkeys = 0;
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct prom_sample *s = &p->samples[i];
		bool mine = strcmp(s->name, fam) == 0 ||
			    (type && strcmp(type, "counter") == 0 &&
			     is_member(s->name, fam, "_total")) ||
			    ((hist || summ) && (is_member(s->name, fam, "_sum") ||
						is_member(s->name, fam, "_count"))) ||
			    (hist && is_member(s->name, fam, "_bucket"));
		if (!mine)
			continue;
		if (label && (!prom_label(s, label) || strcmp(prom_label(s, label), lvalue) != 0))
			continue;
		char key[256];
		series_key(s, hist ? "le" : summ ? "quantile" : NULL, key, sizeof key);
		bool seen = false;
		for (size_t k = 0; k < nkeys && !seen; k++)
			seen = strcmp(keys[k], key) == 0;
		if (!seen && nkeys < 64)
			snprintf(keys[nkeys++], sizeof keys[0], "%s", key);
		if (is_member(s->name, fam, "_sum")) {
			sm->sum += s->value;
		} else if (is_member(s->name, fam, "_count")) {
			sm->count += s->value;
		} else if (hist && is_member(s->name, fam, "_bucket")) {
			const char *l = prom_label(s, "le");
			double bound = l ? (strcmp(l, "+Inf") == 0 ? INFINITY : strtod(l, NULL)) : NAN;
			if (isnan(bound))
				continue;
			/* Sum every series' buckets by bound, kept ascending. */
			size_t k = 0;
			while (k < nb && le[k] < bound)
				k++;
			if (k < nb && le[k] == bound) {
				cum[k] += s->value;
			} else if (nb < BUCKETS_MAX) {
				memmove(le + k + 1, le + k, (nb - k) * sizeof *le);
				memmove(cum + k + 1, cum + k, (nb - k) * sizeof *cum);
				le[k] = bound;
				cum[k] = s->value;
				nb++;
			}
		} else if (summ) {
			/* Quantiles of a summary cannot be merged: keep the first series'. */
			const char *q = prom_label(s, "quantile");
			if (q && nkeys == 1) {
				double qv = strtod(q, NULL);
				if (qv == 0.5)
					sm->p50 = s->value;
				else if (qv == 0.9)
					sm->p90 = s->value;
				else if (qv == 0.99)
					sm->p99 = s->value;
			}
		} else {
			sm->value += s->value;
		}
	}
	sm->series = nkeys;
	if (hist && nb) {
		sm->p50 = prom_bucket_quantile(0.5, le, cum, nb);
		sm->p90 = prom_bucket_quantile(0.9, le, cum, nb);
		sm->p99 = prom_bucket_quantile(0.99, le, cum, nb);
	}
}

/* The family a sample without TYPE belongs to: its own name. */
int prom_summarise(const struct prom *p, struct prom_summary **out, size_t *n)
{
	size_t cap = p->nfamilies + p->nsamples + 1;
	struct prom_summary *sm = calloc(cap, sizeof *sm);
	if (!sm)
		return -1;
	size_t k = 0;
	for (size_t i = 0; i < p->nfamilies; i++)
		if (p->families[i].type)
			summarise_one(p, p->families[i].name, p->families[i].type, NULL, NULL,
				      &sm[k++]);
	/* Samples no TYPE line declared. */
	for (size_t i = 0; i < p->nsamples; i++) {
		const char *name = p->samples[i].name;
		bool known = false;
		for (size_t j = 0; j < k && !known; j++) {
			const char *f = sm[j].name;
			known = strcmp(name, f) == 0 || is_member(name, f, "_sum") ||
				is_member(name, f, "_count") || is_member(name, f, "_bucket") ||
				is_member(name, f, "_total");
		}
		if (!known)
			summarise_one(p, name, NULL, NULL, NULL, &sm[k++]);
	}
	*out = sm;
	*n = k;
	return 0;
}

bool prom_summarise_family(const struct prom *p, const char *family, const char *label,
			   const char *value, struct prom_summary *out)
{
	for (size_t i = 0; i < p->nfamilies; i++)
		if (p->families[i].type && strcmp(p->families[i].name, family) == 0) {
			summarise_one(p, p->families[i].name, p->families[i].type, label, value,
				      out);
			return out->series > 0;
		}
	for (size_t i = 0; i < p->nsamples; i++)
		if (strcmp(p->samples[i].name, family) == 0) {
			summarise_one(p, p->samples[i].name, NULL, label, value, out);
			return out->series > 0;
		}
	return false;
}
