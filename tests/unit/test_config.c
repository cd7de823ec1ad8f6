/*
 * Unit tests for tb_config: the matcher (anchoring at both ends, under JIT
 * and the interpreter alike, case, trailing dot, order), loading from
 * arguments and files, and a negative case for every rule.
 */
#include "tb_test.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <sys/stat.h>
#include <threads.h>

#include "tb_config.h"

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

static struct tb_config *load(int argc, const char *const *argv) {
  struct tb_config *c = tb_config_create();
  char err[ERRLEN];

  assert_non_null(c);
  if (tb_config_load_args(c, argc, argv, NULL, err, sizeof err) != 0) {
    fail_msg("load failed: %s", err);
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
  assert_string_equal(c->rules[0].origin, "plugin.config argument 1");
  assert_string_equal(c->rules[3].origin, "plugin.config argument 7");
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

static void test_create_destroy(void **state) {
  struct tb_config *c = tb_config_create();

  (void)state;
  assert_non_null(c);
  assert_int_equal(c->nrules, 0);
  assert_int_equal(c->connect_timeout_ms, TB_DEFAULT_CONNECT_TIMEOUT_MS);
  assert_null(tb_config_match(c, "a", 1));
  tb_config_destroy(c);
  tb_config_destroy(NULL);
}

/* ---- arguments -------------------------------------------------------- */

struct arg_case {
  const char *name;
  const char *argv[8];
  const char *err; /* NULL: must load */
  size_t nrules;
  unsigned timeout_ms;
};

static const struct arg_case arg_cases[] = {
    {"empty", {NULL}, NULL, 0, 10000},
    {"one pair", {"a[.]example", "peer:1"}, NULL, 1, 10000},
    {"timeout 1", {"--connect-timeout", "1"}, NULL, 0, 1000},
    {"timeout 3600", {"--connect-timeout", "3600", "x", "y"}, NULL, 1, 3600000},
    {"timeout 30, pairs around", {"a", "p1", "--connect-timeout", "30", "b", "p2"}, NULL, 2, 30000},
    {"pool 0 and max age", {"--pool", "0", "--pool-max-age", "5", "a", "p"}, NULL, 1, 10000},
    {"idle and lifetime", {"--idle-timeout", "0", "--max-lifetime", "60"}, NULL, 0, 10000},
    {"unmatched deny", {"--unmatched", "deny", "--unmatched", "passthrough"}, NULL, 0, 10000},

    {"odd arguments",
     {"a", "p1", "b"},
     "plugin.config argument 3: regex 'b' has no peer (arguments come in pairs)",
     0,
     0},
    {"lone regex",
     {"x.*"},
     "plugin.config argument 1: regex 'x.*' has no peer (arguments come in pairs)",
     0,
     0},
    {"unknown option", {"--bogus", "x"}, "plugin.config argument 1 ('--bogus'): unknown option", 0, 0},
    {"unknown option later",
     {"a", "p", "--file=x"},
     "plugin.config argument 3 ('--file=x'): unknown option",
     0,
     0},
    {"--file without path", {"--file"}, "plugin.config argument 1 ('--file'): needs a PATH", 0, 0},
    {"--file with empty path", {"--file", ""}, "plugin.config argument 1 ('--file'): needs a PATH", 0, 0},
    {"--file missing",
     {"--file", "/nonexistent/tb/rules.conf"},
     "/nonexistent/tb/rules.conf: cannot open: No such file or directory",
     0,
     0},
    {"--file relative, no confdir",
     {"--file", "nonexistent-tb-rules.conf"},
     "nonexistent-tb-rules.conf: cannot open: No such file or directory",
     0,
     0},
    {"--file is a directory", {"--file", "/tmp"}, "/tmp: cannot read: Is a directory", 0, 0},
    {"bad regex",
     {"(", "peer"},
     "plugin.config argument 1: bad regex '(' at offset 1: missing closing parenthesis",
     0,
     0},
    {"bad regex later",
     {"ok", "peer", "a[", "peer"},
     "plugin.config argument 3: bad regex 'a[' at offset 2: missing terminating ] for character class",
     0,
     0},
    {"\\C refused", {"a\\Cb", "peer"}, "plugin.config argument 1: bad regex 'a\\Cb' at offset 3: ", 0, 0},
    {"empty regex", {"", "peer"}, "plugin.config argument 1: empty regex", 0, 0},
    {"bad regex shown as written",
     {".*\\.service\\.com(", "peer"},
     "plugin.config argument 1: bad regex '.*\\.service\\.com(' at offset 17: missing closing parenthesis",
     0,
     0},
    {"bad peer port",
     {"x", "foo:99999"},
     "plugin.config argument 1: peer 'foo:99999': port must be 1-65535",
     0,
     0},
    {"bare IPv6 peer",
     {"x", "2001:db8::1"},
     "plugin.config argument 1: peer '2001:db8::1': more than one ':'",
     0,
     0},
    {"timeout 0",
     {"--connect-timeout", "0"},
     "plugin.config argument 2 ('0'): --connect-timeout must be whole seconds, 1-3600",
     0,
     0},
    {"timeout 3601", {"--connect-timeout", "3601"}, "argument 2 ('3601'): --connect-timeout must be", 0, 0},
    {"timeout -1", {"--connect-timeout", "-1"}, "argument 2 ('-1'): --connect-timeout must be", 0, 0},
    {"timeout +5", {"--connect-timeout", "+5"}, "argument 2 ('+5'): --connect-timeout must be", 0, 0},
    {"timeout 1.5", {"--connect-timeout", "1.5"}, "argument 2 ('1.5'): --connect-timeout must be", 0, 0},
    {"timeout 10s", {"--connect-timeout", "10s"}, "argument 2 ('10s'): --connect-timeout must be", 0, 0},
    {"pool 65", {"--pool", "65"}, "argument 2 ('65'): --pool must be whole connections, 0-64", 0, 0},
    {"pool -1", {"--pool", "-1"}, "argument 2 ('-1'): --pool must be", 0, 0},
    {"pool missing", {"--pool"}, "argument 1 ('--pool'): needs N", 0, 0},
    {"lifetime 1.5",
     {"--max-lifetime", "1.5"},
     "argument 2 ('1.5'): --max-lifetime must be whole seconds, 0-2000000",
     0,
     0},
    {"idle missing", {"--idle-timeout"}, "argument 1 ('--idle-timeout'): needs SECONDS", 0, 0},
    {"unmatched bogus",
     {"--unmatched", "allow"},
     "argument 2 ('allow'): --unmatched takes 'passthrough' or 'deny'",
     0,
     0},
    {"unmatched missing", {"--unmatched"}, "argument 1 ('--unmatched'): --unmatched takes", 0, 0},
    {"max age 0",
     {"--pool-max-age", "0"},
     "argument 2 ('0'): --pool-max-age must be whole seconds, 1-3600",
     0,
     0},
    {"timeout empty", {"--connect-timeout", ""}, "argument 2 (''): --connect-timeout must be", 0, 0},
    {"timeout space", {"--connect-timeout", " 5"}, "argument 2 (' 5'): --connect-timeout must be", 0, 0},
    {"timeout huge", {"--connect-timeout", "99999999999999999999"}, "--connect-timeout must be", 0, 0},
    {"timeout missing",
     {"--connect-timeout"},
     "plugin.config argument 1 ('--connect-timeout'): needs SECONDS",
     0,
     0},
    {"timeout then odd", {"--connect-timeout", "5", "x"}, "regex 'x' has no peer", 0, 0},
};

static int count_args(const char *const *argv) {
  int n = 0;
  while (n < 8 && argv[n] != NULL) {
    n++;
  }
  return n;
}

static void test_args_table(void **state) {
  (void)state;
  for (size_t i = 0; i < TB_NELEM(arg_cases); i++) {
    const struct arg_case *a = &arg_cases[i];
    struct tb_config *c = tb_config_create();
    char err[ERRLEN] = "";
    int rc;

    assert_non_null(c);
    rc = tb_config_load_args(c, count_args(a->argv), a->argv, "/nonexistent-confdir", err, sizeof err);
    if (a->err == NULL) {
      if (rc != 0) {
        fail_msg("%s: %s", a->name, err);
      }
      assert_int_equal(c->nrules, a->nrules);
      assert_int_equal(c->connect_timeout_ms, a->timeout_ms);
    } else {
      if (rc != -1) {
        fail_msg("%s: accepted", a->name);
      }
      tb_assert_contains(err, a->err);
      /* a failed load leaves the config as it was */
      assert_int_equal(c->nrules, 0);
      assert_int_equal(c->connect_timeout_ms, TB_DEFAULT_CONNECT_TIMEOUT_MS);
    }
    tb_config_destroy(c);
  }
}

/* Messages are NUL-terminated and cut safely at any errlen. */
static void test_err_truncation(void **state) {
  const char *argv[] = {"(", "peer"};
  struct tb_config *c = tb_config_create();
  char full[ERRLEN];

  (void)state;
  assert_non_null(c);
  assert_int_equal(tb_config_load_args(c, 2, argv, NULL, full, sizeof full), -1);
  for (size_t len = 1; len < strlen(full) + 3; len++) {
    char *err = malloc(len); /* exact size: ASan sees an overrun */
    assert_non_null(err);
    assert_int_equal(tb_config_load_args(c, 2, argv, NULL, err, len), -1);
    assert_int_equal(strlen(err), len - 1 < strlen(full) ? len - 1 : strlen(full));
    assert_memory_equal(err, full, strlen(err));
    free(err);
  }
  assert_int_equal(tb_config_load_args(c, 2, argv, NULL, NULL, 0), -1);
  assert_int_equal(tb_config_load_file(c, "/nonexistent/x", NULL, 0), -1);
  tb_config_destroy(c);
}

static void test_add_rule(void **state) {
  struct tb_config *c = tb_config_create();
  char err[ERRLEN];
  char origin[400];

  (void)state;
  assert_non_null(c);
  memset(origin, 'o', sizeof origin - 1);
  origin[sizeof origin - 1] = '\0';
  /* a long origin is kept cut short in the rule, whole in messages */
  assert_int_equal(tb_config_add_rule(c, "a", "peer", origin, err, sizeof err), 0);
  assert_int_equal(strlen(c->rules[0].origin), TB_ORIGIN_MAX - 1);
  assert_int_equal(tb_config_add_rule(c, "(", "peer", origin, err, sizeof err), -1);
  assert_memory_equal(err, origin, sizeof origin - 1);
  tb_assert_contains(err, ": bad regex '(' at offset 1: ");
  assert_int_equal(tb_config_add_rule(c, "x", "peer:", "here", err, sizeof err), -1);
  assert_string_equal(err, "here: peer 'peer:': port is empty");
  assert_int_equal(tb_config_add_rule(c, "bad\x01", "peer", "here", err, sizeof err),
                   0); /* a regex may hold it */
  assert_int_equal(tb_config_add_rule(c, "(\x01", "peer", "here", err, sizeof err), -1);
  tb_assert_contains(err, "here: bad regex '(\\x01' at offset 2");
  assert_int_equal(c->nrules, 2);
  tb_config_destroy(c);
}

/* ---- files ------------------------------------------------------------ */

static void write_tmp(char *path, const char *text) {
  tb_tmpfile(path, 64, text, strlen(text));
}

static void test_file_ok(void **state) {
  static const char text[] = "# rules for the bridge\r\n"
                             "\r\n"
                             "   \t  \r\n"
                             "  # indented comment with fields a b c\r\n"
                             "one[.]example\tpeer1.example.net:4443\r\n"
                             "\t two[.]example    [2001:db8::2]  \t\r\n"
                             "#three[.]example peer3\r\n"
                             "hash#in[.]regex peer4\n"
                             "last[.]example 10.0.0.5:8443"; /* no newline at the end */
  struct tb_config *c = tb_config_create();
  char path[64];
  char origin[96];
  char err[ERRLEN];

  (void)state;
  assert_non_null(c);
  write_tmp(path, text);
  if (tb_config_load_file(c, path, err, sizeof err) != 0) {
    fail_msg("%s", err);
  }
  assert_int_equal(c->nrules, 4);
  assert_string_equal(c->rules[0].pattern, "one[.]example");
  assert_string_equal(c->rules[0].peer.host, "peer1.example.net");
  assert_int_equal(c->rules[0].peer.port, 4443);
  snprintf(origin, sizeof origin, "%s:5", path);
  assert_string_equal(c->rules[0].origin, origin);
  assert_string_equal(c->rules[1].pattern, "two[.]example");
  assert_string_equal(c->rules[1].peer.host, "2001:db8::2");
  assert_true(c->rules[1].peer.ipv6);
  snprintf(origin, sizeof origin, "%s:6", path);
  assert_string_equal(c->rules[1].origin, origin);
  assert_string_equal(c->rules[2].pattern, "hash#in[.]regex");
  assert_string_equal(c->rules[3].pattern, "last[.]example");
  assert_int_equal(c->rules[3].peer.port, 8443);
  snprintf(origin, sizeof origin, "%s:9", path);
  assert_string_equal(c->rules[3].origin, origin);
  assert_ptr_equal(tb_config_match(c, "TWO.example.", 12), &c->rules[1]);
  assert_null(tb_config_match(c, "three.example", 13));
  assert_int_equal(unlink(path), 0);
  tb_config_destroy(c);
}

static void test_file_empty(void **state) {
  static const char *const texts[] = {"", "\n", "\r\n", "# nothing\n\n  \t\n"};

  (void)state;
  for (size_t i = 0; i < TB_NELEM(texts); i++) {
    struct tb_config *c = tb_config_create();
    char path[64];
    char err[ERRLEN];

    assert_non_null(c);
    write_tmp(path, texts[i]);
    assert_int_equal(tb_config_load_file(c, path, err, sizeof err), 0);
    assert_int_equal(c->nrules, 0); /* zero rules is the glue's call, not an error here */
    assert_int_equal(unlink(path), 0);
    tb_config_destroy(c);
  }
}

static const struct {
  const char *text;
  size_t len;      /* 0: strlen(text) */
  const char *err; /* after "<path>:" */
} file_errors[] = {
    {"a peer1\nb peer2\nc foo:0\n", 0, "3: peer 'foo:0': port must be 1-65535"},
    {"a peer1\r\n\r\n# c\r\nc foo:99999\r\n", 0, "4: peer 'foo:99999': port must be 1-65535"},
    {"a peer1\n  b\n", 0, "2: expected '<regex> <peer>', found 1 field"},
    {"a peer1 extra\n", 0, "1: expected '<regex> <peer>', found 3 fields"},
    {"a peer1 # trailing comment\n", 0, "1: expected '<regex> <peer>', found 5 fields"},
    {"\n\n(unclosed peer\n", 0, "3: bad regex '(unclosed' at offset 9: missing closing parenthesis"},
    {"a [::1\n", 0, "1: peer '[::1': '[' without ']'"},
    {"a ::1\n", 0, "1: peer '::1': more than one ':'"},
    {"a peer\x0b\n", 0, "1: peer 'peer\\x0b': contains whitespace"},
    {"a b\n\x00 c\n", 8, "2: NUL byte in line"},
    {"a p\rq\n", 0, "1: peer 'p\\x0dq': contains whitespace"},
};

static void test_file_errors(void **state) {
  (void)state;
  for (size_t i = 0; i < TB_NELEM(file_errors); i++) {
    struct tb_config *c = tb_config_create();
    const char *argv[] = {"before", "peer0", "--file", NULL};
    char path[64];
    char want[256];
    char err[ERRLEN];
    size_t len = file_errors[i].len != 0 ? file_errors[i].len : strlen(file_errors[i].text);

    assert_non_null(c);
    tb_tmpfile(path, sizeof path, file_errors[i].text, len);
    snprintf(want, sizeof want, "%s:%s", path, file_errors[i].err);
    assert_int_equal(tb_config_load_file(c, path, err, sizeof err), -1);
    tb_assert_contains(err, want);
    assert_int_equal(c->nrules, 0); /* rules from earlier lines are undone */

    /* the same through --file, after a rule from the arguments */
    argv[3] = path;
    assert_int_equal(tb_config_load_args(c, 4, argv, NULL, err, sizeof err), -1);
    tb_assert_contains(err, want);
    assert_int_equal(c->nrules, 0);
    assert_int_equal(unlink(path), 0);
    tb_config_destroy(c);
  }
}

static void test_file_too_big(void **state) {
  struct tb_config *c = tb_config_create();
  char path[64];
  char want[128];
  char err[ERRLEN];
  int fd;

  (void)state;
  assert_non_null(c);
  write_tmp(path, "");
  fd = open(path, O_WRONLY);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, (off_t)(16 << 20) + 1), 0);
  assert_int_equal(close(fd), 0);
  snprintf(want, sizeof want, "%s: larger than 16 MiB", path);
  assert_int_equal(tb_config_load_file(c, path, err, sizeof err), -1);
  assert_string_equal(err, want);
  assert_int_equal(unlink(path), 0);
  tb_config_destroy(c);
}

