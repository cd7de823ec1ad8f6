/*
 * Unit tests for tb_resp.  Every case is fed whole, one byte per call, split
 * in two at every offset, and in three at a few offsets; each chunk is copied
 * to end right before a PROT_NONE page, so a read past what the parser was
 * given faults.  Since the parser never looks ahead, every split must give
 * the same verdict at the same byte: the header length for a good response
 * (the tunnel bytes after it untouched), the offending byte for a bad one.
 */
#include "tb_test.h"

#include "tb_resp.h"

struct rcase {
  const char *name;
  const char *in;   /* the header (for MORE: all there is) */
  size_t len;       /* 0: strlen(in) */
  const char *tail; /* bytes after a good header: tunnel data, never consumed */
  size_t taillen;   /* 0: strlen(tail) */
  int expect;       /* TB_RESP_DONE, TB_RESP_ERROR or TB_RESP_MORE */
  unsigned status;
  unsigned minor;
  const char *reason;
  size_t err_at; /* ERROR: 1-based offset of the offending byte */
  const char *err;
};

#define GOOD(n, in, tail, status, minor, reason)                                                             \
  { n, in, 0, tail, 0, TB_RESP_DONE, status, minor, reason, 0, NULL }
#define BAD(n, in, at, msg)                                                                                  \
  { n, in, 0, NULL, 0, TB_RESP_ERROR, 0, 0, NULL, at, msg }
#define BADN(n, in, len, at, msg)                                                                            \
  { n, in, len, NULL, 0, TB_RESP_ERROR, 0, 0, NULL, at, msg }
#define PARTIAL(n, in)                                                                                       \
  { n, in, 0, NULL, 0, TB_RESP_MORE, 0, 0, NULL, 0, NULL }

#define TLS_HELLO "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"
#define NOT_HTTP "not an HTTP/1.x response"

