/* test_pg_search.c — storage_pg's search helpers without a database: the
 * parameters (pg_search_terms: the core's parsed queries, and hostile
 * words the core never sends, become PostgreSQL array literals that hold
 * them as data; bad terms and short buffers are refused) and snippets
 * (pg_snippet: the window FTS5's snippet() would show, the marks of
 * ts_headline mapped back onto the text character by character). */
#include <stdio.h>
#include <string.h>
#include <CUnit/CUnit.h>
#include "unit.h"
#include "../../core/search_query.h"
#include "../../plugins/storage_pg/pg_ops.h"

/* Parse then build: "terms|prefix", or "ERR". */
static const char *build(const char *text, char *out, size_t cap)
{
	struct search_query q;
	char err[128], terms[PG_SEARCH_TERMS_LIT], prefix[PG_SEARCH_PREFIX_LIT];
	if (search_query_parse(text, strlen(text), &q, err, sizeof err) < 0 ||
	    pg_search_terms(q.terms, q.n_terms, terms, sizeof terms, prefix, sizeof prefix) < 0) {
		snprintf(out, cap, "ERR");
		return out;
	}
	snprintf(out, cap, "%s|%s", terms, prefix);
	return out;
}

static void test_queries(void)
{
	static const struct {
		const char *query, *want;
	} cases[] = {
		{ "quick", "{\"quick\"}|{f}" },
		{ "\"brown fox\" lun*", "{\"brown fox\",\"lun\"}|{f,t}" },
		{ "\"phrase pre\"*", "{\"phrase pre\"}|{t}" },
		{ "'; DROP TABLE messages; --", "{\"DROP\",\"TABLE\",\"messages\"}|{f,f,f}" },
		{ "a&b|c!(d):", "{\"a\",\"b\",\"c\",\"d\"}|{f,f,f,f}" },
		{ "a&b|c!(d*", "{\"a\",\"b\",\"c\",\"d\"}|{f,f,f,t}" },
		{ "x' OR '1'='1", "{\"x\",\"OR\",\"1\",\"1\"}|{f,f,f,f}" },
		{ "\xc3\xa9t\xc3\xa9 \xe2\x98\x83", "{\"\xc3\xa9t\xc3\xa9\",\"\xe2\x98\x83\"}|{f,f}" },
		{ "{a,b} \\\"c\\\"", "{\"a\",\"b\",\"c\"}|{f,f,f}" },
		{ "!!!", "ERR" },
	};
	char out[PG_SEARCH_TERMS_LIT + PG_SEARCH_PREFIX_LIT + 2];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		build(cases[i].query, out, sizeof out);
		if (strcmp(out, cases[i].want) != 0)
			fprintf(stderr, "\n%s: got %s, want %s\n", cases[i].query, out, cases[i].want);
		CU_ASSERT_STRING_EQUAL(out, cases[i].want);
	}
	/* The largest terms (16 words of 64 bytes, more than a query's 256
	 * bytes allow) fit the documented buffers. */
	char big[16][CHATD_SEARCH_WORD_MAX + 1];
	const char *words[16];
	struct chatd_search_term t[16];
	for (int i = 0; i < 16; i++) {
		memset(big[i], 'a' + i, CHATD_SEARCH_WORD_MAX);
		big[i][CHATD_SEARCH_WORD_MAX] = '\0';
		words[i] = big[i];
		t[i] = (struct chatd_search_term){ .words = &words[i], .n_words = 1, .prefix = i & 1 };
	}
	char terms[PG_SEARCH_TERMS_LIT], prefix[PG_SEARCH_PREFIX_LIT];
	CU_ASSERT(pg_search_terms(t, 16, terms, sizeof terms, prefix, sizeof prefix) ==
		  1 + 16 * 66 + 15 + 1);
	CU_ASSERT(strcmp(prefix, "{f,t,f,t,f,t,f,t,f,t,f,t,f,t,f,t}") == 0);
}

