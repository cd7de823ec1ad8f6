/*
 * plugin: TSPluginInit, the configuration it loads once, and the global
 * READ_REQUEST_HDR hook that hands matching CONNECTs to a tunnel.
 *
 * The configuration is built before any hook is registered and never changes
 * afterwards, so the hook reads it without a lock.  A configuration error
 * stops traffic_server (TSEmergency): a bridge that quietly bridged less than
 * configured would send traffic meant for a peer somewhere else.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <ts/ts.h>

#include "tb_config.h"
#include "tunnel.h"

#define ERR_MAX 1024

static struct tb_config *g_config; /* owned; immutable once TSPluginInit returns */

/* Answer the client with ATS's own 502 and release the request handles. */
static void refuse_txn(TSHttpTxn txn, TSMBuffer bufp, TSMLoc hdr, TSMLoc url) {
  TSHttpTxnStatusSet(txn, TS_HTTP_STATUS_BAD_GATEWAY);
  TSHandleMLocRelease(bufp, hdr, url);
  TSHandleMLocRelease(bufp, TS_NULL_MLOC, hdr);
  TSHttpTxnReenable(txn, TS_EVENT_HTTP_ERROR);
}

/* Bridge this transaction if it is a client's CONNECT to a configured host. */
static void consider(TSHttpTxn txn) {
  TSMBuffer bufp;
  TSMLoc hdr;
  TSMLoc url = TS_NULL_MLOC;
  if (TSHttpTxnClientReqGet(txn, &bufp, &hdr) != TS_SUCCESS) {
    return;
  }
  int len = 0;
  const char *method = TSHttpHdrMethodGet(bufp, hdr, &len);
  if (method == NULL || len != TS_HTTP_LEN_CONNECT ||
      memcmp(method, TS_HTTP_METHOD_CONNECT, (size_t)len) != 0) {
    goto done;
  }
  if (TSHttpHdrUrlGet(bufp, hdr, &url) != TS_SUCCESS) {
    goto done;
  }
  int host_len = 0;
  const char *host = TSUrlHostGet(bufp, url, &host_len);
  if (host == NULL || host_len <= 0) {
    goto done;
  }
  const struct tb_rule *rule = NULL;
  if (tb_config_lookup(g_config, host, (size_t)host_len, &rule) != 0) {
    /* Fail closed: a host we could not match might have been a rule's. */
    TSError("[%s] matching CONNECT %.*s against the rules failed (PCRE2 limit or out of memory): refused",
            TB_TAG, host_len, host);
    refuse_txn(txn, bufp, hdr, url);
    return;
  }
  if (rule == NULL) {
    if (TSIsDebugTagSet(TB_TAG)) {
      TSDebug(TB_TAG, "CONNECT %.*s matches no rule: left to Traffic Server", host_len, host);
    }
    goto done;
  }
  int port = TSUrlPortGet(bufp, url);
  if (tb_tunnel_start(txn, rule, host, host_len, port, g_config->connect_timeout_ms) != TS_SUCCESS) {
    /* Fail closed: never let a matching CONNECT go out directly. */
    TSError("[%s] out of memory: refusing CONNECT %.*s", TB_TAG, host_len, host);
    refuse_txn(txn, bufp, hdr, url);
    return;
  }
done:
  if (url != TS_NULL_MLOC) {
    TSHandleMLocRelease(bufp, hdr, url);
  }
  TSHandleMLocRelease(bufp, TS_NULL_MLOC, hdr);
  TSHttpTxnReenable(txn, TS_EVENT_HTTP_CONTINUE);
}

static int on_request(TSCont cont, TSEvent event, void *edata) {
  (void)cont;
  TSHttpTxn txn = (TSHttpTxn)edata;
  switch (event) {
  case TS_EVENT_HTTP_READ_REQUEST_HDR:
    /* Our own internal CONNECTs to peers come through here too. */
    if (TSHttpTxnIsInternal(txn)) {
      TSHttpTxnReenable(txn, TS_EVENT_HTTP_CONTINUE);
      return 0;
    }
    consider(txn); /* re-enables txn */
    return 0;
  default:
    TSError("[%s] unexpected event %d on the request hook", TB_TAG, (int)event);
    if (txn != NULL) {
      TSHttpTxnReenable(txn, TS_EVENT_HTTP_CONTINUE);
    }
    return 0;
  }
}

void TSPluginInit(int argc, const char *argv[]) {
  char err[ERR_MAX] = "";
  TSPluginRegistrationInfo info = {TB_TAG, "tls_bridge", "tls_bridge"};
  if (TSPluginRegister(&info) != TS_SUCCESS) {
    TSEmergency("[%s] plugin registration failed", TB_TAG);
    return;
  }
  g_config = tb_config_create();
  if (g_config == NULL) {
    TSEmergency("[%s] out of memory loading the configuration", TB_TAG);
    return;
  }
  if (tb_config_load_args(g_config, argc - 1, argv + 1, TSConfigDirGet(), err, sizeof err) != 0) {
    /* TSError lands in error.log, TSEmergency in diags.log, then exits. */
    TSError("[%s] configuration error: %s", TB_TAG, err);
    TSEmergency("[%s] configuration error: %s; Traffic Server will not start with a partial bridge", TB_TAG,
                err);
    return;
  }
  if (g_config->nrules == 0) {
    TSError("[%s] configuration error: no rules (expected '<regex> <peer>' pairs or --file PATH)", TB_TAG);
    TSEmergency("[%s] configuration error: no rules (expected '<regex> <peer>' pairs or --file PATH)",
                TB_TAG);
    return;
  }
  for (size_t i = 0; i < g_config->nrules; i++) {
    char peer[TB_HOST_MAX + 16];
    const struct tb_rule *r = &g_config->rules[i];
    if (tb_peer_format(&r->peer, peer, sizeof peer) < 0) {
      snprintf(peer, sizeof peer, "%s", r->peer.host);
    }
    if (i < 20 || TSIsDebugTagSet(TB_TAG)) {
      TSDebug(TB_TAG, "rule %zu (%s): '%s' -> %s", i + 1, r->origin, r->pattern, peer);
    }
  }
  TSNote("[%s] %zu rule%s loaded, set-up timeout %u ms", TB_TAG, g_config->nrules,
         g_config->nrules == 1 ? "" : "s", g_config->connect_timeout_ms);
  TSHttpHookAdd(TS_HTTP_READ_REQUEST_HDR_HOOK, TSContCreate(on_request, NULL));
}
