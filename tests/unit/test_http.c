/* Unit tests for tb_http: exact bytes, filtering, and buffer bounds. */
#include "tb_test.h"

#include "tb_http.h"
#include "tb_resp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static struct tb_peer peer_of(const char *s) {
  struct tb_peer p;
  char err[256];

  if (tb_peer_parse(s, strlen(s), &p, err, sizeof err) != 0) {
    fail_msg("%s", err);
  }
  return p;
}

static const struct {
  const char *peer;
  const char *want;
} connects[] = {
    {"peer.example.com:8443",
     "CONNECT https://peer.example.com:8443 HTTP/1.1\r\nHost: peer.example.com:8443\r\n\r\n"},
    {"peer.example.com",
     "CONNECT https://peer.example.com:443 HTTP/1.1\r\nHost: peer.example.com:443\r\n\r\n"},
    {"peer.example.com.:1",
     "CONNECT https://peer.example.com:1 HTTP/1.1\r\nHost: peer.example.com:1\r\n\r\n"},
    {"10.1.2.3:4443", "CONNECT https://10.1.2.3:4443 HTTP/1.1\r\nHost: 10.1.2.3:4443\r\n\r\n"},
    {"[2001:db8::1]:4443", "CONNECT https://[2001:db8::1]:4443 HTTP/1.1\r\nHost: [2001:db8::1]:4443\r\n\r\n"},
    {"[::1]", "CONNECT https://[::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n"},
};

/* Every size below the need gives -1 and writes nothing out of bounds (each
 * buffer is malloc'd to the exact size, so ASan sees an overrun); the exact
 * need (length + NUL) and more give the message. */
static void check_sizes(const char *want, int (*fmt)(char *, size_t, const void *), const void *arg) {
  size_t need = strlen(want) + 1;

  for (size_t size = 0; size <= need + 2; size++) {
    char *buf = malloc(size > 0 ? size : 1);
    int n;

    assert_non_null(buf);
    memset(buf, 'x', size);
    n = fmt(size > 0 ? buf : NULL, size, arg);
    if (size < need) {
      assert_int_equal(n, -1);
      if (size > 0) {
        assert_int_equal(buf[0], '\0'); /* never a half message */
      }
    } else {
      assert_int_equal(n, (int)need - 1);
      assert_memory_equal(buf, want, need);
    }
    free(buf);
  }
}

static int fmt_connect(char *buf, size_t size, const void *arg) {
  return tb_http_format_connect(buf, size, arg);
}

static void test_connect(void **state) {
  (void)state;
  for (size_t i = 0; i < TB_NELEM(connects); i++) {
    struct tb_peer p = peer_of(connects[i].peer);
    check_sizes(connects[i].want, fmt_connect, &p);
  }
}

/* A hand-made peer (not from tb_peer_parse) still cannot split the request. */
static void test_connect_filters(void **state) {
  struct tb_peer p;
  char buf[512];
  int n;

  (void)state;
  memset(&p, 0, sizeof p);
  memcpy(p.host, "evil\r\nX-Injected: 1", sizeof "evil\r\nX-Injected: 1");
  p.port = 443;
  n = tb_http_format_connect(buf, sizeof buf, &p);
  assert_int_equal(n, (int)strlen(buf));
  assert_string_equal(
      buf, "CONNECT https://evil??X-Injected: 1:443 HTTP/1.1\r\nHost: evil??X-Injected: 1:443\r\n\r\n");
}

struct rcase {
  unsigned status;
  const char *reason;
  const char *body;
  const char *want;
};

#define TAIL "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
#define DETAIL(d) "\r\nX-TLS-Bridge-Error: " d TAIL

static const struct rcase responses[] = {
    {502, NULL, "no rule", "HTTP/1.1 502 Bad Gateway" DETAIL("no rule")},
    {502, "", "", "HTTP/1.1 502 Bad Gateway" TAIL},
    {502, "Peer Unreachable", NULL, "HTTP/1.1 502 Peer Unreachable" TAIL},
    {400, NULL, "bad", "HTTP/1.1 400 Bad Request" DETAIL("bad")},
    {403, NULL, "x", "HTTP/1.1 403 Forbidden" DETAIL("x")},
    {404, NULL, "x", "HTTP/1.1 404 Not Found" DETAIL("x")},
    {500, NULL, "x", "HTTP/1.1 500 Internal Server Error" DETAIL("x")},
    {503, NULL, "x", "HTTP/1.1 503 Service Unavailable" DETAIL("x")},
    {504, "", "timeout", "HTTP/1.1 504 Gateway Timeout" DETAIL("timeout")},
    {599, NULL, "x", "HTTP/1.1 599 Unknown" DETAIL("x")},
    {100, NULL, "x", "HTTP/1.1 100 Unknown" DETAIL("x")},
    {999, NULL, "x", "HTTP/1.1 999 Unknown" DETAIL("x")},
    /* reason and detail from a peer: no CR, LF, controls or obs-text get out */
    {502, "Bad\r\nSet-Cookie: a=b", "line1\nline2\r\n\t\x1b[31m\x7f\xc3\xa9",
     "HTTP/1.1 502 Bad??Set-Cookie: a=b" DETAIL("line1?line2????[31m???")},
    {403, "\t", " ", "HTTP/1.1 403 ?" DETAIL(" ")},
};

