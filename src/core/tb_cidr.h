/*
 * tb_cidr: client networks ("10.0.0.0/8", "2001:db8::/32", or one address)
 * as a rule's `clients:` list names them (docs/configuration.md), and
 * whether a client's address is in one.
 *
 * Parsing is strict: a prefix length in range, no bits set beyond it
 * ("10.0.0.1/8" is refused, not silently read as 10.0.0.0/8: the author
 * meant one of the two, and guessing wrong opens or closes the wrong
 * network), no spaces, no zone ("fe80::1%eth0").  An IPv4 client that
 * reaches a dual-stack listener shows as an IPv4-mapped IPv6 address
 * (::ffff:192.0.2.7); it is in a network when its IPv4 address is in an
 * IPv4 network of the list, or its IPv6 form in an IPv6 one.
 *
 * Owns nothing; struct tb_cidr is a plain value.  Thread-safe (no state).
 */
#ifndef TB_CIDR_H
#define TB_CIDR_H

#include <stddef.h>

struct sockaddr;

#define TB_CIDR_TEXT_MAX 64 /* bytes for any tb_cidr_format text */

struct tb_cidr {
  unsigned char v6;       /* 0: IPv4 (the first 4 bytes of addr), 1: IPv6 */
  unsigned char bits;     /* prefix length: 0..32 or 0..128 */
  unsigned char addr[16]; /* network order; every bit past `bits` is 0 */
};

/* Parse s[0..len) ("a.b.c.d", "a.b.c.d/n", "v6", "v6/n") into *out: NULL,
 * or what is wrong in a few words (a static string), *out untouched. */
const char *tb_cidr_problem(const char *s, size_t len, struct tb_cidr *out);

/* Is the address sa (AF_INET or AF_INET6; anything else: never) in network
 * c?  1 yes, 0 no. */
int tb_cidr_match(const struct tb_cidr *c, const struct sockaddr *sa);

/* Is sa in any of list[0..n)?  1 yes, 0 no (n 0: no). */
int tb_cidr_list_match(const struct tb_cidr *list, size_t n, const struct sockaddr *sa);

/* "10.0.0.0/8", "2001:db8::/32" into buf (TB_CIDR_TEXT_MAX bytes always
 * fit); returns the length, or -1 when it does not fit. */
int tb_cidr_format(const struct tb_cidr *c, char *buf, size_t buflen);

/* The address of sa as text ("192.0.2.7", "2001:db8::7"; an IPv4-mapped
 * one as its IPv4 address), "-" for anything else.  Returns buf. */
const char *tb_cidr_addr_text(const struct sockaddr *sa, char *buf, size_t buflen);

#endif
