/*
 * Unit tests for tb_transport (engines, what makes a transport valid, SNI
 * names, sameness and hashing, copies) and for the table of transports in
 * tb_config (tb_config_set_transport, interning of rules' own transports,
 * tb_config_transport, undo), with a negative case for every check and
 * its exact message.
 */
#include "tb_test.h"

#include "tb_config.h"
#include "tb_transport.h"

#define ERRLEN 1024

static void test_engine_names(void **state) {
  enum tb_engine e = TB_ENGINE_UNSET;

  (void)state;
  assert_string_equal(tb_engine_name(TB_ENGINE_ATS), "ats");
  assert_string_equal(tb_engine_name(TB_ENGINE_DIRECT), "direct");
  assert_string_equal(tb_engine_name(TB_ENGINE_UNSET), "default");
  assert_string_equal(tb_engine_name((enum tb_engine)7), "default");
  assert_int_equal(tb_engine_parse("direct", &e), 0);
  assert_int_equal(e, TB_ENGINE_DIRECT);
  assert_int_equal(tb_engine_parse("ats", &e), 0);
  assert_int_equal(e, TB_ENGINE_ATS);
  static const char *const bad[] = {"", "ATS", "Direct", "direct ", "default", "tls"};
  for (size_t i = 0; i < TB_NELEM(bad); i++) {
    assert_int_equal(tb_engine_parse(bad[i], &e), -1);
    assert_int_equal(e, TB_ENGINE_ATS); /* untouched */
  }
  assert_string_equal(tb_tls_key_name(TB_TLSKEY_CLIENT_CERT), "client_cert");
  assert_string_equal(tb_tls_key_name(TB_TLSKEY_VERIFY), "verify");
  assert_string_equal(tb_tls_key_name(TB_TLSKEY_COUNT), "?");
}

/* The SNI name: a host name, lower-cased, one trailing dot dropped; never a
 * port, brackets or an IP address. */
static void test_sni(void **state) {
  static const struct {
    const char *in, *out, *why;
  } cases[] = {
      {"peer.example.net", "peer.example.net", NULL},
      {"Peer.Example.NET.", "peer.example.net", NULL},
      {"a_b-1.example", "a_b-1.example", NULL},
      {"x", "x", NULL},
      {"peer:443", NULL, "not a host name alone (no port, no brackets)"},
      {"[2001:db8::1]", NULL, "not a host name alone (no port, no brackets)"},
      {"2001:db8::1", NULL, "not a host name alone (no port, no brackets)"},
      {"a]", NULL, "not a host name alone (no port, no brackets)"},
      {"192.0.2.1", NULL, "looks like an IPv4 address: SNI carries host names only (RFC 6066 3)"},
      {"10.0", NULL, "looks like an IPv4 address: SNI carries host names only (RFC 6066 3)"},
      {"192.0.2.1.", NULL, "looks like an IPv4 address: SNI carries host names only (RFC 6066 3)"},
      {"", NULL, "empty"},
      {".", NULL, "host is empty"},
      {"a..b", NULL, "host has an empty label"},
      {"a b", NULL, "contains whitespace"},
      {"a/b", NULL, "host has a character not allowed in a DNS name"},
      {"caf\xc3\xa9", NULL, "contains a byte that is not printable ASCII"},
  };
  char host[TB_HOST_MAX + 1];
  char long_label[80];

  (void)state;
  for (size_t i = 0; i < TB_NELEM(cases); i++) {
    const char *why;
    strcpy(host, "untouched");
    why = tb_transport_sni_problem(cases[i].in, strlen(cases[i].in), host);
    if (cases[i].why == NULL) {
      if (why != NULL) {
        fail_msg("'%s': %s", cases[i].in, why);
      }
      assert_string_equal(host, cases[i].out);
    } else {
      if (why == NULL || strcmp(why, cases[i].why) != 0) {
        fail_msg("'%s'\n got: %s\nwant: %s", cases[i].in, why != NULL ? why : "(accepted)", cases[i].why);
      }
      assert_string_equal(host, "untouched");
    }
  }
  memset(long_label, 'a', 64);
  memcpy(long_label + 64, ".b", 3);
  assert_string_equal(tb_transport_sni_problem(long_label, strlen(long_label), host),
                      "host has a label longer than 63 bytes");
  /* only len bytes are read */
  assert_null(tb_transport_sni_problem("peer.example:443", 12, host));
  assert_string_equal(host, "peer.example");
}

