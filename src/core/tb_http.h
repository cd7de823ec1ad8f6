/*
 * tb_http: builds the few HTTP messages the bridge writes itself: the
 * internal CONNECT that makes ATS open TLS to a peer, and the complete
 * responses the client gets when a tunnel cannot be set up.  Every byte of
 * untrusted text (reasons from the peer, host names) is filtered to printable
 * ASCII, so nothing the bridge writes can split a header.
 *
 * Owns nothing; thread-safe (no state).
 */
#ifndef TB_HTTP_H
#define TB_HTTP_H

#include <stddef.h>

#include "tb_peer.h"

struct sockaddr;

/* "CONNECT https://host:port HTTP/1.1\r\nHost: host:port\r\n\r\n" for the
 * internal transaction (ATS core then opens TLS to the peer).  Returns the
 * length written (excluding NUL), or -1 when buf is too small. */
int tb_http_format_connect(char *buf, size_t buflen, const struct tb_peer *peer);

#define TB_HTTP_ERROR_HEADER "X-TLS-Bridge-Error"

/* A whole response without a body: status line with reason, then
 * "X-TLS-Bridge-Error: <detail>" (omitted when detail is NULL or empty),
 * Content-Length: 0 and Connection: close.  reason and detail are copied with
 * any byte outside 0x20..0x7e replaced by '?'.  An empty or NULL reason
 * becomes a standard phrase for the status.  Returns the length written
 * (excluding NUL), or -1 when buf is too small or status is not 100..999. */
int tb_http_format_response(char *buf, size_t buflen, unsigned status, const char *reason,
                            const char *detail);

/* text as a header value the bridge writes (X-TLS-Bridge-Error): copied
 * into buf with any byte outside 0x20..0x7e replaced by '?' (as
 * tb_http_format_response does), NUL-terminated, cut to fit.  Returns the
 * length written (excluding NUL); 0 when buflen is 0. */
size_t tb_http_header_value(char *buf, size_t buflen, const char *text);

/* The value of a Forwarded header (RFC 7239) naming the client address:
 * "for=192.0.2.7" or "for=\"[2001:db8::7]\"" (an IPv6 node is quoted).
 * Returns the length written (excluding NUL), or -1 when sa is NULL, not
 * IPv4/IPv6, or buf is too small. */
int tb_http_forwarded_for(char *buf, size_t buflen, const struct sockaddr *sa);

#endif
