/*
 * Unit tests for the YAML configuration loader (tb_yaml.c, tb_yaml_policy.c,
 * tb_yaml_walk.c): a full file and
 * what it sets, per-rule settings over the defaults (idle_timeout and
 * max_lifetime unset, 0 and N at both levels), port lists in matching
 * (including rules that share a host and differ in ports), and one test per
 * error path, each checking the line, the column and the words of the
 * message, and that a failed load leaves the configuration as it was.
 * The roles: a peer-role file and its policy as loaded, a rule's action and
 * clients, and every error of role, policy, clients and deny rules.
 */
#include "tb_test.h"

#include "tb_yaml.h"

#define ERRLEN 1024

static struct tb_config *load_ok(const char *text) {
  char err[ERRLEN] = "";
  struct tb_config *c = tb_config_create();
  assert_non_null(c);
  int rc = tb_config_load_yaml_text(c, text, strlen(text), "t.yaml", NULL, err, sizeof err);
  if (rc != 0) {
    fail_msg("unexpected error: %s", err);
  }
  return c;
}

/* Load text, expect failure with a message starting with prefix
 * ("t.yaml:L:C: ") and containing words; the config must be untouched. */
static void load_bad(const char *text, const char *prefix, const char *words) {
  char err[ERRLEN] = "";
  struct tb_config *c = tb_config_create();
  assert_non_null(c);
  unsigned ct = c->connect_timeout_ms;
  int rc = tb_config_load_yaml_text(c, text, strlen(text), "t.yaml", NULL, err, sizeof err);
  if (rc == 0) {
    fail_msg("accepted: %s", text);
  }
  if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, words) == NULL) {
    fail_msg("for %s\nexpected '%s...%s', got '%s'", text, prefix, words, err);
  }
  assert_int_equal(c->nrules, 0);
  assert_int_equal(c->connect_timeout_ms, ct);
  assert_int_equal(c->deny_unmatched, 0);
  assert_int_equal(c->identity, TB_IDENTITY_KEEP);
  assert_int_equal(c->pool_size, TB_DEFAULT_POOL_SIZE);
  assert_int_equal(c->role, TB_ROLE_INGRESS);
  assert_null(c->policy);
  tb_config_destroy(c);
}

static const char full[] = "# every key\n"
                           "unmatched: deny\n"
                           "connect_timeout: 5\n"
                           "idle_timeout: 10m\n"
                           "max_lifetime: 2h\n"
                           "client_identity: strip\n"
                           "pool:\n"
                           "  size: 4\n"
                           "  max_age: 1500ms\n"
                           "rules:\n"
                           "  - host: db[.]internal\n"
                           "    peer: peer-a.example.net:4443\n"
                           "    ports: [5432, \"6000-6010\"]\n"
                           "    name: databases\n"
                           "    connect_timeout: 2s\n"
                           "    idle_timeout: 0\n"
                           "    max_lifetime: 30\n"
                           "    client_identity: forwarded\n"
                           "  - host: .*[.]service[.]com\n"
                           "    peer: \"[2001:db8::1]\"\n";

static void test_full_file(void **state) {
  (void)state;
  struct tb_config *c = load_ok(full);
  struct tb_settings s;

  assert_int_equal(c->nrules, 2);
  assert_int_equal(c->deny_unmatched, 1);
  assert_int_equal(c->connect_timeout_ms, 5000);
  assert_int_equal(c->idle_timeout_ms, 600000);
  assert_int_equal(c->max_lifetime_ms, 7200000);
  assert_int_equal(c->identity, TB_IDENTITY_STRIP);
  assert_int_equal(c->pool_size, 4);
  assert_int_equal(c->pool_max_age_ms, 1500);

  const struct tb_rule *r = &c->rules[0];
  assert_string_equal(r->pattern, "db[.]internal");
  assert_string_equal(r->peer.host, "peer-a.example.net");
  assert_int_equal(r->peer.port, 4443);
  assert_string_equal(r->origin, "databases");
  assert_int_equal(r->nports, 2);
  assert_int_equal(r->ports[0].lo, 5432);
  assert_int_equal(r->ports[0].hi, 5432);
  assert_int_equal(r->ports[1].lo, 6000);
  assert_int_equal(r->ports[1].hi, 6010);
  tb_config_settings(c, r, &s);
  assert_int_equal(s.connect_timeout_ms, 2000);
  assert_int_equal(s.idle_timeout_ms, 0);
  assert_int_equal(s.max_lifetime_ms, 30000);
  assert_int_equal(s.identity, TB_IDENTITY_FORWARDED);

  r = &c->rules[1];
  assert_string_equal(r->origin, "t.yaml:19"); /* no name: where the rule starts */
  assert_int_equal(r->nports, 0);
  assert_int_equal(r->peer.port, 443);
  tb_config_settings(c, r, &s); /* all from the defaults */
  assert_int_equal(s.connect_timeout_ms, 5000);
  assert_int_equal(s.idle_timeout_ms, 600000);
  assert_int_equal(s.max_lifetime_ms, 7200000);
  assert_int_equal(s.identity, TB_IDENTITY_STRIP);
  tb_config_destroy(c);
}

static void test_defaults_when_absent(void **state) {
  (void)state;
  struct tb_config *c = load_ok("rules:\n- host: a[.]b\n  peer: p\n");
  struct tb_settings s;
  tb_config_settings(c, &c->rules[0], &s);
  assert_int_equal(s.connect_timeout_ms, TB_DEFAULT_CONNECT_TIMEOUT_MS);
  assert_int_equal(s.idle_timeout_ms, TB_UNSET); /* no limit of the plugin's: ATS's timeouts apply */
  assert_int_equal(s.max_lifetime_ms, TB_UNSET);
  assert_int_equal(c->idle_timeout_ms, TB_UNSET);
  assert_int_equal(c->max_lifetime_ms, TB_UNSET);
  assert_int_equal(s.identity, TB_IDENTITY_KEEP);
  assert_int_equal(c->deny_unmatched, 0);
  assert_int_equal(c->pool_size, TB_DEFAULT_POOL_SIZE);
  tb_config_destroy(c);
}

