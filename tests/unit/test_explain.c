/*
 * Unit tests for tb_explain: the `match` answer for an indexed rule, a regex
 * rule, a port list, no rule (passthrough and deny), a matching failure,
 * with and without the plugin's configuration number; the lines that
 * docs/operations.md and tests/e2e/test_reload.py show, byte for byte; the
 * three ways a limit reads; quoting; every buffer size (always terminated,
 * a cut text ends in "..."); and the one-line summary; engines and TLS
 * settings, named only when some transport is direct.  Access control:
 * a deny rule, a clients list with and without a client address (IPv4,
 * IPv6), the summary's access part; the peer role's policy answers (each
 * result, the name that matched, the configuration number) and summary.
 */
#include "tb_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tb_args.h"
#include "tb_explain.h"
#include "tb_yaml.h"

#define ERRLEN 1024

static struct tb_config *yaml(const char *text) {
  struct tb_config *c = tb_config_create();
  char err[ERRLEN] = "";

  assert_non_null(c);
  if (tb_config_load_yaml_text(c, text, strlen(text), "t.yaml", NULL, err, sizeof err) != 0) {
    fail_msg("%s", err);
  }
  return c;
}

static struct tb_config *args(int argc, const char *const *argv) {
  struct tb_config *c = tb_config_create();
  char err[ERRLEN] = "";

  assert_non_null(c);
  if (tb_config_load_plugin_args(c, argc, argv, NULL, err, sizeof err) != 0) {
    fail_msg("%s", err);
  }
  return c;
}

/* Explain host:port under c and compare the whole line and the result. */
static void expect(const struct tb_config *c, const char *host, unsigned port, uint64_t generation,
                   enum tb_explain_result result, const char *line) {
  char buf[TB_EXPLAIN_MAX];
  enum tb_explain_result got = tb_config_explain(c, host, strlen(host), port, generation, buf, sizeof buf);

  if (strcmp(buf, line) != 0) {
    fail_msg("%s:%u\n got: %s\nwant: %s", host, port, buf, line);
  }
  assert_int_equal(got, result);
}

static const char ops_yaml[] = "unmatched: deny\n"
                               "client_identity: forwarded\n"
                               "rules:\n"
                               "  - name: databases\n"
                               "    host: db[.]internal\n"
                               "    ports: [5432, 6379]\n"
                               "    peer: peer-dc1.example.net:4443\n"
                               "    idle_timeout: 0\n";

/* The lines docs/operations.md shows, and the plugin wrote before the
 * wording moved into the core: byte for byte. */
static void test_plugin_lines(void **state) {
  struct tb_config *c = yaml(ops_yaml);

  (void)state;
  expect(
      c, "db.internal", 5432, 3, TB_EXPLAIN_RULE,
      "match db.internal:5432: rule 1 \"databases\" (host 'db[.]internal', ports 5432,6379, configuration 3) "
      "-> peer peer-dc1.example.net:4443; connect_timeout 10000 ms, idle_timeout never, max_lifetime unset "
      "(Traffic Server's timeouts apply), client_identity forwarded");
  expect(c, "www.example.org", 443, 3, TB_EXPLAIN_NO_RULE,
         "match www.example.org:443: no rule (configuration 3): denied (403)");
  tb_config_destroy(c);

  /* tests/e2e/test_reload.py's (its config_text, peer at some port) */
  c = yaml("unmatched: deny\npool: {size: 0}\nrules:\n"
           "  - {host: 'service[.]internal', peer: 'peer.test:4443', name: first}\n");
  expect(
      c, "service.internal", 8080, 1, TB_EXPLAIN_RULE,
      "match service.internal:8080: rule 1 \"first\" (host 'service[.]internal', ports any, configuration 1) "
      "-> peer peer.test:4443; connect_timeout 10000 ms, idle_timeout unset (Traffic Server's timeouts "
      "apply), max_lifetime unset (Traffic Server's timeouts apply), client_identity keep");
  expect(c, "nowhere.test", 443, 1, TB_EXPLAIN_NO_RULE,
         "match nowhere.test:443: no rule (configuration 1): denied (403)");
  tb_config_destroy(c);
}

