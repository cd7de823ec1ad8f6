/*
 * Unit tests for tb_policy, the peer role's decisions: allow and deny
 * targets with and without ports (deny first, no match refuses); the first
 * entry whose identity matches any name decides, whatever the order of the
 * names, and the name reported is the preferred one; identities anchored at
 * both ends, caseless, taken as written (no trailing dot dropped) while
 * target hosts drop one; a wildcard certificate name is plain text; no
 * names and no policy refuse; a PCRE2 limit refuses (never allows); the
 * index gives the same answers as trying every identity in order, over a
 * policy of 1,000 entries; tb_policy_add's own checks and its copies (the
 * spec's memory may go away); what the YAML front end builds; and the
 * names of the results.
 */
#include "tb_test.h"

#include "tb_certgen.h"
#include "tb_config.h"
#include "tb_index.h"
#include "tb_policy.h"
#include "tb_yaml.h"

#define ERRLEN 1024

static struct tb_certnames names; /* 8 KiB: not on cmocka's stack */

static struct tb_config *peer_yaml(const char *text) {
  char err[ERRLEN] = "";
  struct tb_config *c = tb_config_create();

  assert_non_null(c);
  if (tb_config_load_yaml_text(c, text, strlen(text), "p.yaml", NULL, err, sizeof err) != 0) {
    fail_msg("%s", err);
  }
  assert_int_equal(c->role, TB_ROLE_PEER);
  assert_non_null(c->policy);
  return c;
}

/* names = the given texts, as certificate names of the given kinds. */
static const struct tb_certnames *who(size_t n, const enum tb_certname_kind *kinds,
                                      const char *const *texts) {
  tb_certnames_init(&names);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(tb_certnames_add(&names, kinds[i], texts[i], strlen(texts[i])), 0);
  }
  return &names;
}

static const struct tb_certnames *dns(const char *text) {
  const enum tb_certname_kind k[] = {TB_CERTNAME_DNS};
  return who(1, k, &text);
}

static const struct tb_certnames *given(const char *text) {
  const enum tb_certname_kind k[] = {TB_CERTNAME_GIVEN};
  return who(1, k, &text);
}

static enum tb_authz_result decide(const struct tb_config *c, const struct tb_certnames *n, const char *host,
                                   unsigned port, struct tb_authz *a) {
  return tb_policy_decide(c->policy, n, host, strlen(host), port, a);
}

static const char two_sites[] = "role: peer\n"
                                "policy:\n"
                                "  - name: branch-1\n"
                                "    identity: branch-1[.]corp[.]example\n"
                                "    allow:\n"
                                "      - {host: 'db[.]internal', ports: [5432, 6000-6010]}\n"
                                "      - '.*[.]svc[.]corp[.]example'\n"
                                "    deny:\n"
                                "      - {host: 'admin[.]svc[.]corp[.]example'}\n"
                                "      - {host: 'db[.]internal', ports: 6005}\n"
                                "  - name: branch-2\n"
                                "    identity: 'spiffe://corp[.]example/ingress/branch-2'\n"
                                "    allow:\n"
                                "      - {host: 'web[.]internal', ports: 443}\n"
                                "  - name: nothing\n"
                                "    identity: 'retired[.]corp[.]example'\n";

