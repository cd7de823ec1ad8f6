/*
 * tb_peer: parses and formats the address of a peer ATS ("host", "host:port",
 * "ipv4:port", "[ipv6]:port", "[ipv6]").  A peer without a port means 443, the
 * port a TLS peer listens on (the reference wrongly defaults to 80).
 *
 * Owns nothing; struct tb_peer is a plain value.  Thread-safe (no state).
 */
#ifndef TB_PEER_H
#define TB_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TB_PEER_DEFAULT_PORT 443
#define TB_HOST_MAX 253 /* longest DNS name in text form (RFC 1035 2.3.4) */
#define TB_PEER_TEXT_MAX (TB_HOST_MAX + sizeof "[]:65535") /* bytes for any tb_peer_format text */

struct tb_peer {
  char host[TB_HOST_MAX + 1]; /* NUL-terminated; IPv6 without brackets; no trailing dot */
  uint16_t port;              /* 1..65535 */
  bool ipv6;                  /* host is an IPv6 literal: format it in brackets */
  bool port_given;            /* the text named the port (else TB_PEER_DEFAULT_PORT) */
};

/* Parse s[0..len) into *out.  Returns 0, or -1 with a message naming the text
 * and what is wrong in err (always NUL-terminated when errlen > 0). */
int tb_peer_parse(const char *s, size_t len, struct tb_peer *out, char *err, size_t errlen);

/* Write "host:port" or "[v6]:port" into buf; returns the length written
 * (excluding NUL), or -1 when it does not fit (TB_PEER_TEXT_MAX bytes always
 * do). */
int tb_peer_format(const struct tb_peer *p, char *buf, size_t buflen);

#endif