/* Without a configuration number (tls_bridge_check): indexed, regex and
 * port-list rules, the first match winning, and both unmatched policies. */
static void test_rules_and_ports(void **state) {
  static const char *const argv[] = {
      "--idle-timeout",      "30",
      "--max-lifetime",      "0",
      "x[.]example",         "p1.example.net",
      "(api|www)[.]example", "[2001:db8::1]:4443",
  };
  struct tb_config *c = args((int)TB_NELEM(argv), argv);

  (void)state;
  expect(c, "X.Example.", 22, 0, TB_EXPLAIN_RULE,
         "match X.Example.:22: rule 1 \"plugin.config argument 5\" (host 'x[.]example', ports any) -> peer "
         "p1.example.net:443; connect_timeout 10000 ms, idle_timeout 30000 ms, max_lifetime never, "
         "client_identity keep");
  expect(
      c, "www.example", 443, 0, TB_EXPLAIN_RULE,
      "match www.example:443: rule 2 \"plugin.config argument 7\" (host '(api|www)[.]example', ports any) -> "
      "peer [2001:db8::1]:4443; connect_timeout 10000 ms, idle_timeout 30000 ms, max_lifetime never, "
      "client_identity keep");
  expect(c, "www.example.net", 443, 0, TB_EXPLAIN_NO_RULE,
         "match www.example.net:443: no rule: left to Traffic Server");
  tb_config_destroy(c);

  c = yaml("unmatched: deny\nconnect_timeout: 5\nrules:\n"
           "  - {host: 'db[.]internal', ports: [5432, 6000-6010], peer: pg, connect_timeout: 250ms,"
           " max_lifetime: 2h, client_identity: strip}\n"
           "  - {host: 'db[.]internal', peer: other, name: rest}\n");
  expect(c, "db.internal", 6005, 0, TB_EXPLAIN_RULE,
         "match db.internal:6005: rule 1 \"t.yaml:4\" (host 'db[.]internal', ports 5432,6000-6010) -> peer "
         "pg:443; connect_timeout 250 ms, idle_timeout unset (Traffic Server's timeouts apply), max_lifetime "
         "7200000 ms, client_identity strip");
  expect(c, "db.internal", 6011, 0, TB_EXPLAIN_RULE,
         "match db.internal:6011: rule 2 \"rest\" (host 'db[.]internal', ports any) -> peer other:443; "
         "connect_timeout 5000 ms, idle_timeout unset (Traffic Server's timeouts apply), max_lifetime unset "
         "(Traffic Server's timeouts apply), client_identity keep");
  expect(c, "db.internal.", 5432, 0, TB_EXPLAIN_RULE,
         "match db.internal.:5432: rule 1 \"t.yaml:4\" (host 'db[.]internal', ports 5432,6000-6010) -> peer "
         "pg:443; connect_timeout 250 ms, idle_timeout unset (Traffic Server's timeouts apply), max_lifetime "
         "7200000 ms, client_identity strip");
  expect(c, "dbxinternal", 5432, 0, TB_EXPLAIN_NO_RULE, "match dbxinternal:5432: no rule: denied (403)");
  tb_config_destroy(c);
}

/* A regex that hits PCRE2's match limit: refused (502), never "no rule". */
static void test_matching_failed(void **state) {
  static const char *const argv[] = {"(x+)+", "p0"};
  struct tb_config *c = args(2, argv);
  char host[62];

  (void)state;
  memset(host, 'x', sizeof host);
  host[sizeof host - 2] = '!';
  host[sizeof host - 1] = '\0';
  expect(
      c, host, 443, 7, TB_EXPLAIN_FAILED,
      "match xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx!:443: matching failed (PCRE2 limit "
      "or out of memory): a CONNECT would be refused (502)");
  tb_config_destroy(c);
}