static void test_allow_deny_ports(void **state) {
  struct tb_config *c = peer_yaml(two_sites);
  struct tb_authz a;
  (void)state;

  assert_int_equal(c->policy->n, 3);
  assert_int_equal(decide(c, dns("branch-1.corp.example"), "db.internal", 5432, &a), TB_AUTHZ_ALLOWED);
  assert_int_equal(a.entry_number, 1);
  assert_string_equal(a.entry->origin, "branch-1");
  assert_int_equal(a.target_number, 1);
  assert_string_equal(a.target->pattern, "db[.]internal");
  assert_string_equal(a.name->text, "branch-1.corp.example");
  assert_int_equal(decide(c, dns("branch-1.corp.example"), "db.internal", 6001, &a), TB_AUTHZ_ALLOWED);
  /* deny before allow: 6005 is in the allow range and denied */
  assert_int_equal(decide(c, dns("branch-1.corp.example"), "db.internal", 6005, &a), TB_AUTHZ_DENIED);
  assert_int_equal(a.target_number, 2);
  /* a port no target lists */
  assert_int_equal(decide(c, dns("branch-1.corp.example"), "db.internal", 22, &a), TB_AUTHZ_NOT_ALLOWED);
  assert_int_equal(a.entry_number, 1);
  assert_null(a.target);
  /* no ports: any port */
  assert_int_equal(decide(c, dns("branch-1.corp.example"), "x.svc.corp.example", 1, &a), TB_AUTHZ_ALLOWED);
  assert_int_equal(decide(c, dns("branch-1.corp.example"), "admin.svc.corp.example", 443, &a),
                   TB_AUTHZ_DENIED);
  /* port 0 (unknown): only targets without a port list take it */
  assert_int_equal(decide(c, dns("branch-1.corp.example"), "db.internal", 0, &a), TB_AUTHZ_NOT_ALLOWED);
  assert_int_equal(decide(c, dns("branch-1.corp.example"), "x.svc.corp.example", 0, &a), TB_AUTHZ_ALLOWED);
  /* the other site's entry */
  assert_int_equal(decide(c, given("spiffe://corp.example/ingress/branch-2"), "web.internal", 443, &a),
                   TB_AUTHZ_ALLOWED);
  assert_int_equal(a.entry_number, 2);
  assert_int_equal(decide(c, given("spiffe://corp.example/ingress/branch-2"), "db.internal", 5432, &a),
                   TB_AUTHZ_NOT_ALLOWED);
  /* an entry without targets allows nothing */
  assert_int_equal(decide(c, dns("retired.corp.example"), "web.internal", 443, &a), TB_AUTHZ_NOT_ALLOWED);
  assert_int_equal(a.entry_number, 3);
  /* nobody */
  assert_int_equal(decide(c, dns("stranger.example"), "web.internal", 443, &a), TB_AUTHZ_UNKNOWN_IDENTITY);
  assert_null(a.entry);
  assert_null(a.name);
  assert_int_equal(a.entry_number, 0);
  tb_config_destroy(c);
}

static void test_first_entry_decides(void **state) {
  static const char text[] =
      "role: peer\n"
      "policy:\n"
      "  - {identity: 'cn-holder', allow: ['one[.]internal']}\n"
      "  - {identity: 'a[.]corp[.]example', allow: ['two[.]internal']}\n"
      "  - {identity: 'spiffe://corp/a', allow: ['two[.]internal', 'one[.]internal']}\n";
  struct tb_config *c = peer_yaml(text);
  struct tb_authz a;
  const enum tb_certname_kind k[] = {TB_CERTNAME_DNS, TB_CERTNAME_URI, TB_CERTNAME_CN};
  const char *const t[] = {"a.corp.example", "spiffe://corp/a", "cn-holder"};
  (void)state;

  /* The CN (the least preferred name) matches entry 1: entry 1 decides,
   * although the DNS name matches entry 2 and the URI entry 3. */
  assert_int_equal(decide(c, who(3, k, t), "two.internal", 1, &a), TB_AUTHZ_NOT_ALLOWED);
  assert_int_equal(a.entry_number, 1);
  assert_int_equal(a.name->kind, TB_CERTNAME_CN);
  /* Without the CN, entry 2 (the DNS name) decides. */
  assert_int_equal(decide(c, who(2, k, t), "two.internal", 1, &a), TB_AUTHZ_ALLOWED);
  assert_int_equal(a.entry_number, 2);
  assert_int_equal(a.name->kind, TB_CERTNAME_DNS);
  assert_int_equal(decide(c, who(2, k, t), "one.internal", 1, &a), TB_AUTHZ_NOT_ALLOWED);
  tb_config_destroy(c);

  /* Several names match one entry: the preferred one is reported. */
  c = peer_yaml("role: peer\npolicy:\n  - {identity: '.*', allow: [x]}\n");
  assert_int_equal(decide(c, who(3, k, t), "x", 1, &a), TB_AUTHZ_ALLOWED);
  assert_int_equal(a.name->kind, TB_CERTNAME_DNS);
  tb_config_destroy(c);
}

