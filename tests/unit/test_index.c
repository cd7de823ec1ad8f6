/*
 * Unit tests for tb_index, the matcher: anchoring at both ends (under JIT
 * and the interpreter alike), case, trailing dot, order, ports, the hash
 * index against trying every regex in order, the path without an index,
 * threads, a lookup that fails closed, and the compile errors.
 */
#include "tb_test.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <threads.h>

#include "tb_config.h"
#include "tb_index.h"

#define ERRLEN 1024

/* ---- matcher ---------------------------------------------------------- */

static const char *const match_args[] = {
    ".*[.]service[.]com",
    "peer1.example.net:4443", /* rule 0 */
    "a|b",
    "10.0.0.2", /* rule 1 */
    "exact[.]example[.]org",
    "[2001:db8::1]:8443", /* rule 2 */
    "x.*",
    "peer4", /* rule 3 */
    "first[.]test",
    "peer5", /* rule 4 */
    "first[.].*",
    "peer6", /* rule 5 */
    "end$",
    "peer7", /* rule 6 */
    "(?:one|one[.]two)",
    "peer8", /* rule 7 */
};

static const struct {
  const char *host;
  size_t len; /* 0: strlen(host) */
  int rule;   /* -1: no match */
} matches[] = {
    {"a.service.com", 0, 0},
    {"A.SERVICE.COM", 0, 0},
    {"a.Service.Com.", 0, 0},
    {"a.service.com..", 0, -1}, /* one trailing dot is dropped, not two */
    {"a.service.com.evil.net", 0, -1},
    {"a.service.com.evil.net.", 0, -1},
    {"a.service.comx", 0, -1},
    {"evil.net.a.service.com", 0, 0},
    {"service.com", 0, -1},
    {".service.com", 0, 0},
    {"a", 0, 1},
    {"B", 0, 1},
    {"b.", 0, 1},
    {"ab", 0, -1}, /* the alternation as a whole is anchored, not "^a|b$" */
    {"ba", 0, -1},
    {"aa", 0, -1},
    {"exact.example.org", 0, 2},
    {"EXACT.example.ORG.", 0, 2},
    {"exact.example.org2", 0, -1},
    {"exact.example.or", 0, -1},
    {"exactXexample.org", 0, -1},
    {"xexact.example.org", 0, 3},
    {"x", 0, 3},
    {"X.anything", 0, 3},
    {"first.test", 0, 4}, /* rules 4 and 5 both match: the first wins */
    {"first.other", 0, 5},
    {"end", 0, 6},
    {"end\n", 0, -1}, /* '$' does not match before a final newline */
    {"one", 0, 7},
    {"one.two", 0, 7}, /* backtracks into the second alternative to reach the end */
    {"one.three", 0, -1},
    {"", 0, -1},
    {".", 0, -1},
    {"..", 0, -1},
    {"a.service.com\0.evil.net", 23, -1}, /* the whole length counts, NUL or not */
    {"a\0", 2, -1},
    {"a.service.comXXXX", 13, 0}, /* only host[0..len) */
};

/* A config holding the rules of pairs[0..n) ("<regex>", "<peer>", ...),
 * added through the store. */
static struct tb_config *load(int n, const char *const *pairs) {
  struct tb_config *c = tb_config_create();
  char err[ERRLEN];
  char origin[32];

  assert_non_null(c);
  for (int i = 0; i + 1 < n; i += 2) {
    snprintf(origin, sizeof origin, "pair %d", i / 2 + 1);
    if (tb_config_add_rule(c, pairs[i], pairs[i + 1], origin, err, sizeof err) != 0) {
      fail_msg("load failed: %s", err);
    }
  }
  return c;
}