/* Configured and asked-for text is quoted as in error messages. */
static void test_quoting(void **state) {
  struct tb_config *c = yaml("rules:\n  - {host: \"it's\\x01\", peer: p}\n");

  (void)state;
  expect(c, "it's\x01", 1, 0, TB_EXPLAIN_RULE,
         "match it\\x27s\\x01:1: rule 1 \"t.yaml:2\" (host 'it\\x27s\\x01', ports any) -> peer p:443; "
         "connect_timeout 10000 ms, idle_timeout unset (Traffic Server's timeouts apply), max_lifetime unset "
         "(Traffic Server's timeouts apply), client_identity keep");
  tb_config_destroy(c);
}

/* Every buffer size: terminated, a prefix of the whole line, "..." at the
 * end of a cut one; size 0 writes nothing. */
static void test_buffer_sizes(void **state) {
  struct tb_config *c = yaml(ops_yaml);
  char full[TB_EXPLAIN_MAX];
  size_t n;

  (void)state;
  assert_int_equal(tb_config_explain(c, "db.internal", 11, 5432, 0, full, sizeof full), TB_EXPLAIN_RULE);
  n = strlen(full);
  for (size_t len = 1; len <= n + 2; len++) {
    char *buf = malloc(len); /* exact size: ASan sees an overrun */
    assert_non_null(buf);
    assert_int_equal(tb_config_explain(c, "db.internal", 11, 5432, 0, buf, len), TB_EXPLAIN_RULE);
    if (len > n) {
      assert_string_equal(buf, full);
    } else {
      assert_int_equal(strlen(buf), len - 1);
      if (len >= 4) {
        assert_memory_equal(buf, full, len - 4);
        assert_string_equal(buf + len - 4, "...");
      }
    }
    free(buf);
  }
  assert_int_equal(tb_config_explain(c, "db.internal", 11, 5432, 0, NULL, 0), TB_EXPLAIN_RULE);
  assert_int_equal(tb_config_describe(c, NULL, 0), -1);
  tb_config_destroy(c);
}

static void test_describe(void **state) {
  static const char *const one[] = {"--pool", "1", "a", "p"};
  static const char *const off[] = {
      "--pool", "0", "--unmatched", "deny", "--idle-timeout", "0", "--client-identity", "strip",
      "a",      "p", "b",           "q"};
  struct tb_config *c = args((int)TB_NELEM(one), one);
  char buf[TB_EXPLAIN_MAX];
  char small[40];

  (void)state;
  assert_int_equal(tb_config_describe(c, buf, sizeof buf), 0);
  assert_string_equal(buf,
                      "1 rule; unmatched CONNECTs left to Traffic Server; defaults: connect_timeout 10000 "
                      "ms, idle_timeout unset (Traffic Server's timeouts apply), max_lifetime unset "
                      "(Traffic Server's timeouts apply), client_identity keep; pool: 1 warm connection "
                      "per peer, max_age 30000 ms");
  assert_int_equal(tb_config_describe(c, small, sizeof small), -1);
  assert_string_equal(small, "1 rule; unmatched CONNECTs left to T...");
  tb_config_destroy(c);

  c = args((int)TB_NELEM(off), off);
  assert_int_equal(tb_config_describe(c, buf, sizeof buf), 0);
  assert_string_equal(buf, "2 rules; unmatched CONNECTs denied (403); defaults: connect_timeout 10000 ms, "
                           "idle_timeout never, max_lifetime unset (Traffic Server's timeouts apply), "
                           "client_identity strip; pool: off");
  tb_config_destroy(c);

  c = yaml(ops_yaml);
  assert_int_equal(tb_config_describe(c, buf, sizeof buf), 0);
  assert_string_equal(buf,
                      "1 rule; unmatched CONNECTs denied (403); defaults: connect_timeout 10000 ms, "
                      "idle_timeout unset (Traffic Server's timeouts apply), max_lifetime unset (Traffic "
                      "Server's timeouts apply), client_identity forwarded; pool: 2 warm connections per "
                      "peer, max_age 30000 ms");
  tb_config_destroy(c);
}

/* Several peers: the list, the balance and the health settings; a template
 * shown as the peer it makes for this host; a template that makes no valid
 * peer for this host: refused (502). */
