/*
 * Unit tests for tb_reference: for each kind of difference from the
 * reference plugin, rules that have it (shown by an example host, or "may"
 * when the pattern cannot be read), rules that do not (end-anchored or
 * open-ended patterns, patterns without case-sensitive letters, "(?i)", a
 * peer with its port), every note's whole text, and the options the
 * reference cannot parse.
 */
#include "tb_test.h"

#include "tb_config.h"
#include "tb_reference.h"

#define ERRLEN 1024

struct want {
  enum tb_ref_kind kind;
  int certain;
  const char *text;
};

struct ref_case {
  const char *pattern;
  const char *peer;
  const struct tb_port_range *ports;
  size_t nports;
  struct want notes[TB_REF_KINDS + 1]; /* ends with text NULL */
};

#define ANCHOR_EX "the reference also matched hosts that merely start with this pattern, e.g. "
#define ANCHOR_MAY                                                                                           \
  "the reference anchored the pattern at the start only: it may also have matched longer hosts that start "  \
  "with a match (no example derived)"
#define CASE_EX "the reference matched case-sensitively: "
#define CASE_MAY                                                                                             \
  "the reference matched case-sensitively: a host written in another case may not have been bridged there "  \
  "(no example derived)"
#define DOT_EX "the reference did not drop a trailing dot: "
#define DOT_MAY                                                                                              \
  "the reference did not drop a trailing dot: a host written with one may not have been bridged there (no "  \
  "example derived)"
#define PEER_80 "peer has no port: the reference connected to port 80, this plugin to 443"

static const struct tb_port_range db_ports[] = {{5432, 5432}, {6000, 6010}};