/* Every rule of tb_transport_problem, each on its own. */
static void test_problem(void **state) {
  char cert[] = "/c.pem", key[] = "/k.pem", ca[] = "/ca", sni[] = "peer.example", empty[] = "",
       upper[] = "Peer";
  char bad_sni[] = "peer:1";
  static const struct tb_transport ok = TB_TRANSPORT_ATS;
  struct tb_transport t;
  const struct {
    struct tb_transport t;
    const char *why;
  } cases[] = {
      {{TB_ENGINE_ATS, NULL, NULL, NULL, NULL, TB_VERIFY_UNSET}, NULL},
      {{TB_ENGINE_DIRECT, NULL, NULL, NULL, NULL, TB_VERIFY_UNSET}, NULL},
      {{TB_ENGINE_DIRECT, cert, key, ca, sni, 1}, NULL},
      {{TB_ENGINE_DIRECT, cert, NULL, NULL, NULL, 0}, NULL},
      {{TB_ENGINE_UNSET, NULL, NULL, NULL, NULL, TB_VERIFY_UNSET}, "engine must be ats or direct"},
      {{(enum tb_engine)3, NULL, NULL, NULL, NULL, TB_VERIFY_UNSET}, "engine must be ats or direct"},
      {{TB_ENGINE_DIRECT, NULL, NULL, NULL, NULL, 2}, "verify must be -1, 0 or 1"},
      {{TB_ENGINE_ATS, cert, NULL, NULL, NULL, TB_VERIFY_UNSET}, "TLS settings apply only to engine direct"},
      {{TB_ENGINE_ATS, NULL, NULL, ca, NULL, TB_VERIFY_UNSET}, "TLS settings apply only to engine direct"},
      {{TB_ENGINE_ATS, NULL, NULL, NULL, sni, TB_VERIFY_UNSET}, "TLS settings apply only to engine direct"},
      {{TB_ENGINE_ATS, NULL, NULL, NULL, NULL, 0}, "TLS settings apply only to engine direct"},
      {{TB_ENGINE_DIRECT, empty, NULL, NULL, NULL, TB_VERIFY_UNSET}, "a TLS setting is empty"},
      {{TB_ENGINE_DIRECT, NULL, NULL, empty, NULL, TB_VERIFY_UNSET}, "a TLS setting is empty"},
      {{TB_ENGINE_DIRECT, NULL, key, NULL, NULL, TB_VERIFY_UNSET},
       "client_key needs client_cert (a key beside the records' certificate would not be its key)"},
      {{TB_ENGINE_DIRECT, NULL, NULL, NULL, bad_sni, TB_VERIFY_UNSET}, "sni is not a valid host name"},
      {{TB_ENGINE_DIRECT, NULL, NULL, NULL, upper, TB_VERIFY_UNSET},
       "sni must be in lower case without a trailing dot"},
  };

  (void)state;
  assert_null(tb_transport_problem(&ok));
  for (size_t i = 0; i < TB_NELEM(cases); i++) {
    const char *why = tb_transport_problem(&cases[i].t);
    if ((why == NULL) != (cases[i].why == NULL) || (why != NULL && strcmp(why, cases[i].why) != 0)) {
      fail_msg("case %zu\n got: %s\nwant: %s", i, why != NULL ? why : "(valid)",
               cases[i].why != NULL ? cases[i].why : "(valid)");
    }
  }
  t = cases[2].t;
  for (int k = 0; k < TB_TLSKEY_COUNT; k++) {
    assert_int_equal(tb_transport_has(&t, (enum tb_tls_key)k), 1);
    assert_int_equal(tb_transport_has(&ok, (enum tb_tls_key)k), 0);
  }
  assert_string_equal(tb_transport_string(&t, TB_TLSKEY_CA), "/ca");
  assert_null(tb_transport_string(&t, TB_TLSKEY_VERIFY));
  assert_null(tb_transport_field(&t, TB_TLSKEY_VERIFY));
  assert_ptr_equal(tb_transport_field(&t, TB_TLSKEY_SNI), &t.sni);
}

/* Sameness looks at every field; equal transports hash alike; a copy is
 * equal and owns its strings. */
static void test_same_hash_copy(void **state) {
  char a1[] = "/a", a2[] = "/a", b[] = "/b";
  struct tb_transport x = {TB_ENGINE_DIRECT, a1, NULL, NULL, NULL, 1};
  struct tb_transport y = {TB_ENGINE_DIRECT, a2, NULL, NULL, NULL, 1};
  struct tb_transport copy;

  (void)state;
  assert_true(tb_transport_same(&x, &y));
  assert_true(tb_transport_hash(&x) == tb_transport_hash(&y));
  y.verify = 0;
  assert_false(tb_transport_same(&x, &y));
  y.verify = 1;
  y.engine = TB_ENGINE_ATS;
  assert_false(tb_transport_same(&x, &y));
  y.engine = TB_ENGINE_DIRECT;
  y.client_cert = b;
  assert_false(tb_transport_same(&x, &y));
  y.client_cert = NULL;
  assert_false(tb_transport_same(&x, &y)); /* NULL is not "/a" */
  y.client_key = a2;                       /* the same text in another field */
  assert_false(tb_transport_same(&x, &y));
  assert_false(tb_transport_hash(&x) == tb_transport_hash(&y));
  y.client_key = NULL;
  y.ca = a2;
  assert_false(tb_transport_same(&x, &y));
  y.ca = NULL;
  y.sni = a2;
  assert_false(tb_transport_same(&x, &y));

  x.sni = b;
  assert_int_equal(tb_transport_copy(&copy, &x), 0);
  assert_true(tb_transport_same(&copy, &x));
  assert_ptr_not_equal(copy.client_cert, x.client_cert);
  assert_ptr_not_equal(copy.sni, x.sni);
  assert_null(copy.ca);
  tb_transport_clear(&copy);
  assert_null(copy.client_cert);
  assert_null(copy.sni);
  assert_int_equal(copy.engine, TB_ENGINE_DIRECT); /* engine and verify stay */
  assert_int_equal(copy.verify, 1);
  tb_transport_clear(&copy); /* again: nothing to free */
}