static void test_peers(void **state) {
  struct tb_config *c =
      yaml("health: {failures: 5}\n"
           "rules:\n"
           "  - name: sites\n"
           "    host: (.*)[.]site-(a|b)[.]corp\n"
           "    peers: [gw.site-$2.corp:4443, fallback.corp:4443]\n"
           "  - {host: '(.*)[.]one', peer: '$1.gw:4443', name: one}\n"
           "  - {host: 'db[.]internal', peers: [a:1, 'b:1', '[2001:db8::1]'], balance: hash,"
           " health: {down_for: 1m}, name: db}\n"
           "  - {host: 'x[.]internal', peers: [solo], balance: round_robin}\n"
           "  - {host: '(.*)[.]two', peers: ['$1.gw:4443', 'backup:1'], name: two}\n");
  char buf[TB_EXPLAIN_MAX];

  (void)state;
  expect(
      c, "db.site-b.corp", 443, 0, TB_EXPLAIN_RULE,
      "match db.site-b.corp:443: rule 1 \"sites\" (host '(.*)[.]site-(a|b)[.]corp', ports any) -> peers "
      "gw.site-b.corp:4443 (template 'gw.site-$2.corp:4443'), fallback.corp:4443 (failover); health failures "
      "5, down_for 10000 ms; connect_timeout 10000 ms, idle_timeout unset (Traffic Server's timeouts apply), "
      "max_lifetime unset (Traffic Server's timeouts apply), client_identity keep");
  expect(
      c, "DB.SITE-A.CORP.", 443, 9, TB_EXPLAIN_RULE,
      "match DB.SITE-A.CORP.:443: rule 1 \"sites\" (host '(.*)[.]site-(a|b)[.]corp', ports any, "
      "configuration "
      "9) -> peers gw.site-a.corp:4443 (template 'gw.site-$2.corp:4443'), fallback.corp:4443 (failover); "
      "health failures 5, down_for 10000 ms; connect_timeout 10000 ms, idle_timeout unset (Traffic Server's "
      "timeouts apply), max_lifetime unset (Traffic Server's timeouts apply), client_identity keep");
  /* one template peer: no health (it changes nothing for one peer) */
  expect(c, "api.one", 443, 0, TB_EXPLAIN_RULE,
         "match api.one:443: rule 2 \"one\" (host '(.*)[.]one', ports any) -> peer api.gw:4443 (template "
         "'$1.gw:4443'); connect_timeout 10000 ms, idle_timeout unset (Traffic Server's timeouts apply), "
         "max_lifetime unset (Traffic Server's timeouts apply), client_identity keep");
  expect(
      c, "a:b.one", 443, 0, TB_EXPLAIN_NO_PEER,
      "match a:b.one:443: rule 2 \"one\" (host '(.*)[.]one', ports any) -> peer none (peer template "
      "'$1.gw:4443': capture $1 is 'a:b': only letters, digits, '-', '_' and '.' may come from the host); no "
      "valid peer for this host: a CONNECT would be refused (502)");
  /* a template in a list that makes no valid peer: the others still serve */
  expect(c, "a:b.two", 443, 0, TB_EXPLAIN_RULE,
         "match a:b.two:443: rule 5 \"two\" (host '(.*)[.]two', ports any) -> peers none (peer template "
         "'$1.gw:4443': capture $1 is 'a:b': only letters, digits, '-', '_' and '.' may come from the host), "
         "backup:1 (failover); health failures 5, down_for 10000 ms; connect_timeout 10000 ms, idle_timeout "
         "unset (Traffic Server's timeouts apply), max_lifetime unset (Traffic Server's timeouts apply), "
         "client_identity keep");
  /* captures may hold dots */
  expect(
      c, "..site-a.corp", 443, 0, TB_EXPLAIN_RULE,
      "match ..site-a.corp:443: rule 1 \"sites\" (host '(.*)[.]site-(a|b)[.]corp', ports any) -> peers "
      "gw.site-a.corp:4443 (template 'gw.site-$2.corp:4443'), fallback.corp:4443 (failover); health failures "
      "5, down_for 10000 ms; connect_timeout 10000 ms, idle_timeout unset (Traffic Server's timeouts apply), "
      "max_lifetime unset (Traffic Server's timeouts apply), client_identity keep");
  expect(
      c, "db.internal", 5432, 0, TB_EXPLAIN_RULE,
      "match db.internal:5432: rule 3 \"db\" (host 'db[.]internal', ports any) -> peers a:1, b:1, "
      "[2001:db8::1]:443 (hash); health failures 5, down_for 60000 ms; connect_timeout 10000 ms, "
      "idle_timeout unset (Traffic Server's timeouts apply), max_lifetime unset (Traffic Server's timeouts "
      "apply), client_identity keep");
  /* a list of one reads as one peer */
  expect(c, "x.internal", 1, 0, TB_EXPLAIN_RULE,
         "match x.internal:1: rule 4 \"t.yaml:8\" (host 'x[.]internal', ports any) -> peer solo:443; "
         "connect_timeout 10000 ms, idle_timeout unset (Traffic Server's timeouts apply), max_lifetime unset "
         "(Traffic Server's timeouts apply), client_identity keep");

  /* the rule's peers as configured (tls_bridge_check) */
  assert_int_equal(tb_config_format_peers(c, &c->rules[0], buf, sizeof buf), 0);
  assert_string_equal(buf, "peers template 'gw.site-$2.corp:4443', fallback.corp:4443 (failover)");
  assert_int_equal(tb_config_format_peers(c, &c->rules[1], buf, sizeof buf), 0);
  assert_string_equal(buf, "peer template '$1.gw:4443'");
  assert_int_equal(tb_config_format_peers(c, &c->rules[3], buf, sizeof buf), 0);
  assert_string_equal(buf, "peer solo:443");
  char small[12];
  assert_int_equal(tb_config_format_peers(c, &c->rules[2], small, sizeof small), -1);
  assert_string_equal(small, "peers a:...");

  /* the summary names the peers and the health defaults */
  assert_int_equal(tb_config_describe(c, buf, sizeof buf), 0);
  assert_string_equal(buf,
                      "5 rules; unmatched CONNECTs left to Traffic Server; defaults: connect_timeout 10000 "
                      "ms, idle_timeout unset (Traffic Server's timeouts apply), max_lifetime unset "
                      "(Traffic Server's timeouts apply), client_identity keep; pool: 2 warm connections "
                      "per peer, max_age 30000 ms; 6 distinct peers (3 rules with several, 3 with a "
                      "template); health: failures 5, down_for 10000 ms");
  tb_config_destroy(c);

  c = args(2, (const char *const[]){"x", "p:1,q:1"});
  assert_int_equal(tb_config_describe(c, buf, sizeof buf), 0);
  tb_assert_contains(buf, "; 2 distinct peers (1 rule with several, 0 with a template); health: failures 3, "
                          "down_for 10000 ms");
  tb_config_destroy(c);
}

