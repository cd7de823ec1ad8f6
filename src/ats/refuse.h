/*
 * refuse: a CONNECT refused in the request hook, before anything was opened
 * for it: Traffic Server answers with its own error page for the status
 * (TSHttpTxnStatusSet, then TS_EVENT_HTTP_ERROR), and this adds an
 * X-TLS-Bridge-Error header saying why, in the transaction's
 * SEND_RESPONSE_HDR hook.  Used for the ingress's client ACLs and deny
 * rules and the peer role's policy.
 *
 * Why ATS's page and not an intercept of our own: ATS already builds a
 * complete, well-formed refusal (status line, Content-Length and body from
 * its templates, keep-alive handling, its access-log entry) on a path that
 * opens nothing; an intercept would cost a PluginVC pair and buffers per
 * refused CONNECT for the same bytes.  The one thing ATS's page lacks, the
 * reason, is a header added on its way out.
 *
 * Each refusal with a reason owns a small continuation (TXN_CLOSE frees it,
 * whatever happened to the response).  Thread-safe.
 */
#ifndef TB_REFUSE_H
#define TB_REFUSE_H

#include "glue.h"

#define TB_REFUSE_DETAIL_MAX 512 /* bytes of the header's value; a longer reason is cut */

/* Refuse txn with status; detail (NULL: none) becomes the value of
 * X-TLS-Bridge-Error, every byte outside 0x20..0x7e as '?'.  Re-enables
 * txn: the caller must have released its handles on the request and must
 * not touch txn afterwards.  Out of memory: the refusal goes out without
 * the header (never without the refusal). */
void tb_refuse(TSHttpTxn txn, TSHttpStatus status, const char *detail);

#endif
