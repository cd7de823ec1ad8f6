/* Unit tests for tb_peer: accepted forms (and whether each named its port),
 * every rejection, formatting. */
#include "tb_test.h"

#include "tb_peer.h"

#define LABEL63 "abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789abc"
#define LABEL64 LABEL63 "d"
/* 3 * (63 + 1) + 61 = 253 */
#define NAME253                                                                                              \
  LABEL63 "." LABEL63 "." LABEL63 ".abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789a"
#define NAME254 NAME253 "b"

struct good {
  const char *in;
  const char *host;
  unsigned port;
  bool ipv6;
  const char *formatted;
};

static const struct good goods[] = {
    {"peer.example.com", "peer.example.com", 443, false, "peer.example.com:443"},
    {"peer.example.com:8443", "peer.example.com", 8443, false, "peer.example.com:8443"},
    {"Peer.Example.COM:1", "Peer.Example.COM", 1, false, "Peer.Example.COM:1"},
    {"peer.example.com.:4443", "peer.example.com", 4443, false, "peer.example.com:4443"},
    {"peer.example.com.", "peer.example.com", 443, false, "peer.example.com:443"},
    {"localhost", "localhost", 443, false, "localhost:443"},
    {"a_b-c.d-e:80", "a_b-c.d-e", 80, false, "a_b-c.d-e:80"},
    {"x", "x", 443, false, "x:443"},
    {"10.0.0.1", "10.0.0.1", 443, false, "10.0.0.1:443"},
    {"10.0.0.1:65535", "10.0.0.1", 65535, false, "10.0.0.1:65535"},
    {"127.0.0.1:0443", "127.0.0.1", 443, false, "127.0.0.1:443"},
    {"1.2.3.4.", "1.2.3.4", 443, false, "1.2.3.4:443"},
    {"1x.2.3.4", "1x.2.3.4", 443, false, "1x.2.3.4:443"},
    {"[::1]:4443", "::1", 4443, true, "[::1]:4443"},
    {"[2001:db8::1]", "2001:db8::1", 443, true, "[2001:db8::1]:443"},
    {"[::ffff:192.0.2.1]:443", "::ffff:192.0.2.1", 443, true, "[::ffff:192.0.2.1]:443"},
    {"[2001:0db8:0000:0000:0000:ff00:0042:8329]:9", "2001:0db8:0000:0000:0000:ff00:0042:8329", 9, true,
     "[2001:0db8:0000:0000:0000:ff00:0042:8329]:9"},
    {LABEL63 ".com", LABEL63 ".com", 443, false, LABEL63 ".com:443"},
    {NAME253 ":1", NAME253, 1, false, NAME253 ":1"},
    {NAME253 ".", NAME253, 443, false, NAME253 ":443"},
};

struct bad {
  const char *in;
  size_t len;      /* 0: strlen(in) */
  const char *msg; /* expected in the message */
};

static const struct bad bads[] = {
    {"", 0, "peer '': empty"},
    {"foo:99999", 0, "peer 'foo:99999': port must be 1-65535"},
    {"host:", 0, "peer 'host:': port is empty"},
    {"host:0", 0, "port must be 1-65535"},
    {"host:65536", 0, "port must be 1-65535"},
    {"host:99999999999999999999999", 0, "port must be 1-65535"},
    {"host:+80", 0, "port must be decimal digits"},
    {"host:-1", 0, "port must be decimal digits"},
    {"host:8a", 0, "port must be decimal digits"},
    {"host:0x50", 0, "port must be decimal digits"},
    {":443", 0, "peer ':443': host is empty"},
    {":", 0, "host is empty"},
    {".", 0, "host is empty"},
    {".:443", 0, "host is empty"},
    {"::1", 0, "an IPv6 address must be in brackets"},
    {"2001:db8::1:443", 0, "an IPv6 address must be in brackets"},
    {"host:443:1", 0, "more than one ':'"},
    {"[::1", 0, "'[' without ']'"},
    {"[]:443", 0, "empty IPv6 address"},
    {"[]", 0, "empty IPv6 address"},
    {"[::1]443", 0, "expected ':port' after ']'"},
    {"[::1]]", 0, "expected ':port' after ']'"},
    {"[::1]:", 0, "port is empty"},
    {"[::1]:70000", 0, "port must be 1-65535"},
    {"[zz::1]", 0, "not a valid IPv6 address"},
    {"[1.2.3.4]", 0, "not a valid IPv6 address"},
    {"[::1%eth0]", 0, "not a valid IPv6 address"},
    {"[peer.example.com]", 0, "not a valid IPv6 address"},
    {"[0000:0000:0000:0000:0000:0000:0000:0000:0001]", 0, "not a valid IPv6 address"},
    {"host name", 0, "contains whitespace"},
    {" host", 0, "contains whitespace"},
    {"host\t", 0, "peer 'host\\x09': contains whitespace"},
    {"host:443\n", 0, "contains whitespace"},
    {"ho\0st", 5, "peer 'ho\\x00st': contains a NUL byte"},
    {"h\x01st", 0, "peer 'h\\x01st': contains a byte that is not printable ASCII"},
    {"h\x7fst", 0, "not printable ASCII"},
    {"h\xc3\xa4st", 0, "peer 'h\\xc3\\xa4st': contains a byte that is not printable ASCII"},
    {"ho/st", 0, "character not allowed in a DNS name"},
    {"ho*st", 0, "character not allowed in a DNS name"},
    {"ho'st", 0, "peer 'ho\\x27st': host has a character not allowed in a DNS name"},
    {"user@host", 0, "character not allowed"},
    {"[::1]x", 0, "expected ':port' after ']'"},
    {"x[::1]", 0, "more than one ':'"},
    {".host", 0, "host has an empty label"},
    {"a..b", 0, "host has an empty label"},
    {"host..", 0, "host has an empty label"},
    {LABEL64 ".com", 0, "label longer than 63 bytes"},
    {NAME254, 0, "host name longer than 253 bytes"},
    {NAME254 ".:443", 0, "host name longer than 253 bytes"},
    {"1.2.3.256", 0, "not a valid IPv4 address"},
    {"1.2.3", 0, "not a valid IPv4 address"},
    {"1.2.3.4.5:80", 0, "not a valid IPv4 address"},
    {"01.2.3.4", 0, "not a valid IPv4 address"},
    {"1234", 0, "not a valid IPv4 address"},
    /* a long input is quoted cut short, not whole */
    {LABEL63 "." LABEL63 ":0", 0, "peer '" LABEL63 "....': port must be 1-65535"},
};