/* Engines: named only once some transport is direct; a direct one with its
 * TLS settings, each unset one as what stands in for it. */
static void test_engines(void **state) {
  static const char settings[] = "connect_timeout 10000 ms, idle_timeout unset (Traffic Server's timeouts "
                                 "apply), max_lifetime unset (Traffic Server's timeouts apply), "
                                 "client_identity keep";
  char cert[] = "/etc/tb/ingress.pem", ca[] = "/etc/tb/ca dir", sni[] = "peer.example";
  const struct tb_transport own = {TB_ENGINE_DIRECT, cert, NULL, ca, sni, 0};
  const struct tb_transport ats = TB_TRANSPORT_ATS;
  struct tb_rule_spec spec = {.pattern = "b", .peer = "p", .origin = "b", .settings = TB_SETTINGS_UNSET};
  struct tb_config *c = args(4, (const char *const[]){"a", "p", "--engine", "ats"});
  char buf[TB_EXPLAIN_MAX];
  char want[TB_EXPLAIN_MAX];
  char err[ERRLEN];

  (void)state;
  /* engine ats said aloud: read as before */
  assert_int_equal(tb_config_format_transport(c, &c->rules[0], buf, sizeof buf), 0);
  assert_string_equal(buf, "");
  assert_int_equal(tb_config_describe(c, buf, sizeof buf), 0);
  assert_null(strstr(buf, "engine"));
  tb_config_destroy(c);

  c = args(4, (const char *const[]){"a", "p", "--engine", "direct"});
  spec.transport = &own;
  assert_int_equal(tb_config_add(c, &spec, err, sizeof err), 0);
  spec.pattern = spec.origin = "c";
  spec.transport = &ats;
  assert_int_equal(tb_config_add(c, &spec, err, sizeof err), 0);
  snprintf(want, sizeof want,
           "match a:443: rule 1 \"plugin.config argument 1\" (host 'a', ports any) -> peer p:443; %s; engine "
           "direct: client_cert from Traffic Server's records, client_key from Traffic Server's records, ca "
           "from Traffic Server's records, sni the peer's host, verify from Traffic Server's records",
           settings);
  expect(c, "a", 443, 0, TB_EXPLAIN_RULE, want);
  snprintf(
      want, sizeof want,
      "match b:443: rule 2 \"b\" (host 'b', ports any) -> peer p:443; %s; engine direct: client_cert "
      "'/etc/tb/ingress.pem', client_key in the client_cert file, ca '/etc/tb/ca dir', sni 'peer.example', "
      "verify false",
      settings);
  expect(c, "b", 443, 0, TB_EXPLAIN_RULE, want);
  snprintf(want, sizeof want, "match c:443: rule 3 \"c\" (host 'c', ports any) -> peer p:443; %s; engine ats",
           settings);
  expect(c, "c", 443, 0, TB_EXPLAIN_RULE, want);
  assert_int_equal(tb_config_format_transport(c, &c->rules[2], buf, sizeof buf), 0);
  assert_string_equal(buf, "; engine ats");
  char small[16];
  assert_int_equal(tb_config_format_transport(c, &c->rules[1], small, sizeof small), -1);
  assert_string_equal(small, "; engine dir...");
  assert_int_equal(tb_config_describe(c, buf, sizeof buf), 0);
  tb_assert_contains(buf, "max_age 30000 ms; engine direct by default: 2 rules direct (2 distinct TLS client "
                          "settings), 1 ats");
  tb_config_destroy(c);
}

