/*
 * Unit tests for tb_capture, peer templates: the load-time check (syntax,
 * group numbers against the regex, literal text that can never make a
 * peer), substitution (a table of templates, captures and results: case,
 * groups that took no part, the port from a capture), every way a result is
 * refused (characters a capture may not bring, empty labels, bad ports, too
 * long, no capture data), and the path through the configuration: the
 * matcher's captures (tb_config_lookup_captures) to tb_config_rule_peer,
 * the lookup without captures refusing a template rule, and a template's
 * peer sharing a configured peer's entry.
 */
#include "tb_test.h"

#include "tb_capture.h"
#include "tb_config.h"
#include "tb_yaml.h"

#define ERRLEN 1024

/* ---- the check at load ------------------------------------------------- */

static void test_check(void **state) {
  static char long_tpl[600];
  static char label64[80];
  static const struct {
    const char *tpl;
    unsigned ngroups;
    const char *err; /* NULL: accepted; else the whole message */
  } cases[] = {
      {"gw.site-$2.corp:4443", 2, NULL},
      {"$1", 1, NULL},
      {"$1.$2:44$3", 3, NULL},
      {"gw:$1", 1, NULL},
      {"$1:$2", 2, NULL},
      {"10.0.$1.1", 1, NULL},
      {"[2001:db8::$1]:443", 1, NULL}, /* checked when expanded */
      {"$9.x", 12, NULL},
      {"gw.$1.$1.corp", 1, NULL}, /* a group may be used twice */
      {"gw.$0.corp", 2, "peer template 'gw.$0.corp': '$' must be followed by a group number 1-9"},
      {"gw.$", 1, "peer template 'gw.$': '$' must be followed by a group number 1-9"},
      {"gw.$x", 1, "peer template 'gw.$x': '$' must be followed by a group number 1-9"},
      {"gw.$$1", 1, "peer template 'gw.$$1': '$' must be followed by a group number 1-9"},
      {"gw.$3.corp", 2, "peer template 'gw.$3.corp': $3 names capture group 3, but the host regex has 2"},
      {"gw.$1.corp", 0,
       "peer template 'gw.$1.corp': $1 names a capture group, but the host regex has none (put the part to "
       "capture in parentheses, e.g. '(.*)[.]corp')"},
      {"gw-$1:99999", 1,
       "peer template 'gw-$1:99999': no capture can make it a valid peer: port must be 1-65535"},
      {"gw $1", 1, "peer template 'gw $1': no capture can make it a valid peer: contains whitespace"},
      {"a:b:$1", 1,
       "peer template 'a:b:$1': no capture can make it a valid peer: more than one ':' (an IPv6 address must "
       "be in brackets, e.g. '[2001:db8::1]:443')"},
      {"gw/$1", 1,
       "peer template 'gw/$1': no capture can make it a valid peer: host has a character not allowed in a "
       "DNS "
       "name"},
      {"gw.$1:", 1, "peer template 'gw.$1:': no capture can make it a valid peer: port is empty"},
  };
  char err[ERRLEN];

  (void)state;
  for (size_t i = 0; i < TB_NELEM(cases); i++) {
    memset(err, 'x', sizeof err);
    int rc = tb_template_check(cases[i].tpl, cases[i].ngroups, err, sizeof err);
    if (cases[i].err == NULL && rc != 0) {
      fail_msg("'%s' refused: %s", cases[i].tpl, err);
    }
    if (cases[i].err != NULL && (rc == 0 || strcmp(err, cases[i].err) != 0)) {
      fail_msg("'%s'\n got: %s\nwant: %s", cases[i].tpl, rc == 0 ? "(accepted)" : err, cases[i].err);
    }
  }
  /* a 63-byte label after the group: valid when the group is empty */
  memset(label64, 'x', sizeof label64);
  memcpy(label64, "$1", 2);
  label64[2 + 63] = '\0';
  assert_int_equal(tb_template_check(label64, 1, err, sizeof err), 0);
  label64[2 + 63] = 'x';
  label64[2 + 64] = '\0';
  assert_int_equal(tb_template_check(label64, 1, err, sizeof err), -1);
  tb_assert_contains(err, "host has a label longer than 63 bytes");
  /* long templates */
  memset(long_tpl, 'a', sizeof long_tpl);
  memcpy(long_tpl, "$1", 2);
  long_tpl[TB_TEMPLATE_MAX - 1] = '\0'; /* 511 bytes: read, and judged */
  assert_int_equal(tb_template_check(long_tpl, 1, err, sizeof err), -1);
  tb_assert_contains(err, "...': no capture can make it a valid peer: host name longer than 253 bytes");
  long_tpl[TB_TEMPLATE_MAX - 1] = 'a';
  long_tpl[TB_TEMPLATE_MAX] = '\0';
  assert_int_equal(tb_template_check(long_tpl, 1, err, sizeof err), -1);
  tb_assert_contains(err, "...': longer than 511 bytes");
  /* a small err buffer is still terminated */
  char small[8];
  assert_int_equal(tb_template_check("gw.$0", 1, small, sizeof small), -1);
  assert_string_equal(small, "peer te");
  assert_int_equal(tb_template_check("gw.$0", 1, NULL, 0), -1);
  assert_true(tb_template_is("a$1", 3));
  assert_false(tb_template_is("a$1", 1));
  assert_false(tb_template_is("peer:443", 8));
}