static void test_match_table(void **state) {
  struct tb_config *c = load((int)TB_NELEM(match_args), match_args);

  (void)state;
  assert_int_equal(c->nrules, TB_NELEM(match_args) / 2);
  for (size_t i = 0; i < TB_NELEM(matches); i++) {
    size_t len = matches[i].len != 0 ? matches[i].len : strlen(matches[i].host);
    const struct tb_rule *r = tb_config_match(c, matches[i].host, len);
    int got = r == NULL ? -1 : (int)(r - c->rules);

    if (got != matches[i].rule) {
      fail_msg("host '%s': rule %d, want %d", matches[i].host, got, matches[i].rule);
    }
  }
  assert_string_equal(c->rules[2].peer.host, "2001:db8::1");
  assert_int_equal(c->rules[2].peer.port, 8443);
  assert_true(c->rules[2].peer.ipv6);
  assert_int_equal(c->rules[1].peer.port, 443);
  assert_string_equal(c->rules[0].pattern, ".*[.]service[.]com");
  assert_null(tb_config_match(NULL, "a", 1));
  assert_null(tb_config_match(c, NULL, 0));
  tb_config_destroy(c);
}

/*
 * The anchoring is in the compile options, and PCRE2 documents that JIT
 * honours compile-time PCRE2_ANCHORED/PCRE2_ENDANCHORED (match-time ones
 * would silently switch JIT off).  Check it here: each rule really is JITed
 * where PCRE2 has JIT, and the JIT fast path, the interpreter and
 * tb_config_match agree on every host of the table.
 */
static void test_match_jit_vs_interpreter(void **state) {
  struct tb_config *c = load((int)TB_NELEM(match_args), match_args);
  pcre2_match_data *md = pcre2_match_data_create(1, NULL);
  uint32_t have_jit = 0;

  (void)state;
  assert_non_null(md);
  assert_int_equal(pcre2_config(PCRE2_CONFIG_JIT, &have_jit), 0);
  for (size_t k = 0; k < c->nrules; k++) {
    size_t jitsize = 0;
    assert_int_equal(pcre2_pattern_info(c->rules[k].re, PCRE2_INFO_JITSIZE, &jitsize), 0);
    if (have_jit && jitsize == 0) {
      /* The loader skips the JIT for rules the index answers (exact names,
       * dot suffixes); JIT them here so that the anchoring is checked under
       * JIT for every shape. */
      assert_int_equal(pcre2_jit_compile(c->rules[k].re, PCRE2_JIT_COMPLETE), 0);
      assert_int_equal(pcre2_pattern_info(c->rules[k].re, PCRE2_INFO_JITSIZE, &jitsize), 0);
      assert_true(jitsize > 0);
    }
  }
  for (size_t i = 0; i < TB_NELEM(matches); i++) {
    size_t len = matches[i].len != 0 ? matches[i].len : strlen(matches[i].host);
    const struct tb_rule *r = tb_config_match(c, matches[i].host, len);
    const struct tb_rule *first = NULL;

    if (len > 0 && matches[i].host[len - 1] == '.') {
      len--;
    }
    for (size_t k = 0; k < c->nrules; k++) {
      pcre2_code *re = c->rules[k].re;
      PCRE2_SPTR s = (PCRE2_SPTR)matches[i].host;
      int interp = pcre2_match(re, s, len, 0, PCRE2_NO_JIT, md, NULL) >= 0;
      int dflt = pcre2_match(re, s, len, 0, 0, md, NULL) >= 0;

      assert_int_equal(interp, dflt);
      if (have_jit) {
        int jit = pcre2_jit_match(re, s, len, 0, 0, md, NULL) >= 0;
        if (jit != interp) {
          fail_msg("rule '%s', host '%s': JIT %d, interpreter %d", c->rules[k].pattern, matches[i].host, jit,
                   interp);
        }
      }
      if (interp && len > 0 && first == NULL) {
        first = &c->rules[k];
      }
    }
    assert_ptr_equal(r, first); /* the first rule that matches is the one returned */
  }
  /* The two cases the reference gets wrong, spelled out. */
  if (have_jit) {
    assert_int_equal(
        pcre2_jit_match(c->rules[0].re, (PCRE2_SPTR) "a.service.com.evil.net", 22, 0, 0, md, NULL),
        PCRE2_ERROR_NOMATCH);
    assert_int_equal(pcre2_jit_match(c->rules[1].re, (PCRE2_SPTR) "ab", 2, 0, 0, md, NULL),
                     PCRE2_ERROR_NOMATCH);
  }
  pcre2_match_data_free(md);
  tb_config_destroy(c);
}

struct thread_arg {
  const struct tb_config *c;
  int bad;
};

