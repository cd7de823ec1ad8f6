/*
 * Unit tests for tb_rule: the port check at the edges of every range, and
 * the identity policy names both ways, with the words that are not one.
 */
#include "tb_test.h"

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
    if (tb_rule_port_ok(&r, cases[i].port) != cases[i].ok) {
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_port_ok),
      cmocka_unit_test(test_identity_names),
  };
  return cmocka_run_group_tests_name("tb_rule", tests, NULL, NULL);
}
