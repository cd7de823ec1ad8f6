/*
 * plugin: TSPluginInit, the global READ_REQUEST_HDR hook that hands matching
 * CONNECTs to a tunnel, and the operator's entry points: reload on
 * `traffic_ctl config reload`, and `traffic_ctl plugin msg tls_bridge ...`.
 *
 * The configuration (live.h) is loaded before any hook is registered.  An
 * error in it at start stops traffic_server (TSEmergency): a bridge that
 * quietly bridged less than configured would send traffic meant for a peer
 * somewhere else.  An error on reload keeps the running configuration.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ts/ts.h>

#include "tb_config.h"
#include "tb_http.h"
#include "live.h"
#include "stats.h"
#include "tunnel.h"

#define ERR_MAX 1024

/* Answer the client with ATS's own error page for status and release the
 * request handles. */
static void refuse_txn(TSHttpTxn txn, TSMBuffer bufp, TSMLoc hdr, TSMLoc url, TSHttpStatus status) {
  TSHttpTxnStatusSet(txn, status);
  TSHandleMLocRelease(bufp, hdr, url);
  TSHandleMLocRelease(bufp, TS_NULL_MLOC, hdr);
  TSHttpTxnReenable(txn, TS_EVENT_HTTP_ERROR);
}

/* Remove every field called name; TS_ERROR if one could not be removed. */
static TSReturnCode remove_field(TSMBuffer bufp, TSMLoc hdr, const char *name, int len) {
  TSMLoc f;
  while ((f = TSMimeHdrFieldFind(bufp, hdr, name, len)) != TS_NULL_MLOC) {
    TSReturnCode rc = TSMimeHdrFieldDestroy(bufp, hdr, f);
    TSHandleMLocRelease(bufp, hdr, f);
    if (rc != TS_SUCCESS) {
      return TS_ERROR;
    }
  }
  return TS_SUCCESS;
}

/* Apply the rule's client_identity policy to the CONNECT that goes on to the
 * peer (the client's request as ATS forwards it).  strip and forwarded drop
 * what the client claims and stop ATS from adding its own; forwarded then
 * adds one "Forwarded: for=" with the address the ingress saw.  Returns
 * TS_ERROR when the policy could not be applied: the caller must refuse the
 * CONNECT rather than let the peer learn what the policy withholds. */
static TSReturnCode apply_identity(TSHttpTxn txn, TSMBuffer bufp, TSMLoc hdr, enum tb_identity id) {
  if (id != TB_IDENTITY_STRIP && id != TB_IDENTITY_FORWARDED) {
    return TS_SUCCESS;
  }
  if (TSHttpTxnConfigIntSet(txn, TS_CONFIG_HTTP_ANONYMIZE_INSERT_CLIENT_IP, 0) != TS_SUCCESS ||
      TSHttpTxnConfigIntSet(txn, TS_CONFIG_HTTP_INSERT_SQUID_X_FORWARDED_FOR, 0) != TS_SUCCESS ||
      TSHttpTxnConfigStringSet(txn, TS_CONFIG_HTTP_INSERT_FORWARDED, "none", 4) != TS_SUCCESS ||
      remove_field(bufp, hdr, TS_MIME_FIELD_CLIENT_IP, TS_MIME_LEN_CLIENT_IP) != TS_SUCCESS ||
      remove_field(bufp, hdr, TS_MIME_FIELD_X_FORWARDED_FOR, TS_MIME_LEN_X_FORWARDED_FOR) != TS_SUCCESS ||
      remove_field(bufp, hdr, TS_MIME_FIELD_FORWARDED, TS_MIME_LEN_FORWARDED) != TS_SUCCESS) {
    return TS_ERROR;
  }
  if (id != TB_IDENTITY_FORWARDED) {
    return TS_SUCCESS;
  }
  char value[80];
  int len = tb_http_forwarded_for(value, sizeof value, TSHttpTxnClientAddrGet(txn));
  TSMLoc f = TS_NULL_MLOC;
  if (len <= 0 || TSMimeHdrFieldCreateNamed(bufp, hdr, TS_MIME_FIELD_FORWARDED, TS_MIME_LEN_FORWARDED, &f) !=
                      TS_SUCCESS) {
    return TS_ERROR;
  }
  TSReturnCode rc = TSMimeHdrFieldValueStringSet(bufp, hdr, f, -1, value, len);
  if (rc == TS_SUCCESS) {
    rc = TSMimeHdrFieldAppend(bufp, hdr, f);
  }
  TSHandleMLocRelease(bufp, hdr, f);
  return rc;
}

