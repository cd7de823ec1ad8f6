/*
 * plugin: TSPluginInit, the configuration it loads once, and the global
 * READ_REQUEST_HDR hook that hands matching CONNECTs to a tunnel.
 *
 * The configuration is built before any hook is registered and never changes
 * afterwards, so the hook reads it without a lock.  A configuration error
 * stops traffic_server (TSEmergency): a bridge that quietly bridged less than
 * configured would send traffic meant for a peer somewhere else.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ts/ts.h>

#include "tb_config.h"
#include "stats.h"
#include "tunnel.h"

#define ERR_MAX 1024

static struct tb_config *g_config; /* owned; immutable once TSPluginInit returns */

/* Warm-connection pools, one per peer, made at the first CONNECT for it.
 * g_rule_pools has a slot per rule, so that after the first use a rule finds
 * its pool without a lock; g_pools_lock is taken only to make a pool. */
static _Atomic(struct tb_pool *) *g_rule_pools; /* owned array, g_config->nrules slots */
static pthread_mutex_t g_pools_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pool_entry {
  char peer[TB_HOST_MAX + 16];
  struct tb_pool *pool; /* never freed: one per configured peer */
} * g_pools;            /* owned, under g_pools_lock */
static size_t g_npools, g_pools_cap;

/* Room for one more pool entry (under g_pools_lock). */
static int pools_reserve(void) {
  if (g_npools < g_pools_cap) {
    return 0;
  }
  size_t cap = g_pools_cap == 0 ? 8 : g_pools_cap * 2;
  struct pool_entry *e = realloc(g_pools, cap * sizeof *e);
  if (e == NULL) {
    return -1;
  }
  g_pools = e;
  g_pools_cap = cap;
  return 0;
}

/* The pool for rule's peer, made on first use; NULL when pools are off or
 * out of memory (the tunnel then opens its own connection). */
static struct tb_pool *pool_for(const struct tb_rule *rule) {
  size_t i = (size_t)(rule - g_config->rules);
  struct tb_pool *p;
  char peer[TB_HOST_MAX + 16];

  if (g_config->pool_size == 0 || g_rule_pools == NULL) {
    return NULL;
  }
  p = atomic_load_explicit(&g_rule_pools[i], memory_order_acquire);
  if (p != NULL || tb_peer_format(&rule->peer, peer, sizeof peer) < 0) {
    return p;
  }
  pthread_mutex_lock(&g_pools_lock);
  for (size_t k = 0; k < g_npools && p == NULL; k++) {
    if (strcmp(g_pools[k].peer, peer) == 0) {
      p = g_pools[k].pool;
    }
  }
  if (p == NULL && pools_reserve() == 0) {
    p = tb_pool_create(&rule->peer, (int)g_config->pool_size, g_config->pool_max_age_ms,
                       g_config->connect_timeout_ms);
    if (p != NULL) {
      snprintf(g_pools[g_npools].peer, sizeof g_pools[g_npools].peer, "%s", peer);
      g_pools[g_npools++].pool = p;
    }
  }
  if (p != NULL) {
    atomic_store_explicit(&g_rule_pools[i], p, memory_order_release);
  }
  pthread_mutex_unlock(&g_pools_lock);
  return p;
}

/* Answer the client with ATS's own error page for status and release the
 * request handles. */
static void refuse_txn(TSHttpTxn txn, TSMBuffer bufp, TSMLoc hdr, TSMLoc url, TSHttpStatus status) {
  TSHttpTxnStatusSet(txn, status);
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
    refuse_txn(txn, bufp, hdr, url, TS_HTTP_STATUS_BAD_GATEWAY);
    return;
  }
  if (rule == NULL && g_config->deny_unmatched) {
    /* --unmatched deny: nothing leaves this proxy except through a peer. */
    tb_stat_add(TB_STAT_CONNECT_UNMATCHED, 1);
    tb_stat_add(TB_STAT_CONNECT_DENIED, 1);
    if (TSIsDebugTagSet(TB_TAG)) {
      TSDebug(TB_TAG, "CONNECT %.*s matches no rule: denied", host_len, host);
    }
    refuse_txn(txn, bufp, hdr, url, TS_HTTP_STATUS_FORBIDDEN);
    return;
  }
  if (rule == NULL) {
    tb_stat_add(TB_STAT_CONNECT_UNMATCHED, 1);
    if (TSIsDebugTagSet(TB_TAG)) {
      TSDebug(TB_TAG, "CONNECT %.*s matches no rule: left to Traffic Server", host_len, host);
    }
    goto done;
  }
  int port = TSUrlPortGet(bufp, url);
  struct tb_limits limits = {g_config->connect_timeout_ms, g_config->idle_timeout_ms,
                             g_config->max_lifetime_ms};
  if (tb_tunnel_start(txn, rule, host, host_len, port, &limits, pool_for(rule)) != TS_SUCCESS) {
    /* Fail closed: never let a matching CONNECT go out directly. */
    TSError("[%s] out of memory: refusing CONNECT %.*s", TB_TAG, host_len, host);
    refuse_txn(txn, bufp, hdr, url, TS_HTTP_STATUS_BAD_GATEWAY);
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
  if (tb_stats_init(err, sizeof err) != 0) {
    TSError("[%s] %s: metrics will be missing", TB_TAG, err); /* the bridge itself still works */
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
  TSTextLogObject log = NULL;
  if (TSTextLogObjectCreate(TB_TAG, TS_LOG_MODE_ADD_TIMESTAMP, &log) == TS_SUCCESS) {
    tb_tunnel_set_log(log);
  } else {
    TSError("[%s] cannot create the tunnel log %s.log: tunnels will not be logged", TB_TAG, TB_TAG);
  }
  g_rule_pools = calloc(g_config->nrules, sizeof *g_rule_pools);
  if (g_rule_pools == NULL) {
    TSError("[%s] out of memory for connection pools: every tunnel opens its own connection", TB_TAG);
  }
  TSNote("[%s] %zu rule%s loaded, set-up timeout %u ms, %u warm connection%s per peer in use", TB_TAG,
         g_config->nrules, g_config->nrules == 1 ? "" : "s", g_config->connect_timeout_ms,
         g_config->pool_size, g_config->pool_size == 1 ? "" : "s");
  TSHttpHookAdd(TS_HTTP_READ_REQUEST_HDR_HOOK, TSContCreate(on_request, NULL));
}