/* ---- the configuration's table of transports ---------------------------- */

static void add(struct tb_config *c, const char *pattern, const struct tb_transport *t) {
  char err[ERRLEN];
  struct tb_rule_spec spec = {
      .pattern = pattern, .peer = "p", .origin = "here", .settings = TB_SETTINGS_UNSET, .transport = t};
  if (tb_config_add(c, &spec, err, sizeof err) != 0) {
    fail_msg("%s", err);
  }
}

/* A new configuration has the ats default; rules without a transport of
 * their own follow the default wherever it is set; rules with their own
 * share an entry when theirs are the same, and never the default's. */
static void test_interning(void **state) {
  char ca[] = "/etc/ssl/ca.pem", sni[] = "peer.example", other[] = "other.example";
  const struct tb_transport direct = {TB_ENGINE_DIRECT, NULL, NULL, ca, NULL, 1};
  const struct tb_transport named = {TB_ENGINE_DIRECT, NULL, NULL, ca, sni, 1};
  const struct tb_transport named2 = {TB_ENGINE_DIRECT, NULL, NULL, ca, other, 1};
  const struct tb_transport ats = TB_TRANSPORT_ATS;
  struct tb_config *c = tb_config_create();
  char err[ERRLEN];

  (void)state;
  assert_non_null(c);
  assert_int_equal(c->ntransports, 1);
  assert_int_equal(c->transports[0].engine, TB_ENGINE_ATS);
  assert_int_equal(c->transports[0].verify, TB_VERIFY_UNSET);
  add(c, "a", NULL);
  add(c, "b", &named);
  add(c, "c", &named2);
  add(c, "d", &named); /* shares b's */
  add(c, "e", &ats);   /* equal to the default now, but its own: not index 0 */
  assert_int_equal(c->ntransports, 4);
  assert_int_equal(c->rules[0].transport, 0);
  assert_int_equal(c->rules[1].transport, 1);
  assert_int_equal(c->rules[2].transport, 2);
  assert_int_equal(c->rules[3].transport, 1);
  assert_int_equal(c->rules[4].transport, 3);
  assert_ptr_not_equal(c->transports[1].sni, sni); /* copied */
  assert_string_equal(tb_config_transport(c, &c->rules[3])->sni, "peer.example");

  /* the default changes under the rules that took it (--engine anywhere) */
  assert_int_equal(tb_config_set_transport(c, &direct, "there", err, sizeof err), 0);
  assert_int_equal(tb_config_transport(c, &c->rules[0])->engine, TB_ENGINE_DIRECT);
  assert_string_equal(tb_config_transport(c, &c->rules[0])->ca, "/etc/ssl/ca.pem");
  assert_int_equal(tb_config_transport(c, &c->rules[4])->engine, TB_ENGINE_ATS);
  assert_true(tb_transport_same(&c->transport0, &c->transports[0]));

  /* set once: the default's strings are not replaced (undo relies on it) */
  assert_int_equal(tb_config_set_transport(c, &ats, "there", err, sizeof err), -1);
  assert_string_equal(err, "there: the default TLS settings are set already (they are set once)");
  assert_int_equal(tb_config_set_transport(c, &named, "there", err, sizeof err), -1);
  assert_string_equal(c->transports[0].ca, "/etc/ssl/ca.pem");
  assert_null(c->transports[0].sni);

  /* many distinct ones: the hash index grows, every one is found again */
  for (int i = 0; i < 300; i++) {
    char name[32];
    struct tb_transport t = named;
    snprintf(name, sizeof name, "n%d.example", i % 150);
    t.sni = name;
    add(c, "x", &t);
  }
  assert_int_equal(c->ntransports, 4 + 150);
  assert_int_equal(c->rules[5].transport, c->rules[155].transport);
  tb_config_destroy(c);
}