/* Words the core never sends: quotes and backslashes are escaped, bad
 * terms and short buffers refused. */
static void test_hostile_words(void)
{
	char terms[PG_SEARCH_TERMS_LIT], prefix[PG_SEARCH_PREFIX_LIT];
	const char *w1[] = { "a\"b", "c\\d", "}{," };
	struct chatd_search_term t = { .words = w1, .n_words = 3, .prefix = true };
	CU_ASSERT(pg_search_terms(&t, 1, terms, sizeof terms, prefix, sizeof prefix) > 0);
	CU_ASSERT_STRING_EQUAL(terms, "{\"a\\\"b c\\\\d }{,\"}");
	CU_ASSERT_STRING_EQUAL(prefix, "{t}");
	const char *empty[] = { "" };
	t = (struct chatd_search_term){ .words = empty, .n_words = 1 };
	CU_ASSERT(pg_search_terms(&t, 1, terms, sizeof terms, prefix, sizeof prefix) < 0);
	char longw[CHATD_SEARCH_WORD_MAX + 2];
	memset(longw, 'x', sizeof longw - 1);
	longw[sizeof longw - 1] = '\0';
	const char *lw[] = { longw };
	t = (struct chatd_search_term){ .words = lw, .n_words = 1 };
	CU_ASSERT(pg_search_terms(&t, 1, terms, sizeof terms, prefix, sizeof prefix) < 0);
	longw[CHATD_SEARCH_WORD_MAX] = '\0';
	CU_ASSERT(pg_search_terms(&t, 1, terms, sizeof terms, prefix, sizeof prefix) ==
		  CHATD_SEARCH_WORD_MAX + 4);
	const char *ok[] = { "abc" };
	t = (struct chatd_search_term){ .words = ok, .n_words = 0 };
	CU_ASSERT(pg_search_terms(&t, 1, terms, sizeof terms, prefix, sizeof prefix) < 0);
	t.n_words = 1;
	t.words = NULL;
	CU_ASSERT(pg_search_terms(&t, 1, terms, sizeof terms, prefix, sizeof prefix) < 0);
	t.words = ok;
	CU_ASSERT(pg_search_terms(&t, 0, terms, sizeof terms, prefix, sizeof prefix) < 0);
	CU_ASSERT(pg_search_terms(&t, 1, terms, 7, prefix, sizeof prefix) < 0);   /* {"abc"} */
	CU_ASSERT(pg_search_terms(&t, 1, terms, 8, prefix, sizeof prefix) == 7);
	CU_ASSERT(pg_search_terms(&t, 1, terms, sizeof terms, prefix, 3) < 0);
}

/* Snippet of text from marked; "FAIL" when pg_snippet refused. */
static const char *snip(const char *text, const char *marked, char *out, size_t cap)
{
	size_t need = pg_snippet_cap(text, marked);
	if (need > cap || pg_snippet(text, marked, out, need) < 0)
		snprintf(out, cap, "FAIL");
	return out;
}

#define ON "\x02"
#define OFF "\x03"