static void expect_client(const struct tb_config *c, const char *host, unsigned port, const char *client,
                          enum tb_explain_result result, const char *line) {
  char buf[TB_EXPLAIN_MAX];
  struct sockaddr_storage ss;
  if (client != NULL) {
    ss = tb_test_sockaddr(client);
  }
  enum tb_explain_result got = tb_config_explain_client(
      c, host, strlen(host), port, client != NULL ? (const struct sockaddr *)&ss : NULL, 0, buf, sizeof buf);
  if (strcmp(buf, line) != 0) {
    fail_msg("%s:%u from %s\n got: %s\nwant: %s", host, port, client ? client : "-", buf, line);
  }
  assert_int_equal(got, result);
}

static void test_access(void **state) {
  static const char text[] = "unmatched: deny\n"
                             "rules:\n"
                             "  - {host: 'secret[.]internal', action: deny, name: no-secret}\n"
                             "  - {host: 'db[.]internal', peer: 'pg:5432', name: db, clients: [10.0.0.0/8, "
                             "'2001:db8::/32'], client_identity: strip}\n";
  static const char db_line[] =
      "match db.internal:5432: rule 2 \"db\" (host 'db[.]internal', ports any) -> peer "
      "pg:5432; connect_timeout 10000 ms, idle_timeout unset (Traffic Server's timeouts "
      "apply), max_lifetime unset (Traffic Server's timeouts apply), client_identity "
      "strip; clients 10.0.0.0/8,2001:db8::/32";
  struct tb_config *c = yaml(text);
  char buf[TB_EXPLAIN_MAX];
  char line[TB_EXPLAIN_MAX];
  (void)state;

  expect_client(
      c, "secret.internal", 443, NULL, TB_EXPLAIN_DENIED,
      "match secret.internal:443: rule 1 \"no-secret\" (host 'secret[.]internal', ports any): action "
      "deny: refused (403)");
  expect_client(
      c, "secret.internal", 443, "10.0.0.1", TB_EXPLAIN_DENIED,
      "match secret.internal:443: rule 1 \"no-secret\" (host 'secret[.]internal', ports any): action "
      "deny: refused (403)");
  expect_client(c, "db.internal", 5432, NULL, TB_EXPLAIN_RULE, db_line);
  snprintf(line, sizeof line, "%s: client 10.1.2.3 allowed", db_line);
  expect_client(c, "db.internal", 5432, "10.1.2.3", TB_EXPLAIN_RULE, line);
  snprintf(line, sizeof line, "%s: client 2001:db8::9 allowed", db_line);
  expect_client(c, "db.internal", 5432, "2001:db8::9", TB_EXPLAIN_RULE, line);
  snprintf(line, sizeof line, "%s: client 192.0.2.1 refused (403)", db_line);
  expect_client(c, "db.internal", 5432, "192.0.2.1", TB_EXPLAIN_DENIED, line);
  /* the plain answer is the client one without a client */
  assert_int_equal(tb_config_explain(c, "db.internal", 11, 5432, 0, buf, sizeof buf), TB_EXPLAIN_RULE);
  assert_string_equal(buf, db_line);
  expect_client(c, "other", 1, "192.0.2.1", TB_EXPLAIN_NO_RULE, "match other:1: no rule: denied (403)");

  assert_int_equal(tb_config_format_peers(c, &c->rules[0], buf, sizeof buf), 0);
  assert_string_equal(buf, "action deny (403)");
  assert_int_equal(tb_config_describe(c, buf, sizeof buf), 0);
  tb_assert_contains(buf,
                     "; pool: 2 warm connections per peer, max_age 30000 ms; access: 1 deny rule, 1 rule "
                     "with a clients list");
  tb_config_destroy(c);
}

