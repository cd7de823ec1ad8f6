/*
 * plugin: the entry points.  TSPluginInit loads the configuration, creates
 * the metrics and the tunnel log and registers the hooks: the request hook
 * (request.h), reload on `traffic_ctl config reload`, and `traffic_ctl
 * plugin msg tls_bridge ...` (reload, match, tunnels, version).
 *
 * The configuration (live.h) is loaded before any hook is registered.  An
 * error in it at start stops traffic_server (TSEmergency): a bridge that
 * quietly bridged less than configured would send traffic meant for a peer
 * somewhere else.  An error on reload keeps the running configuration.
 */
#include <stdlib.h>
#include <string.h>

#include "authz.h"
#include "glue.h"
#include "live.h"
#include "peers.h"
#include "registry.h"
#include "request.h"
#include "stats.h"
#include "tunnel_log.h"

#define ERR_MAX 1024

/* traffic_ctl config reload (TSMgmtUpdateRegister). */
static int on_config_update(TSCont cont, TSEvent event, void *edata) {
  (void)cont;
  (void)event;
  (void)edata;
  tb_live_reload_soon("traffic_ctl config reload");
  return 0;
}

/* What a message's data holds: "reload", "match HOST:PORT", "tunnels",
 * "version". */
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
    tb_registry_dump();
  } else if (word == 5 && memcmp(data, "peers", 5) == 0 && arg == len) {
    tb_peers_dump();
  } else if (word == 5 && memcmp(data, "drain", 5) == 0) {
    tb_peers_drain(data + arg, len - arg, 1);
  } else if (word == 7 && memcmp(data, "undrain", 7) == 0) {
    tb_peers_drain(data + arg, len - arg, 0);
  } else if (word == 7 && memcmp(data, "version", 7) == 0 && arg == len) {
    TSNote("[%s] tls_bridge %s, built against ATS %s, running in Traffic Server %s", TB_TAG, TB_VERSION,
           TB_ATS_HEADERS_VERSION, TSTrafficServerVersionGet());
  } else {
    TSError("[%s] unknown message '%.*s': expected reload, match HOST:PORT, tunnels, peers, drain PEER, "
            "undrain PEER or version",
            TB_TAG, (int)(len > 100 ? 100 : len), data);
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
  /* The role is fixed for the life of the process (a reload may not
   * change it, live.c): one log per role.  An ingress logs tunnels in
   * tls_bridge.log, a peer its decisions in tls_bridge_authz.log (another
   * line format, often another retention: a file of its own). */
  struct tb_live *l = tb_live_acquire();
  int peer = l != NULL && tb_live_config(l)->role == TB_ROLE_PEER;
  tb_live_release(l);
  TSTextLogObject log = NULL;
  const char *log_name = peer ? TB_TAG "_authz" : TB_TAG;
  if (TSTextLogObjectCreate(log_name, TS_LOG_MODE_ADD_TIMESTAMP, &log) == TS_SUCCESS) {
    if (peer) {
      tb_authz_log_set(log);
    } else {
      tb_tunnel_log_set(log);
    }
  } else {
    TSError("[%s] cannot create the log %s.log: %s will not be logged", TB_TAG, log_name,
            peer ? "authorisation decisions" : "tunnels");
  }
  if (peer) {
    /* Without a client certificate every CONNECT is refused (no_certificate):
     * say so once, where an operator looks first.  (sni.yaml's verify_client
     * may still ask for one per name: a note, not an error.) */
    TSMgmtInt level = -1;
    if (TSMgmtIntGet("proxy.config.ssl.client.certification_level", &level) == TS_SUCCESS && level == 0) {
      TSError("[%s] role peer with proxy.config.ssl.client.certification_level 0: unless sni.yaml asks for "
              "client certificates, every CONNECT will be refused (no_certificate)",
              TB_TAG);
    }
  }
  TSMgmtUpdateRegister(TSContCreate(on_config_update, TSMutexCreate()), TB_TAG);
  TSLifecycleHookAdd(TS_LIFECYCLE_MSG_HOOK, TSContCreate(on_lifecycle, NULL));
  TSHttpHookAdd(TS_HTTP_READ_REQUEST_HDR_HOOK, TSContCreate(tb_request_on_event, NULL));
}