static int match_thread(void *p) {
  struct thread_arg *a = p;

  for (int n = 0; n < 2000; n++) {
    size_t i = (size_t)n % TB_NELEM(matches);
    size_t len = matches[i].len != 0 ? matches[i].len : strlen(matches[i].host);
    const struct tb_rule *r = tb_config_match(a->c, matches[i].host, len);
    int got = r == NULL ? -1 : (int)(r - a->c->rules);
    a->bad += got != matches[i].rule;
  }
  return 0;
}

/* One shared config, several threads; each thread's match data is its own
 * and is freed when the thread ends (LeakSanitizer would see it otherwise). */
static void test_match_threads(void **state) {
  struct tb_config *c = load((int)TB_NELEM(match_args), match_args);
  thrd_t t[4];
  struct thread_arg args[4];

  (void)state;
  for (size_t i = 0; i < TB_NELEM(t); i++) {
    args[i].c = c;
    args[i].bad = 0;
    assert_int_equal(thrd_create(&t[i], match_thread, &args[i]), thrd_success);
  }
  for (size_t i = 0; i < TB_NELEM(t); i++) {
    assert_int_equal(thrd_join(t[i], NULL), thrd_success);
    assert_int_equal(args[i].bad, 0);
  }
  tb_config_destroy(c);
}

/* ---- the index: same answers as trying every regex in order ------------ */

/* The first rule whose regex matches host, by brute force (the reference
 * behaviour the index must reproduce). */
static const struct tb_rule *brute_match(const struct tb_config *c, const char *host, size_t len,
                                         pcre2_match_data *md) {
  if (len > 0 && host[len - 1] == '.') {
    len--;
  }
  if (len == 0) {
    return NULL;
  }
  for (size_t k = 0; k < c->nrules; k++) {
    if (pcre2_match(c->rules[k].re, (PCRE2_SPTR)host, len, 0, 0, md, NULL) >= 0) {
      return &c->rules[k];
    }
  }
  return NULL;
}

/* Hand-picked: each shape, each precedence between shapes, and patterns
 * that look indexable but are not. */
static void test_index_cases(void **state) {
  static const char *const args[] = {
      "late[.]example",
      "p0", /* 0 exact, but after ... */
      ".*[.]example",
      "p1", /* 1 suffix */
      "LATE[.]example",
      "p2", /* 2 exact, same key as 0 */
      "x.y",
      "p3", /* 3 unescaped dot: a regex */
      "a\\.b\\-c",
      "p4", /* 4 exact via backslashes */
      ".*zone[.]test",
      "p5", /* 5 suffix without a leading dot: a regex */
      ".*[.]zone[.]test",
      "p6", /* 6 suffix */
      "(.*[.])?apex[.]test",
      "p7", /* 7 regex */
      "early[.]sub[.]zone[.]test",
      "p8", /* 8 exact, after the suffix rule 6 */
      "[.]",
      "p9", /* 9 exact "." */
      ".*[.]",
      "p10", /* 10 suffix "." */
  };
  static const char *const hosts[] = {
      "late.example",
      "LATE.EXAMPLE.",
      "other.example",
      "example",
      "x.example",
      "xzy",
      "x.y",
      "a.b-c",
      "A.B-C",
      "a.b-cd",
      "evilzone.test",
      "a.zone.test",
      "zone.test",
      ".zone.test",
      "apex.test",
      "w.apex.test",
      "early.sub.zone.test",
      ".",
      "..",
      "a..",
      "a.",
      "a",
      "a.example.evil",
      "b.zone.test.example",
      "-",
      "_x_.example",
  };
  struct tb_config *c = load((int)TB_NELEM(args), args);
  pcre2_match_data *md = pcre2_match_data_create(1, NULL);

  (void)state;
  assert_non_null(md);
  for (size_t i = 0; i < TB_NELEM(hosts); i++) {
    size_t len = strlen(hosts[i]);
    const struct tb_rule *want = brute_match(c, hosts[i], len, md);
    const struct tb_rule *got = NULL;
    assert_int_equal(tb_config_lookup(c, hosts[i], len, &got), 0);
    if (got != want) {
      fail_msg("host '%s': index gave rule %ld, regexes give rule %ld", hosts[i],
               got ? (long)(got - c->rules) : -1L, want ? (long)(want - c->rules) : -1L);
    }
  }
  /* Spot checks of the intent, not only of agreement. */
  assert_ptr_equal(tb_config_match(c, "late.example", 12), &c->rules[0]);
  assert_ptr_equal(tb_config_match(c, "other.example", 13), &c->rules[1]);
  assert_ptr_equal(tb_config_match(c, "early.sub.zone.test", 19), &c->rules[5]);
  pcre2_match_data_free(md);
  tb_config_destroy(c);
}