static void test_snippets(void)
{
	static const struct {
		const char *text, *marked, *want;
	} cases[] = {
		/* what storage_sqlite's FTS5 snippet(…, 12) gives for these */
		{ "quick lunch tomorrow?", ON "quick" OFF " lunch tomorrow ",
		  ON "quick" OFF " lunch tomorrow?" },
		{ "  \xc2\xabquick\xc2\xbb fox!! ", "  \xc2\xab" ON "quick" OFF "\xc2\xbb fox   ",
		  "  \xc2\xab" ON "quick" OFF "\xc2\xbb fox!! " },
		{ "one two three four five six seven eight nine ten eleven twelve thirteen "
		  "fourteen quick sixteen seventeen eighteen nineteen twenty twentyone twentytwo",
		  "one two three four five six seven eight nine ten eleven twelve thirteen "
		  "fourteen " ON "quick" OFF " sixteen seventeen eighteen nineteen twenty twentyone "
		  "twentytwo",
		  "\xe2\x80\xa6ten eleven twelve thirteen fourteen " ON "quick" OFF
		  " sixteen seventeen eighteen nineteen twenty twentyone\xe2\x80\xa6" },
		{ "a b c d e f g h i j k l m n o p q r s t quick u v w x y z quick",
		  "a b c d e f g h i j k l m n o p q r s t " ON "quick" OFF " u v w x y z "
		  ON "quick" OFF,
		  "\xe2\x80\xa6q r s t " ON "quick" OFF " u v w x y z " ON "quick" OFF },
		{ "quick quick-fox Quick.", ON "quick" OFF " " ON "quick" OFF " " ON "fox" OFF " "
		  ON "Quick" OFF " ",
		  ON "quick" OFF " " ON "quick" OFF "-" ON "fox" OFF " " ON "Quick" OFF "." },
		/* a window with both words beats one with more of one */
		{ "a a a a a a a a a a a a a a a a b a a",
		  ON "a" OFF " " ON "a" OFF " " ON "a" OFF " " ON "a" OFF " " ON "a" OFF " " ON "a" OFF
		  " " ON "a" OFF " " ON "a" OFF " " ON "a" OFF " " ON "a" OFF " " ON "a" OFF " " ON "a"
		  OFF " " ON "a" OFF " " ON "a" OFF " " ON "a" OFF " " ON "a" OFF " " ON "b" OFF " "
		  ON "a" OFF " " ON "a" OFF,
		  "\xe2\x80\xa6" ON "a" OFF " " ON "a" OFF " " ON "a" OFF " " ON "a" OFF " " ON "a" OFF
		  " " ON "a" OFF " " ON "a" OFF " " ON "a" OFF " " ON "a" OFF " " ON "a" OFF " " ON "a"
		  OFF " " ON "b" OFF "\xe2\x80\xa6" },
		/* marks of folded characters land on the text's (é: 2 bytes, e: 1) */
		{ "Caf\xc3\xa9 na\xc3\xafve \xc3\x89T\xc3\x89", ON "Cafe" OFF " naive " ON "ETE" OFF,
		  ON "Caf\xc3\xa9" OFF " na\xc3\xafve " ON "\xc3\x89T\xc3\x89" OFF },
		/* a mark inside a word of the text (a non-ASCII separator) */
		{ "a\xe2\x98\x83" "b c", "a\xe2\x98\x83" ON "b" OFF " c",
		  "a\xe2\x98\x83" ON "b" OFF " c" },
		/* the text's own U+0002/U+0003 are kept as they are */
		{ "x" ON "y" OFF " quick", "x y  " ON "quick" OFF, "x" ON "y" OFF " " ON "quick" OFF },
		/* out of step (other characters): no marks, the window at the start */
		{ "quick fox", ON "quick" OFF " fox extra", "quick fox" },
		{ "quick fox", NULL, "quick fox" },
		{ "", "", "" },
		{ "?!", "  ", "?!" },
	};
	char out[512];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snip(cases[i].text, cases[i].marked, out, sizeof out);
		if (strcmp(out, cases[i].want) != 0)
			fprintf(stderr, "\ncase %zu: got [%s], want [%s]\n", i, out, cases[i].want);
		CU_ASSERT_STRING_EQUAL(out, cases[i].want);
	}
	/* The capacity is checked. */
	char small[4];
	CU_ASSERT(pg_snippet("quick", ON "quick" OFF, small, sizeof small) < 0);
}

void unit_register_pg_search(void)
{
	CU_pSuite s = CU_add_suite("pg_search_terms", NULL, NULL);
	CU_add_test(s, "parsed queries as array literals", test_queries);
	CU_add_test(s, "hostile words, bad terms, short buffers", test_hostile_words);
	CU_add_test(s, "snippets: FTS5's window, marks mapped onto the text", test_snippets);
}
