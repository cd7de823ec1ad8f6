/* refuse: see refuse.h. */
#include "refuse.h"

#include <stdlib.h>
#include <string.h>

#include "tb_http.h"

#define REFUSAL_MAGIC 0x54425246u /* "TBRF" */

struct refusal {
  unsigned magic;
  char detail[TB_REFUSE_DETAIL_MAX]; /* the header value, already cleaned */
};

/* Add the header to the response ATS is about to send. */
static void add_header(TSHttpTxn txn, const struct refusal *r) {
  TSMBuffer bufp;
  TSMLoc hdr;
  TSMLoc f = TS_NULL_MLOC;

  if (TSHttpTxnClientRespGet(txn, &bufp, &hdr) != TS_SUCCESS) {
    TSError("[%s] refused CONNECT: no response header to add %s to", TB_TAG, TB_HTTP_ERROR_HEADER);
    return;
  }
  if (TSMimeHdrFieldCreateNamed(bufp, hdr, TB_HTTP_ERROR_HEADER, (int)strlen(TB_HTTP_ERROR_HEADER), &f) !=
          TS_SUCCESS ||
      TSMimeHdrFieldValueStringSet(bufp, hdr, f, -1, r->detail, (int)strlen(r->detail)) != TS_SUCCESS ||
      TSMimeHdrFieldAppend(bufp, hdr, f) != TS_SUCCESS) {
    TSError("[%s] refused CONNECT: cannot add %s (the refusal goes out without it)", TB_TAG,
            TB_HTTP_ERROR_HEADER);
  }
  if (f != TS_NULL_MLOC) {
    TSHandleMLocRelease(bufp, hdr, f);
  }
  TSHandleMLocRelease(bufp, TS_NULL_MLOC, hdr);
}

static int on_refusal(TSCont cont, TSEvent event, void *edata) {
  TSHttpTxn txn = (TSHttpTxn)edata;
  struct refusal *r = TSContDataGet(cont);
  char name[32];

  if (r == NULL || r->magic != REFUSAL_MAGIC) {
    TSError("[%s] refusal continuation without its data (%s)", TB_TAG,
            tb_event_name(event, name, sizeof name));
    TSHttpTxnReenable(txn, TS_EVENT_HTTP_CONTINUE);
    return 0;
  }
  switch (event) {
  case TS_EVENT_HTTP_SEND_RESPONSE_HDR:
    add_header(txn, r);
    break;
  case TS_EVENT_HTTP_TXN_CLOSE:
    /* The last event of the transaction, sent whether or not a response
     * went out (a client that left): the one place the refusal is freed. */
    r->magic = 0;
    free(r);
    TSContDataSet(cont, NULL);
    TSContDestroy(cont);
    break;
  default:
    TSError("[%s] unexpected %s on a refused CONNECT", TB_TAG, tb_event_name(event, name, sizeof name));
    break;
  }
  TSHttpTxnReenable(txn, TS_EVENT_HTTP_CONTINUE);
  return 0;
}

void tb_refuse(TSHttpTxn txn, TSHttpStatus status, const char *detail) {
  TSHttpTxnStatusSet(txn, status);
  if (detail != NULL) {
    struct refusal *r = malloc(sizeof *r);
    TSCont cont = r != NULL ? TSContCreate(on_refusal, NULL) : NULL;
    if (cont == NULL) {
      free(r);
      TSError("[%s] out of memory: a refusal goes out without its %s", TB_TAG, TB_HTTP_ERROR_HEADER);
    } else {
      r->magic = REFUSAL_MAGIC;
      (void)tb_http_header_value(r->detail, sizeof r->detail, detail);
      TSContDataSet(cont, r);
      TSHttpTxnHookAdd(txn, TS_HTTP_SEND_RESPONSE_HDR_HOOK, cont);
      TSHttpTxnHookAdd(txn, TS_HTTP_TXN_CLOSE_HOOK, cont);
    }
  }
  TSHttpTxnReenable(txn, TS_EVENT_HTTP_ERROR);
}