/* What the store refuses, with c as it was. */
static void test_refused(void **state) {
  char cert[] = "/c.pem";
  const struct tb_transport unset = {TB_ENGINE_UNSET, NULL, NULL, NULL, NULL, TB_VERIFY_UNSET};
  const struct tb_transport ats_cert = {TB_ENGINE_ATS, cert, NULL, NULL, NULL, TB_VERIFY_UNSET};
  struct tb_config *c = tb_config_create();
  char err[ERRLEN];
  struct tb_rule_spec spec = {
      .pattern = "a", .peer = "p", .origin = "here", .settings = TB_SETTINGS_UNSET, .transport = &unset};

  (void)state;
  assert_non_null(c);
  assert_int_equal(tb_config_add(c, &spec, err, sizeof err), -1);
  assert_string_equal(err, "here: engine must be ats or direct");
  spec.transport = &ats_cert;
  assert_int_equal(tb_config_add(c, &spec, err, sizeof err), -1);
  assert_string_equal(err, "here: TLS settings apply only to engine direct");
  spec.pattern = "(";
  spec.transport = &(struct tb_transport){TB_ENGINE_DIRECT, cert, NULL, NULL, NULL, 1};
  assert_int_equal(tb_config_add(c, &spec, err, sizeof err), -1); /* a bad regex: the transport is dropped */
  assert_int_equal(c->nrules, 0);
  assert_int_equal(c->ntransports, 1);
  assert_int_equal(tb_config_set_transport(c, &unset, "there", err, sizeof err), -1);
  assert_string_equal(err, "there: engine must be ats or direct");
  assert_int_equal(tb_config_set_transport(c, &ats_cert, "there", err, sizeof err), -1);
  assert_string_equal(err, "there: TLS settings apply only to engine direct");
  assert_int_equal(c->transports[0].engine, TB_ENGINE_ATS);
  assert_null(c->transports[0].client_cert);
  tb_config_destroy(c);
}

/* Undo drops the transports first used by the rules it drops and puts the
 * default back, freeing strings set since (ASan and valgrind see leaks). */
static void test_undo(void **state) {
  char ca[] = "/ca", sni[] = "s.example";
  const struct tb_transport direct = {TB_ENGINE_DIRECT, NULL, NULL, ca, NULL, TB_VERIFY_UNSET};
  const struct tb_transport own = {TB_ENGINE_DIRECT, NULL, NULL, NULL, sni, 0};
  const struct tb_transport engine_only = {TB_ENGINE_DIRECT, NULL, NULL, NULL, NULL, TB_VERIFY_UNSET};
  struct tb_config *c = tb_config_create();
  struct tb_config saved;
  char err[ERRLEN];

  (void)state;
  assert_non_null(c);
  add(c, "a", &own);
  saved = *c;
  assert_int_equal(tb_config_set_transport(c, &direct, "there", err, sizeof err), 0);
  add(c, "b", &own); /* shares a's: stays */
  for (int i = 0; i < 40; i++) {
    char name[32];
    struct tb_transport t = own;
    snprintf(name, sizeof name, "n%d.example", i);
    t.sni = name;
    add(c, "c", &t);
  }
  assert_int_equal(c->ntransports, 42);
  tb_config_undo(c, &saved);
  assert_int_equal(c->nrules, 1);
  assert_int_equal(c->ntransports, 2);
  assert_int_equal(c->transports[0].engine, TB_ENGINE_ATS);
  assert_null(c->transports[0].ca);
  assert_true(tb_transport_same(&c->transport0, &c->transports[0]));
  add(c, "d", &own); /* found again after the index was rebuilt */
  assert_int_equal(c->rules[1].transport, 1);

  /* a default set before the copy stays, strings and all */
  assert_int_equal(tb_config_set_transport(c, &direct, "there", err, sizeof err), 0);
  saved = *c;
  assert_int_equal(tb_config_set_transport(c, &engine_only, "there", err, sizeof err), -1);
  tb_config_undo(c, &saved);
  assert_string_equal(c->transports[0].ca, "/ca");

  /* an engine changed after the copy is put back */
  tb_config_destroy(c);
  c = tb_config_create();
  assert_non_null(c);
  saved = *c;
  assert_int_equal(tb_config_set_transport(c, &engine_only, "there", err, sizeof err), 0);
  tb_config_undo(c, &saved);
  assert_int_equal(c->transports[0].engine, TB_ENGINE_ATS);
  tb_config_destroy(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_engine_names),   cmocka_unit_test(test_sni),       cmocka_unit_test(test_problem),
      cmocka_unit_test(test_same_hash_copy), cmocka_unit_test(test_interning), cmocka_unit_test(test_refused),
      cmocka_unit_test(test_undo),
  };
  return cmocka_run_group_tests_name("tb_transport", tests, NULL, NULL);
}