static const char peer_text[] = "role: peer\n"
                                "policy:\n"
                                "  - name: branch-1\n"
                                "    identity: branch-1[.]corp[.]example\n"
                                "    allow: [{host: 'db[.]internal', ports: 5432}, '.*[.]svc']\n"
                                "    deny: [{host: 'admin[.]svc'}]\n"
                                "  - identity: 'spiffe://corp[.]example/ingress/branch-2'\n"
                                "    allow: [{host: 'web[.]internal', ports: [443, 8443]}]\n";

static enum tb_authz_result expect_authz(const struct tb_config *c, size_t n, const char *const *texts,
                                         const char *host, unsigned port, uint64_t generation,
                                         const char *line) {
  static struct tb_certnames names;
  char buf[TB_EXPLAIN_MAX];
  struct tb_authz a;

  tb_certnames_init(&names);
  for (size_t i = 0; i < n; i++) {
    enum tb_certname_kind k = strncmp(texts[i], "spiffe:", 7) == 0 ? TB_CERTNAME_URI : TB_CERTNAME_DNS;
    assert_int_equal(tb_certnames_add(&names, k, texts[i], strlen(texts[i])), 0);
  }
  enum tb_authz_result r =
      tb_policy_explain(c, &names, host, strlen(host), port, generation, &a, buf, sizeof buf);
  if (strcmp(buf, line) != 0) {
    fail_msg(" got: %s\nwant: %s", buf, line);
  }
  assert_int_equal(a.result, r);
  return r;
}

