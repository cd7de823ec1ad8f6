/*
 * Unit tests for tb_cidr: networks parsed (IPv4, IPv6, single addresses),
 * every refusal with its reason (no address, a zone, spaces, a prefix out
 * of range or with a leading zero, bits beyond the prefix), each input fed
 * whole and in every shorter prefix, ending right before a guard page;
 * matching IPv4, IPv6 and IPv4-mapped IPv6 clients, /0 and host networks;
 * lists; formatting and address text.
 */
#include "tb_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tb_cidr.h"

static struct tb_cidr net(const char *text) {
  struct tb_cidr c;
  const char *why = tb_cidr_problem(text, strlen(text), &c);
  if (why != NULL) {
    fail_msg("%s: %s", text, why);
  }
  return c;
}

static int in(const char *network, const char *client) {
  struct tb_cidr c = net(network);
  struct sockaddr_storage ss = tb_test_sockaddr(client);
  return tb_cidr_match(&c, (const struct sockaddr *)&ss);
}

static void test_parse_and_format(void **state) {
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"10.0.0.0/8", "10.0.0.0/8"},
      {"192.0.2.7", "192.0.2.7/32"},
      {"0.0.0.0/0", "0.0.0.0/0"},
      {"2001:db8::/32", "2001:db8::/32"},
      {"2001:DB8:0::/48", "2001:db8::/48"},
      {"::1", "::1/128"},
      {"::/0", "::/0"},
      {"::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104"},
      {"172.16.0.0/12", "172.16.0.0/12"},
      {"10.1.2.3/32", "10.1.2.3/32"},
  };
  struct tb_guard g;
  char buf[TB_CIDR_TEXT_MAX];
  (void)state;
  tb_guard_init(&g, 64);
  for (size_t i = 0; i < TB_NELEM(cases); i++) {
    struct tb_cidr c;
    const char *p = tb_guard_put(&g, cases[i].in, strlen(cases[i].in));
    const char *why = tb_cidr_problem(p, strlen(cases[i].in), &c);
    if (why != NULL) {
      fail_msg("%s: %s", cases[i].in, why);
    }
    assert_true(tb_cidr_format(&c, buf, sizeof buf) > 0);
    assert_string_equal(buf, cases[i].out);
  }
  struct tb_cidr c = net("2001:db8::/32");
  assert_int_equal(tb_cidr_format(&c, buf, 5), -1);
  tb_guard_free(&g);
}

static void test_refused(void **state) {
  static const struct {
    const char *in, *why;
  } cases[] = {
      {"", "no address"},
      {"/8", "no address"},
      {"10.0.0.1/8", "address has bits set beyond the prefix length"},
      {"2001:db8::1/32", "address has bits set beyond the prefix length"},
      {"10.0.0.0/33", "prefix length must be 0-32"},
      {"10.0.0.0/", "prefix length must be 0-32"},
      {"10.0.0.0/08", "prefix length must be 0-32"},
      {"10.0.0.0/-1", "prefix length must be 0-32"},
      {"10.0.0.0/1000", "prefix length must be 0-32"},
      {"10.0.0.0/8 ", "prefix length must be 0-32"},
      {"::/129", "prefix length must be 0-128"},
      {"10.0.0", "not an IPv4 or IPv6 address"},
      {"10.0.0.256", "not an IPv4 or IPv6 address"},
      {"010.0.0.1", "not an IPv4 or IPv6 address"},
      {" 10.0.0.1", "not an IPv4 or IPv6 address"},
      {"fe80::1%eth0", "not an IPv4 or IPv6 address"},
      {"[::1]", "not an IPv4 or IPv6 address"},
      {"lan", "not an IPv4 or IPv6 address"},
      {"10.0.0.0/8/8", "prefix length must be 0-32"},
  };
  struct tb_guard g;
  (void)state;
  tb_guard_init(&g, 64);
  for (size_t i = 0; i < TB_NELEM(cases); i++) {
    struct tb_cidr c;
    memset(&c, 0x5a, sizeof c);
    const char *p = tb_guard_put(&g, cases[i].in, strlen(cases[i].in));
    const char *why = tb_cidr_problem(p, strlen(cases[i].in), &c);
    if (why == NULL || strcmp(why, cases[i].why) != 0) {
      fail_msg("'%s': got '%s', want '%s'", cases[i].in, why ? why : "(accepted)", cases[i].why);
    }
    assert_int_equal(c.bits, 0x5a); /* untouched */
  }
  /* A NUL inside is never read as the end. */
  struct tb_cidr c;
  assert_string_equal(tb_cidr_problem("10.0.0.1\0/8", 11, &c), "not an IPv4 or IPv6 address");
  /* Every shorter prefix of a valid network: accepted or refused, never a
   * read past its end (the guard page). */
  static const char *const valid[] = {"10.0.0.0/8", "2001:db8::/32", "::ffff:10.0.0.0/104"};
  for (size_t i = 0; i < TB_NELEM(valid); i++) {
    for (size_t len = 0; len <= strlen(valid[i]); len++) {
      const char *p = tb_guard_put(&g, valid[i], len);
      (void)tb_cidr_problem(p, len, &c);
    }
  }
  tb_guard_free(&g);
}