/* Random rule sets of every shape and random hosts over a small alphabet
 * (so that hits are common): the index and brute force always agree. */
static void test_index_random(void **state) {
  static const char *const labels[] = {"a", "b", "ab", "xy", "A", "B"};
  static const char *const pre[] = {"", ".*[.]", "", "(", ".*", ""};
  static const char *const post[] = {"", "", ".*", "|q)", "", "[.]a"};
  pcre2_match_data *md = pcre2_match_data_create(1, NULL);
  unsigned seed = 12345;

  (void)state;
  assert_non_null(md);
  for (int round = 0; round < 200; round++) {
    struct tb_config *c = tb_config_create();
    char err[ERRLEN];
    assert_non_null(c);
    int nrules = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 12;
    for (int r = 0; r < nrules; r++) {
      char name[32], pat[64];
      unsigned x = (seed = seed * 1103515245u + 12345u) >> 16;
      snprintf(name, sizeof name, "%s[.]%s", labels[x % 6], labels[(x / 6) % 6]);
      unsigned f = (x / 36) % 6;
      snprintf(pat, sizeof pat, "%s%s%s", pre[f], (x / 216) % 2 ? name : labels[x % 6], post[f]);
      assert_int_equal(tb_config_add_rule(c, pat, "peer", "test", err, sizeof err), 0);
    }
    for (int h = 0; h < 60; h++) {
      char host[64] = "";
      unsigned x = (seed = seed * 1103515245u + 12345u) >> 16;
      int nl = 1 + (int)(x % 4);
      for (int l = 0; l < nl; l++) {
        unsigned y = (seed = seed * 1103515245u + 12345u) >> 16;
        strcat(host, labels[y % 6]);
        if (l + 1 < nl || y % 7 == 0) {
          strcat(host, ".");
        }
      }
      const struct tb_rule *want = brute_match(c, host, strlen(host), md);
      const struct tb_rule *got = NULL;
      assert_int_equal(tb_config_lookup(c, host, strlen(host), &got), 0);
      if (got != want) {
        fail_msg("round %d host '%s': index gave %s, regexes give %s", round, host,
                 got ? got->pattern : "none", want ? want->pattern : "none");
      }
    }
    tb_config_destroy(c);
  }
  pcre2_match_data_free(md);
}

/* A regex that hits PCRE2's match limit is a failure (-1), never "no rule":
 * otherwise a CONNECT meant for that rule's peer would go elsewhere. */
static void test_lookup_fails_closed(void **state) {
  static const char *const args[] = {"(x+)+", "p0", "never[.]matches", "p1"};
  struct tb_config *c = load((int)TB_NELEM(args), args);
  char host[61];
  const struct tb_rule *r = &c->rules[0];

  (void)state;
  memset(host, 'x', sizeof host);
  host[sizeof host - 1] = '!'; /* the end anchor fails only after every split of the x's */
  int rc = tb_config_lookup(c, host, sizeof host, &r);
  /* Catastrophic backtracking over 60 x's: PCRE2's default match limit
   * (10 million) stops it; the lookup reports the failure. */
  assert_int_equal(rc, -1);
  assert_null(r);
  assert_null(tb_config_match(c, host, sizeof host));
  tb_config_destroy(c);
}

/* With no index (never built, or lost to out of memory) every rule is tried
 * as a regex, in order: the same answers as with the index, ports included
 * (rules that share a host and differ in ports, indexed or not). */