static void test_good(void **state) {
  (void)state;
  for (size_t i = 0; i < TB_NELEM(goods); i++) {
    const struct good *g = &goods[i];
    struct tb_peer p;
    struct tb_peer again;
    char err[256] = "stale";
    char buf[300];
    int n;

    if (tb_peer_parse(g->in, strlen(g->in), &p, err, sizeof err) != 0) {
      fail_msg("'%s' rejected: %s", g->in, err);
    }
    assert_string_equal(err, "");
    assert_string_equal(p.host, g->host);
    assert_int_equal(p.port, g->port);
    assert_int_equal(p.ipv6, g->ipv6);
    /* port_given: the text had ":port" (after ']' for IPv6); the reference
     * sends a peer without one to port 80 (tb_reference.h) */
    assert_int_equal(p.port_given,
                     g->in[0] == '[' ? strstr(g->in, "]:") != NULL : strchr(g->in, ':') != NULL);
    n = tb_peer_format(&p, buf, sizeof buf);
    assert_int_equal(n, (int)strlen(g->formatted));
    assert_string_equal(buf, g->formatted);
    /* what we format parses back to the same peer */
    assert_int_equal(tb_peer_parse(buf, (size_t)n, &again, err, sizeof err), 0);
    assert_string_equal(again.host, p.host);
    assert_int_equal(again.port, p.port);
    assert_int_equal(again.ipv6, p.ipv6);
    assert_true(again.port_given); /* formatted text always names the port */
  }
}

static void test_bad(void **state) {
  (void)state;
  for (size_t i = 0; i < TB_NELEM(bads); i++) {
    const struct bad *b = &bads[i];
    size_t len = b->len != 0 ? b->len : strlen(b->in);
    struct tb_peer p;
    char err[512];

    memset(&p, 0x5a, sizeof p);
    if (tb_peer_parse(b->in, len, &p, err, sizeof err) != -1) {
      fail_msg("case %zu accepted, host '%s'", i, p.host);
    }
    tb_assert_contains(err, b->msg);
    assert_int_equal(p.port, 0x5a5a); /* *out untouched on failure */
  }
}

/* The input is s[0..len): bytes after len are never part of it. */
static void test_length_bounds(void **state) {
  struct tb_peer p;
  char err[128];

  (void)state;
  assert_int_equal(tb_peer_parse("peer.example.com:4443garbage", 21, &p, err, sizeof err), 0);
  assert_string_equal(p.host, "peer.example.com");
  assert_int_equal(p.port, 4443);
  assert_int_equal(tb_peer_parse("hostX", 4, &p, err, sizeof err), 0);
  assert_string_equal(p.host, "host");
  assert_int_equal(tb_peer_parse(NULL, 0, &p, err, sizeof err), -1);
}

/* err is optional, and always NUL-terminated when it is there. */
static void test_err_buffer(void **state) {
  struct tb_peer p;
  char err[8];

  (void)state;
  assert_int_equal(tb_peer_parse("foo:99999", 9, &p, NULL, 0), -1);
  memset(err, 'x', sizeof err);
  assert_int_equal(tb_peer_parse("foo:99999", 9, &p, err, 1), -1);
  assert_int_equal(err[0], '\0');
  assert_int_equal(err[1], 'x');
  memset(err, 'x', sizeof err);
  assert_int_equal(tb_peer_parse("foo:99999", 9, &p, err, sizeof err), -1);
  assert_string_equal(err, "peer 'f");
  assert_int_equal(tb_peer_parse("foo", 3, &p, NULL, 0), 0);
}

static void test_format_bounds(void **state) {
  static const char *const ins[] = {"peer.example.com:8443", "[2001:db8::1]:1", NAME253 ":65535"};

  (void)state;
  for (size_t i = 0; i < TB_NELEM(ins); i++) {
    struct tb_peer p;
    char err[128];
    size_t want = strlen(ins[i]);

    assert_int_equal(tb_peer_parse(ins[i], want, &p, err, sizeof err), 0);
    for (size_t size = 0; size <= want + 1; size++) {
      char *buf = malloc(size > 0 ? size : 1); /* exact size: ASan sees any overrun */
      int n;

      assert_non_null(buf);
      n = tb_peer_format(&p, size > 0 ? buf : NULL, size);
      if (size <= want) {
        assert_int_equal(n, -1);
      } else {
        assert_int_equal(n, (int)want);
        assert_string_equal(buf, ins[i]);
      }
      free(buf);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good),          cmocka_unit_test(test_bad),
      cmocka_unit_test(test_length_bounds), cmocka_unit_test(test_err_buffer),
      cmocka_unit_test(test_format_bounds),
  };
  return cmocka_run_group_tests_name("tb_peer", tests, NULL, NULL);
}