static const struct ref_case cases[] = {
    /* start-anchored and case-sensitive there: both shown by an example */
    {"db[.]internal",
     "peer:4443",
     NULL,
     0,
     {{TB_REF_ANCHOR, 1, ANCHOR_EX "'db.internal.example'"},
      {TB_REF_CASE, 1, CASE_EX "'DB.INTERNAL' was not bridged there"}}},
    /* ... and a peer without a port */
    {".*[.]service[.]com",
     "peer.example.net",
     NULL,
     0,
     {{TB_REF_ANCHOR, 1, ANCHOR_EX "'a.service.com.example'"},
      {TB_REF_CASE, 1, CASE_EX "'A.SERVICE.COM' was not bridged there"},
      {TB_REF_PEER_PORT, 1, PEER_80}}},
    /* a suffix the sample already ends with is skipped */
    {"(api|www)[.]example",
     "[2001:db8::1]",
     NULL,
     0,
     {{TB_REF_ANCHOR, 1, ANCHOR_EX "'api.example.net'"},
      {TB_REF_CASE, 1, CASE_EX "'API.EXAMPLE' was not bridged there"},
      {TB_REF_PEER_PORT, 1, PEER_80}}},
    /* '$': end-anchored there too, but the kept trailing dot matters */
    {"db\\.internal$",
     "p:1",
     NULL,
     0,
     {{TB_REF_CASE, 1, CASE_EX "'DB.INTERNAL' was not bridged there"},
      {TB_REF_DOT, 1, DOT_EX "'db.internal.' was not bridged there"}}},
    /* "(?i)": caseless there too */
    {"(?i)db[.]internal$", "p:1", NULL, 0, {{TB_REF_DOT, 1, DOT_EX "'db.internal.' was not bridged there"}}},
    /* "(?-i)": case-sensitive here too (docs/upgrading.md's way to keep the reference's meaning) */
    {"(?-i)db[.]internal.*", "p:80", NULL, 0, {{0, 0, NULL}}},
    {"(?-i)db[.]internal", "p:80", NULL, 0, {{TB_REF_ANCHOR, 1, ANCHOR_EX "'db.internal.example'"}}},
    /* no letters: case cannot matter */
    {"10[.]0[.]0[.][0-9]+$", "p:1", NULL, 0, {{TB_REF_DOT, 1, DOT_EX "'10.0.0.0.' was not bridged there"}}},
    {"\\d+[.]x",
     "p:1",
     NULL,
     0,
     {{TB_REF_ANCHOR, 1, ANCHOR_EX "'0.x.example'"},
      {TB_REF_CASE, 1, CASE_EX "'0.X' was not bridged there"}}},
    {"[0-9]+", "p:1", NULL, 0, {{TB_REF_ANCHOR, 1, ANCHOR_EX "'0.example'"}}},
    /* '.*' at the end: end-anchored in effect; letters only in both cases */
    {"[a-zA-Z0-9-]+[.]Example[.]COM.*",
     "p:1",
     NULL,
     0,
     {{TB_REF_CASE, 1, CASE_EX "'A.EXAMPLE.COM' was not bridged there"}}},
    /* no difference at all */
    {"[a-zA-Z]+.*", "p:1", NULL, 0, {{0, 0, NULL}}},
    {"(?i).*[.]svc[.]example.*", "p:443", NULL, 0, {{0, 0, NULL}}},
    {"(?i)(a|b).*|x.+", "[::1]:443", NULL, 0, {{0, 0, NULL}}},
    /* ... but an end anchor in any alternative is enough for the dot */
    {"(?i)(a|b)$|x.+", "[::1]:443", NULL, 0, {{TB_REF_DOT, 1, DOT_EX "'a.' was not bridged there"}}},
    /* ports: the reference ignored them */
    {"(?i)db[.]internal.*",
     "pg:5432",
     db_ports,
     2,
     {{TB_REF_PORTS, 1,
       "the reference ignored the CONNECT port: it bridged every port of a matching host, this rule only "
       "5432,6000-6010"}}},
    /* samples: the minimum of a repetition, a negated class, a class escape */
    {"a{2,3}b?",
     "p:1",
     NULL,
     0,
     {{TB_REF_ANCHOR, 1, ANCHOR_EX "'aa.example'"}, {TB_REF_CASE, 1, CASE_EX "'AA' was not bridged there"}}},
    {"[^.]+[.]corp$",
     "p:1",
     NULL,
     0,
     {{TB_REF_CASE, 1, CASE_EX "'A.CORP' was not bridged there"},
      {TB_REF_DOT, 1, DOT_EX "'a.corp.' was not bridged there"}}},
    {"a[.]b.*", "p:1", NULL, 0, {{TB_REF_CASE, 1, CASE_EX "'A.B' was not bridged there"}}},
    {"(xy){3}[.]z",
     "p:1",
     NULL,
     0,
     {{TB_REF_ANCHOR, 1, ANCHOR_EX "'xyxyxy.z.example'"},
      {TB_REF_CASE, 1, CASE_EX "'XYXYXY.Z' was not bridged there"}}},
    /* "x*": the empty prefix matches any host there */
    {"x*", "p:1", NULL, 0, {{TB_REF_ANCHOR, 1, ANCHOR_EX "'x.example'"}, {TB_REF_CASE, 0, CASE_MAY}}},
    {"a|", "p:1", NULL, 0, {{TB_REF_ANCHOR, 1, ANCHOR_EX "'a.example'"}, {TB_REF_CASE, 0, CASE_MAY}}},
    /* not read here (lookahead, backreference): "may" for each question */
    {"(?=a)b",
     "p:1",
     NULL,
     0,
     {{TB_REF_ANCHOR, 0, ANCHOR_MAY}, {TB_REF_CASE, 0, CASE_MAY}, {TB_REF_DOT, 0, DOT_MAY}}},
    {"(a)\\1",
     "p",
     NULL,
     0,
     {{TB_REF_ANCHOR, 0, ANCHOR_MAY},
      {TB_REF_CASE, 0, CASE_MAY},
      {TB_REF_DOT, 0, DOT_MAY},
      {TB_REF_PEER_PORT, 1, PEER_80}}},
    /* a known over-report: every host matches ".*" in both, but the
     * first alternative's example cannot show it */
    {"a|.*", "p:1", NULL, 0, {{TB_REF_ANCHOR, 0, ANCHOR_MAY}, {TB_REF_CASE, 0, CASE_MAY}}},
};

static void test_rules(void **state) {
  (void)state;
  for (size_t i = 0; i < TB_NELEM(cases); i++) {
    const struct ref_case *k = &cases[i];
    struct tb_config *c = tb_config_create();
    struct tb_ref_note notes[TB_REF_KINDS];
    struct tb_rule_spec spec = {.pattern = k->pattern,
                                .peer = k->peer,
                                .origin = "here",
                                .ports = k->ports,
                                .nports = k->nports,
                                .settings = TB_SETTINGS_UNSET};
    char err[ERRLEN];
    size_t nwant = 0;
    int n;

    assert_non_null(c);
    if (tb_config_add(c, &spec, err, sizeof err) != 0) {
      fail_msg("'%s': %s", k->pattern, err);
    }
    while (k->notes[nwant].text != NULL) {
      nwant++;
    }
    n = tb_reference_rule(&c->rules[0], notes);
    for (int j = 0; j < n && (size_t)j < nwant; j++) {
      const struct want *w = &k->notes[j];
      if (notes[j].kind != w->kind || notes[j].certain != w->certain || strcmp(notes[j].text, w->text) != 0) {
        fail_msg("'%s' note %d:\n got: %s %d %s\nwant: %s %d %s", k->pattern, j,
                 tb_ref_kind_name(notes[j].kind), notes[j].certain, notes[j].text, tb_ref_kind_name(w->kind),
                 w->certain, w->text);
      }
    }
    if (n != (int)nwant) {
      fail_msg("'%s': %d notes, want %zu (first: %s)", k->pattern, n, nwant, n > 0 ? notes[0].text : "-");
    }
    tb_config_destroy(c);
  }
}

