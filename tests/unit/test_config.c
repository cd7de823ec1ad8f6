/*
 * Unit tests for tb_config, the rule store: defaults, adding a rule (from
 * pattern and peer, and from a full tb_rule_spec: ports copied, name, its
 * own settings), a negative case for every check, the settings a rule gets
 * (unset, 0 and N at the configuration and at the rule), and undo; peer
 * lists, the table of distinct peers they are interned into, the health
 * settings a rule gets, and undo of both.
 */
#include "tb_test.h"

#include "tb_config.h"

#define ERRLEN 1024

/* c's options are those of a new configuration. */
static void assert_defaults(const struct tb_config *c) {
  assert_int_equal(c->connect_timeout_ms, TB_DEFAULT_CONNECT_TIMEOUT_MS);
  assert_int_equal(c->pool_size, TB_DEFAULT_POOL_SIZE);
  assert_int_equal(c->pool_max_age_ms, TB_DEFAULT_POOL_MAX_AGE_MS);
  assert_int_equal(c->idle_timeout_ms, TB_UNSET); /* no limit of the plugin's: ATS's timeouts apply */
  assert_int_equal(c->max_lifetime_ms, TB_UNSET);
  assert_int_equal(c->identity, TB_IDENTITY_KEEP);
  assert_int_equal(c->deny_unmatched, 0);
}