/* Bridge this transaction if it is a client's CONNECT to a configured host. */
static void consider(TSHttpTxn txn) {
  TSMBuffer bufp;
  TSMLoc hdr;
  TSMLoc url = TS_NULL_MLOC;
  struct tb_live *live = NULL;
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
  int port = TSUrlPortGet(bufp, url);
  const struct tb_rule *rule = NULL;
  live = tb_live_acquire();
  const struct tb_config *config = live != NULL ? tb_live_config(live) : NULL;
  if (config == NULL || tb_config_lookup_port(config, host, (size_t)host_len,
                                              port > 0 && port < 65536 ? (unsigned)port : 0, &rule) != 0) {
    /* Fail closed: a host we could not match might have been a rule's. */
    TSError("[%s] matching CONNECT %.*s against the rules failed (PCRE2 limit or out of memory): refused",
            TB_TAG, host_len, host);
    tb_live_release(live);
    refuse_txn(txn, bufp, hdr, url, TS_HTTP_STATUS_BAD_GATEWAY);
    return;
  }
  if (rule == NULL && config->deny_unmatched) {
    /* unmatched: deny: nothing leaves this proxy except through a peer. */
    tb_stat_add(TB_STAT_CONNECT_UNMATCHED, 1);
    tb_stat_add(TB_STAT_CONNECT_DENIED, 1);
    if (TSIsDebugTagSet(TB_TAG)) {
      TSDebug(TB_TAG, "CONNECT %.*s:%d matches no rule: denied", host_len, host, port);
    }
    tb_live_release(live);
    refuse_txn(txn, bufp, hdr, url, TS_HTTP_STATUS_FORBIDDEN);
    return;
  }
  if (rule == NULL) {
    tb_stat_add(TB_STAT_CONNECT_UNMATCHED, 1);
    if (TSIsDebugTagSet(TB_TAG)) {
      TSDebug(TB_TAG, "CONNECT %.*s:%d matches no rule: left to Traffic Server", host_len, host, port);
    }
    goto done;
  }
  struct tb_settings settings;
  tb_config_settings(config, rule, &settings);
  if (apply_identity(txn, bufp, hdr, settings.identity) != TS_SUCCESS) {
    TSError("[%s] cannot apply client_identity %s to CONNECT %.*s: refused", TB_TAG,
            tb_identity_name(settings.identity), host_len, host);
    tb_live_release(live);
    refuse_txn(txn, bufp, hdr, url, TS_HTTP_STATUS_BAD_GATEWAY);
    return;
  }
  if (tb_tunnel_start(txn, live, rule, &settings, host, host_len, port, tb_live_pool(live, rule)) !=
      TS_SUCCESS) {
    /* Fail closed: never let a matching CONNECT go out directly. */
    TSError("[%s] out of memory: refusing CONNECT %.*s", TB_TAG, host_len, host);
    tb_live_release(live);
    refuse_txn(txn, bufp, hdr, url, TS_HTTP_STATUS_BAD_GATEWAY);
    return;
  }
  live = NULL; /* the tunnel's now */
done:
  tb_live_release(live);
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

/* traffic_ctl config reload (TSMgmtUpdateRegister). */
static int on_config_update(TSCont cont, TSEvent event, void *edata) {
  (void)cont;
  (void)event;
  (void)edata;
  tb_live_reload_soon("traffic_ctl config reload");
  return 0;
}

/* What a message's data holds: "reload", "match HOST:PORT", "tunnels". */
static void on_message(const char *data, size_t len) {
  while (len > 0 && (data[len - 1] == '\0' || data[len - 1] == '\n' || data[len - 1] == ' ')) {
    len--;
  }
  size_t word = 0;
  while (word < len && data[word] != ' ') {
    word++;
  }
  size_t arg = word;
  while (arg < len && data[arg] == ' ') {
    arg++;
  }
  if (word == 6 && memcmp(data, "reload", 6) == 0 && arg == len) {
    tb_live_reload("traffic_ctl plugin msg");
  } else if (word == 5 && memcmp(data, "match", 5) == 0) {
    tb_live_explain(data + arg, len - arg);
  } else if (word == 7 && memcmp(data, "tunnels", 7) == 0 && arg == len) {
    tb_tunnel_dump();
  } else {
    TSError("[%s] unknown message '%.*s': expected reload, match HOST:PORT or tunnels", TB_TAG,
            (int)(len > 100 ? 100 : len), data);
  }
}

/* A copy of a message, handled on a task thread. */
static int on_message_task(TSCont cont, TSEvent event, void *edata) {
  (void)event;
  (void)edata;
  char *copy = TSContDataGet(cont);
  if (copy != NULL) {
    on_message(copy, strlen(copy));
    free(copy);
  }
  TSContDestroy(cont);
  return 0;
}

/* traffic_ctl plugin msg tls_bridge ... (TS_LIFECYCLE_MSG_HOOK): messages
 * for other plugins are ignored. */
static int on_lifecycle(TSCont cont, TSEvent event, void *edata) {
  (void)cont;
  if (event != TS_EVENT_LIFECYCLE_MSG || edata == NULL) {
    return 0;
  }
  const TSPluginMsg *msg = edata;
  if (msg->tag == NULL || strcmp(msg->tag, TB_TAG) != 0) {
    return 0;
  }
  size_t len = msg->data != NULL ? msg->data_size : 0;
  if (len > 4096) {
    TSError("[%s] message of %zu bytes ignored: too long", TB_TAG, len);
    return 0;
  }
  char *copy = malloc(len + 1);
  TSCont task = copy != NULL ? TSContCreate(on_message_task, TSMutexCreate()) : NULL;
  if (task == NULL) {
    free(copy);
    TSError("[%s] out of memory: message ignored", TB_TAG);
    return 0;
  }
  if (len > 0) {
    memcpy(copy, msg->data, len);
  }
  copy[len] = '\0';
  copy[strnlen(copy, len)] = '\0'; /* stop at an embedded NUL */
  TSContDataSet(task, copy);
  TSContScheduleOnPool(task, 0, TS_THREAD_POOL_TASK);
  return 0;
}

void TSPluginInit(int argc, const char *argv[]) {
  char err[ERR_MAX] = "";
  TSPluginRegistrationInfo info = {TB_TAG, "tls_bridge", "tls_bridge"};
  if (TSPluginRegister(&info) != TS_SUCCESS) {
    TSEmergency("[%s] plugin registration failed", TB_TAG);
    return;
  }
  if (tb_stats_init(err, sizeof err) != 0) {
    TSError("[%s] %s: metrics will be missing", TB_TAG, err); /* the bridge itself still works */
  }
  if (tb_live_init(argc - 1, argv + 1, err, sizeof err) != 0) {
    /* TSError lands in error.log, TSEmergency in diags.log, then exits. */
    TSError("[%s] configuration error: %s", TB_TAG, err);
    TSEmergency("[%s] configuration error: %s; Traffic Server will not start with a partial bridge", TB_TAG,
                err);
    return;
  }
  TSTextLogObject log = NULL;
  if (TSTextLogObjectCreate(TB_TAG, TS_LOG_MODE_ADD_TIMESTAMP, &log) == TS_SUCCESS) {
    tb_tunnel_set_log(log);
  } else {
    TSError("[%s] cannot create the tunnel log %s.log: tunnels will not be logged", TB_TAG, TB_TAG);
  }
  TSMgmtUpdateRegister(TSContCreate(on_config_update, TSMutexCreate()), TB_TAG);
  TSLifecycleHookAdd(TS_LIFECYCLE_MSG_HOOK, TSContCreate(on_lifecycle, NULL));
  TSHttpHookAdd(TS_HTTP_READ_REQUEST_HDR_HOOK, TSContCreate(on_request, NULL));
}
