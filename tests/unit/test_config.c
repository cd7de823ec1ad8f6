/*
 * Unit tests for tb_config, the rule store: defaults, adding a rule (from
 * pattern and peer, and from a full tb_rule_spec: ports copied, name, its
 * own settings), a negative case for every check, the settings a rule gets
 * (unset, 0 and N at the configuration and at the rule), and undo.
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
  };
  return cmocka_run_group_tests_name("tb_config", tests, NULL, NULL);
}