static int fmt_response(char *buf, size_t size, const void *arg) {
  const struct rcase *c = arg;
  return tb_http_format_response(buf, size, c->status, c->reason, c->body);
}

static void test_response(void **state) {
  (void)state;
  for (size_t i = 0; i < TB_NELEM(responses); i++) {
    const struct rcase *c = &responses[i];
    char buf[1024];
    struct tb_resp r;
    size_t consumed = 0;
    int n;
    const char *hdr_end;

    check_sizes(c->want, fmt_response, c);

    /* What we send parses as the response we meant, header only: no byte
     * follows it (Content-Length: 0). */
    n = tb_http_format_response(buf, sizeof buf, c->status, c->reason, c->body);
    assert_true(n > 0);
    tb_resp_init(&r);
    if (c->status <= 599) {
      hdr_end = strstr(buf, "\r\n\r\n") + 4;
      assert_int_equal(tb_resp_parse(&r, buf, (size_t)n, &consumed), TB_RESP_DONE);
      assert_int_equal(consumed, (size_t)(hdr_end - buf));
      assert_int_equal(r.status, c->status);
      assert_int_equal((size_t)n, consumed);
    }
  }
}

static void test_response_bad_status(void **state) {
  static const unsigned statuses[] = {0, 1, 99, 1000, 4040};
  char buf[256];

  (void)state;
  for (size_t i = 0; i < TB_NELEM(statuses); i++) {
    memset(buf, 'x', sizeof buf);
    assert_int_equal(tb_http_format_response(buf, sizeof buf, statuses[i], "Bad", "b"), -1);
    assert_int_equal(buf[0], '\0');
  }
}

/* Forwarded: for= (RFC 7239 section 6: an IPv6 node is bracketed and, as
 * ':' is not a token character, quoted). */
static void test_forwarded_for(void **state) {
  (void)state;
  char buf[64];
  struct sockaddr_in v4;
  struct sockaddr_in6 v6;
  memset(&v4, 0, sizeof v4);
  memset(&v6, 0, sizeof v6);
  v4.sin_family = AF_INET;
  v4.sin_port = htons(4242);
  assert_int_equal(inet_pton(AF_INET, "192.0.2.7", &v4.sin_addr), 1);
  v6.sin6_family = AF_INET6;
  assert_int_equal(inet_pton(AF_INET6, "2001:db8::7", &v6.sin6_addr), 1);

  assert_int_equal(tb_http_forwarded_for(buf, sizeof buf, (struct sockaddr *)&v4), 13);
  assert_string_equal(buf, "for=192.0.2.7");
  assert_int_equal(tb_http_forwarded_for(buf, sizeof buf, (struct sockaddr *)&v6), 19);
  assert_string_equal(buf, "for=\"[2001:db8::7]\"");
  assert_int_equal(tb_http_forwarded_for(buf, 13, (struct sockaddr *)&v4), -1); /* no room for NUL */
  assert_int_equal(tb_http_forwarded_for(buf, 14, (struct sockaddr *)&v4), 13);
  assert_int_equal(tb_http_forwarded_for(buf, sizeof buf, NULL), -1);
  struct sockaddr other;
  memset(&other, 0, sizeof other);
  other.sa_family = AF_UNIX;
  assert_int_equal(tb_http_forwarded_for(buf, sizeof buf, &other), -1);
}

/* A header value the bridge writes: controls and non-ASCII as '?', cut to
 * fit, always terminated. */
static void test_header_value(void **state) {
  char buf[16];
  (void)state;
  assert_int_equal(tb_http_header_value(buf, sizeof buf, "a\r\nSet-Cookie: x"), 15);
  assert_string_equal(buf, "a??Set-Cookie: ");
  assert_int_equal(tb_http_header_value(buf, sizeof buf, "caf\xc3\xa9"), 5);
  assert_string_equal(buf, "caf??");
  assert_int_equal(tb_http_header_value(buf, 1, "abc"), 0);
  assert_string_equal(buf, "");
  assert_int_equal(tb_http_header_value(buf, 0, "abc"), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_connect),
      cmocka_unit_test(test_forwarded_for),
      cmocka_unit_test(test_connect_filters),
      cmocka_unit_test(test_response),
      cmocka_unit_test(test_response_bad_status),
      cmocka_unit_test(test_header_value),
  };
  return cmocka_run_group_tests_name("tb_http", tests, NULL, NULL);
}
