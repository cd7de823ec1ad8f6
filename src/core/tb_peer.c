/*
 * tb_peer: parse and format a peer address.  See tb_peer.h.
 *
 * The text comes from plugin.config or a rule file, so every rejection says
 * which text was refused and why; bytes that would not print are shown as
 * \xNN so that the message itself stays one clean log line.
 */
#include "tb_peer.h"
#include "tb_text.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define QUOTE_MAX 64 /* input bytes shown in a message before "..." */
#define LABEL_MAX 63 /* RFC 1035 2.3.4 */

static int fail(char *err, size_t errlen, const char *s, size_t len, const char *what) {
  char q[TB_QUOTE_SIZE(QUOTE_MAX)];

  if (err != NULL && errlen > 0) {
    tb_text_quote(q, sizeof q, s, len, QUOTE_MAX);
    snprintf(err, errlen, "peer '%s': %s", q, what);
  }
  return -1;
}

static int is_dns_char(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
         ch == '_' || ch == '.';
}

/* Port: 1..65535 in decimal digits only (no sign, no blanks). */
static const char *parse_port(const char *p, size_t n, uint16_t *port) {
  unsigned long v = 0;

  if (n == 0) {
    return "port is empty";
  }
  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') {
      return "port must be decimal digits";
    }
    if (v <= 65535) { /* stop growing once out of range; keep checking the digits */
      v = v * 10 + (unsigned long)(p[i] - '0');
    }
  }
  if (v < 1 || v > 65535) {
    return "port must be 1-65535";
  }
  *port = (uint16_t)v;
  return NULL;
}

/* A DNS name (at most one trailing dot) or, when it has only digits and dots,
 * an IPv4 literal.  Writes the host without its trailing dot: the name goes
 * into the CONNECT URL and from there into SNI, which must not carry the dot
 * (RFC 6066 3). */
static const char *parse_name(const char *h, size_t n, char *host) {
  size_t label = 0;
  int numeric = 1;

  if (n == 0) {
    return "host is empty";
  }
  if (h[n - 1] == '.') {
    n--; /* the root label: "example.com." is the fully-qualified form */
    if (n == 0) {
      return "host is empty";
    }
  }
  if (n > TB_HOST_MAX) {
    return "host name longer than 253 bytes";
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)h[i];
    if (!is_dns_char(ch)) {
      return "host has a character not allowed in a DNS name";
    }
    if (ch == '.') {
      if (label == 0) {
        return "host has an empty label";
      }
      label = 0;
      continue;
    }
    if (ch < '0' || ch > '9') {
      numeric = 0;
    }
    if (++label > LABEL_MAX) {
      return "host has a label longer than 63 bytes";
    }
  }
  if (label == 0) {
    return "host has an empty label"; /* "name.." */
  }
  memcpy(host, h, n);
  host[n] = '\0';
  if (numeric) {
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) != 1) {
      return "host is not a valid IPv4 address";
    }
  }
  return NULL;
}

int tb_peer_parse(const char *s, size_t len, struct tb_peer *out, char *err, size_t errlen) {
  struct tb_peer p;
  const char *host;
  const char *port = NULL;
  const char *why;
  size_t hostlen;
  size_t portlen = 0;
  size_t colons = 0;

  memset(&p, 0, sizeof p);
  p.port = TB_PEER_DEFAULT_PORT;
  if (s == NULL || len == 0) {
    return fail(err, errlen, "", 0, "empty");
  }
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '\0') {
      return fail(err, errlen, s, len, "contains a NUL byte");
    }
    if (ch == ' ' || (ch >= '\t' && ch <= '\r')) {
      return fail(err, errlen, s, len, "contains whitespace");
    }
    if (ch < 0x20 || ch > 0x7e) {
      return fail(err, errlen, s, len, "contains a byte that is not printable ASCII");
    }
    colons += ch == ':';
  }

  if (s[0] == '[') {
    const char *end = memchr(s, ']', len);
    struct in6_addr a6;
    if (end == NULL) {
      return fail(err, errlen, s, len, "'[' without ']'");
    }
    host = s + 1;
    hostlen = (size_t)(end - host);
    if (hostlen == 0) {
      return fail(err, errlen, s, len, "empty IPv6 address");
    }
    if (hostlen >= INET6_ADDRSTRLEN) {
      return fail(err, errlen, s, len, "not a valid IPv6 address");
    }
    memcpy(p.host, host, hostlen);
    p.host[hostlen] = '\0';
    if (inet_pton(AF_INET6, p.host, &a6) != 1) {
      return fail(err, errlen, s, len, "not a valid IPv6 address");
    }
    p.ipv6 = true;
    if ((size_t)(end + 1 - s) < len) {
      if (end[1] != ':') {
        return fail(err, errlen, s, len, "expected ':port' after ']'");
      }
      port = end + 2;
      portlen = len - (size_t)(port - s);
    }
  } else {
    if (colons > 1) {
      return fail(err, errlen, s, len,
                  "more than one ':' (an IPv6 address must be in brackets, e.g. '[2001:db8::1]:443')");
    }
    host = s;
    hostlen = len;
    if (colons == 1) {
      const char *c = memchr(s, ':', len);
      hostlen = (size_t)(c - s);
      port = c + 1;
      portlen = len - hostlen - 1;
    }
    why = parse_name(host, hostlen, p.host);
    if (why != NULL) {
      return fail(err, errlen, s, len, why);
    }
  }

  if (port != NULL) {
    why = parse_port(port, portlen, &p.port);
    if (why != NULL) {
      return fail(err, errlen, s, len, why);
    }
    p.port_given = true;
  }
  *out = p;
  if (err != NULL && errlen > 0) {
    err[0] = '\0';
  }
  return 0;
}

int tb_peer_format(const struct tb_peer *p, char *buf, size_t buflen) {
  int n;

  if (p->ipv6) {
    n = snprintf(buf, buflen, "[%s]:%u", p->host, (unsigned)p->port);
  } else {
    n = snprintf(buf, buflen, "%s:%u", p->host, (unsigned)p->port);
  }
  if (n < 0 || (size_t)n >= buflen) {
    return -1;
  }
  return n;
}