static void test_identity_matching(void **state) {
  static const char text[] = "role: peer\n"
                             "policy:\n"
                             "  - {identity: 'branch-1[.]corp', allow: [x]}\n"
                             "  - {identity: 'spiffe://corp[.]example/ingress/[a-z0-9-]+', allow: [y]}\n"
                             "  - {identity: '[a-z0-9-]+[.]wild[.]example', allow: [z]}\n"
                             "  - {identity: '.*[.]loose[.]example', allow: [w]}\n";
  struct tb_config *c = peer_yaml(text);
  struct tb_authz a;
  (void)state;

  /* anchored at both ends */
  assert_int_equal(decide(c, dns("branch-1.corp.evil"), "x", 1, &a), TB_AUTHZ_UNKNOWN_IDENTITY);
  assert_int_equal(decide(c, dns("x.branch-1.corp"), "x", 1, &a), TB_AUTHZ_UNKNOWN_IDENTITY);
  assert_int_equal(decide(c, given("spiffe://corp.example/ingress/a/b"), "y", 1, &a),
                   TB_AUTHZ_UNKNOWN_IDENTITY);
  assert_int_equal(decide(c, given("spiffe://corp.example/ingress/b-2"), "y", 1, &a), TB_AUTHZ_ALLOWED);
  /* caseless, like host patterns */
  assert_int_equal(decide(c, dns("BRANCH-1.Corp"), "X", 1, &a), TB_AUTHZ_ALLOWED);
  /* an identity is taken as written: no trailing dot dropped (a target host's is) */
  assert_int_equal(decide(c, given("branch-1.corp."), "x", 1, &a), TB_AUTHZ_UNKNOWN_IDENTITY);
  assert_int_equal(decide(c, dns("branch-1.corp"), "x.", 1, &a), TB_AUTHZ_ALLOWED);
  /* a wildcard certificate is the text "*.wild.example": a pattern of
   * label characters does not take it ... */
  assert_int_equal(decide(c, dns("*.wild.example"), "z", 1, &a), TB_AUTHZ_UNKNOWN_IDENTITY);
  assert_int_equal(decide(c, dns("a.wild.example"), "z", 1, &a), TB_AUTHZ_ALLOWED);
  /* ... while '.*' does, as it takes any text */
  assert_int_equal(decide(c, dns("*.loose.example"), "w", 1, &a), TB_AUTHZ_ALLOWED);
  /* no names, no policy */
  tb_certnames_init(&names);
  assert_int_equal(decide(c, &names, "x", 1, &a), TB_AUTHZ_UNKNOWN_IDENTITY);
  assert_int_equal(tb_policy_decide(NULL, dns("branch-1.corp"), "x", 1, 1, &a), TB_AUTHZ_UNKNOWN_IDENTITY);
  assert_int_equal(tb_policy_decide(c->policy, NULL, "x", 1, 1, &a), TB_AUTHZ_UNKNOWN_IDENTITY);
  tb_config_destroy(c);
}

/* A PCRE2 match limit, in an identity or in a target: refused, never allowed. */
static void test_fails_closed(void **state) {
  static const char text[] = "role: peer\n"
                             "policy:\n"
                             "  - {identity: '(x+)+', allow: ['.*']}\n"
                             "  - {identity: 'ok', allow: ['(y+)+', '.*']}\n";
  struct tb_config *c = peer_yaml(text);
  struct tb_authz a;
  char bad[62];
  (void)state;

  memset(bad, 'x', sizeof bad);
  bad[sizeof bad - 2] = '!';
  bad[sizeof bad - 1] = '\0';
  assert_int_equal(decide(c, given(bad), "host", 1, &a), TB_AUTHZ_FAILED);
  memset(bad, 'y', sizeof bad - 2);
  assert_int_equal(decide(c, given("ok"), bad, 1, &a), TB_AUTHZ_FAILED);
  assert_int_equal(decide(c, given("ok"), "host", 1, &a), TB_AUTHZ_ALLOWED);
  tb_config_destroy(c);
}

/* 1,000 entries of every shape: the index's answer is the one trying every
 * identity in order gives (the policy with its index taken away). */