/* ---- substitution ------------------------------------------------------ */

/* Captures of '(.*)[.]site-(a|b)[.]corp' on "db.site-b.corp": $1 "db", $2 "b". */
static struct tb_captures site_caps(void) {
  struct tb_captures c;
  memset(&c, 0, sizeof c);
  c.n = 3;
  c.start[0] = 0;
  c.end[0] = 14;
  c.start[1] = 0;
  c.end[1] = 2;
  c.start[2] = 8;
  c.end[2] = 9;
  return c;
}

static void test_expand(void **state) {
  static const struct {
    const char *tpl;
    const char *host; /* 14 bytes, the shape of "db.site-b.corp" */
    const char *peer; /* formatted; NULL: refused */
    const char *err;  /* the whole message when refused */
  } cases[] = {
      {"gw.site-$2.corp:4443", "db.site-b.corp", "gw.site-b.corp:4443", NULL},
      {"gw.site-$2.corp:4443", "DB.SITE-B.CORP", "gw.site-b.corp:4443", NULL}, /* lower-cased */
      {"$1-$2.gw", "Ab.site-a.corp", "ab-a.gw:443", NULL},
      {"$2$1$2", "db.site-b.corp", "bdbb:443", NULL},
      {"gw:44$2", "db.site-4.corp", "gw:444", NULL}, /* a port from a capture */
      {"gw:$1", "80.site-4.corp", "gw:80", NULL},
      {"gw:$1", "00.site-4.corp", NULL, "peer template 'gw:$1' gave 'gw:00': port must be 1-65535"},
      {"$1", "10.site-b.corp", NULL, "peer template '$1' gave '10': host is not a valid IPv4 address"},
      {"$1", "1a.site-b.corp", "1a:443", NULL},
      {"gw.$1.corp", "a_.site-b.corp", "gw.a_.corp:443", NULL},
      {"gw.$1.corp", "a:.site-b.corp", NULL,
       "peer template 'gw.$1.corp': capture $1 is 'a:': only letters, digits, '-', '_' and '.' may come from "
       "the host"},
      {"gw.$1.corp", "a\x01.site-b.corp", NULL,
       "peer template 'gw.$1.corp': capture $1 is 'a\\x01': only letters, digits, '-', '_' and '.' may come "
       "from the host"},
      {"gw.$1.corp", "..site-b.corp", NULL,
       "peer template 'gw.$1.corp' gave 'gw...corp': host has an empty label"},
      {"$1.corp", "-a.site-b.corp", "-a.corp:443", NULL}, /* as a configured peer: tb_peer's rules */
  };
  char err[ERRLEN];
  char text[TB_PEER_TEXT_MAX];
  struct tb_peer p;

  (void)state;
  for (size_t i = 0; i < TB_NELEM(cases); i++) {
    struct tb_captures c = site_caps();
    size_t len = strlen(cases[i].host);
    if (len != 14) {
      /* the same shape: $1 before ".site-", $2 the letter after it */
      c.end[0] = len;
      c.end[1] = len - 12;
      c.start[2] = len - 6;
      c.end[2] = len - 5;
    }
    memset(err, 'x', sizeof err);
    int rc = tb_template_expand(cases[i].tpl, cases[i].host, len, &c, &p, err, sizeof err);
    if (cases[i].peer != NULL) {
      if (rc != 0) {
        fail_msg("'%s' on '%s' refused: %s", cases[i].tpl, cases[i].host, err);
      }
      assert_true(tb_peer_format(&p, text, sizeof text) > 0);
      assert_string_equal(text, cases[i].peer);
      assert_string_equal(err, "");
    } else if (rc == 0 || strcmp(err, cases[i].err) != 0) {
      fail_msg("'%s' on '%s'\n got: %s\nwant: %s", cases[i].tpl, cases[i].host, rc == 0 ? "(accepted)" : err,
               cases[i].err);
    }
  }
}