/* A file holding exactly 16 MiB is still read (all of it blank lines). */
static void test_file_16mib(void **state) {
  struct tb_config *c = tb_config_create();
  const size_t size = (size_t)16 << 20;
  char *text = malloc(size);
  char path[64];
  char err[ERRLEN];

  (void)state;
  assert_non_null(c);
  assert_non_null(text);
  memset(text, '\n', size);
  memcpy(text + size - 8, "a peer\n\n", 8);
  tb_tmpfile(path, sizeof path, text, size);
  if (tb_config_load_file(c, path, err, sizeof err) != 0) {
    fail_msg("%s", err);
  }
  assert_int_equal(c->nrules, 1);
  assert_int_equal(unlink(path), 0);
  free(text);
  tb_config_destroy(c);
}

/* Relative --file names are joined to confdir; absolute ones are not. */
static void test_file_confdir(void **state) {
  static const char *const confdirs[] = {"/tmp", "/tmp/", NULL, "/nonexistent"};
  char path[64];

  (void)state;
  write_tmp(path, "rel[.]example peer\n");
  for (size_t i = 0; i < TB_NELEM(confdirs); i++) {
    const char *rel = path + strlen("/tmp/");
    const char *argv[] = {"--file", rel, "--file", path};
    struct tb_config *c = tb_config_create();
    char err[ERRLEN];
    char want[128];
    int rc;

    assert_non_null(c);
    rc = tb_config_load_args(c, 4, argv, confdirs[i], err, sizeof err);
    if (i < 2) {
      if (rc != 0) {
        fail_msg("confdir %s: %s", confdirs[i], err);
      }
      assert_int_equal(c->nrules, 2);
      assert_string_equal(c->rules[0].origin, c->rules[1].origin); /* "/tmp/x:1", not "/tmp//x:1" */
    } else {
      assert_int_equal(rc, -1);
      snprintf(want, sizeof want, "%s%s%s: cannot open: No such file or directory",
               confdirs[i] ? confdirs[i] : "", confdirs[i] ? "/" : "", rel);
      assert_string_equal(err, want);
    }
    tb_config_destroy(c);
  }
  assert_int_equal(unlink(path), 0);
}

