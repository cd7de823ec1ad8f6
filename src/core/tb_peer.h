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

/* Parse s[0..len) into *out: NULL, or what is wrong in a few words ("port
 * must be 1-65535"), a static string, with *out untouched.  tb_peer_parse
 * is this with the text quoted in front. */
const char *tb_peer_problem(const char *s, size_t len, struct tb_peer *out);

/* Write "host:port" or "[v6]:port" into buf; returns the length written
 * (excluding NUL), or -1 when it does not fit (TB_PEER_TEXT_MAX bytes always
 * do). */
int tb_peer_format(const struct tb_peer *p, char *buf, size_t buflen);

/* Are a and b the same peer: the same port and the same host, a name
 * compared without regard to ASCII case, an IPv6 literal by its address
 * ("[2001:db8::1]" is "[2001:DB8:0::1]")?  1 yes, 0 no. */
int tb_peer_same(const struct tb_peer *a, const struct tb_peer *b);

/* A 64-bit hash of the peer, equal for peers tb_peer_same calls the same,
 * and stable: the same on every host, build and run (FNV-1a over the
 * lower-cased name or the IPv6 address bytes, then the port), so that hash
 * balancing (tb_select.h) sends a target to the same peer from every
 * ingress and across restarts. */
uint64_t tb_peer_hash(const struct tb_peer *p);

#endif