static void test_expand_refusals(void **state) {
  struct tb_captures c = site_caps();
  char err[ERRLEN];
  char host[600];
  struct tb_peer p;

  (void)state;
  /* a group that took no part is empty, and the result is judged */
  c.start[2] = c.end[2] = TB_CAPTURE_UNSET;
  assert_int_equal(tb_template_expand("gw.$2.corp", "db.site-b.corp", 14, &c, &p, err, sizeof err), -1);
  assert_string_equal(err, "peer template 'gw.$2.corp' gave 'gw..corp': host has an empty label");
  assert_int_equal(tb_template_expand("gw$2.corp", "db.site-b.corp", 14, &c, &p, err, sizeof err), 0);
  assert_string_equal(p.host, "gw.corp");
  /* no capture data, a group the match did not give, offsets outside the host */
  assert_int_equal(tb_template_expand("gw.$1", "db", 2, NULL, &p, err, sizeof err), -1);
  assert_string_equal(err, "peer template 'gw.$1': no capture groups from the match (matched without capture "
                           "extraction)");
  c = site_caps();
  c.n = 0;
  assert_int_equal(tb_template_expand("gw.$1", "db.site-b.corp", 14, &c, &p, err, sizeof err), -1);
  c = site_caps();
  assert_int_equal(tb_template_expand("gw.$3", "db.site-b.corp", 14, &c, &p, err, sizeof err), -1);
  assert_string_equal(err, "peer template 'gw.$3': the match gave no capture group 3");
  c.end[1] = 15;
  assert_int_equal(tb_template_expand("gw.$1", "db.site-b.corp", 14, &c, &p, err, sizeof err), -1);
  assert_string_equal(err, "peer template 'gw.$1': capture group 1 lies outside the host");
  c.start[1] = 3;
  c.end[1] = 2;
  assert_int_equal(tb_template_expand("gw.$1", "db.site-b.corp", 14, &c, &p, err, sizeof err), -1);
  /* a bad '$' (the check at load refuses it; expanding does too) */
  c = site_caps();
  assert_int_equal(tb_template_expand("gw.$", "db.site-b.corp", 14, &c, &p, err, sizeof err), -1);
  assert_string_equal(err, "peer template 'gw.$': '$' must be followed by a group number 1-9");
  /* too long: a host name over 253 bytes, a text over 511 */
  memset(host, 'a', sizeof host);
  for (size_t i = 60; i < sizeof host; i += 61) {
    host[i] = '.';
  }
  c.n = 2;
  c.start[1] = 0;
  c.end[1] = 300;
  assert_int_equal(tb_template_expand("$1", host, sizeof host, &c, &p, err, sizeof err), -1);
  tb_assert_contains(err, "host name longer than 253 bytes");
  c.end[1] = 520;
  assert_int_equal(tb_template_expand("$1", host, sizeof host, &c, &p, err, sizeof err), -1);
  assert_string_equal(err, "peer template '$1': what it gives is longer than 511 bytes");
  c.end[1] = 400;
  assert_int_equal(tb_template_expand("$1$1", host, sizeof host, &c, &p, err, sizeof err), -1);
  assert_string_equal(err, "peer template '$1$1': what it gives is longer than 511 bytes");
  /* NULL err */
  assert_int_equal(tb_template_expand("$1$1", host, sizeof host, &c, &p, NULL, 0), -1);
  c.end[1] = 3;
  assert_int_equal(tb_template_expand("$1:0", host, sizeof host, &c, &p, NULL, 0), -1);
}