static void test_lookup_without_index(void **state) {
  static const struct tb_port_range p5432[] = {{5432, 5432}}, p6379[] = {{6379, 6379}, {7000, 7002}},
                                    p443[] = {{443, 443}}, p8443[] = {{8443, 8443}};
  static const struct {
    const char *pattern;
    const struct tb_port_range *ports;
    size_t nports;
  } rules[] = {
      {"db[.]internal", p5432, 1},     {"db[.]internal", p6379, 2}, {".*[.]internal", p443, 1},
      {"d(b|c)[.]internal", p8443, 1}, {"db[.]internal", NULL, 0},  {".*[.]svc", p443, 1},
  };
  static const char *const hosts[] = {"db.internal", "DB.internal.", "dc.internal",  "x.internal",
                                      "a.svc",       "internal",     "db.internal.x"};
  static const unsigned ports[] = {0, 1, 443, 5432, 6379, 7001, 7003, 8443, 65535};
  struct tb_config *c = tb_config_create();
  char err[ERRLEN];

  (void)state;
  assert_non_null(c);
  for (size_t i = 0; i < TB_NELEM(rules); i++) {
    const struct tb_rule_spec spec = {.pattern = rules[i].pattern,
                                      .peer = "peer",
                                      .origin = "test",
                                      .ports = rules[i].ports,
                                      .nports = rules[i].nports,
                                      .settings = TB_SETTINGS_UNSET};
    assert_int_equal(tb_config_add(c, &spec, err, sizeof err), 0);
  }
  for (size_t i = 0; i < TB_NELEM(hosts); i++) {
    for (size_t p = 0; p < TB_NELEM(ports); p++) {
      const struct tb_rule *with = NULL;
      const struct tb_rule *without = &c->rules[0];
      size_t len = strlen(hosts[i]);
      assert_int_equal(tb_index_lookup(c->index, c->rules, c->nrules, hosts[i], len, ports[p], &with), 0);
      assert_int_equal(tb_index_lookup(NULL, c->rules, c->nrules, hosts[i], len, ports[p], &without), 0);
      if (with != without) {
        fail_msg("%s:%u: index gave %ld, regexes %ld", hosts[i], ports[p],
                 with ? (long)(with - c->rules) : -1L, without ? (long)(without - c->rules) : -1L);
      }
    }
  }
  const struct tb_rule *r = NULL;
  assert_int_equal(tb_index_lookup(NULL, c->rules, c->nrules, "db.internal", 11, 7001, &r), 0);
  assert_ptr_equal(r, &c->rules[1]);
  assert_int_equal(tb_index_lookup(NULL, c->rules, c->nrules, "db.internal", 11, 0, &r), 0);
  assert_ptr_equal(r, &c->rules[4]);
  tb_config_destroy(c);
}

/* No host, an empty host, no rules: no rule, not a failure. */
static void test_lookup_nothing(void **state) {
  struct tb_config *c = load((int)TB_NELEM(match_args), match_args);
  struct tb_index *ix = tb_index_create();
  const struct tb_rule *r = &c->rules[0];

  (void)state;
  assert_non_null(ix);
  assert_int_equal(tb_index_lookup(c->index, c->rules, c->nrules, NULL, 0, 0, &r), 0);
  assert_null(r);
  r = &c->rules[0];
  assert_int_equal(tb_index_lookup(c->index, c->rules, c->nrules, "a", 0, 0, &r), 0);
  assert_null(r);
  r = &c->rules[0];
  assert_int_equal(tb_index_lookup(ix, NULL, 0, "a", 1, 0, &r), 0);
  assert_null(r);
  tb_index_destroy(ix);
  tb_index_destroy(NULL);
  tb_config_destroy(c);
}