/* A pattern whose example hits PCRE2's match limit: the comparison fails,
 * it does not report "no difference". */
static void test_rule_fails(void **state) {
  struct tb_config *c = tb_config_create();
  struct tb_ref_note notes[TB_REF_KINDS];
  char err[ERRLEN];

  (void)state;
  assert_non_null(c);
  /* "(x+)+y": its example "xy" is short, and compared at once. */
  assert_int_equal(tb_config_add_rule(c, "(x+)+y", "p:1", "here", err, sizeof err), 0);
  assert_int_equal(tb_reference_rule(&c->rules[0], notes), 2);
  tb_config_destroy(c);

  /* x?{30}x{30} (written so that no repetition is over 16): its example is
   * 30 x's, which takes 2^30 steps to match, past PCRE2's limit. */
  c = tb_config_create();
  assert_non_null(c);
  assert_int_equal(tb_config_add_rule(c, "((x?){10}){3}(x{10}){3}", "p:1", "here", err, sizeof err), 0);
  assert_int_equal(tb_reference_rule(&c->rules[0], notes), -1);
  tb_config_destroy(c);
}

static void test_kind_names(void **state) {
  (void)state;
  assert_string_equal(tb_ref_kind_name(TB_REF_ANCHOR), "anchoring");
  assert_string_equal(tb_ref_kind_name(TB_REF_CASE), "case");
  assert_string_equal(tb_ref_kind_name(TB_REF_DOT), "trailing dot");
  assert_string_equal(tb_ref_kind_name(TB_REF_PEER_PORT), "peer port");
  assert_string_equal(tb_ref_kind_name(TB_REF_PORTS), "ports");
  assert_string_equal(tb_ref_kind_name(TB_REF_KINDS), "?");
}

/* Every option but --file, each once, with its argument number; values and
 * peers that look like options are not options. */
static void test_options(void **state) {
  static const char *const argv[] = {"a",           "--p",  "--file", "rules.conf",     "--pool",   "3",
                                     "--unmatched", "deny", "b",      "--idle-timeout", "--config", "x.yaml"};
  static const char *const want[] = {
      "plugin.config argument 5 ('--pool'): an option of this plugin only: the reference cannot parse it",
      "plugin.config argument 7 ('--unmatched'): an option of this plugin only: the reference cannot parse "
      "it",
      "plugin.config argument 11 ('--config'): an option of this plugin only: the reference cannot parse it",
  };
  char buf[256];
  char small[20];
  int i = 0;

  (void)state;
  for (size_t k = 0; k < TB_NELEM(want); k++) {
    assert_int_equal(tb_reference_next_option((int)TB_NELEM(argv), argv, &i, buf, sizeof buf), 1);
    assert_string_equal(buf, want[k]);
  }
  assert_int_equal(tb_reference_next_option((int)TB_NELEM(argv), argv, &i, buf, sizeof buf), 0);
  assert_int_equal(tb_reference_next_option((int)TB_NELEM(argv), argv, &i, buf, sizeof buf), 0);
  i = 0;
  assert_int_equal(tb_reference_next_option(4, argv, &i, buf, sizeof buf), 0); /* pairs and --file only */
  i = 4;
  assert_int_equal(tb_reference_next_option((int)TB_NELEM(argv), argv, &i, small, sizeof small), 1);
  assert_string_equal(small, "plugin.config argum");
  assert_int_equal(i, 6);
}

/* A rule with several peers or a template: one note (the reference takes
 * one peer, as written), and no note on the port of a peer in it; the
 * plugin.config arguments that hold them are reported as options of this
 * plugin only. */