static int lookup(const struct tb_config *c, const char *host, unsigned port) {
  const struct tb_rule *r = NULL;
  assert_int_equal(tb_config_lookup_port(c, host, strlen(host), port, &r), 0);
  return r == NULL ? -1 : (int)(r - c->rules);
}

/* Ports take part in "first match wins": rules that share a host (indexed
 * or not) and differ in ports each get their own ports. */
static void test_ports_in_matching(void **state) {
  (void)state;
  struct tb_config *c = load_ok("rules:\n"
                                "- {host: 'db[.]internal', peer: p0, ports: 5432}\n"
                                "- {host: 'db[.]internal', peer: p1, ports: [6379, 7000-7002]}\n"
                                "- {host: '.*[.]internal', peer: p2, ports: 443}\n"
                                "- {host: 'd(b|c)[.]internal', peer: p3, ports: 8443}\n"
                                "- host: db[.]internal\n"
                                "  peer: p4\n"
                                "- {host: '.*[.]svc', peer: p5, ports: 1}\n"
                                "- {host: '.*[.]svc', peer: p6, ports: 2}\n");
  assert_int_equal(lookup(c, "db.internal", 5432), 0);
  assert_int_equal(lookup(c, "db.internal", 6379), 1);
  assert_int_equal(lookup(c, "db.internal", 7000), 1);
  assert_int_equal(lookup(c, "db.internal", 7002), 1);
  assert_int_equal(lookup(c, "DB.internal.", 7001), 1);
  assert_int_equal(lookup(c, "db.internal", 443), 2);
  assert_int_equal(lookup(c, "db.internal", 8443), 3);
  assert_int_equal(lookup(c, "dc.internal", 8443), 3);
  assert_int_equal(lookup(c, "db.internal", 7003), 4); /* the catch-all for this host */
  assert_int_equal(lookup(c, "db.internal", 0), 4);    /* unknown port: rules without ports only */
  assert_int_equal(lookup(c, "x.internal", 80), -1);
  assert_int_equal(lookup(c, "a.svc", 1), 5);
  assert_int_equal(lookup(c, "a.svc", 2), 6);
  assert_int_equal(lookup(c, "a.svc", 3), -1);
  assert_int_equal(tb_rule_port_ok(&c->rules[1], 6999), 0);
  assert_int_equal(tb_rule_port_ok(&c->rules[4], 65535), 1);
  tb_config_destroy(c);
}

static void test_durations(void **state) {
  (void)state;
  static const struct {
    const char *text;
    unsigned ms;
  } ok[] = {{"1", 1000},    {"'7'", 7000},   {"250ms", 250},    {"3s", 3000},
            {"2m", 120000}, {"1h", 3600000}, {"3600", 3600000}, {"1ms", 1}};
  for (size_t i = 0; i < TB_NELEM(ok); i++) {
    char text[128];
    snprintf(text, sizeof text, "connect_timeout: %s\nrules: [{host: a, peer: p}]\n", ok[i].text);
    struct tb_config *c = load_ok(text);
    assert_int_equal(c->connect_timeout_ms, ok[i].ms);
    tb_config_destroy(c);
  }
  struct tb_config *c = load_ok("idle_timeout: 0\nmax_lifetime: 0s\nrules: [{host: a, peer: p}]\n");
  assert_int_equal(c->idle_timeout_ms, 0);
  assert_int_equal(c->max_lifetime_ms, 0);
  tb_config_destroy(c);
}

/* idle_timeout and max_lifetime, top level and rule: absent (unset), 0
 * (never) and a duration.  A rule's own wins, 0 included; without one the
 * top level's, which may be unset. */
static void test_limits_levels(void **state) {
  static const struct {
    const char *text; /* "" (absent) or the value */
    unsigned ms;
  } values[] = {{"", TB_UNSET}, {"0", 0}, {"90s", 90000}};

  (void)state;
  for (size_t top = 0; top < TB_NELEM(values); top++) {
    for (size_t own = 0; own < TB_NELEM(values); own++) {
      char text[512];
      char tops[128] = "";
      char owns[128] = "";
      struct tb_settings s;
      if (values[top].text[0] != '\0') {
        snprintf(tops, sizeof tops, "idle_timeout: %s\nmax_lifetime: %s\n", values[top].text,
                 values[top].text);
      }
      if (values[own].text[0] != '\0') {
        snprintf(owns, sizeof owns, ", idle_timeout: %s, max_lifetime: %s", values[own].text,
                 values[own].text);
      }
      snprintf(text, sizeof text, "%srules:\n- {host: a, peer: p%s}\n- {host: b, peer: p}\n", tops, owns);
      struct tb_config *c = load_ok(text);
      unsigned want = values[own].ms != TB_UNSET ? values[own].ms : values[top].ms;
      assert_int_equal(c->idle_timeout_ms, values[top].ms);
      assert_int_equal(c->max_lifetime_ms, values[top].ms);
      tb_config_settings(c, &c->rules[0], &s);
      if (s.idle_timeout_ms != want || s.max_lifetime_ms != want) {
        fail_msg("%s: got %u/%u, want %u", text, s.idle_timeout_ms, s.max_lifetime_ms, want);
      }
      tb_config_settings(c, &c->rules[1], &s); /* no settings of its own */
      assert_int_equal(s.idle_timeout_ms, values[top].ms);
      assert_int_equal(s.max_lifetime_ms, values[top].ms);
      tb_config_destroy(c);
    }
  }
}

