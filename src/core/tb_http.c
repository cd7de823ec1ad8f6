/*
 * tb_http: the HTTP messages the bridge writes itself.  See tb_http.h.
 *
 * Messages are built with a small bounded appender: a message either fits
 * whole or the call returns -1; nothing is ever written past buflen.
 */
#include "tb_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct out {
  char *buf;
  size_t cap; /* bytes available, NUL included */
  size_t len;
  bool overflow;
};

static void put(struct out *o, const char *s, size_t n, bool clean) {
  if (o->overflow || o->cap == 0 || n >= o->cap - o->len) {
    o->overflow = true;
    return;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    /* Untrusted text never carries CR, LF or other controls into a header. */
    o->buf[o->len + i] = (char)(clean && (ch < 0x20 || ch > 0x7e) ? '?' : ch);
  }
  o->len += n;
  o->buf[o->len] = '\0';
}

static void put_str(struct out *o, const char *s) {
  put(o, s, strlen(s), false);
}

static void put_clean(struct out *o, const char *s) {
  put(o, s, strlen(s), true);
}

static void put_uint(struct out *o, unsigned long v) {
  char num[24];
  int n = snprintf(num, sizeof num, "%lu", v);
  if (n < 0 || (size_t)n >= sizeof num) {
    o->overflow = true;
    return;
  }
  put(o, num, (size_t)n, false);
}

static int finish(const struct out *o) {
  if (o->overflow || o->len > (size_t)0x7fffffff) {
    if (o->cap > 0) {
      o->buf[0] = '\0';
    }
    return -1;
  }
  return (int)o->len;
}

int tb_http_format_connect(char *buf, size_t buflen, const struct tb_peer *peer) {
  char hostport[TB_PEER_TEXT_MAX];
  struct out o = {buf, buflen, 0, false};

  if (tb_peer_format(peer, hostport, sizeof hostport) < 0) {
    o.overflow = true;
    return finish(&o);
  }
  /* A struct tb_peer from tb_peer_parse is clean already; filter anyway,
   * so that a hand-built one cannot split the request. */
  put_str(&o, "CONNECT https://");
  put_clean(&o, hostport);
  put_str(&o, " HTTP/1.1\r\nHost: ");
  put_clean(&o, hostport);
  put_str(&o, "\r\n\r\n");
  return finish(&o);
}

/* RFC 9110 15 reason phrases for the statuses the bridge may send. */
static const char *phrase(unsigned status) {
  switch (status) {
  case 200:
    return "OK";
  case 400:
    return "Bad Request";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 408:
    return "Request Timeout";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  default:
    return "Unknown";
  }
}

int tb_http_format_response(char *buf, size_t buflen, unsigned status, const char *reason,
                            const char *detail) {
  struct out o = {buf, buflen, 0, false};

  if (status < 100 || status > 999) { /* the status line needs exactly 3 digits */
    o.overflow = true;
    return finish(&o);
  }
  if (reason == NULL || reason[0] == '\0') {
    reason = phrase(status);
  }
  if (detail == NULL) {
    detail = "";
  }
  put_str(&o, "HTTP/1.1 ");
  put_uint(&o, status);
  put_str(&o, " ");
  put_clean(&o, reason);
  /* No body: ATS 9.2 forwards a CONNECT's non-2xx header to the client but
   * closes the server side without the body, so a body would leave the
   * client waiting for bytes that never come.  The detail goes in a header. */
  if (detail[0] != '\0') {
    put_str(&o, "\r\n" TB_HTTP_ERROR_HEADER ": ");
    put_clean(&o, detail);
  }
  put_str(&o, "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  return finish(&o);
}

int tb_http_forwarded_for(char *buf, size_t buflen, const struct sockaddr *sa) {
  char addr[INET6_ADDRSTRLEN];
  int n;
  if (sa == NULL) {
    return -1;
  }
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)sa;
    if (inet_ntop(AF_INET, &a->sin_addr, addr, sizeof addr) == NULL) {
      return -1;
    }
    n = snprintf(buf, buflen, "for=%s", addr);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)sa;
    if (inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof addr) == NULL) {
      return -1;
    }
    n = snprintf(buf, buflen, "for=\"[%s]\"", addr);
  } else {
    return -1;
  }
  return n < 0 || (size_t)n >= buflen ? -1 : n;
}

size_t tb_http_header_value(char *buf, size_t buflen, const char *text) {
  size_t n = 0;

  if (buflen == 0) {
    return 0;
  }
  for (; text[n] != '\0' && n + 1 < buflen; n++) {
    unsigned char ch = (unsigned char)text[n];
    buf[n] = (char)(ch < 0x20 || ch > 0x7e ? '?' : ch);
  }
  buf[n] = '\0';
  return n;
}