static void test_create_destroy(void **state) {
  struct tb_config *c = tb_config_create();

  (void)state;
  assert_non_null(c);
  assert_int_equal(c->nrules, 0);
  assert_defaults(c);
  assert_null(tb_config_match(c, "a", 1));
  tb_config_destroy(c);
  tb_config_destroy(NULL);
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

/* A full spec: the ports are copied (the caller's array may go), the name
 * replaces the origin in the rule but not in messages, the settings are the
 * rule's own. */
static void test_add_spec(void **state) {
  struct tb_port_range ports[] = {{443, 443}, {8000, 8999}};
  struct tb_rule_spec spec = {
      .pattern = "db[.]internal",
      .peer = "[2001:db8::1]:4443",
      .origin = "t.yaml:3:5",
      .name = "databases",
      .ports = ports,
      .nports = 2,
      .settings = {2000, 0, 30000, TB_IDENTITY_FORWARDED},
  };
  struct tb_config *c = tb_config_create();
  char err[ERRLEN];
  const struct tb_rule *r;

  (void)state;
  assert_non_null(c);
  assert_int_equal(tb_config_add(c, &spec, err, sizeof err), 0);
  memset(ports, 0, sizeof ports);
  spec.name = NULL;
  spec.nports = 0;
  spec.ports = NULL;
  spec.settings = (struct tb_settings)TB_SETTINGS_UNSET;
  assert_int_equal(tb_config_add(c, &spec, err, sizeof err), 0);
  assert_int_equal(c->nrules, 2);

  r = &c->rules[0];
  assert_string_equal(r->pattern, "db[.]internal");
  assert_string_equal(r->peer.host, "2001:db8::1");
  assert_int_equal(r->peer.port, 4443);
  assert_string_equal(r->origin, "databases");
  assert_int_equal(r->nports, 2);
  assert_int_equal(r->ports[0].lo, 443);
  assert_int_equal(r->ports[1].hi, 8999);
  assert_int_equal(r->connect_timeout_ms, 2000);
  assert_int_equal(r->idle_timeout_ms, 0);
  assert_int_equal(r->max_lifetime_ms, 30000);
  assert_int_equal(r->identity, TB_IDENTITY_FORWARDED);
  assert_string_equal(c->rules[1].origin, "t.yaml:3:5");
  assert_null(c->rules[1].ports);

  assert_ptr_equal(tb_config_match(c, "DB.internal", 11), &c->rules[1]); /* port 0: no port list */
  assert_int_equal(tb_config_lookup_port(c, "db.internal", 11, 8080, &r), 0);
  assert_ptr_equal(r, &c->rules[0]);
  tb_config_destroy(c);
}

/* The store checks what the front ends checked before it: a bad spec is
 * refused with the origin in front, and c stays as it was. */
static void test_add_refuses(void **state) {
  static const struct tb_port_range zero[] = {{0, 10}}, backwards[] = {{9000, 8000}};
  static const struct {
    const char *pattern, *peer;
    const struct tb_port_range *ports;
    size_t nports;
    struct tb_settings settings;
    const char *err;
  } cases[] = {
      {"a", "p", NULL, 1, TB_SETTINGS_UNSET, "here: port list missing"},
      {"a", "p", zero, 1, TB_SETTINGS_UNSET, "here: port range not within 1-65535 or backwards"},
      {"a", "p", backwards, 1, TB_SETTINGS_UNSET, "here: port range not within 1-65535 or backwards"},
      {"a", "p", NULL, 0, {0, TB_UNSET, TB_UNSET, TB_IDENTITY_UNSET}, "here: connect timeout out of range"},
      {"a",
       "p",
       NULL,
       0,
       {3600001, TB_UNSET, TB_UNSET, TB_IDENTITY_UNSET},
       "here: connect timeout out of range"},
      {"a",
       "p",
       NULL,
       0,
       {TB_UNSET, 2000000001u, TB_UNSET, TB_IDENTITY_UNSET},
       "here: idle timeout or lifetime out of range"},
      {"a",
       "p",
       NULL,
       0,
       {TB_UNSET, TB_UNSET, 2000000001u, TB_IDENTITY_UNSET},
       "here: idle timeout or lifetime out of range"},
      {"a",
       "p",
       NULL,
       0,
       {TB_UNSET, TB_UNSET, TB_UNSET, (enum tb_identity)9},
       "here: unknown client identity policy"},
      {"a", "p:0", NULL, 0, TB_SETTINGS_UNSET, "here: peer 'p:0': port must be 1-65535"},
      {"", "p", NULL, 0, TB_SETTINGS_UNSET, "here: empty regex"},
      {"(", "p", NULL, 0, TB_SETTINGS_UNSET, "here: bad regex '(' at offset 1: missing closing parenthesis"},
  };
  struct tb_config *c = tb_config_create();
  char err[ERRLEN];

  (void)state;
  assert_non_null(c);
  assert_int_equal(tb_config_add_rule(c, "first", "p", "here", err, sizeof err), 0);
  for (size_t i = 0; i < TB_NELEM(cases); i++) {
    const struct tb_rule_spec spec = {.pattern = cases[i].pattern,
                                      .peer = cases[i].peer,
                                      .origin = "here",
                                      .ports = cases[i].ports,
                                      .nports = cases[i].nports,
                                      .settings = cases[i].settings};
    assert_int_equal(tb_config_add(c, &spec, err, sizeof err), -1);
    assert_string_equal(err, cases[i].err);
    assert_int_equal(c->nrules, 1);
  }
  /* The limits themselves are accepted. */
  {
    static const struct tb_port_range all[] = {{1, 65535}};
    const struct tb_rule_spec spec = {.pattern = "b",
                                      .peer = "p",
                                      .origin = "here",
                                      .ports = all,
                                      .nports = 1,
                                      .settings = {3600000, 2000000000u, 0, TB_IDENTITY_STRIP}};
    assert_int_equal(tb_config_add(c, &spec, err, sizeof err), 0);
  }
  assert_ptr_equal(tb_config_match(c, "first", 5), &c->rules[0]);
  tb_config_destroy(c);
}

/* idle_timeout and max_lifetime: unset, 0 (never) or N at the
 * configuration, each under a rule that leaves it unset, sets 0 or sets N.
 * The rule's own wins; else the configuration's, which may be unset. */
static void test_settings_levels(void **state) {
  static const unsigned values[] = {TB_UNSET, 0, 7000};
  char err[ERRLEN];

  (void)state;
  for (size_t top = 0; top < TB_NELEM(values); top++) {
    for (size_t own = 0; own < TB_NELEM(values); own++) {
      struct tb_config *c = tb_config_create();
      const struct tb_rule_spec spec = {
          .pattern = "a",
          .peer = "p",
          .origin = "here",
          .settings = {TB_UNSET, values[own], values[own], TB_IDENTITY_UNSET},
      };
      const struct tb_settings defaults = {TB_UNSET, values[top], values[(top + 1) % 3], TB_IDENTITY_UNSET};
      struct tb_settings s;
      unsigned want_idle = values[own] != TB_UNSET ? values[own] : values[top];
      unsigned want_life = values[own] != TB_UNSET ? values[own] : values[(top + 1) % 3];

      assert_non_null(c);
      tb_config_set_defaults(c, &defaults);
      assert_int_equal(tb_config_add(c, &spec, err, sizeof err), 0);
      tb_config_settings(c, &c->rules[0], &s);
      if (s.idle_timeout_ms != want_idle || s.max_lifetime_ms != want_life) {
        fail_msg("config %u/%u, rule %u: got %u/%u, want %u/%u", values[top], values[(top + 1) % 3],
                 values[own], s.idle_timeout_ms, s.max_lifetime_ms, want_idle, want_life);
      }
      assert_int_equal(s.connect_timeout_ms, TB_DEFAULT_CONNECT_TIMEOUT_MS); /* never unset */
      assert_int_equal(s.identity, TB_IDENTITY_KEEP);
      tb_config_destroy(c);
    }
  }
}

/* Unset fields leave the defaults alone; set ones replace them. */
static void test_set_defaults(void **state) {
  const struct tb_settings none = TB_SETTINGS_UNSET;
  const struct tb_settings some = {5000, 0, TB_UNSET, TB_IDENTITY_STRIP};
  struct tb_config *c = tb_config_create();
  struct tb_settings s;
  char err[ERRLEN];

  (void)state;
  assert_non_null(c);
  tb_config_set_defaults(c, &none);
  assert_int_equal(c->connect_timeout_ms, TB_DEFAULT_CONNECT_TIMEOUT_MS);
  assert_int_equal(c->idle_timeout_ms, TB_UNSET);
  assert_int_equal(c->identity, TB_IDENTITY_KEEP);
  tb_config_set_defaults(c, &some);
  assert_int_equal(c->connect_timeout_ms, 5000);
  assert_int_equal(c->idle_timeout_ms, 0);
  assert_int_equal(c->max_lifetime_ms, TB_UNSET);
  assert_int_equal(c->identity, TB_IDENTITY_STRIP);
  assert_int_equal(tb_config_add_rule(c, "a", "p", "here", err, sizeof err), 0);
  tb_config_settings(c, &c->rules[0], &s);
  assert_int_equal(s.connect_timeout_ms, 5000);
  assert_int_equal(s.idle_timeout_ms, 0);
  assert_int_equal(s.max_lifetime_ms, TB_UNSET);
  assert_int_equal(s.identity, TB_IDENTITY_STRIP);
  tb_config_destroy(c);
}

/* Undo drops the rules added since the copy and restores the options; the
 * index is rebuilt, so lookups and later rules work as before. */
static void test_undo(void **state) {
  struct tb_config *c = tb_config_create();
  struct tb_config saved;
  char err[ERRLEN];

  (void)state;
  assert_non_null(c);
  assert_int_equal(tb_config_add_rule(c, "keep[.]me", "p0", "here", err, sizeof err), 0);
  assert_int_equal(tb_config_add_rule(c, ".*[.]me", "p1", "here", err, sizeof err), 0);
  saved = *c;
  for (int i = 0; i < 40; i++) {
    assert_int_equal(tb_config_add_rule(c, i % 2 ? "x.*" : "drop[.]me", "p2", "here", err, sizeof err), 0);
  }
  c->connect_timeout_ms = 1000;
  c->idle_timeout_ms = 0;
  c->max_lifetime_ms = 5000;
  c->pool_size = 9;
  c->pool_max_age_ms = 1;
  c->deny_unmatched = 1;
  c->identity = TB_IDENTITY_FORWARDED;
  assert_string_equal(tb_config_match(c, "x", 1)->peer.host, "p2");
  tb_config_undo(c, &saved);
  assert_int_equal(c->nrules, 2);
  assert_defaults(c);
  assert_non_null(c->index);
  assert_null(tb_config_match(c, "x", 1));
  assert_ptr_equal(tb_config_match(c, "drop.me", 7), &c->rules[1]);
  assert_ptr_equal(tb_config_match(c, "keep.me", 7), &c->rules[0]);
  assert_int_equal(tb_config_add_rule(c, "x.*", "p3", "here", err, sizeof err), 0);
  assert_string_equal(tb_config_match(c, "xy", 2)->peer.host, "p3");
  tb_config_undo(c, &saved); /* drops the rule added since */
  assert_int_equal(c->nrules, 2);
  assert_null(tb_config_match(c, "xy", 2));
  tb_config_undo(c, &saved); /* nothing to drop */
  assert_int_equal(c->nrules, 2);
  tb_config_destroy(c);
}

/* tb_config_check_loaded: at least one rule; the message names the three
 * ways to give rules; err may be NULL with errlen 0. */
static void test_check_loaded(void **state) {
  struct tb_config *c = tb_config_create();
  char err[ERRLEN] = "";

  (void)state;
  assert_non_null(c);
  assert_int_equal(tb_config_check_loaded(c, err, sizeof err), -1);
  assert_string_equal(err, "no rules (expected '<regex> <peer>' pairs, --file PATH or --config PATH)");
  assert_int_equal(tb_config_check_loaded(c, NULL, 0), -1);
  char small[9];
  assert_int_equal(tb_config_check_loaded(c, small, sizeof small), -1);
  assert_string_equal(small, "no rules");
  assert_int_equal(tb_config_add_rule(c, "a", "p", "here", err, sizeof err), 0);
  err[0] = '\0';
  assert_int_equal(tb_config_check_loaded(c, err, sizeof err), 0);
  assert_string_equal(err, ""); /* untouched */
  tb_config_destroy(c);
}

/* ---- peer lists and the table of distinct peers ------------------------- */

/* "a:1,b:1" in a pair or a rule file is a failover list; each entry is
 * judged as a peer, and a list with an empty entry, too many entries or one
 * peer twice is refused naming the list, with c as it was. */
static void test_peer_lists(void **state) {
  static const struct {
    const char *pattern, *peer;
    const char *err;
  } bad[] = {
      {"a", "a:1,,b:1", "here: peer list 'a:1,,b:1': peer 2 is empty"},
      {"a", ",a:1", "here: peer list ',a:1': peer 1 is empty"},
      {"a", "a:1,", "here: peer list 'a:1,': peer 2 is empty"},
      {"a", ",", "here: peer list ',': peer 1 is empty"},
      {"a", "a,b:1,x:0", "here: peer 'x:0': port must be 1-65535"},
      {"a", "a:443,b,A", "here: peer 'A' is listed twice in this rule (the same host and port as peer 1)"},
      {"a", "[2001:db8::1],[2001:DB8:0::1]:443",
       "here: peer '[2001:DB8:0::1]:443' is listed twice in this rule (the same host and port as peer 1)"},
      {"(x)", "g$1,h,g$1", "here: peer 'g$1' is listed twice in this rule (the same template as peer 1)"},
      {"(x)", "g,g$2", "here: peer template 'g$2': $2 names capture group 2, but the host regex has 1"},
      {"x", "g,g$1",
       "here: peer template 'g$1': $1 names a capture group, but the host regex has none (put the part to "
       "capture in parentheses, e.g. '(.*)[.]corp')"},
      {"(", "a,b", "here: bad regex '(' at offset 1: missing closing parenthesis"},
  };
  struct tb_config *c = tb_config_create();
  char err[ERRLEN];
  char many[40 * 8];

  (void)state;
  assert_non_null(c);
  assert_int_equal(tb_config_add_rule(c, "x", "a:1,b:2,[::1]", "here", err, sizeof err), 0);
  const struct tb_rule *r = &c->rules[0];
  assert_int_equal(r->npeers, 3);
  assert_int_equal(r->ntemplates, 0);
  assert_int_equal(r->balance, TB_BALANCE_FAILOVER);
  assert_int_equal(c->npeers, 3);
  assert_string_equal(c->peers[r->peers[0].index].host, "a");
  assert_int_equal(c->peers[r->peers[1].index].port, 2);
  assert_true(c->peers[r->peers[2].index].ipv6);
  assert_string_equal(r->peer.host, "a"); /* the first, as a value */
  for (size_t i = 0; i < TB_NELEM(bad); i++) {
    memset(err, 'x', sizeof err);
    if (tb_config_add_rule(c, bad[i].pattern, bad[i].peer, "here", err, sizeof err) != -1 ||
        strcmp(err, bad[i].err) != 0) {
      fail_msg("'%s'\n got: %s\nwant: %s", bad[i].peer, err, bad[i].err);
    }
    assert_int_equal(c->nrules, 1);
    assert_int_equal(c->npeers, 3);
  }
  /* 32 peers is the most */
  many[0] = '\0';
  for (int i = 0; i < 32; i++) {
    snprintf(many + strlen(many), sizeof many - strlen(many), "%sp%d", i ? "," : "", i);
  }
  assert_int_equal(tb_config_add_rule(c, "y", many, "here", err, sizeof err), 0);
  assert_int_equal(c->rules[1].npeers, 32);
  assert_int_equal(c->npeers, 35);
  strcat(many, ",p32");
  assert_int_equal(tb_config_add_rule(c, "z", many, "here", err, sizeof err), -1);
  tb_assert_contains(err, "here: peer list 'p0,p1,");
  tb_assert_contains(err, "': more than 32 peers in one rule");
  assert_int_equal(c->npeers, 35);
  tb_config_destroy(c);
}

/* Rules that name the same host and port share one entry of c->peers:
 * names without regard to case, IPv6 by address, a missing port as 443;
 * the first spelling is the one kept. */
static void test_interning(void **state) {
  static const char *const pairs[][2] = {
      {"r1", "Peer-A:1,b:1"},
      {"r2", "b:1,c:1"},
      {"r3", "peer-a:1"},
      {"r4", "[2001:db8::1]:1"},
      {"r5", "[2001:DB8:0::1]:1,[2001:db8::1]:2"},
      {"r6", "p"},
      {"r7", "p.:443"},
      {"r8", "b:2"},
  };
  struct tb_config *c = tb_config_create();
  char err[ERRLEN];

  (void)state;
  assert_non_null(c);
  for (size_t i = 0; i < TB_NELEM(pairs); i++) {
    assert_int_equal(tb_config_add_rule(c, pairs[i][0], pairs[i][1], "here", err, sizeof err), 0);
  }
  /* Peer-A:1, b:1, c:1, [2001:db8::1]:1, [2001:db8::1]:2, p:443, b:2 */
  assert_int_equal(c->npeers, 7);
  assert_int_equal(c->rules[2].peers[0].index, c->rules[0].peers[0].index);
  assert_string_equal(c->peers[c->rules[2].peers[0].index].host, "Peer-A");
  assert_int_equal(c->rules[1].peers[0].index, c->rules[0].peers[1].index);
  assert_int_equal(c->rules[4].peers[0].index, c->rules[3].peers[0].index);
  assert_int_not_equal(c->rules[4].peers[1].index, c->rules[3].peers[0].index);
  assert_int_equal(c->rules[6].peers[0].index, c->rules[5].peers[0].index);
  assert_int_not_equal(c->rules[7].peers[0].index, c->rules[1].peers[0].index);
  /* tb_config_find_peer: the same questions */
  struct tb_peer p;
  assert_int_equal(tb_peer_parse("PEER-a:1", 8, &p, err, sizeof err), 0);
  assert_int_equal(tb_config_find_peer(c, &p), c->rules[0].peers[0].index);
  assert_int_equal(tb_peer_parse("peer-a:2", 8, &p, err, sizeof err), 0);
  assert_int_equal(tb_config_find_peer(c, &p), SIZE_MAX);
  tb_config_destroy(c);

  /* many distinct peers (the hash table grows), each found again */
  c = tb_config_create();
  assert_non_null(c);
  for (int i = 0; i < 3000; i++) {
    char peer[64];
    snprintf(peer, sizeof peer, "p%d.example:%d,shared:1", i, 1 + i % 7);
    assert_int_equal(tb_config_add_rule(c, "a", peer, "here", err, sizeof err), 0);
  }
  assert_int_equal(c->npeers, 3001);
  for (int i = 0; i < 3000; i++) {
    char peer[64];
    snprintf(peer, sizeof peer, "P%d.Example:%d", i, 1 + i % 7);
    assert_int_equal(tb_peer_parse(peer, strlen(peer), &p, err, sizeof err), 0);
    assert_int_equal(tb_config_find_peer(c, &p), c->rules[i].peers[0].index);
    assert_int_equal(c->rules[i].peers[1].index, 1);
  }
  tb_config_destroy(c);
}

/* The spec's new fields, and the store's own checks of them. */
static void test_spec_peers(void **state) {
  static const char *const two[] = {"a:1", "b:1"};
  static const char *const where[] = {"t.yaml:3:5", "t.yaml:4:5"};
  static const char *const dup[] = {"a:1", "A:1"};
  static const char *const bad_port[] = {"a:1", "b:0"};
  static const char *const tooth[] = {"a$1"};
  struct tb_config *c = tb_config_create();
  char err[ERRLEN];
  struct {
    struct tb_rule_spec spec;
    const char *err;
  } cases[] = {
      {{.pattern = "a", .origin = "here"}, "here: give either one peer or a list of peers"},
      {{.pattern = "a", .peer = "p", .peers = two, .npeers = 2, .origin = "here"},
       "here: give either one peer or a list of peers"},
      {{.pattern = "a", .peers = two, .npeers = 0, .origin = "here"}, "here: the list of peers is empty"},
      {{.pattern = "a", .peers = two, .npeers = 33, .origin = "here"},
       "here: more than 32 peers in one rule"},
      {{.pattern = "a", .peer = "p", .balance = (enum tb_balance)3, .origin = "here"},
       "here: unknown balance"},
      {{.pattern = "a", .peer = "p", .health = {101, 0}, .origin = "here"},
       "here: health settings out of range"},
      {{.pattern = "a", .peer = "p", .health = {0, 999}, .origin = "here"},
       "here: health settings out of range"},
      {{.pattern = "a", .peer = "p", .health = {0, 3600001}, .origin = "here"},
       "here: health settings out of range"},
      {{.pattern = "a", .peers = dup, .npeers = 2, .peer_origins = where, .origin = "here"},
       "t.yaml:4:5: peer 'A:1' is listed twice in this rule (the same host and port as peer 1)"},
      {{.pattern = "a", .peers = bad_port, .npeers = 2, .peer_origins = where, .origin = "here"},
       "t.yaml:4:5: peer 'b:0': port must be 1-65535"},
      {{.pattern = "a(", .peers = two, .npeers = 2, .peer_origins = where, .origin = "here"},
       "here: bad regex 'a(' at offset 2: missing closing parenthesis"},
      {{.pattern = "a", .peers = tooth, .npeers = 1, .peer_origins = where, .origin = "here"},
       "t.yaml:3:5: peer template 'a$1': $1 names a capture group, but the host regex has none (put the part "
       "to capture in parentheses, e.g. '(.*)[.]corp')"},
  };

  (void)state;
  assert_non_null(c);
  for (size_t i = 0; i < TB_NELEM(cases); i++) {
    cases[i].spec.settings = (struct tb_settings)TB_SETTINGS_UNSET;
    memset(err, 'x', sizeof err);
    assert_int_equal(tb_config_add(c, &cases[i].spec, err, sizeof err), -1);
    if (strcmp(err, cases[i].err) != 0) {
      fail_msg("case %zu\n got: %s\nwant: %s", i, err, cases[i].err);
    }
    assert_int_equal(c->nrules, 0);
    assert_int_equal(c->npeers, 0);
  }
  /* the limits are accepted */
  struct tb_rule_spec ok = {.pattern = "(x)",
                            .peers = two,
                            .npeers = 2,
                            .origin = "here",
                            .settings = TB_SETTINGS_UNSET,
                            .balance = TB_BALANCE_HASH,
                            .health = {100, 1000}};
  assert_int_equal(tb_config_add(c, &ok, err, sizeof err), 0);
  ok.health = (struct tb_health_settings){1, 3600000};
  ok.balance = TB_BALANCE_ROUND_ROBIN;
  assert_int_equal(tb_config_add(c, &ok, err, sizeof err), 0);
  assert_int_equal(c->rules[0].balance, TB_BALANCE_HASH);
  assert_int_equal(c->rules[0].ngroups, 1);
  assert_int_equal(c->rules[1].health.down_for_ms, 3600000);
  assert_int_equal(c->npeers, 2);
  tb_config_destroy(c);
}

/* A rule's health settings: its own, else the configuration's defaults. */
static void test_health_levels(void **state) {
  struct tb_config *c = tb_config_create();
  struct tb_health_settings h;
  char err[ERRLEN];

  (void)state;
  assert_non_null(c);
  assert_int_equal(c->health_failures, TB_HEALTH_FAILURES_DEFAULT);
  assert_int_equal(c->health_down_for_ms, TB_HEALTH_DOWN_FOR_DEFAULT_MS);
  const struct tb_rule_spec own = {
      .pattern = "a", .peer = "p", .origin = "here", .settings = TB_SETTINGS_UNSET, .health = {7, 0}};
  const struct tb_rule_spec both = {
      .pattern = "b", .peer = "p", .origin = "here", .settings = TB_SETTINGS_UNSET, .health = {9, 60000}};
  assert_int_equal(tb_config_add_rule(c, "x", "p", "here", err, sizeof err), 0);
  assert_int_equal(tb_config_add(c, &own, err, sizeof err), 0);
  assert_int_equal(tb_config_add(c, &both, err, sizeof err), 0);
  c->health_failures = 5;
  c->health_down_for_ms = 2000;
  tb_config_health(c, &c->rules[0], &h);
  assert_int_equal(h.failures, 5);
  assert_int_equal(h.down_for_ms, 2000);
  tb_config_health(c, &c->rules[1], &h);
  assert_int_equal(h.failures, 7);
  assert_int_equal(h.down_for_ms, 2000);
  tb_config_health(c, &c->rules[2], &h);
  assert_int_equal(h.failures, 9);
  assert_int_equal(h.down_for_ms, 60000);
  assert_string_equal(tb_balance_name(TB_BALANCE_ROUND_ROBIN), "round_robin");
  assert_string_equal(tb_balance_name((enum tb_balance)7), "failover");
  enum tb_balance b = TB_BALANCE_FAILOVER;
  assert_int_equal(tb_balance_parse("hash", &b), 0);
  assert_int_equal(b, TB_BALANCE_HASH);
  assert_int_equal(tb_balance_parse("Hash", &b), -1);
  assert_int_equal(tb_balance_parse("", &b), -1);
  assert_int_equal(b, TB_BALANCE_HASH);
  tb_config_destroy(c);
}

/* Undo drops the peers first named by the rules it drops, and restores the
 * health defaults; the table works as before afterwards. */
static void test_undo_peers(void **state) {
  struct tb_config *c = tb_config_create();
  struct tb_config saved;
  struct tb_peer p;
  char err[ERRLEN];

  (void)state;
  assert_non_null(c);
  assert_int_equal(tb_config_add_rule(c, "a", "keep:1,also:1", "here", err, sizeof err), 0);
  saved = *c;
  for (int i = 0; i < 100; i++) {
    char peer[32];
    snprintf(peer, sizeof peer, "keep:1,new%d:1", i);
    assert_int_equal(tb_config_add_rule(c, "b", peer, "here", err, sizeof err), 0);
  }
  c->health_failures = 50;
  c->health_down_for_ms = 5000;
  assert_int_equal(c->npeers, 102);
  tb_config_undo(c, &saved);
  assert_int_equal(c->npeers, 2);
  assert_int_equal(c->health_failures, TB_HEALTH_FAILURES_DEFAULT);
  assert_int_equal(c->health_down_for_ms, TB_HEALTH_DOWN_FOR_DEFAULT_MS);
  assert_int_equal(tb_peer_parse("new7:1", 6, &p, err, sizeof err), 0);
  assert_int_equal(tb_config_find_peer(c, &p), SIZE_MAX);
  assert_int_equal(tb_config_add_rule(c, "c", "new7:1,keep:1", "here", err, sizeof err), 0);
  assert_int_equal(tb_config_find_peer(c, &p), 2);
  assert_int_equal(c->rules[1].peers[1].index, 0);
  tb_config_destroy(c);
}

/* Deny rules and clients lists through the store's own checks: a deny rule
 * takes no peer and no clients; a clients list needs its array and at most
 * TB_RULE_CLIENTS_MAX networks; an unknown action is refused; what is
 * stored is a copy. */
static void test_access_specs(void **state) {
  struct tb_config *c = tb_config_create();
  struct tb_cidr nets[TB_RULE_CLIENTS_MAX + 1];
  char err[ERRLEN];
  (void)state;
  assert_non_null(c);
  assert_null(tb_cidr_problem("10.0.0.0/8", 10, &nets[0]));
  struct tb_rule_spec spec = {
      .pattern = "a", .origin = "here", .settings = TB_SETTINGS_UNSET, .action = TB_ACTION_DENY};
  assert_int_equal(tb_config_add(c, &spec, err, sizeof err), 0);
  assert_int_equal(c->rules[0].action, TB_ACTION_DENY);
  assert_int_equal(c->rules[0].npeers, 0);
  assert_int_equal(c->npeers, 0);
  spec.peer = "p";
  assert_int_equal(tb_config_add(c, &spec, err, sizeof err), -1);
  assert_string_equal(err, "here: a deny rule has no peers and no clients list");
  spec.peer = NULL;
  spec.clients = nets;
  spec.nclients = 1;
  assert_int_equal(tb_config_add(c, &spec, err, sizeof err), -1);
  assert_string_equal(err, "here: a deny rule has no peers and no clients list");
  spec.action = (enum tb_action)7;
  assert_int_equal(tb_config_add(c, &spec, err, sizeof err), -1);
  assert_string_equal(err, "here: unknown action");
  spec.action = TB_ACTION_BRIDGE;
  spec.peer = "p";
  spec.clients = NULL;
  assert_int_equal(tb_config_add(c, &spec, err, sizeof err), -1);
  assert_string_equal(err, "here: client list missing or too long");
  spec.clients = nets;
  spec.nclients = TB_RULE_CLIENTS_MAX + 1;
  assert_int_equal(tb_config_add(c, &spec, err, sizeof err), -1);
  assert_string_equal(err, "here: client list missing or too long");
  spec.nclients = 1;
  assert_int_equal(tb_config_add(c, &spec, err, sizeof err), 0);
  nets[0].bits = 1; /* the store kept a copy */
  assert_int_equal(c->rules[1].nclients, 1);
  assert_int_equal(c->rules[1].clients[0].bits, 8);
  assert_int_equal(c->nrules, 2);
  tb_config_destroy(c);
}

/* The role decides what a loaded configuration needs; undo drops a policy
 * made since and restores the role. */
static void test_roles(void **state) {
  struct tb_config *c = tb_config_create();
  char err[ERRLEN];
  (void)state;
  assert_non_null(c);
  assert_int_equal(c->role, TB_ROLE_INGRESS);
  struct tb_config saved = *c;
  c->role = TB_ROLE_PEER;
  assert_int_equal(tb_config_check_loaded(c, err, sizeof err), -1);
  assert_string_equal(err, "no policy (a peer-role configuration needs a 'policy' list and has no rules)");
  c->policy = tb_policy_create();
  assert_non_null(c->policy);
  assert_int_equal(tb_config_check_loaded(c, err, sizeof err), -1); /* an empty policy */
  struct tb_policy_entry_spec e = {"a", "here", NULL, NULL, 0, NULL, 0};
  assert_int_equal(tb_policy_add(c->policy, &e, err, sizeof err), 0);
  assert_int_equal(tb_config_check_loaded(c, err, sizeof err), 0);
  tb_config_undo(c, &saved);
  assert_int_equal(c->role, TB_ROLE_INGRESS);
  assert_null(c->policy);
  /* a policy in the ingress role (only a broken front end could do it) */
  c->policy = tb_policy_create();
  assert_int_equal(tb_config_add_rule(c, "a", "p", "here", err, sizeof err), 0);
  assert_int_equal(tb_config_check_loaded(c, err, sizeof err), -1);
  assert_string_equal(err, "a policy in the ingress role (policy is for role: peer)");
  tb_config_destroy(c); /* frees the policy */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_create_destroy),
      cmocka_unit_test(test_add_rule),
      cmocka_unit_test(test_add_spec),
      cmocka_unit_test(test_add_refuses),
      cmocka_unit_test(test_settings_levels),
      cmocka_unit_test(test_set_defaults),
      cmocka_unit_test(test_undo),
      cmocka_unit_test(test_check_loaded),
      cmocka_unit_test(test_peer_lists),
      cmocka_unit_test(test_interning),
      cmocka_unit_test(test_spec_peers),
      cmocka_unit_test(test_health_levels),
      cmocka_unit_test(test_undo_peers),
      cmocka_unit_test(test_access_specs),
      cmocka_unit_test(test_roles),
  };
  return cmocka_run_group_tests_name("tb_config", tests, NULL, NULL);
}