/* ---- through the configuration ------------------------------------------ */

static struct tb_config *yaml(const char *text) {
  struct tb_config *c = tb_config_create();
  char err[ERRLEN] = "";

  assert_non_null(c);
  if (tb_config_load_yaml_text(c, text, strlen(text), "t.yaml", NULL, err, sizeof err) != 0) {
    fail_msg("%s", err);
  }
  return c;
}

/* The peer rule r offers as number i for host, as text; or the error. */
static const char *peer_for(const struct tb_config *c, const char *host, size_t i, char *buf, size_t len) {
  const struct tb_rule *r = NULL;
  struct tb_captures caps;
  struct tb_peer p;

  assert_int_equal(tb_config_lookup_captures(c, host, strlen(host), 443, &r, &caps), 0);
  assert_non_null(r);
  if (tb_config_rule_peer(c, r, i, host, strlen(host), &caps, &p, buf, len) != 0) {
    return buf;
  }
  assert_true(tb_peer_format(&p, buf, len) > 0);
  return buf;
}

static const char site_yaml[] = "rules:\n"
                                "  - {host: 'exact[.]corp', peer: 'e:1'}\n"
                                "  - host: '(.*)[.]site-(a|b)[.]corp'\n"
                                "    name: sites\n"
                                "    peers: ['gw.site-$2.corp:4443', 'fallback.corp:4443']\n"
                                "  - host: '(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)[.]many'\n"
                                "    peer: 'x$9$1.many:1'\n"
                                "  - host: '(?:(x)|(y))[.]either'\n"
                                "    peer: 'gw$2.either:1'\n"
                                "  - host: '(.*)[.]open'\n"
                                "    peer: '$1:4443'\n"
                                "  - {host: '.*[.]corp', peer: 'gw.site-a.corp:4443'}\n";

