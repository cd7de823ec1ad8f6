/*
 * tb_resp: a restartable parser for the header of an HTTP/1.x response, fed
 * in chunks of any size (down to one byte) exactly as they arrive.  It keeps
 * its state between calls, never looks ahead, never allocates, and stops at
 * the byte that ends the header so that whatever follows (tunnel bytes) stays
 * with the caller.  Lines may end in CRLF or a bare LF (RFC 9112 2.2).
 *
 * Owns nothing.  One struct per response; not shared between threads.
 */
#ifndef TB_RESP_H
#define TB_RESP_H

#include <stddef.h>

#define TB_RESP_MAX_HEADER 16384 /* header bytes, status line included */
#define TB_RESP_REASON_MAX 127   /* longer reasons are kept truncated */

enum tb_resp_result {
  TB_RESP_ERROR = -1, /* not an HTTP/1.x response header, or too long: r->error says why */
  TB_RESP_MORE = 0,   /* all input consumed, header not complete yet */
  TB_RESP_DONE = 1,   /* header complete; *consumed counts up to its last byte */
};

struct tb_resp {
  /* Zero the whole struct to start (or call tb_resp_init). */
  unsigned state;                      /* private: where the machine is */
  unsigned count;                      /* private: bytes seen in the current token */
  unsigned status;                     /* 100..599 once the status line is read */
  unsigned minor;                      /* HTTP/1.<minor> */
  size_t total;                        /* header bytes consumed so far */
  size_t reason_len;                   /* bytes in reason (<= TB_RESP_REASON_MAX) */
  char reason[TB_RESP_REASON_MAX + 1]; /* NUL-terminated, printable ASCII only */
  const char *error;                   /* static text when TB_RESP_ERROR */
};

/* Reset *r to the initial state. */
void tb_resp_init(struct tb_resp *r);

/* Feed buf[0..len).  Sets *consumed to the number of bytes of this chunk that
 * belong to the header (== len on TB_RESP_MORE; on ERROR, up to and including
 * the offending byte).  After DONE or ERROR further calls return the same
 * result and consume nothing. */
enum tb_resp_result tb_resp_parse(struct tb_resp *r, const char *buf, size_t len, size_t *consumed);

#endif