/* The compile messages, without the origin the store puts in front. */
static void test_compile(void **state) {
  static const struct {
    const char *pattern;
    const char *err; /* NULL: compiles */
  } cases[] = {
      {"a[.]b", NULL},
      {".*[.]b", NULL},
      {"(a|b)+", NULL},
      {"", "empty regex"},
      {"(", "bad regex '(' at offset 1: missing closing parenthesis"},
      {"a[", "bad regex 'a[' at offset 2: missing terminating ] for character class"},
      {"a\\Cb", "bad regex 'a\\Cb' at offset 3: "},
      {"(\x01", "bad regex '(\\x01' at offset 2"},
  };

  (void)state;
  for (size_t i = 0; i < TB_NELEM(cases); i++) {
    char err[ERRLEN] = "";
    void *re = tb_index_compile(cases[i].pattern, err, sizeof err);
    if (cases[i].err == NULL) {
      if (re == NULL) {
        fail_msg("'%s': %s", cases[i].pattern, err);
      }
    } else {
      assert_null(re);
      if (strncmp(err, cases[i].err, strlen(cases[i].err)) != 0) {
        fail_msg("'%s': got '%s', want '%s...'", cases[i].pattern, err, cases[i].err);
      }
    }
    tb_index_free_regex(re);
  }
  tb_index_free_regex(NULL);
}

/* tb_index_reference_match: the reference's semantics (docs/
 * reference-comparison.md, ATS-NOTES): anchored at the start only,
 * case-sensitive, a trailing dot kept; -1 for a pattern that does not
 * compile and for a match limit hit. */
static void test_reference_match(void **state) {
  static const struct {
    const char *pattern;
    const char *host;
    int want;
  } cases[] = {
      {".*[.]service[.]com", "a.service.com", 1},
      {".*[.]service[.]com", "a.service.com.evil.net", 1}, /* not end-anchored */
      {".*[.]service[.]com", "A.Service.COM", 0},          /* case-sensitive */
      {".*[.]service[.]com", "a.service.com.", 1},         /* the prefix matches */
      {"db", "db.internal", 1},
      {"db", "dbx", 1},
      {"db", "xdb", 0}, /* anchored at the start */
      {"db", "DB", 0},
      {"db[.]internal$", "db.internal", 1},
      {"db[.]internal$", "db.internal.", 0}, /* the dot is kept */
      {"db[.]internal$", "db.internal.x", 0},
      {"(?i)db[.]internal$", "DB.Internal", 1},
      {"x.*", "x.anything", 1},
      {"a|", "zzz", 1}, /* the empty alternative matches the empty prefix */
      {"", "anything", 1},
  };
  char host[61];

  (void)state;
  for (size_t i = 0; i < TB_NELEM(cases); i++) {
    int got = tb_index_reference_match(cases[i].pattern, cases[i].host, strlen(cases[i].host));
    if (got != cases[i].want) {
      fail_msg("'%s' on '%s': got %d, want %d", cases[i].pattern, cases[i].host, got, cases[i].want);
    }
  }
  assert_int_equal(tb_index_reference_match("(", "x", 1), -1);
  assert_int_equal(tb_index_reference_match("db", "dbx", 2), 1); /* the length counts, not a NUL */
  assert_int_equal(tb_index_reference_match("db", "d", 1), 0);
  memset(host, 'x', sizeof host);
  host[sizeof host - 1] = '!';
  assert_int_equal(tb_index_reference_match("(x+)+$", host, sizeof host), -1); /* PCRE2's match limit */
}

/* ---- captures ------------------------------------------------------------ */

static const char *const capture_args[] = {
    "exact[.]cap",
    "p0", /* rule 0: indexed, no groups */
    "(a+)(b+)(c+)[.]cap",
    "p1", /* rule 1 */
    "(x)[.]cap",
    "p2", /* rule 2 */
    "(?:(y)|(z))[.]cap",
    "p3", /* rule 3: one group unset */
    "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)",
    "p4", /* rule 4: more groups than $9 */
    ".*[.]cap",
    "p5", /* rule 5: indexed suffix */
};

/* Captures from ix (or from every regex in order when ix is NULL). */
static const struct tb_rule *caps_of(const struct tb_config *c, const struct tb_index *ix, const char *host,
                                     struct tb_captures *caps) {
  const struct tb_rule *r = NULL;
  memset(caps, 0x5a, sizeof *caps); /* whatever was there: stale pairs must not show */
  assert_int_equal(tb_index_lookup_captures(ix, c->rules, c->nrules, host, strlen(host), 443, &r, caps), 0);
  return r;
}

/* The offsets of the whole match and of each group, in the host as given
 * (a trailing dot not included in the match); an unset group; the first
 * nine of twelve; none for an indexed rule; a rule with fewer groups after
 * one with more, on the same thread's match data. */
