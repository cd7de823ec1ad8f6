/* stats: see stats.h. */
#include "stats.h"

#include <stdio.h>

#include "glue.h"

static const char *const names[TB_STAT_COUNT] = {
    [TB_STAT_TUNNELS_ACTIVE] = "plugin.tls_bridge.tunnels.active",
    [TB_STAT_TUNNELS_STARTED] = "plugin.tls_bridge.tunnels.started",
    [TB_STAT_TUNNELS_COMPLETED] = "plugin.tls_bridge.tunnels.completed",
    [TB_STAT_FAIL_PEER_UNREACHABLE] = "plugin.tls_bridge.failures.peer_unreachable",
    [TB_STAT_FAIL_PEER_CLOSED] = "plugin.tls_bridge.failures.peer_closed",
    [TB_STAT_FAIL_PEER_REFUSED] = "plugin.tls_bridge.failures.peer_refused",
    [TB_STAT_FAIL_PEER_TIMEOUT] = "plugin.tls_bridge.failures.peer_timeout",
    [TB_STAT_FAIL_PEER_BAD_RESPONSE] = "plugin.tls_bridge.failures.peer_bad_response",
    [TB_STAT_FAIL_CLIENT_GONE] = "plugin.tls_bridge.failures.client_gone",
    [TB_STAT_FAIL_ERROR] = "plugin.tls_bridge.failures.error",
    [TB_STAT_FAIL_IDLE_TIMEOUT] = "plugin.tls_bridge.failures.idle_timeout",
    [TB_STAT_FAIL_LIFETIME] = "plugin.tls_bridge.failures.lifetime_reached",
    [TB_STAT_BYTES_CLIENT_TO_PEER] = "plugin.tls_bridge.bytes.client_to_peer",
    [TB_STAT_BYTES_PEER_TO_CLIENT] = "plugin.tls_bridge.bytes.peer_to_client",
    [TB_STAT_CONNECT_UNMATCHED] = "plugin.tls_bridge.connects.unmatched",
    [TB_STAT_CONNECT_DENIED] = "plugin.tls_bridge.connects.denied",
    [TB_STAT_POOL_WARM_USED] = "plugin.tls_bridge.pool.warm_used",
    [TB_STAT_POOL_STALE_RETRIED] = "plugin.tls_bridge.pool.stale_retried",
    [TB_STAT_RELOADS_DONE] = "plugin.tls_bridge.reloads.done",
    [TB_STAT_RELOADS_FAILED] = "plugin.tls_bridge.reloads.failed",
    [TB_STAT_POOL_WARM_FAILED] = "plugin.tls_bridge.pool.warm_failed",
    [TB_STAT_CONNECT_MATCH_FAILED] = "plugin.tls_bridge.connects.match_failed",
    [TB_STAT_CONNECT_IDENTITY_FAILED] = "plugin.tls_bridge.connects.identity_failed",
    [TB_STAT_FAIL_NO_PEER] = "plugin.tls_bridge.failures.no_peer",
    [TB_STAT_FAIL_PEER_DNS] = "plugin.tls_bridge.failures.peer_dns",
    [TB_STAT_FAIL_PEER_CONNECT] = "plugin.tls_bridge.failures.peer_connect",
    [TB_STAT_FAIL_PEER_TLS] = "plugin.tls_bridge.failures.peer_tls",
    [TB_STAT_FAIL_PEER_VERIFY] = "plugin.tls_bridge.failures.peer_verify",
    [TB_STAT_CONNECT_CLIENT_DENIED] = "plugin.tls_bridge.connects.client_denied",
    [TB_STAT_CONNECT_RULE_DENIED] = "plugin.tls_bridge.connects.rule_denied",
    [TB_STAT_AUTHZ_ALLOWED] = "plugin.tls_bridge.authz.allowed",
    [TB_STAT_AUTHZ_NO_CERTIFICATE] = "plugin.tls_bridge.authz.no_certificate",
    [TB_STAT_AUTHZ_UNKNOWN_IDENTITY] = "plugin.tls_bridge.authz.unknown_identity",
    [TB_STAT_AUTHZ_TARGET_NOT_ALLOWED] = "plugin.tls_bridge.authz.target_not_allowed",
    [TB_STAT_AUTHZ_FAILED] = "plugin.tls_bridge.authz.failed",
};

static int ids[TB_STAT_COUNT];
static int ready;

int tb_stats_init(char *err, size_t errlen) {
  for (int i = 0; i < TB_STAT_COUNT; i++) {
    int id = -1;
    if (TSStatFindName(names[i], &id) != TS_SUCCESS) {
      id = TSStatCreate(names[i], TS_RECORDDATATYPE_INT, TS_STAT_NON_PERSISTENT, TS_STAT_SYNC_SUM);
    }
    if (id < 0) {
      snprintf(err, errlen, "cannot create metric %s", names[i]);
      return -1;
    }
    ids[i] = id;
  }
  ready = 1;
  return 0;
}

void tb_stat_add(enum tb_stat s, int64_t n) {
  if (!ready || n == 0) {
    return;
  }
  if (n > 0) {
    TSStatIntIncrement(ids[s], n);
  } else {
    TSStatIntDecrement(ids[s], -n);
  }
}

int tb_stat_make(const char *name) {
  int id = -1;
  if (TSStatFindName(name, &id) == TS_SUCCESS) {
    return id;
  }
  id = TSStatCreate(name, TS_RECORDDATATYPE_INT, TS_STAT_NON_PERSISTENT, TS_STAT_SYNC_SUM);
  if (id < 0) {
    TSError(
        "[%s] cannot create metric %s (raise proxy.config.stat_api.max_stats_allowed): it will be missing",
        TB_TAG, name);
  }
  return id;
}

void tb_stat_id_add(int id, int64_t n) {
  if (id < 0 || n == 0) {
    return;
  }
  if (n > 0) {
    TSStatIntIncrement(id, n);
  } else {
    TSStatIntDecrement(id, -n);
  }
}

void tb_stat_id_set(int id, int64_t v) {
  if (id >= 0) {
    TSStatIntSet(id, v);
  }
}
