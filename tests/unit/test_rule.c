/*
 * Unit tests for tb_rule: the port check at the edges of every range (also
 * as a bare list), the identity policy names both ways, with the words
 * that are not one; the action names; a rule's clients list: who may use
 * it, and the list as messages show it, cut to fit.
 */
#include "tb_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tb_rule.h"

static void test_port_ok(void **state) {
  static const struct tb_port_range ranges[] = {{1, 1}, {80, 90}, {65535, 65535}};
  static const struct {
    unsigned port;
    int ok;
  } cases[] = {{0, 0},  {1, 1},  {2, 0},     {79, 0},    {80, 1},    {85, 1},
               {90, 1}, {91, 0}, {65534, 0}, {65535, 1}, {65536, 0}, {4294967295u, 0}};
  struct tb_rule r;

  (void)state;
  memset(&r, 0, sizeof r);
  r.ports = (struct tb_port_range *)ranges;
  r.nports = TB_NELEM(ranges);
  for (size_t i = 0; i < TB_NELEM(cases); i++) {
    if (tb_rule_port_ok(&r, cases[i].port) != cases[i].ok ||
        tb_port_list_ok(ranges, TB_NELEM(ranges), cases[i].port) != cases[i].ok) {
      fail_msg("port %u: want %d", cases[i].port, cases[i].ok);
    }
  }
  r.ports = NULL;
  r.nports = 0; /* no list: every port, the unknown port 0 included */
  assert_int_equal(tb_rule_port_ok(&r, 0), 1);
  assert_int_equal(tb_rule_port_ok(&r, 65535), 1);
}

static void test_identity_names(void **state) {
  static const enum tb_identity all[] = {TB_IDENTITY_KEEP, TB_IDENTITY_STRIP, TB_IDENTITY_FORWARDED};
  static const char *const bad[] = {"",       "default", "Keep",       "keep ",
                                    " strip", "forward", "forwardedx", "none"};

  (void)state;
  for (size_t i = 0; i < TB_NELEM(all); i++) {
    enum tb_identity got = TB_IDENTITY_UNSET;
    assert_int_equal(tb_identity_parse(tb_identity_name(all[i]), &got), 0);
    assert_int_equal(got, all[i]);
  }
  assert_string_equal(tb_identity_name(TB_IDENTITY_KEEP), "keep");
  assert_string_equal(tb_identity_name(TB_IDENTITY_STRIP), "strip");
  assert_string_equal(tb_identity_name(TB_IDENTITY_FORWARDED), "forwarded");
  assert_string_equal(tb_identity_name(TB_IDENTITY_UNSET), "default");
  for (size_t i = 0; i < TB_NELEM(bad); i++) {
    enum tb_identity got = TB_IDENTITY_STRIP;
    assert_int_equal(tb_identity_parse(bad[i], &got), -1);
    assert_int_equal(got, TB_IDENTITY_STRIP); /* untouched */
  }
}

/* tb_rule_format_ports: "any", lists and ranges; every buffer size
 * terminated, a cut list ending in "..." and reported. */
static void test_format_ports(void **state) {
  static const struct tb_port_range ranges[] = {{443, 443}, {8000, 8999}, {1, 1}, {65535, 65535}};
  static const char full[] = "443,8000-8999,1,65535";
  struct tb_rule r;
  char buf[64];

  (void)state;
  memset(&r, 0, sizeof r);
  assert_int_equal(tb_rule_format_ports(&r, buf, sizeof buf), 0);
  assert_string_equal(buf, "any");
  assert_int_equal(tb_rule_format_ports(&r, buf, 3), -1);
  assert_string_equal(buf, "an");
  r.ports = (struct tb_port_range *)ranges;
  r.nports = 1;
  assert_int_equal(tb_rule_format_ports(&r, buf, sizeof buf), 0);
  assert_string_equal(buf, "443");
  r.nports = TB_NELEM(ranges);
  assert_int_equal(tb_rule_format_ports(&r, buf, sizeof buf), 0);
  assert_string_equal(buf, full);
  for (size_t len = 1; len <= sizeof full; len++) {
    char *b = malloc(len); /* exact size: ASan sees an overrun */
    assert_non_null(b);
    int rc = tb_rule_format_ports(&r, b, len);
    assert_int_equal(rc, len == sizeof full ? 0 : -1);
    assert_true(strlen(b) < len);
    if (rc != 0 && len >= 4) {
      assert_string_equal(b + len - 4, "...");
      assert_memory_equal(b, full, len - 4);
    }
    free(b);
  }
  assert_int_equal(tb_rule_format_ports(&r, NULL, 0), -1);
}

static void test_clients(void **state) {
  struct tb_cidr nets[3];
  struct tb_rule r;
  struct sockaddr_in a4;
  char buf[64];
  (void)state;
  memset(&r, 0, sizeof r);
  memset(&a4, 0, sizeof a4);
  a4.sin_family = AF_INET;
  assert_int_equal(inet_pton(AF_INET, "192.0.2.9", &a4.sin_addr), 1);
  /* no list: every client */
  assert_int_equal(tb_rule_client_ok(&r, (const struct sockaddr *)&a4), 1);
  assert_int_equal(tb_rule_client_ok(&r, NULL), 1);
  assert_null(tb_cidr_problem("10.0.0.0/8", 10, &nets[0]));
  assert_null(tb_cidr_problem("192.0.2.0/24", 12, &nets[1]));
  assert_null(tb_cidr_problem("2001:db8::/32", 13, &nets[2]));
  r.clients = nets;
  r.nclients = 1;
  assert_int_equal(tb_rule_client_ok(&r, (const struct sockaddr *)&a4), 0);
  assert_int_equal(tb_rule_client_ok(&r, NULL), 0); /* a list and no address: refused */
  r.nclients = 3;
  assert_int_equal(tb_rule_client_ok(&r, (const struct sockaddr *)&a4), 1);
  assert_int_equal(tb_rule_format_clients(&r, buf, sizeof buf), 0);
  assert_string_equal(buf, "10.0.0.0/8,192.0.2.0/24,2001:db8::/32");
  assert_int_equal(tb_rule_format_clients(&r, buf, 16), -1);
  assert_string_equal(buf, "10.0.0.0/8,1...");
  assert_int_equal(tb_rule_format_clients(&r, buf, 0), -1);
  r.nclients = 0;
  assert_int_equal(tb_rule_format_clients(&r, buf, sizeof buf), 0);
  assert_string_equal(buf, "any");
  assert_string_equal(tb_action_name(TB_ACTION_BRIDGE), "bridge");
  assert_string_equal(tb_action_name(TB_ACTION_DENY), "deny");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_port_ok),
      cmocka_unit_test(test_identity_names),
      cmocka_unit_test(test_format_ports),
      cmocka_unit_test(test_clients),
  };
  return cmocka_run_group_tests_name("tb_rule", tests, NULL, NULL);
}