/* Rules keep configuration order across arguments and files. */
static void test_order(void **state) {
  char path[64];
  const char *argv[] = {"x[.]one", "p1", "--file", NULL, "x[.].*", "p4"};
  struct tb_config *c = tb_config_create();
  char err[ERRLEN];

  (void)state;
  assert_non_null(c);
  write_tmp(path, "x[.]two p2\nx[.]t.* p3\n");
  argv[3] = path;
  assert_int_equal(tb_config_load_args(c, 6, argv, NULL, err, sizeof err), 0);
  assert_int_equal(c->nrules, 4);
  assert_string_equal(tb_config_match(c, "x.one", 5)->peer.host, "p1");
  assert_string_equal(tb_config_match(c, "x.two", 5)->peer.host, "p2");
  assert_string_equal(tb_config_match(c, "x.three", 7)->peer.host, "p3");
  assert_string_equal(tb_config_match(c, "x.four", 6)->peer.host, "p4");
  assert_string_equal(c->rules[3].origin, "plugin.config argument 5");
  assert_int_equal(unlink(path), 0);
  tb_config_destroy(c);
}

/* 100,000 rules load (the array grows geometrically) and match in order. */
static void test_many_rules(void **state) {
  const size_t n = 100000;
  size_t cap = n * 48;
  char *text = malloc(cap);
  size_t len = 0;
  char path[64];
  char err[ERRLEN];
  struct tb_config *c = tb_config_create();
  const struct tb_rule *r;

  (void)state;
  assert_non_null(text);
  assert_non_null(c);
  for (size_t i = 0; i < n; i++) {
    len += (size_t)snprintf(text + len, cap - len, "h%zu[.]example[.]com p%zu.example.net:%zu\n", i, i,
                            i % 65535 + 1);
  }
  tb_tmpfile(path, sizeof path, text, len);
  if (tb_config_load_file(c, path, err, sizeof err) != 0) {
    fail_msg("%s", err);
  }
  assert_int_equal(c->nrules, n);
  assert_true(c->cap >= n && c->cap < 2 * n + 16);
  r = tb_config_match(c, "H99999.example.com", 18);
  assert_non_null(r);
  assert_string_equal(r->peer.host, "p99999.example.net");
  assert_int_equal(r->peer.port, 99999 % 65535 + 1);
  r = tb_config_match(c, "h5.example.com.", 15);
  assert_ptr_equal(r, &c->rules[5]);
  assert_null(tb_config_match(c, "h100000.example.com", 19));
  assert_int_equal(unlink(path), 0);
  free(text);
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

/* Pool options land in their fields; defaults otherwise; a failed load
 * leaves them as they were. */
static void test_pool_options(void **state) {
  static const char *const ok[] = {"--pool", "5", "--pool-max-age", "7"};
  static const char *const bad[] = {"--pool", "9", "--pool-max-age", "x"};
  struct tb_config *c = tb_config_create();
  char err[ERRLEN];

  (void)state;
  assert_non_null(c);
  assert_int_equal(c->pool_size, TB_DEFAULT_POOL_SIZE);
  assert_int_equal(c->pool_max_age_ms, TB_DEFAULT_POOL_MAX_AGE_MS);
  assert_int_equal(tb_config_load_args(c, 4, ok, NULL, err, sizeof err), 0);
  assert_int_equal(c->pool_size, 5);
  assert_int_equal(c->pool_max_age_ms, 7000);
  assert_int_equal(c->idle_timeout_ms, 0); /* off unless asked for */
  assert_int_equal(c->max_lifetime_ms, 0);
  assert_int_equal(c->deny_unmatched, 0);
  {
    static const char *const deny[] = {"--unmatched", "deny"};
    assert_int_equal(tb_config_load_args(c, 2, deny, NULL, err, sizeof err), 0);
    assert_int_equal(c->deny_unmatched, 1);
  }
  assert_int_equal(tb_config_load_args(c, 4, bad, NULL, err, sizeof err), -1);
  assert_int_equal(c->pool_size, 5);
  assert_int_equal(c->pool_max_age_ms, 7000);
  tb_config_destroy(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_create_destroy),
      cmocka_unit_test(test_match_table),
      cmocka_unit_test(test_match_jit_vs_interpreter),
      cmocka_unit_test(test_match_threads),
      cmocka_unit_test(test_index_cases),
      cmocka_unit_test(test_index_random),
      cmocka_unit_test(test_lookup_fails_closed),
      cmocka_unit_test(test_pool_options),
      cmocka_unit_test(test_args_table),
      cmocka_unit_test(test_err_truncation),
      cmocka_unit_test(test_add_rule),
      cmocka_unit_test(test_file_ok),
      cmocka_unit_test(test_file_empty),
      cmocka_unit_test(test_file_errors),
      cmocka_unit_test(test_file_too_big),
      cmocka_unit_test(test_file_16mib),
      cmocka_unit_test(test_file_confdir),
      cmocka_unit_test(test_order),
      cmocka_unit_test(test_many_rules),
  };
  return cmocka_run_group_tests_name("tb_config", tests, NULL, NULL);
}