/* A YAML file goes into an empty configuration only. */
static void test_needs_empty_config(void **state) {
  (void)state;
  char err[ERRLEN] = "";
  struct tb_config *c = tb_config_create();
  assert_non_null(c);
  assert_int_equal(tb_config_add_rule(c, "a", "b", "x", err, sizeof err), 0);
  assert_int_equal(tb_config_load_yaml_text(c, full, strlen(full), "t.yaml", NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "cannot be added to rules from elsewhere"));
  assert_int_equal(c->nrules, 1);
  tb_config_destroy(c);
}

/* tb_config_load_yaml: a file by path; a missing one names the path. */
static void test_load_path(void **state) {
  (void)state;
  char path[64];
  char err[ERRLEN] = "";
  struct tb_config *c = tb_config_create();
  assert_non_null(c);
  tb_tmpfile(path, sizeof path, full, strlen(full));
  assert_int_equal(tb_config_load_yaml(c, path, NULL, err, sizeof err), 0);
  assert_int_equal(c->nrules, 2);
  tb_config_destroy(c);
  assert_int_equal(unlink(path), 0);
  c = tb_config_create();
  assert_non_null(c);
  assert_int_equal(tb_config_load_yaml(c, path, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, path));
  assert_non_null(strstr(err, ": cannot open: "));
  tb_config_destroy(c);
}

/* ---- every error path ------------------------------------------------- */

static void test_syntax_errors(void **state) {
  (void)state;
  load_bad("rules: [\n", "t.yaml:2:1: ", "YAML syntax error");
  load_bad("a: b\n c: d\n", "t.yaml:2:3: ", "YAML syntax error: mapping values are not allowed");
  load_bad("rules: \"open\n", "t.yaml:", "YAML syntax error");
  load_bad("key: *nowhere\n", "t.yaml:", "YAML syntax error");
  char err[ERRLEN] = "";
  struct tb_config *c = tb_config_create();
  assert_int_equal(tb_config_load_yaml_text(c, "a: 1\0b: 2", 9, "t.yaml", NULL, err, sizeof err), -1);
  assert_string_equal(err, "t.yaml: NUL byte in the file");
  tb_config_destroy(c);
}

static void test_document_shape(void **state) {
  (void)state;
  load_bad("", "t.yaml: empty file", "expected a mapping with a 'rules' list");
  load_bad("# only a comment\n", "t.yaml: empty file", "rules");
  load_bad("just text\n",
           "t.yaml:1:1: ", "the top level must be a mapping (key: value lines), found a single value");
  load_bad("- a\n- b\n", "t.yaml:1:1: ", "the top level must be a mapping");
  load_bad("unmatched: deny\n", "t.yaml:1:1: ", "no 'rules': the bridge needs at least one rule");
  load_bad("rules: [{host: a, peer: p}]\n---\nrules: []\n",
           "t.yaml:3:1: ", "a second YAML document ('---'): only one is allowed");
  load_bad("rules: [{host: a, peer: p}]\n---\n- [\n", "t.yaml:", "YAML syntax error");
}

static void test_keys(void **state) {
  (void)state;
  load_bad("rules: [{host: a, peer: p}]\nrule: x\n",
           "t.yaml:2:1: ", "unknown key 'rule' in the top level (expected rules, unmatched");
  load_bad("rules: [{host: a, peer: p}]\nrules: [{host: b, peer: p}]\n",
           "t.yaml:2:1: ", "key 'rules' appears twice in the top level (first at line 1)");
  load_bad("? [a, b]\n: c\nrules: [{host: a, peer: p}]\n",
           "t.yaml:1:3: ", "a key in the top level must be a plain name, found a list");
  load_bad("rules: [{host: a, peer: p, hosts: b}]\n",
           "t.yaml:1:28: ", "unknown key 'hosts' in rule 1 (expected host, peer, peers, balance, ports");
  load_bad("rules:\n- host: a\n  peer: p\n  peer: q\n", "t.yaml:4:3: ", "key 'peer' appears twice in rule 1");
  load_bad("pool: {size: 1, age: 2}\nrules: [{host: a, peer: p}]\n",
           "t.yaml:1:17: ", "unknown key 'age' in pool (expected size, max_age)");
}

static void test_aliases(void **state) {
  (void)state;
  load_bad("rules:\n- &r {host: a, peer: p}\n- *r\n",
           "t.yaml:2:3: ", "used again through an alias; anchors and aliases are not supported");
  load_bad("rules:\n- {host: &h a, peer: *h}\n", "t.yaml:2:", "anchors and aliases are not supported");
}

static void test_rules_shape(void **state) {
  (void)state;
  load_bad("rules: a[.]b p\n",
           "t.yaml:1:8: ", "rules must be a list of rules (lines starting with '- '), found a single value");
  load_bad("rules: {host: a, peer: p}\n", "t.yaml:1:8: ", "rules must be a list of rules");
  load_bad("rules: []\n", "t.yaml:1:8: ", "rules is empty: the bridge needs at least one rule");
  load_bad("rules:\n",
           "t.yaml:1:7: ", "rules must be a list of rules (lines starting with '- '), found nothing");
  load_bad("rules:\n- a[.]b p\n",
           "t.yaml:2:3: ", "rule 1 must be a mapping (key: value lines), found a single value");
  load_bad("rules:\n- {host: a, peer: p}\n- [a, p]\n", "t.yaml:3:3: ", "rule 2 must be a mapping");
}