static void test_config_path(void **state) {
  struct tb_config *c = yaml(site_yaml);
  const struct tb_rule *r = NULL;
  struct tb_captures caps;
  char buf[ERRLEN];

  (void)state;
  /* the rule and its captures */
  assert_int_equal(tb_config_lookup_captures(c, "db.site-b.corp", 14, 443, &r, &caps), 0);
  assert_ptr_equal(r, &c->rules[1]);
  assert_int_equal(r->ngroups, 2);
  assert_int_equal(r->ntemplates, 1);
  assert_int_equal(caps.n, 3);
  assert_int_equal(caps.start[1], 0);
  assert_int_equal(caps.end[1], 2);
  assert_int_equal(caps.start[2], 8);
  assert_string_equal(peer_for(c, "db.site-b.corp", 0, buf, sizeof buf), "gw.site-b.corp:4443");
  assert_string_equal(peer_for(c, "DB.Site-A.Corp.", 0, buf, sizeof buf), "gw.site-a.corp:4443");
  assert_string_equal(peer_for(c, "db.site-a.corp", 1, buf, sizeof buf), "fallback.corp:4443");
  /* more groups than $9: the first nine are there */
  assert_string_equal(peer_for(c, "abcdefghijkl.many", 0, buf, sizeof buf), "xia.many:1");
  assert_int_equal(tb_config_lookup_captures(c, "abcdefghijkl.many", 17, 443, &r, &caps), 0);
  assert_int_equal(caps.n, TB_CAPTURE_MAX + 1);
  /* a group that took no part */
  assert_string_equal(peer_for(c, "y.either", 0, buf, sizeof buf), "gwy.either:1");
  assert_string_equal(peer_for(c, "x.either", 0, buf, sizeof buf), "gw.either:1");
  /* a host whose capture makes no valid peer: refused, naming the rule */
  assert_string_equal(
      peer_for(c, "a..b.open", 0, buf, sizeof buf),
      "rule 5 \"t.yaml:10\": peer template '$1:4443' gave 'a..b:4443': host has an empty label");
  assert_string_equal(peer_for(c, "10.0.0.1.open", 0, buf, sizeof buf), "10.0.0.1:4443");
  /* rules the index answers: no captures */
  assert_int_equal(tb_config_lookup_captures(c, "exact.corp", 10, 443, &r, &caps), 0);
  assert_ptr_equal(r, &c->rules[0]);
  assert_int_equal(caps.n, 0);
  assert_string_equal(peer_for(c, "other.corp", 0, buf, sizeof buf), "gw.site-a.corp:4443");
  assert_int_equal(tb_config_lookup_captures(c, "nothing.here", 12, 443, &r, &caps), 0);
  assert_null(r);
  assert_int_equal(caps.n, 0);
  assert_int_equal(tb_config_lookup_captures(NULL, "x", 1, 443, &r, &caps), 0);
  assert_null(r);

  /* without captures a template rule cannot be served: refused, not guessed */
  assert_int_equal(tb_config_lookup_port(c, "db.site-b.corp", 14, 443, &r), -1);
  assert_null(r);
  assert_null(tb_config_match(c, "db.site-b.corp", 14));
  assert_int_equal(tb_config_lookup_port(c, "exact.corp", 10, 443, &r), 0);
  assert_ptr_equal(r, &c->rules[0]);
  /* and a caller that has none gets an error, not a peer */
  struct tb_peer p;
  assert_int_equal(tb_config_rule_peer(c, &c->rules[1], 0, "db.site-b.corp", 14, NULL, &p, buf, sizeof buf),
                   -1);
  assert_string_equal(buf,
                      "rule 2 \"sites\": peer template 'gw.site-$2.corp:4443': no capture groups from the "
                      "match (matched without capture extraction)");
  assert_int_equal(tb_config_rule_peer(c, &c->rules[1], 2, "db.site-b.corp", 14, NULL, &p, buf, sizeof buf),
                   -1);
  assert_string_equal(buf, "rule 2: no peer 3");

  /* a template's peer that a rule also names shares its entry (and health) */
  struct tb_peer made;
  assert_int_equal(tb_config_lookup_captures(c, "db.site-a.corp", 14, 443, &r, &caps), 0);
  assert_int_equal(tb_config_rule_peer(c, r, 0, "db.site-a.corp", 14, &caps, &made, buf, sizeof buf), 0);
  size_t k = tb_config_find_peer(c, &made);
  assert_int_not_equal(k, SIZE_MAX);
  assert_ptr_equal(c->peers + k, c->peers + c->rules[5].peers[0].index);
  assert_int_equal(tb_config_lookup_captures(c, "db.site-b.corp", 14, 443, &r, &caps), 0);
  assert_int_equal(tb_config_rule_peer(c, r, 0, "db.site-b.corp", 14, &caps, &made, buf, sizeof buf), 0);
  assert_int_equal(tb_config_find_peer(c, &made), SIZE_MAX);
  assert_int_equal(tb_config_find_peer(NULL, &made), SIZE_MAX);
  /* the first peer as a value: zero for a template */
  assert_string_equal(c->rules[1].peer.host, "");
  assert_int_equal(c->rules[1].peer.port, 0);
  assert_null(c->rules[1].peers[1].tpl);
  assert_string_equal(c->rules[1].peers[0].tpl, "gw.site-$2.corp:4443");
  assert_int_equal(c->rules[1].peers[0].index, TB_PEER_TEMPLATE);
  tb_config_destroy(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_check),
      cmocka_unit_test(test_expand),
      cmocka_unit_test(test_expand_refusals),
      cmocka_unit_test(test_config_path),
  };
  return cmocka_run_group_tests_name("tb_capture", tests, NULL, NULL);
}
