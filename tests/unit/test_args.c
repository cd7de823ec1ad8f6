/*
 * Unit tests for tb_args, the plugin.config arguments: every option and
 * its range, pairs, "--file" (paths against confdir, order with pairs),
 * "--config" alone, the idle and lifetime limits unset, 0 and N, --engine,
 * and a negative case for every rule, each leaving the configuration as it
 * was.
 */
#include "tb_test.h"

#include <sys/stat.h>

#include "tb_args.h"
#include "tb_rulefile.h"

#define ERRLEN 1024

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

static void write_tmp(char *path, const char *text) {
  tb_tmpfile(path, 64, text, strlen(text));
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
  assert_int_equal(c->idle_timeout_ms, TB_UNSET); /* unset unless asked for */
  assert_int_equal(c->max_lifetime_ms, TB_UNSET);
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

static const char yaml[] = "idle_timeout: 0\n"
                           "rules:\n"
                           "  - {host: 'a[.]example', peer: p1}\n"
                           "  - {host: 'b[.]example', peer: p2}\n";

/* tb_config_load_args: --config alone loads the file; anything with it is
 * refused; a missing file names the path. */
static void test_config_argument(void **state) {
  (void)state;
  char path[] = "/tmp/tb-yaml-XXXXXX";
  int fd = mkstemp(path);
  char err[ERRLEN] = "";
  assert_true(fd >= 0);
  assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
  assert_int_equal(close(fd), 0);

  struct tb_config *c = tb_config_create();
  const char *one[] = {"--config", path};
  assert_int_equal(tb_config_load_args(c, 2, one, "/nonexistent", err, sizeof err), 0);
  assert_int_equal(c->nrules, 2);
  assert_int_equal(c->idle_timeout_ms, 0);
  tb_config_destroy(c);

  c = tb_config_create();
  const char *mixed[] = {"--config", path, "a", "b"};
  assert_int_equal(tb_config_load_args(c, 4, mixed, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "argument 1 ('--config'): --config PATH must be the only argument"));
  const char *after[] = {"a", "b", "--config", path};
  assert_int_equal(tb_config_load_args(c, 4, after, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "argument 3 ('--config')"));
  assert_int_equal(c->nrules, 0);
  const char *bare[] = {"--config"};
  assert_int_equal(tb_config_load_args(c, 1, bare, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "must be the only argument"));
  tb_config_destroy(c);
  assert_int_equal(unlink(path), 0);

  c = tb_config_create();
  assert_int_equal(tb_config_load_args(c, 2, one, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, path));
  assert_non_null(strstr(err, "cannot open"));
  assert_int_equal(c->nrules, 0);
  tb_config_destroy(c);
}

static void test_client_identity_argument(void **state) {
  (void)state;
  char err[ERRLEN] = "";
  struct tb_config *c = tb_config_create();
  const char *good[] = {"--client-identity", "forwarded", "a", "b"};
  assert_int_equal(tb_config_load_args(c, 4, good, NULL, err, sizeof err), 0);
  assert_int_equal(c->identity, TB_IDENTITY_FORWARDED);
  tb_config_destroy(c);
  c = tb_config_create();
  const char *bad[] = {"--client-identity", "hide", "a", "b"};
  assert_int_equal(tb_config_load_args(c, 4, bad, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "argument 2 ('hide'): --client-identity takes 'keep', 'strip' or 'forwarded'"));
  assert_int_equal(c->identity, TB_IDENTITY_KEEP);
  const char *missing[] = {"--client-identity"};
  assert_int_equal(tb_config_load_args(c, 1, missing, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "argument 1"));
  tb_config_destroy(c);
}

/* Pairs become rules named by the argument that holds the regex. */
static void test_pair_origins(void **state) {
  static const char *const argv[] = {"a[.]x", "p1", "--pool", "3", "b", "[::1]:8443"};
  struct tb_config *c = tb_config_create();
  char err[ERRLEN];

  (void)state;
  assert_non_null(c);
  assert_int_equal(tb_config_load_args(c, (int)TB_NELEM(argv), argv, NULL, err, sizeof err), 0);
  assert_int_equal(c->nrules, 2);
  assert_string_equal(c->rules[0].origin, "plugin.config argument 1");
  assert_string_equal(c->rules[0].peer.host, "p1");
  assert_string_equal(c->rules[1].origin, "plugin.config argument 5");
  assert_string_equal(c->rules[1].peer.host, "::1");
  assert_int_equal(c->rules[1].peer.port, 8443);
  tb_config_destroy(c);
}

/* The options that take a word: each word, and the whole message for a
 * wrong or missing one (the list of words is spelled out). */
static void test_word_options(void **state) {
  static const struct {
    const char *argv[4];
    int argc;
    const char *err; /* NULL: loads */
    int deny;
    enum tb_identity identity;
  } cases[] = {
      {{"--unmatched", "passthrough"}, 2, NULL, 0, TB_IDENTITY_KEEP},
      {{"--unmatched", "deny"}, 2, NULL, 1, TB_IDENTITY_KEEP},
      {{"--client-identity", "keep"}, 2, NULL, 0, TB_IDENTITY_KEEP},
      {{"--client-identity", "strip"}, 2, NULL, 0, TB_IDENTITY_STRIP},
      {{"--client-identity", "forwarded", "--unmatched", "deny"}, 4, NULL, 1, TB_IDENTITY_FORWARDED},
      {{"--unmatched", "allow"},
       2,
       "plugin.config argument 2 ('allow'): --unmatched takes 'passthrough' or 'deny'",
       0,
       TB_IDENTITY_KEEP},
      {{"--unmatched"},
       1,
       "plugin.config argument 1 ('--unmatched'): --unmatched takes 'passthrough' or 'deny'",
       0,
       TB_IDENTITY_KEEP},
      {{"--unmatched", NULL},
       2,
       "plugin.config argument 1 ('--unmatched'): --unmatched takes 'passthrough' or 'deny'",
       0,
       TB_IDENTITY_KEEP},
      {{"--client-identity"},
       1,
       "plugin.config argument 1 ('--client-identity'): --client-identity takes 'keep', 'strip' or "
       "'forwarded'",
       0,
       TB_IDENTITY_KEEP},
      {{"--unmatched", "deny", "--client-identity", "Keep"},
       4,
       "plugin.config argument 4 ('Keep'): --client-identity takes 'keep', 'strip' or 'forwarded'",
       0,
       TB_IDENTITY_KEEP},
      {{"--client-identity", "it's"},
       2,
       "plugin.config argument 2 ('it\\x27s'): --client-identity takes 'keep', 'strip' or 'forwarded'",
       0,
       TB_IDENTITY_KEEP},
  };

  (void)state;
  for (size_t i = 0; i < TB_NELEM(cases); i++) {
    struct tb_config *c = tb_config_create();
    char err[ERRLEN] = "";
    int rc;

    assert_non_null(c);
    rc = tb_config_load_args(c, cases[i].argc, cases[i].argv, NULL, err, sizeof err);
    if (cases[i].err == NULL) {
      if (rc != 0) {
        fail_msg("case %zu: %s", i, err);
      }
    } else {
      assert_int_equal(rc, -1);
      assert_string_equal(err, cases[i].err);
    }
    assert_int_equal(c->deny_unmatched, cases[i].deny); /* as it was after a failure */
    assert_int_equal(c->identity, cases[i].identity);
    tb_config_destroy(c);
  }
}

/* --idle-timeout and --max-lifetime: unset unless given; 0 (never) and N
 * seconds are values; a rule without its own gets the configuration's. */
static void test_limits_unset_zero_n(void **state) {
  static const struct {
    const char *argv[6];
    int argc;
    unsigned idle_ms, lifetime_ms;
  } cases[] = {
      {{"a", "p"}, 2, TB_UNSET, TB_UNSET},
      {{"--idle-timeout", "0", "a", "p"}, 4, 0, TB_UNSET},
      {{"--max-lifetime", "0", "a", "p"}, 4, TB_UNSET, 0},
      {{"--idle-timeout", "30", "a", "p"}, 4, 30000, TB_UNSET},
      {{"--max-lifetime", "2000000", "a", "p"}, 4, TB_UNSET, 2000000000u},
      {{"--idle-timeout", "5", "--max-lifetime", "0", "a", "p"}, 6, 5000, 0},
      {{"--idle-timeout", "5", "--idle-timeout", "0", "a", "p"}, 6, 0, TB_UNSET}, /* the last one counts */
  };

  (void)state;
  for (size_t i = 0; i < TB_NELEM(cases); i++) {
    struct tb_config *c = tb_config_create();
    struct tb_settings s;
    char err[ERRLEN];

    assert_non_null(c);
    assert_int_equal(tb_config_load_args(c, cases[i].argc, cases[i].argv, NULL, err, sizeof err), 0);
    assert_int_equal(c->idle_timeout_ms, cases[i].idle_ms);
    assert_int_equal(c->max_lifetime_ms, cases[i].lifetime_ms);
    tb_config_settings(c, &c->rules[0], &s);
    assert_int_equal(s.idle_timeout_ms, cases[i].idle_ms);
    assert_int_equal(s.max_lifetime_ms, cases[i].lifetime_ms);
    assert_int_equal(s.connect_timeout_ms, TB_DEFAULT_CONNECT_TIMEOUT_MS);
    tb_config_destroy(c);
  }
  /* A failed load puts them back to unset. */
  {
    static const char *const bad[] = {"--idle-timeout", "5", "--max-lifetime", "1", "--bogus"};
    struct tb_config *c = tb_config_create();
    char err[ERRLEN];
    assert_non_null(c);
    assert_int_equal(tb_config_load_args(c, 5, bad, NULL, err, sizeof err), -1);
    assert_int_equal(c->idle_timeout_ms, TB_UNSET);
    assert_int_equal(c->max_lifetime_ms, TB_UNSET);
    tb_config_destroy(c);
  }
}

/* tb_config_load_plugin_args, what the plugin and tls_bridge_check call: the
 * arguments' own messages first, then "no rules" for a list without one
 * (options alone, an empty rule file, no arguments), each failure leaving
 * the configuration as it was (options an option-only list set undone). */
static void test_plugin_args(void **state) {
  static const char no_rules[] = "no rules (expected '<regex> <peer>' pairs, --file PATH or --config PATH)";
  static const struct {
    const char *argv[6];
    int argc;
    const char *err; /* NULL: loads */
  } cases[] = {
      {{NULL}, 0, no_rules},
      {{"--pool", "5", "--unmatched", "deny"}, 4, no_rules},
      {{"--file", NULL}, 2, no_rules}, /* the empty rule file below */
      {{"--pool", "5", "x"}, 3, "plugin.config argument 3: regex 'x' has no peer (arguments come in pairs)"},
      {{"--bogus"}, 1, "plugin.config argument 1 ('--bogus'): unknown option"},
      {{"--pool", "5", "a", "p"}, 4, NULL},
      {{"--file", NULL, "a", "p"}, 4, NULL},
  };
  char empty[64];

  (void)state;
  write_tmp(empty, "# no rules yet\n\n");
  for (size_t i = 0; i < TB_NELEM(cases); i++) {
    const char *argv[6];
    struct tb_config *c = tb_config_create();
    char err[ERRLEN] = "";
    int rc;

    assert_non_null(c);
    memcpy(argv, cases[i].argv, sizeof argv);
    if (cases[i].argc >= 2 && strcmp(argv[0], "--file") == 0) {
      argv[1] = empty;
    }
    rc = tb_config_load_plugin_args(c, cases[i].argc, argv, "/nonexistent-confdir", err, sizeof err);
    if (cases[i].err == NULL) {
      if (rc != 0) {
        fail_msg("case %zu: %s", i, err);
      }
      assert_int_equal(c->nrules, 1);
    } else {
      assert_int_equal(rc, -1);
      assert_string_equal(err, cases[i].err);
      assert_int_equal(c->nrules, 0);
      assert_int_equal(c->pool_size, TB_DEFAULT_POOL_SIZE);
      assert_int_equal(c->deny_unmatched, 0);
    }
    tb_config_destroy(c);
  }
  assert_int_equal(unlink(empty), 0);

  /* A YAML file without rules keeps its own message (file, line, column). */
  {
    char path[64];
    const char *argv[] = {"--config", path};
    struct tb_config *c = tb_config_create();
    char err[ERRLEN];
    char want[160];

    assert_non_null(c);
    write_tmp(path, "rules: []\n");
    snprintf(want, sizeof want, "%s:1:8: rules is empty: the bridge needs at least one rule", path);
    assert_int_equal(tb_config_load_plugin_args(c, 2, argv, NULL, err, sizeof err), -1);
    assert_string_equal(err, want);
    assert_int_equal(unlink(path), 0);
    tb_config_destroy(c);
  }
}

/* ---- peer lists and health options --------------------------------------- */

/* "<regex> a:1,b:1" is a failover list, in arguments and in rule files;
 * --health-failures and --health-down-for set the defaults.  Each error
 * leaves the configuration as it was, the health options included. */
static void test_peer_lists_and_health(void **state) {
  static const struct {
    const char *argv[6];
    int argc;
    const char *err; /* NULL: loads */
  } cases[] = {
      {{"--health-failures", "0"},
       2,
       "plugin.config argument 2 ('0'): --health-failures must be whole failures, 1-100"},
      {{"--health-failures", "101"},
       2,
       "plugin.config argument 2 ('101'): --health-failures must be whole failures, 1-100"},
      {{"--health-failures", "x"},
       2,
       "plugin.config argument 2 ('x'): --health-failures must be whole failures, 1-100"},
      {{"--health-failures"}, 1, "plugin.config argument 1 ('--health-failures'): needs N"},
      {{"--health-down-for", "0"},
       2,
       "plugin.config argument 2 ('0'): --health-down-for must be whole seconds, 1-3600"},
      {{"--health-down-for", "3601"},
       2,
       "plugin.config argument 2 ('3601'): --health-down-for must be whole seconds, 1-3600"},
      {{"--health-down-for", "10s"},
       2,
       "plugin.config argument 2 ('10s'): --health-down-for must be whole seconds, 1-3600"},
      {{"--health-down-for"}, 1, "plugin.config argument 1 ('--health-down-for'): needs SECONDS"},
      {{"--health-failures", "9", "a", "p1,,p2"},
       4,
       "plugin.config argument 3: peer list 'p1,,p2': peer 2 is empty"},
      {{"a", "p1,P1:443"},
       2,
       "plugin.config argument 1: peer 'P1:443' is listed twice in this rule (the same host and port as peer "
       "1)"},
      {{"a", "p", "b", "p1:1,p2:0"}, 4, "plugin.config argument 3: peer 'p2:0': port must be 1-65535"},
      {{"x[.]a", "gw-$1"},
       2,
       "plugin.config argument 1: peer template 'gw-$1': $1 names a capture group, but the host regex has "
       "none "
       "(put the part to capture in parentheses, e.g. '(.*)[.]corp')"},
      {{"--health-failures", "100", "--health-down-for", "3600", "a", "p1:1,p2:1"}, 6, NULL},
      {{"--health-failures", "1", "--health-down-for", "1", "(.*)[.]a", "gw-$1,p2:1"}, 6, NULL},
  };

  (void)state;
  for (size_t i = 0; i < TB_NELEM(cases); i++) {
    struct tb_config *c = tb_config_create();
    char err[ERRLEN] = "";

    assert_non_null(c);
    int rc = tb_config_load_args(c, cases[i].argc, cases[i].argv, NULL, err, sizeof err);
    if (cases[i].err != NULL) {
      if (rc != -1 || strcmp(err, cases[i].err) != 0) {
        fail_msg("case %zu\n got: %s\nwant: %s", i, rc == 0 ? "(loaded)" : err, cases[i].err);
      }
      assert_int_equal(c->nrules, 0);
      assert_int_equal(c->npeers, 0);
      assert_int_equal(c->health_failures, TB_HEALTH_FAILURES_DEFAULT);
      assert_int_equal(c->health_down_for_ms, TB_HEALTH_DOWN_FOR_DEFAULT_MS);
    } else {
      if (rc != 0) {
        fail_msg("case %zu: %s", i, err);
      }
      assert_int_equal(c->nrules, 1);
      assert_int_equal(c->rules[0].npeers, 2);
      assert_int_equal(c->rules[0].balance, TB_BALANCE_FAILOVER);
    }
    tb_config_destroy(c);
  }

  /* what the options set, and lists across pairs sharing peers */
  static const char *const argv[] = {"--health-failures", "4", "--health-down-for", "20", "a",
                                     "p1:1,p2:1",         "b", "p2:1,p3:1,p1"};
  struct tb_config *c = tb_config_create();
  char err[ERRLEN];
  assert_non_null(c);
  assert_int_equal(tb_config_load_args(c, (int)TB_NELEM(argv), argv, NULL, err, sizeof err), 0);
  assert_int_equal(c->health_failures, 4);
  assert_int_equal(c->health_down_for_ms, 20000);
  assert_int_equal(c->npeers, 4);
  assert_int_equal(c->rules[1].peers[0].index, c->rules[0].peers[1].index);
  assert_int_equal(c->rules[1].npeers, 3);
  assert_string_equal(c->peers[c->rules[1].peers[2].index].host, "p1");
  assert_int_equal(c->peers[c->rules[1].peers[2].index].port, 443);
  tb_config_destroy(c);

  /* a rule file takes the same lists */
  char path[64];
  const char *fargv[] = {"--file", path};
  write_tmp(path, "a p1:1,p2:1\n(.*)[.]b gw-$1:4443,p2:1\n");
  c = tb_config_create();
  assert_non_null(c);
  assert_int_equal(tb_config_load_args(c, 2, fargv, NULL, err, sizeof err), 0);
  assert_int_equal(c->nrules, 2);
  assert_int_equal(c->rules[1].ntemplates, 1);
  assert_int_equal(c->npeers, 2);
  tb_config_destroy(c);
  assert_int_equal(unlink(path), 0);
  write_tmp(path, "a p1:1,p2:1\nb p3,\n");
  c = tb_config_create();
  assert_non_null(c);
  assert_int_equal(tb_config_load_args(c, 2, fargv, NULL, err, sizeof err), -1);
  char want[160];
  snprintf(want, sizeof want, "%s:2: peer list 'p3,': peer 2 is empty", path);
  assert_string_equal(err, want);
  assert_int_equal(c->nrules, 0);
  assert_int_equal(c->npeers, 0);
  tb_config_destroy(c);
  assert_int_equal(unlink(path), 0);
}

/* --engine: the default transport of every rule, wherever it stands; a
 * failed load puts the engine back. */
static void test_engine_argument(void **state) {
  static const char *const late[] = {"a", "p", "--engine", "direct", "--file", "/dev/null", "b", "q"};
  static const char *const fails[] = {"--engine", "direct", "a", "p", "b"};
  struct tb_config *c = tb_config_create();
  char err[ERRLEN];

  (void)state;
  assert_non_null(c);
  assert_int_equal(tb_config_load_args(c, (int)TB_NELEM(fails), fails, NULL, err, sizeof err), -1);
  assert_int_equal(c->transports[0].engine, TB_ENGINE_ATS);
  assert_int_equal(tb_config_load_args(c, 2, (const char *const[]){"--engine", "tls"}, NULL, err, sizeof err),
                   -1);
  assert_string_equal(err, "plugin.config argument 2 ('tls'): --engine takes 'ats' or 'direct'");
  assert_int_equal(tb_config_load_args(c, 1, (const char *const[]){"--engine"}, NULL, err, sizeof err), -1);
  assert_string_equal(err, "plugin.config argument 1 ('--engine'): --engine takes 'ats' or 'direct'");
  assert_int_equal(tb_config_load_args(c, (int)TB_NELEM(late), late, NULL, err, sizeof err), 0);
  assert_int_equal(tb_config_transport(c, &c->rules[0])->engine, TB_ENGINE_DIRECT);
  assert_int_equal(tb_config_transport(c, &c->rules[1])->engine, TB_ENGINE_DIRECT);
  assert_int_equal(c->ntransports, 1);
  tb_config_destroy(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_engine_argument),
      cmocka_unit_test(test_args_table),
      cmocka_unit_test(test_err_truncation),
      cmocka_unit_test(test_pair_origins),
      cmocka_unit_test(test_word_options),
      cmocka_unit_test(test_limits_unset_zero_n),
      cmocka_unit_test(test_pool_options),
      cmocka_unit_test(test_file_confdir),
      cmocka_unit_test(test_order),
      cmocka_unit_test(test_config_argument),
      cmocka_unit_test(test_client_identity_argument),
      cmocka_unit_test(test_plugin_args),
      cmocka_unit_test(test_peer_lists_and_health),
  };
  return cmocka_run_group_tests_name("tb_args", tests, NULL, NULL);
}