static void test_policy_lines(void **state) {
  struct tb_config *c = yaml(peer_text);
  const char *b1[] = {"branch-1.corp.example"};
  const char *b2[] = {"other.corp.example", "spiffe://corp.example/ingress/branch-2"};
  const char *none[] = {"stranger.example"};
  char buf[TB_EXPLAIN_MAX];
  (void)state;

  assert_int_equal(
      expect_authz(
          c, 1, b1, "db.internal", 5432, 4,
          "authz dns:branch-1.corp.example -> db.internal:5432 (configuration 4): allowed: policy entry "
          "1 \"branch-1\" (identity 'branch-1[.]corp[.]example' matched dns:branch-1.corp.example), "
          "allow target 1 (host 'db[.]internal', ports 5432)"),
      TB_AUTHZ_ALLOWED);
  assert_int_equal(
      expect_authz(c, 1, b1, "admin.svc", 443, 0,
                   "authz dns:branch-1.corp.example -> admin.svc:443: refused (403, "
                   "target_not_allowed): policy entry 1 \"branch-1\" (identity "
                   "'branch-1[.]corp[.]example' matched dns:branch-1.corp.example), deny target 1 "
                   "(host 'admin[.]svc', ports any)"),
      TB_AUTHZ_DENIED);
  assert_int_equal(
      expect_authz(c, 1, b1, "db.internal", 22, 0,
                   "authz dns:branch-1.corp.example -> db.internal:22: refused (403, "
                   "target_not_allowed): policy entry 1 \"branch-1\" (identity "
                   "'branch-1[.]corp[.]example' matched dns:branch-1.corp.example), allows no target "
                   "for this host and port (2 allow targets)"),
      TB_AUTHZ_NOT_ALLOWED);
  assert_int_equal(expect_authz(c, 2, b2, "web.internal", 8443, 0,
                                "authz dns:other.corp.example uri:spiffe://corp.example/ingress/branch-2 -> "
                                "web.internal:8443: allowed: policy entry 2 \"t.yaml:7\" (identity "
                                "'spiffe://corp[.]example/ingress/branch-2' matched "
                                "uri:spiffe://corp.example/ingress/branch-2), allow target 1 (host "
                                "'web[.]internal', ports 443,8443)"),
                   TB_AUTHZ_ALLOWED);
  assert_int_equal(
      expect_authz(c, 1, none, "web.internal", 443, 0,
                   "authz dns:stranger.example -> web.internal:443: refused (403, unknown_identity): "
                   "no policy entry's identity matches"),
      TB_AUTHZ_UNKNOWN_IDENTITY);
  assert_int_equal(
      expect_authz(c, 0, none, "web.internal", 443, 0,
                   "authz - -> web.internal:443: refused (403, unknown_identity): the certificate has "
                   "no usable name"),
      TB_AUTHZ_UNKNOWN_IDENTITY);
  assert_int_equal(tb_config_describe(c, buf, sizeof buf), 0);
  assert_string_equal(buf, "role peer: 2 policy entries (3 allow and 1 deny target); CONNECTs over TLS are "
                           "authorised by the client certificate's names, others refused (403)");
  tb_config_destroy(c);

  c = yaml("role: peer\npolicy: [{identity: '(x+)+', allow: [a]}]\n");
  char bad[62];
  memset(bad, 'x', sizeof bad);
  bad[sizeof bad - 2] = '!';
  bad[sizeof bad - 1] = '\0';
  static struct tb_certnames names;
  tb_certnames_init(&names);
  assert_int_equal(tb_certnames_add(&names, TB_CERTNAME_GIVEN, bad, strlen(bad)), 0);
  char got[TB_EXPLAIN_MAX];
  assert_int_equal(tb_policy_explain(c, &names, "a", 1, 1, 0, NULL, got, sizeof got), TB_AUTHZ_FAILED);
  snprintf(buf, sizeof buf,
           "authz name:%s -> a:1: matching failed (PCRE2 limit or out of memory): refused (403)", bad);
  assert_string_equal(got, buf);
  assert_int_equal(tb_config_describe(c, buf, sizeof buf), 0);
  assert_string_equal(buf, "role peer: 1 policy entry (1 allow and 0 deny targets); CONNECTs over TLS are "
                           "authorised by the client certificate's names, others refused (403)");
  tb_config_destroy(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plugin_lines),    cmocka_unit_test(test_rules_and_ports),
      cmocka_unit_test(test_matching_failed), cmocka_unit_test(test_quoting),
      cmocka_unit_test(test_buffer_sizes),    cmocka_unit_test(test_describe),
      cmocka_unit_test(test_peers),           cmocka_unit_test(test_engines),
      cmocka_unit_test(test_access),          cmocka_unit_test(test_policy_lines),
  };
  return cmocka_run_group_tests_name("tb_explain", tests, NULL, NULL);
}
