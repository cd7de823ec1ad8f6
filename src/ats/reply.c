/*
 * reply: see reply.h.
 *
 * Why the peer's header is handed over alone: ATS 9.2 drops whatever sits in
 * its server buffer after that header when it switches the transaction to a
 * blind tunnel (HttpSM::setup_blind_tunnel is called without the initial
 * data for CONNECT), so tunnel bytes that came in the same read as the 2xx
 * must not reach ATS together with the header.  The header is therefore
 * written alone, by a VIO asking for one byte more than the header: the
 * PluginVC answers WRITE_READY once when it moves the header across, and
 * again only after ATS's side has read it (process_read_side wakes the
 * writer after the reader's READ_READY returned, and ATS stops reading at
 * the end of the header in that READ_READY).  On that second WRITE_READY the
 * tunnel bytes may follow.
 */
#include "reply.h"

#include "tb_http.h"

#define RESPONSE_MAX 1024

static void reset(struct tb_reply *r) {
  tb_reply_free(r);
  r->buf = TSIOBufferSizedCreate(TS_IOBUFFER_SIZE_INDEX_1K);
  r->reader = TSIOBufferReaderAlloc(r->buf);
}

TSVIO tb_reply_refusal(struct tb_reply *r, TSVConn ua, TSCont cont, unsigned status, const char *reason,
                       const char *detail) {
  char msg[RESPONSE_MAX];
  int len = tb_http_format_response(msg, sizeof msg, status, reason, detail);
  reset(r);
  if (len < 0 || TSIOBufferWrite(r->buf, msg, len) != len) {
    return NULL; /* close rather than send half */
  }
  /* Header only (see tb_http.h): written whole, then the tunnel closes. */
  return TSVConnWrite(ua, cont, r->reader, len);
}

TSVIO tb_reply_header(struct tb_reply *r, TSVConn ua, TSCont cont, TSIOBufferReader from, int64_t len) {
  reset(r);
  if (TSIOBufferCopy(r->buf, from, len, 0) != len) { /* shares blocks, no byte copy */
    return NULL;
  }
  TSIOBufferReaderConsume(from, len);
  return TSVConnWrite(ua, cont, r->reader, len + 1);
}

void tb_reply_free(struct tb_reply *r) {
  if (r->buf != NULL) {
    TSIOBufferDestroy(r->buf); /* frees the reader too */
  }
  r->buf = NULL;
  r->reader = NULL;
}