static void test_peers(void **state) {
  static const struct {
    const char *pattern, *peer, *note;
  } rules[] = {
      {"(?i).*[.]x.*", "a:1,b",
       "several peers (failover), an option of this plugin only: the reference took one peer per rule, as "
       "written"},
      {"(?i)(.*)[.]y.*", "$1.gw:1",
       "a peer template ($1..$9 from the host), an option of this plugin only: the reference took one peer "
       "per "
       "rule, as written"},
      {"(?i)(.*)[.]z.*", "$1.gw,b:1",
       "several peers and a peer template (failover), an option of this plugin only: the reference took one "
       "peer per rule, as written"},
  };
  static const char *const argv[] = {"(?i).*[.]x.*",   "a:1,b",   "--file",       "f",
                                     "(?i)(.*)[.]y.*", "$1.gw:1", "(?i).*[.]w.*", "w:1"};
  char err[ERRLEN];
  char buf[256];
  int i = 0;

  (void)state;
  for (size_t k = 0; k < TB_NELEM(rules); k++) {
    struct tb_config *c = tb_config_create();
    struct tb_ref_note notes[TB_REF_KINDS];
    assert_non_null(c);
    assert_int_equal(tb_config_add_rule(c, rules[k].pattern, rules[k].peer, "here", err, sizeof err), 0);
    assert_int_equal(tb_reference_rule(&c->rules[0], notes), 1);
    assert_int_equal(notes[0].kind, TB_REF_PEERS);
    assert_int_equal(notes[0].certain, 1);
    assert_string_equal(notes[0].text, rules[k].note);
    tb_config_destroy(c);
  }
  assert_string_equal(tb_ref_kind_name(TB_REF_PEERS), "peers");

  assert_int_equal(tb_reference_next_option((int)TB_NELEM(argv), argv, &i, buf, sizeof buf), 1);
  assert_string_equal(buf,
                      "plugin.config argument 2 ('a:1,b'): a peer list, an option of this plugin only: the "
                      "reference takes one peer per rule");
  assert_int_equal(i, 2);
  assert_int_equal(tb_reference_next_option((int)TB_NELEM(argv), argv, &i, buf, sizeof buf), 1);
  assert_string_equal(buf, "plugin.config argument 6 ('$1.gw:1'): a peer template, an option of this plugin "
                           "only: the reference takes the peer as written");
  assert_int_equal(tb_reference_next_option((int)TB_NELEM(argv), argv, &i, buf, sizeof buf), 0);
}

/* Access control is this plugin's only: a deny rule gets the access note
 * alone (the reference could not have had it), a clients list an access
 * note after the others. */
static void test_access_notes(void **state) {
  struct tb_config *c = tb_config_create();
  struct tb_ref_note notes[TB_REF_KINDS];
  struct tb_cidr net;
  char err[ERRLEN];
  (void)state;
  assert_non_null(c);
  assert_null(tb_cidr_problem("10.0.0.0/8", 10, &net));
  const struct tb_rule_spec deny = {
      .pattern = "(?i).*[.]x.*", .origin = "here", .settings = TB_SETTINGS_UNSET, .action = TB_ACTION_DENY};
  const struct tb_rule_spec acl = {.pattern = "(?i).*[.]x.*",
                                   .peer = "p:443",
                                   .origin = "here",
                                   .settings = TB_SETTINGS_UNSET,
                                   .clients = &net,
                                   .nclients = 1};
  assert_int_equal(tb_config_add(c, &deny, err, sizeof err), 0);
  assert_int_equal(tb_config_add(c, &acl, err, sizeof err), 0);
  assert_int_equal(tb_reference_rule(&c->rules[0], notes), 1);
  assert_int_equal(notes[0].kind, TB_REF_ACCESS);
  assert_string_equal(notes[0].text, "action: deny, an option of this plugin only: the reference had no deny "
                                     "rules (a CONNECT this rule refuses went to a later rule or to Traffic "
                                     "Server there)");
  assert_int_equal(tb_reference_rule(&c->rules[1], notes), 1);
  assert_int_equal(notes[0].kind, TB_REF_ACCESS);
  assert_string_equal(
      notes[0].text,
      "a clients list, an option of this plugin only: the reference let every client use the rule");
  assert_string_equal(tb_ref_kind_name(TB_REF_ACCESS), "access");
  tb_config_destroy(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rules),   cmocka_unit_test(test_rule_fails), cmocka_unit_test(test_kind_names),
      cmocka_unit_test(test_options), cmocka_unit_test(test_peers),      cmocka_unit_test(test_access_notes),
  };
  return cmocka_run_group_tests_name("tb_reference", tests, NULL, NULL);
}