static void test_index_agrees(void **state) {
  char *text = malloc(200000);
  size_t used = 0;
  (void)state;
  assert_non_null(text);
  used += (size_t)sprintf(text + used, "role: peer\npolicy:\n");
  for (int i = 0; i < 1000; i++) {
    char id[96];
    switch (i % 4) {
    case 0:
      snprintf(id, sizeof id, "'site-%d[.]corp[.]example'", i);
      break;
    case 1:
      snprintf(id, sizeof id, "'spiffe://corp[.]example/ingress/s%d'", i);
      break;
    case 2:
      snprintf(id, sizeof id, "'.*[.]zone%d[.]example'", i);
      break;
    default:
      snprintf(id, sizeof id, "'gw(-[a-z]+)?%d[.]corp'", i);
      break;
    }
    used += (size_t)sprintf(text + used, "  - {identity: %s, allow: ['t%d[.]internal']}\n", id, i);
  }
  struct tb_config *c = peer_yaml(text);
  free(text);
  assert_int_equal(c->policy->n, 1000);
  for (int i = 0; i < 1000; i += 7) {
    char probes[6][96];
    snprintf(probes[0], sizeof probes[0], "site-%d.corp.example", i);
    snprintf(probes[1], sizeof probes[1], "spiffe://corp.example/ingress/s%d", i);
    snprintf(probes[2], sizeof probes[2], "a.b.zone%d.example", i);
    snprintf(probes[3], sizeof probes[3], "gw-x%d.corp", i);
    snprintf(probes[4], sizeof probes[4], "SITE-%d.corp.example", i);
    snprintf(probes[5], sizeof probes[5], "site-%d.corp.example.evil", i);
    for (size_t k = 0; k < TB_NELEM(probes); k++) {
      char host[32];
      struct tb_authz with;
      struct tb_authz without;
      snprintf(host, sizeof host, "t%d.internal", i);
      enum tb_authz_result r1 = decide(c, given(probes[k]), host, 443, &with);
      struct tb_index *ix = c->policy->index;
      c->policy->index = NULL;
      enum tb_authz_result r2 = decide(c, given(probes[k]), host, 443, &without);
      c->policy->index = ix;
      if (r1 != r2 || with.entry_number != without.entry_number) {
        fail_msg("%s: index %d entry %zu, scan %d entry %zu", probes[k], r1, with.entry_number, r2,
                 without.entry_number);
      }
    }
  }
  struct tb_authz a;
  assert_int_equal(decide(c, given("site-500.corp.example"), "t504.internal", 1, &a), TB_AUTHZ_NOT_ALLOWED);
  assert_int_equal(a.entry_number, 501);
  assert_int_equal(decide(c, given("site-504.corp.example"), "t504.internal", 1, &a), TB_AUTHZ_ALLOWED);
  assert_int_equal(a.entry_number, 505);
  tb_config_destroy(c);
}

/* The API alone: bad regexes and ports refused with the origin, c as it
 * was; what is kept is a copy. */
static void test_add(void **state) {
  char err[ERRLEN];
  struct tb_policy *p = tb_policy_create();
  struct tb_port_range ports[] = {{443, 443}};
  char pattern[] = "db[.]internal";
  struct tb_policy_target_spec allow[] = {{pattern, "here:3:4", ports, 1}};
  struct tb_policy_entry_spec spec = {"a[.]corp", "here:1:2", NULL, allow, 1, NULL, 0};
  struct tb_authz a;
  (void)state;

  assert_non_null(p);
  assert_int_equal(tb_policy_add(p, &spec, err, sizeof err), 0);
  memset(pattern, 'z', sizeof pattern - 1); /* the policy kept a copy */
  ports[0].lo = ports[0].hi = 1;
  assert_int_equal(tb_policy_decide(p, dns("a.corp"), "db.internal", 11, 443, &a), TB_AUTHZ_ALLOWED);
  assert_string_equal(a.entry->origin, "here:1:2");

  struct tb_policy_entry_spec bad = spec;
  bad.identity = "a(";
  assert_int_equal(tb_policy_add(p, &bad, err, sizeof err), -1);
  tb_assert_contains(err, "here:1:2: bad regex 'a(' at offset 2");
  bad = spec;
  bad.identity = "";
  assert_int_equal(tb_policy_add(p, &bad, err, sizeof err), -1);
  tb_assert_contains(err, "here:1:2: empty regex");
  struct tb_port_range backwards[] = {{9, 8}};
  struct tb_policy_target_spec bad_target[] = {{"x", "there:9:9", backwards, 1}};
  bad = spec;
  bad.deny = bad_target;
  bad.ndeny = 1;
  assert_int_equal(tb_policy_add(p, &bad, err, sizeof err), -1);
  assert_string_equal(err, "there:9:9: port range not within 1-65535 or backwards");
  struct tb_policy_target_spec bad_regex[] = {{"x[", "there:9:9", NULL, 0}};
  bad = spec;
  bad.allow = bad_regex;
  assert_int_equal(tb_policy_add(p, &bad, err, sizeof err), -1);
  tb_assert_contains(err, "there:9:9: bad regex 'x['");
  assert_int_equal(p->n, 1);

  bad = spec;
  bad.name = "named";
  assert_int_equal(tb_policy_add(p, &bad, err, sizeof err), 0);
  assert_string_equal(p->entries[1].origin, "named");
  tb_policy_destroy(p);
  tb_policy_destroy(NULL);
}