static const struct rcase cases[] = {
    GOOD("minimal", "HTTP/1.1 200 OK\r\n\r\n", TLS_HELLO, 200, 1, "OK"),
    GOOD("1.0 established", "HTTP/1.0 200 Connection established\r\n\r\n", "SSH-2.0-OpenSSH_9.2\r\n", 200, 0,
         "Connection established"),
    GOOD("bare LF", "HTTP/1.1 200 OK\n\n", "x", 200, 1, "OK"),
    GOOD("mixed line ends", "HTTP/1.1 200 OK\r\nA: b\nC: d\r\n\n", "tail", 200, 1, "OK"),
    GOOD("fields",
         "HTTP/1.1 200 OK\r\nServer: ATS/9.2.9\r\nDate: Fri, 27 Nov 2026 03:05:21 GMT\r\n"
         "X-Empty:\r\nX-Tab:\tv\t\r\nX-Obs: caf\xc3\xa9\r\nX-Colons: a:b::c\r\n\r\n",
         "HTTP/1.1 200 OK\r\n\r\n", 200, 1, "OK"),
    GOOD("token names", "HTTP/1.1 200 OK\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n", "\r\n", 200, 1, "OK"),
    GOOD("no reason", "HTTP/1.1 200\r\n\r\n", "t", 200, 1, ""),
    GOOD("no reason, LF", "HTTP/1.1 204\n\n", "t", 204, 1, ""),
    GOOD("empty reason", "HTTP/1.1 200 \r\n\r\n", "t", 200, 1, ""),
    GOOD("reason with HTAB", "HTTP/1.1 502 Bad\tGateway\r\n\r\n", "", 502, 1, "Bad Gateway"),
    GOOD("reason obs-text", "HTTP/1.1 403 Verboten \xc3\xa4\xff\x80\r\n\r\n", "z", 403, 1, "Verboten ????"),
    GOOD("reason punctuation", "HTTP/1.1 404 Not: Found (really)  \r\n\r\n", "z", 404, 1,
         "Not: Found (really)  "),
    GOOD("status 100", "HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n", 100, 1, "Continue"),
    GOOD("status 599", "HTTP/1.1 599 Edge\r\n\r\n", "", 599, 1, "Edge"),
    GOOD("minor 9", "HTTP/1.9 200 OK\r\n\r\n", "", 200, 9, "OK"),
    GOOD("body after header", "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 5\r\n\r\n",
         "hello", 407, 1, "Proxy Authentication Required"),

    BAD("request, not response", "GET / HTTP/1.1\r\n\r\n", 1, NOT_HTTP),
    BAD("leading space", " HTTP/1.1 200 OK\r\n\r\n", 1, NOT_HTTP),
    BAD("leading CRLF", "\r\nHTTP/1.1 200 OK\r\n\r\n", 1, NOT_HTTP),
    BAD("TLS alert", "\x15\x03\x03\x00\x02\x02\x28", 1, NOT_HTTP),
    BAD("lowercase", "http/1.1 200 OK\r\n\r\n", 1, NOT_HTTP),
    BAD("HTTQ", "HTTQ/1.1 200 OK\r\n\r\n", 4, NOT_HTTP),
    BAD("HTTP/2", "HTTP/2 200 OK\r\n\r\n", 6, NOT_HTTP),
    BAD("HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", 6, NOT_HTTP),
    BAD("HTTP/1,1", "HTTP/1,1 200 OK\r\n\r\n", 7, NOT_HTTP),
    BAD("no minor", "HTTP/1. 200 OK\r\n\r\n", 8, "bad HTTP version"),
    BAD("minor x", "HTTP/1.x 200 OK\r\n\r\n", 8, "bad HTTP version"),
    BAD("two-digit minor", "HTTP/1.10 200 OK\r\n\r\n", 9, "bad HTTP version"),
    BAD("HTAB after version", "HTTP/1.1\t200 OK\r\n\r\n", 9, "bad HTTP version"),
    BAD("version then CRLF", "HTTP/1.1\r\n\r\n", 9, "bad HTTP version"),
    BAD("two spaces", "HTTP/1.1  200 OK\r\n\r\n", 10, "status code must be 3 digits"),
    BAD("status 099", "HTTP/1.1 099 Low\r\n\r\n", 10, "status code must be 100-599"),
    BAD("status 600", "HTTP/1.1 600 High\r\n\r\n", 10, "status code must be 100-599"),
    BAD("status 2000", "HTTP/1.1 2000 OK\r\n\r\n", 13, "status code must be 3 digits"),
    BAD("status 99", "HTTP/1.1 99 OK\r\n\r\n", 10, "status code must be 100-599"),
    BAD("status 20 OK", "HTTP/1.1 20 OK\r\n\r\n", 12, "status code must be 3 digits"),
    BAD("status 20", "HTTP/1.1 20\r\n\r\n", 12, "status code must be 3 digits"),
    BAD("no status", "HTTP/1.1 \r\n\r\n", 10, "status code must be 3 digits"),
    BAD("reason for status", "HTTP/1.1 OK\r\n\r\n", 10, "status code must be 3 digits"),
    BAD("status then HTAB", "HTTP/1.1 200\tOK\r\n\r\n", 13, "bad byte after status code"),
    BAD("status then letter", "HTTP/1.1 200x\r\n\r\n", 13, "bad byte after status code"),
    BAD("bare CR in status line", "HTTP/1.1 200 OK\rX: y\r\n\r\n", 17, "CR not followed by LF"),
    BAD("CR CR LF", "HTTP/1.1 200 OK\r\r\n\r\n", 17, "CR not followed by LF"),
    BAD("CR after status", "HTTP/1.1 200\r \n\r\n", 14, "CR not followed by LF"),
    BADN("NUL in reason", "HTTP/1.1 200 O\0K\r\n\r\n", 20, 15, "control byte in reason phrase"),
    BAD("DEL in reason", "HTTP/1.1 200 OK\x7f\r\n\r\n", 16, "control byte in reason phrase"),
    BAD("ESC in reason", "HTTP/1.1 200 OK\x1b[0m\r\n\r\n", 16, "control byte in reason phrase"),
    BADN("NUL in field", "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", 27, 22, "control byte in header field"),
    BAD("SOH in field", "HTTP/1.1 200 OK\r\nX: a\x01\r\n\r\n", 22, "control byte in header field"),
    BAD("DEL in field", "HTTP/1.1 200 OK\r\nX: a\x7f\r\n\r\n", 22, "control byte in header field"),
    BAD("bare CR in field", "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", 23, "CR not followed by LF"),
    BAD("obs-fold SP", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", 24, "obsolete line folding"),
    BAD("obs-fold HTAB", "HTTP/1.1 200 OK\r\nX: a\r\n\tb\r\n\r\n", 24, "obsolete line folding"),
    BAD("space before first field", "HTTP/1.1 200 OK\r\n X: a\r\n\r\n", 18, "obsolete line folding"),
    BAD("field without colon", "HTTP/1.1 200 OK\r\nFoo\r\n\r\n", 21, "header field line without ':'"),
    BAD("field without colon, LF", "HTTP/1.1 200 OK\nFoo\n\n", 20, "header field line without ':'"),
    BAD("empty field name", "HTTP/1.1 200 OK\r\n: x\r\n\r\n", 18, "empty header field name"),
    BAD("space before colon", "HTTP/1.1 200 OK\r\nFoo : x\r\n\r\n", 21, "whitespace before ':'"),
    BAD("paren in name", "HTTP/1.1 200 OK\r\nF(o: x\r\n\r\n", 19, "bad byte in header field name"),
    BAD("paren starts name", "HTTP/1.1 200 OK\r\n(: x\r\n\r\n", 18, "bad byte in header field name"),
    BADN("NUL in name", "HTTP/1.1 200 OK\r\nF\0: x\r\n\r\n", 25, 19, "bad byte in header field name"),
    BADN("NUL starts line", "HTTP/1.1 200 OK\r\nX: a\r\n\0\r\n", 26, 24, "bad byte in header field name"),
    BAD("obs-text in name", "HTTP/1.1 200 OK\r\nF\xc3: x\r\n\r\n", 19, "bad byte in header field name"),
    BAD("obs-text starts line", "HTTP/1.1 200 OK\r\n\x80\r\n\r\n", 18, "bad byte in header field name"),
    BAD("final CR CR", "HTTP/1.1 200 OK\r\n\r\r", 19, "CR not followed by LF"),
    BAD("final CR x", "HTTP/1.1 200 OK\r\nA: b\r\n\rx", 25, "CR not followed by LF"),

    PARTIAL("one byte", "H"),
    PARTIAL("version only", "HTTP/1.1"),
    PARTIAL("status only", "HTTP/1.1 200"),
    PARTIAL("status line", "HTTP/1.1 200 OK\r\n"),
    PARTIAL("up to final CR", "HTTP/1.1 200 OK\r\nX: y\r\n\r"),
    PARTIAL("mid field", "HTTP/1.1 200 OK\r\nX: y"),
};

static struct tb_guard guard;

static int setup(void **state) {
  (void)state;
  tb_guard_init(&guard, 64 * 1024);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tb_guard_free(&guard);
  return 0;
}

static const char *result_name(int res) {
  return res == TB_RESP_DONE ? "DONE" : res == TB_RESP_MORE ? "MORE" : res == TB_RESP_ERROR ? "ERROR" : "?";
}

/* Feed data[0..len) cut at cuts[0..ncuts) (ascending, may repeat: empty
 * chunks) and check the verdict against c. */
static void feed(const struct rcase *c, const char *data, size_t len, const size_t *cuts, size_t ncuts,
                 const char *mode) {
  size_t hdrlen = c->len != 0 ? c->len : strlen(c->in);
  struct tb_resp r;
  size_t pos = 0;
  size_t at = 0;
  int res = TB_RESP_MORE;

  memset(&r, 0xa5, sizeof r);
  tb_resp_init(&r);
  for (size_t k = 0; k <= ncuts; k++) {
    size_t end = k < ncuts ? cuts[k] : len;
    size_t n = end - pos;
    const char *p = tb_guard_put(&guard, data + pos, n);
    size_t consumed = (size_t)-1;

    res = tb_resp_parse(&r, p, n, &consumed);
    if (res == TB_RESP_MORE) {
      if (consumed != n) {
        fail_msg("%s, %s: MORE consumed %zu of %zu", c->name, mode, consumed, n);
      }
      pos = end;
      continue;
    }
    if (consumed == 0 || consumed > n) {
      fail_msg("%s, %s: %s consumed %zu of %zu", c->name, mode, result_name(res), consumed, n);
    }
    at = pos + consumed;
    break;
  }
  if (res != c->expect) {
    fail_msg("%s, %s: got %s (%s), want %s", c->name, mode, result_name(res), r.error ? r.error : "-",
             result_name(c->expect));
  }
  switch (res) {
  case TB_RESP_DONE:
    if (at != hdrlen) {
      fail_msg("%s, %s: header ends at %zu, want %zu", c->name, mode, at, hdrlen);
    }
    assert_int_equal(r.total, hdrlen);
    assert_int_equal(r.status, c->status);
    assert_int_equal(r.minor, c->minor);
    assert_string_equal(r.reason, c->reason);
    assert_int_equal(r.reason_len, strlen(c->reason));
    assert_null(r.error);
    break;
  case TB_RESP_ERROR:
    if (at != c->err_at) {
      fail_msg("%s, %s: error at byte %zu, want %zu (%s)", c->name, mode, at, c->err_at, r.error);
    }
    assert_non_null(r.error);
    tb_assert_contains(r.error, c->err);
    break;
  default:
    assert_int_equal(r.total, len);
    assert_null(r.error);
    return;
  }
  /* Sticky: more input changes nothing and is not consumed. */
  {
    size_t consumed = 12345;
    const char *p = tb_guard_put(&guard, "HTTP/1.1 200 OK\r\n\r\n", 19);
    assert_int_equal(tb_resp_parse(&r, p, 19, &consumed), res);
    assert_int_equal(consumed, 0);
    assert_int_equal(tb_resp_parse(&r, p, 0, &consumed), res);
    assert_int_equal(consumed, 0);
  }
}

static void run_case(const struct rcase *c) {
  size_t hdrlen = c->len != 0 ? c->len : strlen(c->in);
  size_t taillen = c->tail == NULL ? 0 : c->taillen != 0 ? c->taillen : strlen(c->tail);
  size_t len = hdrlen + taillen;
  char *data = malloc(len + 1);
  size_t *cuts = malloc((len + 1) * sizeof *cuts);
  char mode[64];

  assert_non_null(data);
  assert_non_null(cuts);
  memcpy(data, c->in, hdrlen);
  if (taillen > 0) {
    memcpy(data + hdrlen, c->tail, taillen);
  }

  /* (a) whole */
  feed(c, data, len, NULL, 0, "whole");
  /* (b) one byte per call */
  for (size_t i = 1; i < len; i++) {
    cuts[i - 1] = i;
  }
  feed(c, data, len, cuts, len > 0 ? len - 1 : 0, "byte by byte");
  /* (c) two calls, split at every offset (empty first and last chunks too).
   * Past 4 KiB a full sweep costs seconds per case under the sanitizers
   * (each split re-parses the whole input), so long inputs are split at
   * every offset near both ends and the header limit, and at every 31st
   * offset in between. */
  for (size_t i = 0; i <= len; i++) {
    if (len > 4096 && i > 1024 && i + 1024 < len &&
        (i + 64 < TB_RESP_MAX_HEADER || i > TB_RESP_MAX_HEADER + 64) && i % 31 != 0) {
      continue;
    }
    cuts[0] = i;
    snprintf(mode, sizeof mode, "split at %zu", i);
    feed(c, data, len, cuts, 1, mode);
  }
  /* (d) three calls */
  {
    const size_t pairs[][2] = {
        {1, len - 1}, {len / 3, 2 * len / 3}, {len / 2, len / 2}, {0, len}, {hdrlen - 1, hdrlen}, {2, hdrlen},
    };
    for (size_t i = 0; i < TB_NELEM(pairs); i++) {
      if (pairs[i][0] > pairs[i][1] || pairs[i][1] > len) {
        continue;
      }
      cuts[0] = pairs[i][0];
      cuts[1] = pairs[i][1];
      snprintf(mode, sizeof mode, "split at %zu and %zu", cuts[0], cuts[1]);
      feed(c, data, len, cuts, 2, mode);
    }
  }
  free(cuts);
  free(data);
}

static void test_table(void **state) {
  (void)state;
  for (size_t i = 0; i < TB_NELEM(cases); i++) {
    run_case(&cases[i]);
  }
}

/* "HTTP/1.1 200 OK\r\n" + "X: aaa...\r\n" + end so that the whole header
 * is size bytes; eol is "\r\n" or "\n". */
static char *header_of_size(size_t size, const char *eol) {
  const char *status = "HTTP/1.1 200 OK";
  size_t el = strlen(eol);
  size_t fixed = strlen(status) + el + 3 + el + el; /* status EOL "X: " value EOL EOL */
  char *h = malloc(size + 1);
  char *p = h;

  assert_non_null(h);
  assert_true(size > fixed);
  p += sprintf(p, "%s%sX: ", status, eol);
  memset(p, 'a', size - fixed);
  p += size - fixed;
  p += sprintf(p, "%s%s", eol, eol);
  assert_int_equal((size_t)(p - h), size);
  return h;
}

static void test_limit_exact(void **state) {
  static const char *const eols[] = {"\r\n", "\n"};

  (void)state;
  for (size_t i = 0; i < TB_NELEM(eols); i++) {
    char *h = header_of_size(TB_RESP_MAX_HEADER, eols[i]);
    struct rcase c = GOOD("header of exactly 16384 bytes", h, "TUNNEL", 200, 1, "OK");
    run_case(&c);
    free(h);
  }
}

static void test_limit_plus_one(void **state) {
  static const char *const eols[] = {"\r\n", "\n"};

  (void)state;
  for (size_t i = 0; i < TB_NELEM(eols); i++) {
    char *h = header_of_size(TB_RESP_MAX_HEADER + 1, eols[i]);
    struct rcase c = BAD("header of 16385 bytes", h, TB_RESP_MAX_HEADER + 1, "exceeds 16384 bytes");
    run_case(&c);
    free(h);
  }
}

/* A peer that never ends its header is cut off by byte 16385, whatever
 * the header is made of. */
static void test_endless(void **state) {
  const size_t len = TB_RESP_MAX_HEADER + 200;
  char *buf = malloc(len + 1);
  struct {
    const char *name;
    const char *prefix;
    const char *unit;
  } kinds[] = {
      {"endless field", "HTTP/1.1 200 OK\r\nX: ", "a"},
      {"endless reason", "HTTP/1.1 200 ", "R"},
      {"endless field lines", "HTTP/1.1 200 OK\r\n", "A: b\r\n"},
      {"endless LF field lines", "HTTP/1.1 200 OK\n", "Long-Name: x\n"},
  };

  (void)state;
  assert_non_null(buf);
  for (size_t i = 0; i < TB_NELEM(kinds); i++) {
    size_t pl = strlen(kinds[i].prefix);
    size_t ul = strlen(kinds[i].unit);
    struct rcase c = BAD(kinds[i].name, buf, TB_RESP_MAX_HEADER + 1, "exceeds 16384 bytes");

    memcpy(buf, kinds[i].prefix, pl);
    for (size_t o = pl; o < len; o++) {
      buf[o] = kinds[i].unit[(o - pl) % ul];
    }
    buf[len] = '\0';
    run_case(&c);
  }
  free(buf);
}

static void test_long_reason(void **state) {
  char in[512];
  char want[TB_RESP_REASON_MAX + 1];

  (void)state;
  memset(want, 'r', TB_RESP_REASON_MAX);
  want[TB_RESP_REASON_MAX] = '\0';
  for (size_t rl = TB_RESP_REASON_MAX; rl <= TB_RESP_REASON_MAX + 200; rl += 100) {
    struct rcase c = GOOD("long reason", in, "\x16\x03", 502, 1, want);
    size_t n = strlen("HTTP/1.1 502 ");

    memcpy(in, "HTTP/1.1 502 ", n);
    memset(in + n, 'r', rl);
    memcpy(in + n + rl, "\r\nA: b\r\n\r\n", sizeof "\r\nA: b\r\n\r\n");
    run_case(&c);
  }
}

/* Deterministic pseudo-random input (fixed seed: same run every time). */
static uint32_t lcg(uint32_t *seed) {
  *seed = *seed * 1103515245u + 12345u;
  return *seed >> 8;
}

struct verdict {
  int res;
  size_t at; /* header end (DONE), offending byte (ERROR), bytes fed (MORE) */
  unsigned status;
  char reason[TB_RESP_REASON_MAX + 1];
};

static struct verdict parse_chunks(const char *data, size_t len, uint32_t *seed, int random_cuts) {
  struct verdict v;
  struct tb_resp r;
  size_t pos = 0;

  memset(&v, 0, sizeof v);
  tb_resp_init(&r);
  v.res = TB_RESP_MORE;
  while (pos < len) {
    size_t n = random_cuts ? 1 + lcg(seed) % 7 : len - pos;
    size_t used = 0;
    if (n > len - pos) {
      n = len - pos;
    }
    v.res = tb_resp_parse(&r, tb_guard_put(&guard, data + pos, n), n, &used);
    pos += used;
    if (v.res != TB_RESP_MORE) {
      break;
    }
  }
  v.at = pos;
  v.status = v.res == TB_RESP_DONE ? r.status : 0;
  memcpy(v.reason, r.reason, sizeof v.reason);
  return v;
}

/* Mutated copies of good responses (bytes replaced, dropped, duplicated):
 * whatever the verdict, random chunking must reach the same one at the same
 * byte as one whole call. */
static void test_mutations(void **state) {
  static const char *const seeds[] = {
      "HTTP/1.1 200 OK\r\nServer: ATS\r\nX: a\tb\r\n\r\nTUNNEL",
      "HTTP/1.0 502 Bad Gateway\n\nxx",
      "HTTP/1.1 407 Auth\r\nProxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n",
  };
  static const char alphabet[] = "HTP/1. 0123456789:\r\n\t\x00\x7f\x80"
                                 "azAZ-";
  uint32_t seed = 20261127u;
  char buf[256];

  (void)state;
  for (int iter = 0; iter < 30000; iter++) {
    const char *src = seeds[(size_t)iter % TB_NELEM(seeds)];
    size_t len = strlen(src);
    int edits = 1 + (int)(lcg(&seed) % 3);
    struct verdict whole;
    struct verdict split;

    memcpy(buf, src, len);
    for (int e = 0; e < edits; e++) {
      size_t at = lcg(&seed) % len;
      switch (lcg(&seed) % 3) {
      case 0: /* replace */
        buf[at] = alphabet[lcg(&seed) % (sizeof alphabet - 1)];
        break;
      case 1: /* drop */
        memmove(buf + at, buf + at + 1, len - at - 1);
        len--;
        break;
      default: /* duplicate */
        if (len + 1 < sizeof buf) {
          memmove(buf + at + 1, buf + at, len - at);
          len++;
        }
        break;
      }
    }
    whole = parse_chunks(buf, len, &seed, 0);
    split = parse_chunks(buf, len, &seed, 1);
    if (whole.res != split.res || whole.at != split.at || whole.status != split.status ||
        strcmp(whole.reason, split.reason) != 0) {
      fail_msg("iteration %d: whole %d at %zu, split %d at %zu", iter, whole.res, whole.at, split.res,
               split.at);
    }
    if (whole.res == TB_RESP_DONE) {
      assert_true(whole.status >= 100 && whole.status <= 599);
      for (const char *c = whole.reason; *c != '\0'; c++) {
        assert_true(*c >= 0x20 && *c <= 0x7e);
      }
    }
  }
}

/* A zeroed struct is the initial state; init zeroes; empty calls wait. */
static void test_init(void **state) {
  struct tb_resp r;
  size_t consumed = 99;
  static const char text[] = "HTTP/1.1 200 OK\r\n\r\n";

  (void)state;
  memset(&r, 0xff, sizeof r);
  tb_resp_init(&r);
  assert_int_equal(r.state, 0);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.total, 0);
  assert_int_equal(r.reason_len, 0);
  assert_int_equal(r.reason[0], '\0');
  assert_null(r.error);
  assert_int_equal(tb_resp_parse(&r, NULL, 0, &consumed), TB_RESP_MORE);
  assert_int_equal(consumed, 0);

  memset(&r, 0, sizeof r);
  assert_int_equal(tb_resp_parse(&r, text, sizeof text - 1, &consumed), TB_RESP_DONE);
  assert_int_equal(consumed, sizeof text - 1);
  assert_int_equal(r.status, 200);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_init),           cmocka_unit_test(test_table),
      cmocka_unit_test(test_long_reason),    cmocka_unit_test(test_limit_exact),
      cmocka_unit_test(test_limit_plus_one), cmocka_unit_test(test_endless),
      cmocka_unit_test(test_mutations),
  };
  return cmocka_run_group_tests_name("tb_resp", tests, setup, teardown);
}
