/*
 * tb_cidr: see tb_cidr.h.
 *
 * inet_pton does the address syntax (four decimal IPv4 octets, no leading
 * zeros; no spaces, zones or trailing text); this file only splits off the
 * prefix length and checks the bits beyond it.
 */
#include "tb_cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define ADDR_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

const char *tb_cidr_problem(const char *s, size_t len, struct tb_cidr *out) {
  char text[ADDR_TEXT_MAX];
  struct tb_cidr c;
  const char *slash = memchr(s, '/', len);
  size_t alen = slash != NULL ? (size_t)(slash - s) : len;
  unsigned bits = 0;
  unsigned max;

  memset(&c, 0, sizeof c);
  if (alen == 0) {
    return "no address";
  }
  if (alen >= sizeof text || memchr(s, '\0', len) != NULL) {
    return "not an IPv4 or IPv6 address";
  }
  memcpy(text, s, alen);
  text[alen] = '\0';
  if (inet_pton(AF_INET, text, c.addr) == 1) {
    c.v6 = 0;
    max = 32;
  } else if (inet_pton(AF_INET6, text, c.addr) == 1) {
    c.v6 = 1;
    max = 128;
  } else {
    return "not an IPv4 or IPv6 address";
  }
  if (slash == NULL) {
    bits = max;
  } else {
    size_t i = alen + 1;
    if (i == len || len - i > 3) {
      return c.v6 ? "prefix length must be 0-128" : "prefix length must be 0-32";
    }
    for (; i < len; i++) {
      if (s[i] < '0' || s[i] > '9') {
        return c.v6 ? "prefix length must be 0-128" : "prefix length must be 0-32";
      }
      bits = bits * 10 + (unsigned)(s[i] - '0');
    }
    if (bits > max || (len - alen - 1 > 1 && s[alen + 1] == '0')) {
      return c.v6 ? "prefix length must be 0-128" : "prefix length must be 0-32";
    }
  }
  for (unsigned b = bits; b < max; b++) {
    if (c.addr[b / 8] & (0x80u >> (b % 8))) {
      return "address has bits set beyond the prefix length";
    }
  }
  c.bits = (unsigned char)bits;
  *out = c;
  return NULL;
}

/* Do the first `bits` bits of a and b agree? */
static int prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits) {
  unsigned whole = bits / 8;
  unsigned rest = bits % 8;

  if (memcmp(a, b, whole) != 0) {
    return 0;
  }
  if (rest == 0) {
    return 1;
  }
  unsigned char mask = (unsigned char)(0xffu << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

/* The IPv4 address of sa (a v4 address, or a v4-mapped v6 one) into v4[4]:
 * 1, or 0 when it has none. */
static int v4_of(const struct sockaddr *sa, unsigned char v4[4]) {
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)sa;
    memcpy(v4, &a->sin_addr, 4);
    return 1;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)sa;
    if (memcmp(a->sin6_addr.s6_addr, mapped, sizeof mapped) == 0) {
      memcpy(v4, a->sin6_addr.s6_addr + 12, 4);
      return 1;
    }
  }
  return 0;
}

int tb_cidr_match(const struct tb_cidr *c, const struct sockaddr *sa) {
  unsigned char v4[4];

  if (sa == NULL) {
    return 0;
  }
  if (!c->v6) {
    return v4_of(sa, v4) && prefix_equal(v4, c->addr, c->bits);
  }
  if (sa->sa_family != AF_INET6) {
    return 0;
  }
  const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)sa;
  return prefix_equal(a->sin6_addr.s6_addr, c->addr, c->bits);
}

int tb_cidr_list_match(const struct tb_cidr *list, size_t n, const struct sockaddr *sa) {
  for (size_t i = 0; i < n; i++) {
    if (tb_cidr_match(&list[i], sa)) {
      return 1;
    }
  }
  return 0;
}

int tb_cidr_format(const struct tb_cidr *c, char *buf, size_t buflen) {
  char text[ADDR_TEXT_MAX];

  if (inet_ntop(c->v6 ? AF_INET6 : AF_INET, c->addr, text, sizeof text) == NULL) {
    return -1;
  }
  int n = snprintf(buf, buflen, "%s/%u", text, (unsigned)c->bits);
  return n < 0 || (size_t)n >= buflen ? -1 : n;
}

const char *tb_cidr_addr_text(const struct sockaddr *sa, char *buf, size_t buflen) {
  unsigned char v4[4];

  if (buflen == 0) {
    return buf;
  }
  snprintf(buf, buflen, "-");
  if (sa != NULL && v4_of(sa, v4)) {
    if (inet_ntop(AF_INET, v4, buf, (socklen_t)buflen) == NULL) {
      snprintf(buf, buflen, "-");
    }
  } else if (sa != NULL && sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)sa;
    if (inet_ntop(AF_INET6, &a->sin6_addr, buf, (socklen_t)buflen) == NULL) {
      snprintf(buf, buflen, "-");
    }
  }
  return buf;
}