static void test_rule_host_and_peer(void **state) {
  (void)state;
  load_bad("rules:\n- peer: p\n", "t.yaml:2:3: ", "rule 1 has no 'host'");
  load_bad("rules:\n- host: a\n", "t.yaml:2:3: ", "rule 1 has no 'peer'");
  load_bad("rules:\n- {host: , peer: p}\n",
           "t.yaml:2:10: ", "host must be a non-empty string, found nothing");
  load_bad("rules:\n- {host: ~, peer: p}\n",
           "t.yaml:2:10: ", "host must be a non-empty string, found nothing");
  load_bad("rules:\n- {host: '', peer: p}\n", "t.yaml:2:10: ", "host must be a non-empty string");
  load_bad("rules:\n- {host: [a], peer: p}\n",
           "t.yaml:2:10: ", "host must be a non-empty string, found a list");
  load_bad("rules:\n- {host: \"a\\0b\", peer: p}\n", "t.yaml:2:10: ", "host contains a NUL character");
  load_bad("rules:\n- {host: a, peer: {x: 1}}\n",
           "t.yaml:2:19: ", "peer must be a non-empty string, found a mapping");
  load_bad("rules:\n- {host: a, peer: 'p:99999'}\n", "t.yaml:2:19: ", "port");
  load_bad("rules:\n- {host: a, peer: 'has space'}\n", "t.yaml:2:19: ", "has space");
  load_bad("rules:\n- {host: 'a(b', peer: p}\n", "t.yaml:2:10: ", "bad regex 'a(b' at offset 3");
}