static void test_match(void **state) {
  (void)state;
  assert_true(in("10.0.0.0/8", "10.255.1.2"));
  assert_false(in("10.0.0.0/8", "11.0.0.1"));
  assert_true(in("192.0.2.7", "192.0.2.7"));
  assert_false(in("192.0.2.7", "192.0.2.8"));
  assert_true(in("172.16.0.0/12", "172.31.255.255"));
  assert_false(in("172.16.0.0/12", "172.32.0.0"));
  assert_true(in("0.0.0.0/0", "203.0.113.9"));
  assert_false(in("0.0.0.0/0", "2001:db8::1")); /* an IPv4 network takes no IPv6 client */
  assert_true(in("2001:db8::/32", "2001:db8:ffff::1"));
  assert_false(in("2001:db8::/32", "2001:db9::1"));
  assert_true(in("::/0", "::1"));
  assert_false(in("::/0", "10.0.0.1")); /* nor an IPv6 network an IPv4 client */
  assert_true(in("2001:db8::1", "2001:db8::1"));
  assert_true(in("2001:db8::/33", "2001:db8:7fff::1"));
  assert_false(in("2001:db8::/33", "2001:db8:8000::1"));
  /* An IPv4 client on a dual-stack listener: its IPv4 address counts for
   * IPv4 networks, its IPv6 form for IPv6 ones. */
  assert_true(in("10.0.0.0/8", "::ffff:10.1.2.3"));
  assert_false(in("10.0.0.0/8", "::ffff:11.1.2.3"));
  assert_true(in("::ffff:0:0/96", "::ffff:11.1.2.3"));
  assert_false(in("10.0.0.0/8", "::10.1.2.3")); /* compatible, not mapped */
  /* anything else */
  struct tb_cidr c = net("0.0.0.0/0");
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  ss.ss_family = AF_UNIX;
  assert_false(tb_cidr_match(&c, (const struct sockaddr *)&ss));
  assert_false(tb_cidr_match(&c, NULL));
}

static void test_list_and_text(void **state) {
  struct tb_cidr list[2];
  char buf[64];
  (void)state;
  list[0] = net("10.0.0.0/8");
  list[1] = net("2001:db8::/32");
  struct sockaddr_storage a = tb_test_sockaddr("10.9.9.9"), b = tb_test_sockaddr("2001:db8::5"),
                          c = tb_test_sockaddr("192.0.2.1");
  assert_true(tb_cidr_list_match(list, 2, (const struct sockaddr *)&a));
  assert_true(tb_cidr_list_match(list, 2, (const struct sockaddr *)&b));
  assert_false(tb_cidr_list_match(list, 2, (const struct sockaddr *)&c));
  assert_false(tb_cidr_list_match(list, 0, (const struct sockaddr *)&a));
  assert_string_equal(tb_cidr_addr_text((const struct sockaddr *)&a, buf, sizeof buf), "10.9.9.9");
  assert_string_equal(tb_cidr_addr_text((const struct sockaddr *)&b, buf, sizeof buf), "2001:db8::5");
  struct sockaddr_storage m = tb_test_sockaddr("::ffff:10.1.2.3");
  assert_string_equal(tb_cidr_addr_text((const struct sockaddr *)&m, buf, sizeof buf), "10.1.2.3");
  assert_string_equal(tb_cidr_addr_text(NULL, buf, sizeof buf), "-");
  assert_string_equal(tb_cidr_addr_text((const struct sockaddr *)&b, buf, 4), "-"); /* does not fit */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_and_format),
      cmocka_unit_test(test_refused),
      cmocka_unit_test(test_match),
      cmocka_unit_test(test_list_and_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