static void test_captures(void **state) {
  struct tb_config *c = load((int)TB_NELEM(capture_args), capture_args);
  struct tb_captures k;

  (void)state;
  for (int with_index = 1; with_index >= 0; with_index--) {
    const struct tb_index *ix = with_index ? c->index : NULL;
    assert_ptr_equal(caps_of(c, ix, "aabbbc.cap.", &k), &c->rules[1]);
    assert_int_equal(k.n, 4);
    assert_int_equal(k.start[0], 0);
    assert_int_equal(k.end[0], 10);
    assert_int_equal(k.start[1], 0);
    assert_int_equal(k.end[1], 2);
    assert_int_equal(k.start[2], 2);
    assert_int_equal(k.end[2], 5);
    assert_int_equal(k.start[3], 5);
    assert_int_equal(k.end[3], 6);
    assert_ptr_equal(caps_of(c, ix, "X.CAP", &k), &c->rules[2]); /* fewer groups: no stale pairs */
    assert_int_equal(k.n, 2);
    assert_int_equal(k.start[1], 0);
    assert_int_equal(k.end[1], 1);
    assert_ptr_equal(caps_of(c, ix, "z.cap", &k), &c->rules[3]);
    assert_int_equal(k.n, 3);
    assert_int_equal(k.start[1], TB_CAPTURE_UNSET);
    assert_int_equal(k.end[1], TB_CAPTURE_UNSET);
    assert_int_equal(k.start[2], 0);
    assert_int_equal(k.end[2], 1);
    assert_ptr_equal(caps_of(c, ix, "y.cap", &k), &c->rules[3]);
    assert_int_equal(k.n, 3); /* every group of the regex, the trailing unset one too */
    assert_int_equal(k.start[1], 0);
    assert_int_equal(k.start[2], TB_CAPTURE_UNSET);
    assert_int_equal(k.end[2], TB_CAPTURE_UNSET);
    assert_ptr_equal(caps_of(c, ix, "abcdefghijkl", &k), &c->rules[4]);
    assert_int_equal(c->rules[4].ngroups, 12);
    assert_int_equal(k.n, TB_CAPTURE_MAX + 1);
    for (size_t g = 1; g <= TB_CAPTURE_MAX; g++) {
      assert_int_equal(k.start[g], g - 1);
      assert_int_equal(k.end[g], g);
    }
    assert_ptr_equal(caps_of(c, ix, "exact.cap", &k), &c->rules[0]);
    assert_int_equal(k.n, 0);
    assert_ptr_equal(caps_of(c, ix, "q.cap", &k), &c->rules[5]);
    assert_int_equal(k.n, 0);
    assert_null(caps_of(c, ix, "nothing", &k));
    assert_int_equal(k.n, 0);
  }
  /* captures NULL: the plain lookup */
  const struct tb_rule *r = NULL;
  assert_int_equal(tb_index_lookup_captures(c->index, c->rules, c->nrules, "x.cap", 5, 443, &r, NULL), 0);
  assert_ptr_equal(r, &c->rules[2]);
  assert_int_equal(tb_index_groups(c->rules[1].re), 3);
  assert_int_equal(tb_index_groups(c->rules[0].re), 0);
  assert_int_equal(tb_index_groups(NULL), 0);
  tb_config_destroy(c);
}

static int capture_thread(void *p) {
  struct thread_arg *a = p;
  char host[64];

  for (int n = 0; n < 2000; n++) {
    struct tb_captures k;
    const struct tb_rule *r = NULL;
    size_t as = 1 + (size_t)n % 7;
    size_t bs = 1 + (size_t)(n + a->bad) % 5;
    memset(host, 'a', as);
    memset(host + as, 'b', bs);
    memcpy(host + as + bs, "c.cap", 6);
    if (tb_config_lookup_captures(a->c, host, strlen(host), 443, &r, &k) != 0 || r != &a->c->rules[1] ||
        k.n != 4 || k.end[1] != as || k.start[2] != as || k.end[2] != as + bs) {
      a->bad++;
    }
  }
  return 0;
}