/* Many entries grow the arrays (16, 32, ...) and keep the index in step. */
static void test_many_adds(void **state) {
  char err[ERRLEN];
  char id[32];
  struct tb_policy *p = tb_policy_create();
  struct tb_authz a;
  (void)state;
  assert_non_null(p);
  for (int i = 0; i < 100; i++) {
    snprintf(id, sizeof id, "n%d", i);
    struct tb_policy_entry_spec spec = {id, "o", NULL, NULL, 0, NULL, 0};
    assert_int_equal(tb_policy_add(p, &spec, err, sizeof err), 0);
  }
  for (int i = 0; i < 100; i++) {
    snprintf(id, sizeof id, "N%d", i);
    assert_int_equal(tb_policy_decide(p, given(id), "h", 1, 1, &a), TB_AUTHZ_NOT_ALLOWED);
    assert_int_equal(a.entry_number, (size_t)i + 1);
  }
  tb_policy_destroy(p);
}

/* A whole certificate through tb_certnames into a decision. */
static void test_certificate_to_decision(void **state) {
  static const struct tb_certgen_name sans[] = {{GEN_URI, "spiffe://corp.example/ingress/branch-2", 0}};
  static const struct tb_certgen_cn cn[] = {{V_ASN1_UTF8STRING, "branch-1.corp.example", 0}};
  const struct tb_certgen g = {sans, 1, 0, cn, 1};
  struct tb_config *c = peer_yaml(two_sites);
  struct tb_authz a;
  char err[ERRLEN];
  size_t len = 0;
  unsigned char *der = tb_certgen_der(&g, &len);
  (void)state;

  assert_non_null(der);
  assert_int_equal(tb_certnames_from_der(der, len, &names, err, sizeof err), 0);
  OPENSSL_free(der);
  /* The CN names branch-1 (entry 1): entry 1 decides although the URI
   * (preferred) names branch-2 (entry 2). */
  assert_int_equal(decide(c, &names, "db.internal", 5432, &a), TB_AUTHZ_ALLOWED);
  assert_int_equal(a.entry_number, 1);
  assert_int_equal(a.name->kind, TB_CERTNAME_CN);
  tb_config_destroy(c);
}

static void test_result_names(void **state) {
  (void)state;
  assert_string_equal(tb_authz_result_name(TB_AUTHZ_ALLOWED), "allowed");
  assert_string_equal(tb_authz_result_name(TB_AUTHZ_UNKNOWN_IDENTITY), "unknown_identity");
  assert_string_equal(tb_authz_result_name(TB_AUTHZ_DENIED), "target_denied");
  assert_string_equal(tb_authz_result_name(TB_AUTHZ_NOT_ALLOWED), "target_not_allowed");
  assert_string_equal(tb_authz_result_name(TB_AUTHZ_FAILED), "failed");
  assert_string_equal(tb_role_name(TB_ROLE_PEER), "peer");
  assert_string_equal(tb_role_name(TB_ROLE_INGRESS), "ingress");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_allow_deny_ports),  cmocka_unit_test(test_first_entry_decides),
      cmocka_unit_test(test_identity_matching), cmocka_unit_test(test_fails_closed),
      cmocka_unit_test(test_index_agrees),      cmocka_unit_test(test_add),
      cmocka_unit_test(test_many_adds),         cmocka_unit_test(test_certificate_to_decision),
      cmocka_unit_test(test_result_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
