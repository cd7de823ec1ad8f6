/*
 * reply: what a tunnel writes to the client side itself, a response header:
 * its own refusal, or the peer's 2xx header handed over alone.
 *
 * A reply owns one small IOBuffer for the header (free it with
 * tb_reply_free once no VIO points into it).  Used under the tunnel's mutex.
 */
#ifndef TB_REPLY_H
#define TB_REPLY_H

#include <stdint.h>

#include "glue.h"

struct tb_reply {
  TSIOBuffer buf; /* owned; NULL when none */
  TSIOBufferReader reader;
};

/* Write our own complete response (tb_http_format_response: status, reason,
 * X-TLS-Bridge-Error: detail, no body) to ua, events to cont; WRITE_COMPLETE
 * says it is out.  Returns the VIO, or NULL when it could not be written. */
TSVIO tb_reply_refusal(struct tb_reply *r, TSVConn ua, TSCont cont, unsigned status, const char *reason,
                       const char *detail);

/* Hand the peer's answer header (the first len bytes of from, consumed here)
 * to ua alone (see reply.c for why); events to cont: the second WRITE_READY
 * means ATS has read it.  Returns the VIO, or NULL on failure. */
TSVIO tb_reply_header(struct tb_reply *r, TSVConn ua, TSCont cont, TSIOBufferReader from, int64_t len);

/* Free the buffer.  A zeroed reply is a no-op. */
void tb_reply_free(struct tb_reply *r);

#endif