static void test_rule_name(void **state) {
  (void)state;
  load_bad("rules:\n- {host: a, peer: p, name: 'two words'}\n",
           "t.yaml:2:28: ", "name may hold only printable ASCII without spaces or quotes");
  load_bad("rules:\n- {host: a, peer: p, name: 'say\"hi'}\n", "t.yaml:2:28: ", "without spaces or quotes");
  char text[512];
  char longname[120];
  memset(longname, 'n', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  snprintf(text, sizeof text, "rules:\n- {host: a, peer: p, name: %s}\n", longname);
  load_bad(text, "t.yaml:2:28: ", "name is longer than 100 characters");
  load_bad("rules:\n- {host: a, peer: p, name: [x]}\n", "t.yaml:2:28: ", "name must be a non-empty string");
}

static void test_ports(void **state) {
  (void)state;
  load_bad("rules:\n- {host: a, peer: p, ports: []}\n",
           "t.yaml:2:29: ", "ports is an empty list (leave ports out to allow every port)");
  load_bad("rules:\n- {host: a, peer: p, ports: {a: 1}}\n",
           "t.yaml:2:29: ", "ports must be a port, a range or a list of them, found a mapping");
  load_bad("rules:\n- {host: a, peer: p, ports: 0}\n",
           "t.yaml:2:29: ", "a port must be a number 1-65535 or a range like 8000-8999, found '0'");
  load_bad("rules:\n- {host: a, peer: p, ports: 65536}\n", "t.yaml:2:29: ", "found '65536'");
  load_bad("rules:\n- {host: a, peer: p, ports: [443, https]}\n", "t.yaml:2:35: ", "found 'https'");
  load_bad("rules:\n- {host: a, peer: p, ports: [443, [80]]}\n", "t.yaml:2:35: ", "found a list");
  load_bad("rules:\n- {host: a, peer: p, ports: 10-}\n", "t.yaml:2:29: ", "found '10-'");
  load_bad("rules:\n- {host: a, peer: p, ports: -10}\n", "t.yaml:2:29: ", "found '-10'");
  load_bad("rules:\n- {host: a, peer: p, ports: 0-10}\n", "t.yaml:2:29: ", "found '0-10'");
  load_bad("rules:\n- {host: a, peer: p, ports: 1-2-3}\n", "t.yaml:2:29: ", "found '1-2-3'");
  load_bad("rules:\n- {host: a, peer: p, ports: 9000-8000}\n",
           "t.yaml:2:29: ", "port range 9000-8000 runs backwards");
}

static void test_bad_durations(void **state) {
  (void)state;
  static const struct {
    const char *text;
    const char *words;
  } bad[] = {
      {"connect_timeout: 0\n", "connect_timeout must be a duration from 1ms to 3600s"},
      {"connect_timeout: 3601\n", "found '3601'"},
      {"connect_timeout: 61m\n", "found '61m'"},
      {"connect_timeout: 5x\n", "(seconds, or a number with ms, s, m or h), found '5x'"},
      {"connect_timeout: s\n", "found 's'"},
      {"connect_timeout: -1\n", "found '-1'"},
      {"connect_timeout: 1.5\n", "found '1.5'"},
      {"connect_timeout: 99999999999999999999\n", "found '99999999999999999999'"},
      {"connect_timeout: [1]\n", "found a list"},
      {"connect_timeout:\n", "found ''"},
      {"idle_timeout: 2000001\n", "idle_timeout must be a duration from 0ms to 2000000s"},
      {"max_lifetime: 1 h\n", "max_lifetime must be a duration"},
  };
  for (size_t i = 0; i < TB_NELEM(bad); i++) {
    char text[256];
    snprintf(text, sizeof text, "%srules: [{host: a, peer: p}]\n", bad[i].text);
    load_bad(text, "t.yaml:1:", bad[i].words);
  }
  load_bad("rules:\n- {host: a, peer: p, connect_timeout: 0}\n",
           "t.yaml:2:39: ", "connect_timeout must be a duration");
  load_bad("rules:\n- {host: a, peer: p, idle_timeout: x}\n",
           "t.yaml:2:36: ", "idle_timeout must be a duration");
  load_bad("rules:\n- {host: a, peer: p, max_lifetime: {}}\n",
           "t.yaml:2:36: ", "max_lifetime must be a duration");
}

static void test_policies(void **state) {
  (void)state;
  load_bad("unmatched: drop\nrules: [{host: a, peer: p}]\n",
           "t.yaml:1:12: ", "unmatched must be passthrough or deny, found drop");
  load_bad("unmatched: [deny]\nrules: [{host: a, peer: p}]\n", "t.yaml:1:12: ", "found a list");
  load_bad("client_identity: hide\nrules: [{host: a, peer: p}]\n",
           "t.yaml:1:18: ", "client_identity must be keep, strip or forwarded, found hide");
  load_bad("rules:\n- {host: a, peer: p, client_identity: {}}\n", "t.yaml:2:39: ", "found a mapping");
}

static void test_pool(void **state) {
  (void)state;
  load_bad("pool: 2\nrules: [{host: a, peer: p}]\n",
           "t.yaml:1:7: ", "pool must be a mapping (key: value lines), found a single value");
  load_bad("pool: {size: 65}\nrules: [{host: a, peer: p}]\n",
           "t.yaml:1:14: ", "pool size must be a whole number from 0 to 64, found '65'");
  load_bad("pool: {size: two}\nrules: [{host: a, peer: p}]\n", "t.yaml:1:14: ", "found 'two'");
  load_bad("pool: {size: [2]}\nrules: [{host: a, peer: p}]\n", "t.yaml:1:14: ", "found a list");
  load_bad("pool: {max_age: 0}\nrules: [{host: a, peer: p}]\n",
           "t.yaml:1:17: ", "pool max_age must be a duration from 1ms");
  struct tb_config *c = load_ok("pool: {size: 0}\nrules: [{host: a, peer: p}]\n");
  assert_int_equal(c->pool_size, 0);
  tb_config_destroy(c);
}

/* A failure after some rules were added undoes them and the defaults. */
static void test_failure_undoes_everything(void **state) {
  (void)state;
  load_bad("connect_timeout: 3\nunmatched: deny\nclient_identity: strip\npool: {size: 9}\n"
           "rules:\n- {host: a, peer: p, ports: [1, 2]}\n- {host: b, peer: p}\n- {host: c}\n",
           "t.yaml:8:3: ", "rule 3 has no 'peer'");
}

/* ---- several peers, balance, health ----------------------------------- */

static const char peers_yaml[] =
    "health: {failures: 5, down_for: 30s}\n"
    "rules:\n"
    "  - name: sites\n"
    "    host: (.*)[.]site-(a|b)[.]corp\n"
    "    peers: [gw.site-$2.corp:4443, fallback.corp:4443]\n"
    "    health: {down_for: 2m}\n"
    "  - host: db[.]internal\n"
    "    peers:\n"
    "      - peer-a.example.net:4443\n"
    "      - Peer-B.example.net:4443\n"
    "      - fallback.corp:4443\n"
    "    balance: hash\n"
    "    health:\n"
    "      failures: 1\n"
    "  - {host: 'rr[.]internal', peers: ['peer-b.example.net:4443', 'peer-a.example.net:4443'],"
    " balance: round_robin}\n"
    "  - {host: 'one[.]internal', peers: [solo], balance: failover}\n"
    "  - {host: 'short[.]internal', peer: fallback.corp:4443}\n";

static void test_peers(void **state) {
  struct tb_config *c = load_ok(peers_yaml);
  struct tb_health_settings h;

  (void)state;
  assert_int_equal(c->nrules, 5);
  assert_int_equal(c->health_failures, 5);
  assert_int_equal(c->health_down_for_ms, 30000);
  /* fallback.corp, peer-a, peer-b, solo */
  assert_int_equal(c->npeers, 4);

  const struct tb_rule *r = &c->rules[0];
  assert_int_equal(r->npeers, 2);
  assert_int_equal(r->ntemplates, 1);
  assert_int_equal(r->ngroups, 2);
  assert_string_equal(r->peers[0].tpl, "gw.site-$2.corp:4443");
  assert_int_equal(r->balance, TB_BALANCE_FAILOVER);
  tb_config_health(c, r, &h);
  assert_int_equal(h.failures, 5);
  assert_int_equal(h.down_for_ms, 120000);

  r = &c->rules[1];
  assert_int_equal(r->npeers, 3);
  assert_int_equal(r->balance, TB_BALANCE_HASH);
  assert_int_equal(r->peers[2].index, c->rules[0].peers[1].index); /* fallback.corp: one entry */
  assert_string_equal(r->peer.host, "peer-a.example.net");
  tb_config_health(c, r, &h);
  assert_int_equal(h.failures, 1);
  assert_int_equal(h.down_for_ms, 30000);

  r = &c->rules[2];
  assert_int_equal(r->balance, TB_BALANCE_ROUND_ROBIN);
  assert_int_equal(r->peers[0].index, c->rules[1].peers[1].index); /* peer-b, any case */
  assert_int_equal(r->peers[1].index, c->rules[1].peers[0].index);
  assert_int_equal(c->rules[3].npeers, 1);
  assert_int_equal(c->rules[3].peer.port, 443);
  assert_int_equal(c->rules[4].peers[0].index, c->rules[0].peers[1].index);
  tb_config_destroy(c);

  /* no health anywhere: the defaults; health at the top with one key */
  c = load_ok("health: {failures: 100}\nrules: [{host: a, peer: p}]\n");
  assert_int_equal(c->health_failures, 100);
  assert_int_equal(c->health_down_for_ms, TB_HEALTH_DOWN_FOR_DEFAULT_MS);
  tb_config_destroy(c);
  c = load_ok("health: {down_for: 3600s}\nrules: [{host: a, peer: p, health: {down_for: 1s}}]\n");
  assert_int_equal(c->health_failures, TB_HEALTH_FAILURES_DEFAULT);
  assert_int_equal(c->health_down_for_ms, 3600000);
  tb_config_health(c, &c->rules[0], &h);
  assert_int_equal(h.down_for_ms, 1000);
  tb_config_destroy(c);
  c = load_ok("rules: [{host: a, peer: p, health: {}}]\n");
  tb_config_health(c, &c->rules[0], &h);
  assert_int_equal(h.failures, TB_HEALTH_FAILURES_DEFAULT);
  assert_int_equal(h.down_for_ms, TB_HEALTH_DOWN_FOR_DEFAULT_MS);
  tb_config_destroy(c);
}

/* load_bad, and the peers table and the health defaults left as they were. */
static void load_bad_peers(const char *text, const char *prefix, const char *words) {
  char err[ERRLEN] = "";
  struct tb_config *c = tb_config_create();
  assert_non_null(c);
  load_bad(text, prefix, words);
  assert_int_equal(tb_config_load_yaml_text(c, text, strlen(text), "t.yaml", NULL, err, sizeof err), -1);
  assert_int_equal(c->npeers, 0);
  assert_int_equal(c->health_failures, TB_HEALTH_FAILURES_DEFAULT);
  assert_int_equal(c->health_down_for_ms, TB_HEALTH_DOWN_FOR_DEFAULT_MS);
  tb_config_destroy(c);
}

static void test_peers_errors(void **state) {
  char text[2048];

  (void)state;
  load_bad_peers("rules:\n- host: a\n  peer: p\n  peers: [q]\n", "t.yaml:4:3: ",
                 "a rule has either 'peer' (one peer) or 'peers' (a list), not both (peer: X is peers: [X])");
  load_bad_peers("rules:\n- {host: a, peers: [q], peer: p}\n",
                 "t.yaml:2:25: ", "a rule has either 'peer' (one peer) or 'peers' (a list), not both");
  load_bad_peers("rules:\n- {host: a, peers: []}\n",
                 "t.yaml:2:20: ", "peers is an empty list (a rule needs at least one peer)");
  load_bad_peers("rules:\n- {host: a, peers: p}\n", "t.yaml:2:20: ",
                 "peers must be a list of peers (for one peer, 'peer: ...'), found a single value");
  load_bad_peers("rules:\n- {host: a, peers: }\n",
                 "t.yaml:2:20: ", "peers must be a list of peers (for one peer, 'peer: ...'), found nothing");
  load_bad_peers("rules:\n- {host: a, peers: [p, {x: 1}]}\n",
                 "t.yaml:2:24: ", "a peer in peers must be a non-empty string, found a mapping");
  load_bad_peers("rules:\n- {host: a, peers: [p, '']}\n",
                 "t.yaml:2:24: ", "a peer in peers must be a non-empty string, found a single value");
  load_bad_peers("rules:\n- host: a\n  peers:\n  - 'a:1'\n  - 'b:0'\n",
                 "t.yaml:5:5: ", "peer 'b:0': port must be 1-65535");
  load_bad_peers("rules:\n- host: a\n  peers:\n  - 'a:443'\n  - b\n  - A\n",
                 "t.yaml:6:5: ", "peer 'A' is listed twice in this rule (the same host and port as peer 1)");
  load_bad_peers("rules:\n- host: (x)[.]a\n  peers: [ok, 'g$2']\n",
                 "t.yaml:3:15: ", "peer template 'g$2': $2 names capture group 2, but the host regex has 1");
  load_bad_peers("rules:\n- host: x[.]a\n  peer: 'g$1'\n", "t.yaml:3:9: ",
                 "peer template 'g$1': $1 names a capture group, but the host regex has none");
  load_bad_peers("rules:\n- host: (x)\n  peer: 'g-$1:0'\n", "t.yaml:3:9: ",
                 "peer template 'g-$1:0': no capture can make it a valid peer: port must be 1-65535");
  load_bad_peers("rules:\n- {host: '(x', peers: ['g$1']}\n", "t.yaml:2:10: ", "bad regex '(x' at offset 2");
  load_bad_peers("rules:\n- {host: a}\n", "t.yaml:2:3: ", "rule 1 has no 'peer'");
  load_bad_peers("rules:\n- {host: a, peers: [p], balance: random}\n",
                 "t.yaml:2:34: ", "balance must be failover, round_robin or hash, found 'random'");
  load_bad_peers("rules:\n- {host: a, peers: [p], balance: [hash]}\n",
                 "t.yaml:2:34: ", "balance must be failover, round_robin or hash, found a list");
  load_bad_peers("rules:\n- {host: a, peers: [p], balance: Hash}\n",
                 "t.yaml:2:34: ", "balance must be failover, round_robin or hash, found 'Hash'");
  load_bad_peers("rules:\n- {host: a, peer: p, health: 3}\n",
                 "t.yaml:2:30: ", "health must be a mapping (key: value lines), found a single value");
  load_bad_peers("rules:\n- {host: a, peer: p, health: {tries: 3}}\n",
                 "t.yaml:2:31: ", "unknown key 'tries' in health (expected failures, down_for)");
  load_bad_peers("rules:\n- {host: a, peer: p, health: {failures: 0}}\n",
                 "t.yaml:2:41: ", "health failures must be a whole number from 1 to 100, found '0'");
  load_bad_peers("rules:\n- {host: a, peer: p, health: {failures: 101}}\n",
                 "t.yaml:2:41: ", "health failures must be a whole number from 1 to 100, found '101'");
  load_bad_peers("rules:\n- {host: a, peer: p, health: {failures: three}}\n",
                 "t.yaml:2:41: ", "health failures must be a whole number from 1 to 100, found 'three'");
  load_bad_peers(
      "rules:\n- {host: a, peer: p, health: {down_for: 999ms}}\n", "t.yaml:2:41: ",
      "health down_for must be a duration from 1s to 3600s (seconds, or a number with ms, s, m or h), "
      "found '999ms'");
  load_bad_peers("rules:\n- {host: a, peer: p, health: {down_for: 61m}}\n",
                 "t.yaml:2:41: ", "health down_for must be a duration from 1s to 3600s");
  load_bad_peers("rules:\n- {host: a, peer: p, health: {down_for: 0}}\n",
                 "t.yaml:2:41: ", "health down_for must be a duration from 1s to 3600s");
  load_bad_peers("health: {failures: 3, failures: 4}\nrules: [{host: a, peer: p}]\n",
                 "t.yaml:1:23: ", "key 'failures' appears twice in health (first at line 1)");
  load_bad_peers("health: [3]\nrules: [{host: a, peer: p}]\n",
                 "t.yaml:1:9: ", "health must be a mapping (key: value lines), found a list");
  load_bad_peers("rules: [{host: a, peer: p}]\nhealth: {down_for: 1h1m}\n",
                 "t.yaml:2:20: ", "health down_for must be a duration");
  /* 32 peers is the most */
  strcpy(text, "rules:\n- host: a\n  peers: [");
  for (int i = 0; i < 33; i++) {
    snprintf(text + strlen(text), sizeof text - strlen(text), "%sp%d", i ? ", " : "", i);
  }
  strcat(text, "]\n");
  load_bad_peers(text, "t.yaml:3:10: ", "peers lists 33 peers: at most 32 are allowed in one rule");
  strcpy(strrchr(text, ','), "]\n"); /* p0 .. p31 */
  struct tb_config *c = load_ok(text);
  assert_int_equal(c->rules[0].npeers, 32);
  tb_config_destroy(c);
  /* a failure after rules with peers and a top-level health: all undone */
  load_bad_peers("health: {failures: 9}\nrules:\n- {host: a, peers: [p, q]}\n- {host: b, peers: [r, p, r]}\n",
                 "t.yaml:4:27: ", "peer 'r' is listed twice");
}

static void test_peer_role(void **state) {
  static const char text[] = "role: peer\n"
                             "policy:\n"
                             "  - name: branch-1\n"
                             "    identity: branch-1[.]corp[.]example\n"
                             "    allow:\n"
                             "      - {host: 'db[.]internal', ports: [5432, 6000-6010]}\n"
                             "      - '.*[.]svc'\n"
                             "    deny:\n"
                             "      - host: admin[.]svc\n"
                             "  - identity: 'spiffe://corp[.]example/ingress/b'\n";
  struct tb_config *c = load_ok(text);
  (void)state;
  assert_int_equal(c->role, TB_ROLE_PEER);
  assert_int_equal(c->nrules, 0);
  assert_non_null(c->policy);
  assert_int_equal(c->policy->n, 2);
  const struct tb_policy_entry *e = &c->policy->entries[0];
  assert_string_equal(e->origin, "branch-1");
  assert_string_equal(e->identity, "branch-1[.]corp[.]example");
  assert_int_equal(e->nallow, 2);
  assert_string_equal(e->allow[0].pattern, "db[.]internal");
  assert_int_equal(e->allow[0].nports, 2);
  assert_int_equal(e->allow[0].ports[1].lo, 6000);
  assert_int_equal(e->allow[0].ports[1].hi, 6010);
  assert_string_equal(e->allow[1].pattern, ".*[.]svc");
  assert_int_equal(e->allow[1].nports, 0);
  assert_int_equal(e->ndeny, 1);
  assert_string_equal(e->deny[0].pattern, "admin[.]svc");
  e = &c->policy->entries[1];
  assert_string_equal(e->origin, "t.yaml:10"); /* no name: where it starts */
  assert_int_equal(e->nallow, 0);
  assert_null(e->allow);
  char err[ERRLEN];
  assert_int_equal(tb_config_check_loaded(c, err, sizeof err), 0);
  tb_config_destroy(c);

  c = load_ok("role: ingress\nrules: [{host: a, peer: p}]\n");
  assert_int_equal(c->role, TB_ROLE_INGRESS);
  assert_null(c->policy);
  tb_config_destroy(c);
}

static void test_role_errors(void **state) {
  (void)state;
  load_bad("role: pear\npolicy: [{identity: a}]\n",
           "t.yaml:1:7: ", "role must be ingress or peer, found 'pear'");
  load_bad("role: {a: 1}\n", "t.yaml:1:7: ", "role must be ingress or peer, found a mapping");
  load_bad("role: peer\npolicy: [{identity: a}]\nrules: [{host: a, peer: p}]\n",
           "t.yaml:3:1: ", "'rules' is for role ingress: a peer-role file has only 'role' and 'policy'");
  load_bad("policy: [{identity: a}]\nconnect_timeout: 5\nrole: peer\n",
           "t.yaml:2:1: ", "'connect_timeout' is for role ingress");
  load_bad("rules: [{host: a, peer: p}]\npolicy: [{identity: a}]\n",
           "t.yaml:2:1: ", "'policy' is for role peer, and this file is role ingress");
  load_bad("role: peer\n", "t.yaml:1:1: ", "no 'policy': a peer-role file needs a policy list");
  load_bad("role: peer\npolicy: []\n", "t.yaml:2:9: ", "policy is empty");
  load_bad("role: peer\npolicy: x\n", "t.yaml:2:9: ", "policy must be a list of entries");
  load_bad("role: peer\npolicy:\n- [a]\n", "t.yaml:3:3: ", "policy entry 1 must be a mapping");
  load_bad("role: peer\npolicy:\n- {allow: [a]}\n", "t.yaml:3:3: ", "policy entry 1 has no 'identity'");
  load_bad("role: peer\npolicy:\n- {identity: a, allow: [b], deny: [c], name: n, x: 1}\n",
           "t.yaml:3:49: ", "unknown key 'x' in policy entry 1 (expected identity, allow, deny, name)");
  load_bad("role: peer\npolicy:\n- {identity: 'a(b'}\n", "t.yaml:3:14: ", "bad regex 'a(b' at offset 3");
  load_bad("role: peer\npolicy:\n- {identity: a, allow: []}\n", "t.yaml:3:24: ", "allow is an empty list");
  load_bad("role: peer\npolicy:\n- {identity: a, deny: {host: b}}\n",
           "t.yaml:3:23: ", "deny must be a list of targets");
  load_bad("role: peer\npolicy:\n- {identity: a, allow: [{ports: 1}]}\n",
           "t.yaml:3:25: ", "allow target 1 has no 'host'");
  load_bad("role: peer\npolicy:\n- {identity: a, allow: [b, {host: c, ports: 99999}]}\n",
           "t.yaml:3:45: ", "a port must be a number 1-65535");
  load_bad("role: peer\npolicy:\n- {identity: a, allow: [b]}\n- {identity: a, deny: ['c[']}\n",
           "t.yaml:4:24: ", "bad regex 'c['");
  load_bad("role: peer\npolicy:\n- {identity: a, name: 'x y'}\n",
           "t.yaml:3:23: ", "name may hold only printable ASCII");
  load_bad("role: peer\npolicy:\n- &e {identity: a}\n- *e\n",
           "t.yaml:3:3: ", "anchors and aliases are not supported");
}

static void test_rule_access(void **state) {
  static const char text[] = "rules:\n"
                             "  - {host: 'secret[.]internal', action: deny, ports: 22, name: no-ssh}\n"
                             "  - host: db[.]internal\n"
                             "    peer: peer.example:4443\n"
                             "    clients: [10.0.0.0/8, '2001:db8::/32']\n"
                             "  - {host: 'one[.]internal', peer: p, clients: 192.0.2.7, action: bridge}\n";
  struct tb_config *c = load_ok(text);
  char buf[128];
  (void)state;
  assert_int_equal(c->nrules, 3);
  assert_int_equal(c->rules[0].action, TB_ACTION_DENY);
  assert_int_equal(c->rules[0].npeers, 0);
  assert_null(c->rules[0].peers);
  assert_int_equal(c->rules[0].nports, 1);
  assert_string_equal(c->rules[0].origin, "no-ssh");
  assert_int_equal(c->rules[1].action, TB_ACTION_BRIDGE);
  assert_int_equal(c->rules[1].nclients, 2);
  assert_int_equal(tb_rule_format_clients(&c->rules[1], buf, sizeof buf), 0);
  assert_string_equal(buf, "10.0.0.0/8,2001:db8::/32");
  assert_int_equal(tb_rule_format_clients(&c->rules[2], buf, sizeof buf), 0);
  assert_string_equal(buf, "192.0.2.7/32");
  assert_int_equal(tb_rule_format_clients(&c->rules[0], buf, sizeof buf), 0);
  assert_string_equal(buf, "any");
  /* the deny rule is matched like any other: by host and port */
  assert_ptr_equal(tb_config_match(c, "secret.internal", 15),
                   NULL); /* port 0: its port list does not apply */
  const struct tb_rule *r = NULL;
  assert_int_equal(tb_config_lookup_port(c, "secret.internal", 15, 22, &r), 0);
  assert_ptr_equal(r, &c->rules[0]);
  assert_int_equal(tb_config_lookup_port(c, "secret.internal", 15, 443, &r), 0);
  assert_null(r);
  tb_config_destroy(c);
}

static void test_access_errors(void **state) {
  (void)state;
  load_bad("rules:\n- {host: a, peer: p, clients: [10.0.0.1/8]}\n",
           "t.yaml:2:32: ", "client network '10.0.0.1/8': address has bits set beyond the prefix length");
  load_bad("rules:\n- {host: a, peer: p, clients: ['::/200']}\n",
           "t.yaml:2:32: ", "prefix length must be 0-128");
  load_bad("rules:\n- {host: a, peer: p, clients: []}\n", "t.yaml:2:31: ", "clients is an empty list");
  load_bad("rules:\n- {host: a, peer: p, clients: [[10.0.0.0/8]]}\n",
           "t.yaml:2:32: ", "client network a list: it must be an IPv4 or IPv6 address or network");
  load_bad("rules:\n- {host: a, peer: p, clients: ~}\n", "t.yaml:2:31: ", "client network");
  load_bad("rules:\n- {host: a, peer: p, action: permit}\n",
           "t.yaml:2:30: ", "action must be bridge or deny, found 'permit'");
  load_bad(
      "rules:\n- {host: a, action: deny, peers: [p]}\n", "t.yaml:2:34: ",
      "rule 1 has action: deny, which refuses the CONNECT (403): it takes only host, ports, name and action, "
      "not 'peers'");
  load_bad("rules:\n- {host: a, action: deny, health: {failures: 1}}\n", "t.yaml:2:35: ", "not 'health'");
  load_bad("rules:\n- {host: a, action: deny, clients: 10.0.0.0/8}\n",
           "t.yaml:2:36: ", "not 'clients' (to refuse some clients, give the bridging rule a clients list)");
  load_bad("rules:\n- {action: deny}\n", "t.yaml:2:3: ", "rule 1 has no 'host'");
  load_bad("rules:\n- {host: a, action: bridge}\n", "t.yaml:2:3: ", "rule 1 has no 'peer'");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full_file),
      cmocka_unit_test(test_defaults_when_absent),
      cmocka_unit_test(test_ports_in_matching),
      cmocka_unit_test(test_durations),
      cmocka_unit_test(test_limits_levels),
      cmocka_unit_test(test_needs_empty_config),
      cmocka_unit_test(test_load_path),
      cmocka_unit_test(test_syntax_errors),
      cmocka_unit_test(test_document_shape),
      cmocka_unit_test(test_keys),
      cmocka_unit_test(test_aliases),
      cmocka_unit_test(test_rules_shape),
      cmocka_unit_test(test_rule_host_and_peer),
      cmocka_unit_test(test_rule_name),
      cmocka_unit_test(test_ports),
      cmocka_unit_test(test_bad_durations),
      cmocka_unit_test(test_policies),
      cmocka_unit_test(test_pool),
      cmocka_unit_test(test_failure_undoes_everything),
      cmocka_unit_test(test_peers),
      cmocka_unit_test(test_peers_errors),
      cmocka_unit_test(test_peer_role),
      cmocka_unit_test(test_role_errors),
      cmocka_unit_test(test_rule_access),
      cmocka_unit_test(test_access_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