/* Several threads taking captures at once: each thread's own match data. */
static void test_capture_threads(void **state) {
  struct tb_config *c = load((int)TB_NELEM(capture_args), capture_args);
  thrd_t t[4];
  struct thread_arg args[4];

  (void)state;
  for (size_t i = 0; i < TB_NELEM(t); i++) {
    args[i].c = c;
    args[i].bad = 0;
    assert_int_equal(thrd_create(&t[i], capture_thread, &args[i]), thrd_success);
  }
  for (size_t i = 0; i < TB_NELEM(t); i++) {
    assert_int_equal(thrd_join(t[i], NULL), thrd_success);
    assert_int_equal(args[i].bad, 0);
  }
  tb_config_destroy(c);
}

/* Bare regexes (a policy's identities): the first that matches the whole
 * text, taken as it is (no trailing dot dropped), with and without the
 * index, literals with ':' and '/' indexed; a limit fails closed. */
static void test_lookup_texts(void **state) {
  static const char *const patterns[] = {"spiffe://corp[.]example/ingress/a", ".*[.]corp[.]example",
                                         "b[.]corp[.]example", "spiffe://corp[.]example/.*", "(x+)+"};
  void *res[TB_NELEM(patterns)];
  char err[256];
  struct tb_index *ix = tb_index_create();
  size_t found;
  (void)state;
  assert_non_null(ix);
  for (size_t i = 0; i < TB_NELEM(patterns); i++) {
    res[i] = tb_index_compile(patterns[i], err, sizeof err);
    assert_non_null(res[i]);
    assert_int_equal(tb_index_add(ix, patterns[i], i), 0);
  }
  static const struct {
    const char *text;
    size_t want;
  } cases[] = {
      {"spiffe://corp.example/ingress/a", 0},
      {"SPIFFE://Corp.Example/ingress/A", 0},
      {"spiffe://corp.example/ingress/b", 3},
      {"b.corp.example", 1},
      {"b.corp.example.", SIZE_MAX},
      {"spiffe://corp.example/ingress/a/", 3},
      {"corp.example", SIZE_MAX},
      {"", SIZE_MAX},
  };
  for (int with = 0; with < 2; with++) {
    for (size_t i = 0; i < TB_NELEM(cases); i++) {
      assert_int_equal(tb_index_lookup_texts(with ? ix : NULL, res, TB_NELEM(res), cases[i].text,
                                             strlen(cases[i].text), &found),
                       0);
      if (found != cases[i].want) {
        fail_msg("%s (index %d): %zu, want %zu", cases[i].text, with, found, cases[i].want);
      }
    }
  }
  char host[62];
  memset(host, 'x', sizeof host);
  host[sizeof host - 1] = '!';
  assert_int_equal(tb_index_lookup_texts(ix, res, TB_NELEM(res), host, sizeof host, &found), -1);
  assert_int_equal(found, SIZE_MAX);
  /* one regex as a host rule takes a host */
  assert_int_equal(tb_index_match_host(res[2], "B.corp.example.", 15), 1);
  assert_int_equal(tb_index_match_host(res[2], "b.corp.example.x", 16), 0);
  assert_int_equal(tb_index_match_host(res[2], ".", 1), 0);
  assert_int_equal(tb_index_match_host(res[2], "", 0), 0);
  assert_int_equal(tb_index_match_host(res[4], host, sizeof host), -1);
  for (size_t i = 0; i < TB_NELEM(res); i++) {
    tb_index_free_regex(res[i]);
  }
  tb_index_destroy(ix);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_match_table),     cmocka_unit_test(test_match_jit_vs_interpreter),
      cmocka_unit_test(test_match_threads),   cmocka_unit_test(test_index_cases),
      cmocka_unit_test(test_index_random),    cmocka_unit_test(test_lookup_fails_closed),
      cmocka_unit_test(test_lookup_texts),    cmocka_unit_test(test_lookup_without_index),
      cmocka_unit_test(test_lookup_nothing),  cmocka_unit_test(test_compile),
      cmocka_unit_test(test_reference_match), cmocka_unit_test(test_captures),
      cmocka_unit_test(test_capture_threads),
  };
  return cmocka_run_group_tests_name("tb_index", tests, NULL, NULL);
}
