/*
 * request: see request.h.
 */
#include "request.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "authz.h"
#include "live.h"
#include "refuse.h"
#include "stats.h"
#include "tb_config.h"
#include "tb_http.h"
#include "tunnel.h"
#include "tunnel_log.h"

/* Lift Traffic Server's transaction timeouts on txn, so that they do not end
 * a tunnel before its own limits do: the no-activity timeouts (idle), and the
 * active timeouts (lifetime), on both sides of the transaction.  They are
 * overridable records; ATS applies them to the client side after this hook
 * (when it sends the response header, and after remapping, which runs even
 * when skipped), and to the server side when it opens it.  A failure is
 * logged: the tunnel then works but may be cut at ATS's timeouts. */
static void lift_timeouts(TSHttpTxn txn, int64_t idle_s, int64_t active_s, const char *what) {
  static const TSOverridableConfigKey idle_keys[] = {TS_CONFIG_HTTP_TRANSACTION_NO_ACTIVITY_TIMEOUT_IN,
                                                     TS_CONFIG_HTTP_TRANSACTION_NO_ACTIVITY_TIMEOUT_OUT};
  static const TSOverridableConfigKey active_keys[] = {TS_CONFIG_HTTP_TRANSACTION_ACTIVE_TIMEOUT_IN,
                                                       TS_CONFIG_HTTP_TRANSACTION_ACTIVE_TIMEOUT_OUT};
  for (size_t i = 0; i < 2; i++) {
    if ((idle_s > 0 && TSHttpTxnConfigIntSet(txn, idle_keys[i], idle_s) != TS_SUCCESS) ||
        (active_s > 0 && TSHttpTxnConfigIntSet(txn, active_keys[i], active_s) != TS_SUCCESS)) {
      TSError("[%s] %s: cannot lift Traffic Server's transaction timeouts; they may end the tunnel first",
              TB_TAG, what);
      return;
    }
  }
}

/* An internal transaction of the bridge's (towards a peer): it may carry any
 * rule's tunnel (a warm link is made before its rule is known), so its
 * timeouts are lifted as far as the most demanding rule of the
 * configuration needs (tb_live_internal_timeouts), and no further: when no
 * rule sets idle_timeout or max_lifetime they stay Traffic Server's, which
 * also end a connection the tunnel gave up on while ATS still waits on the
 * peer (ATS 10 keeps one whose TLS handshake the peer never answers after
 * the plugin closed its side). */
static void lift_internal(TSHttpTxn txn) {
  int64_t idle_s = 0;
  int64_t active_s = 0;
  struct tb_live *live = tb_live_acquire();
  if (live != NULL) {
    tb_live_internal_timeouts(live, &idle_s, &active_s);
    tb_live_release(live);
  }
  lift_timeouts(txn, idle_s, active_s, "internal transaction to a peer");
}

/* Answer the client with ATS's own error page for status and release the
 * request handles. */
static void refuse_txn(TSHttpTxn txn, TSMBuffer bufp, TSMLoc hdr, TSMLoc url, TSHttpStatus status) {
  TSHttpTxnStatusSet(txn, status);
  TSHandleMLocRelease(bufp, hdr, url);
  TSHandleMLocRelease(bufp, TS_NULL_MLOC, hdr);
  TSHttpTxnReenable(txn, TS_EVENT_HTTP_ERROR);
}

/* A CONNECT that rule takes, refused at once (403) because the rule says
 * deny or the client is not in its clients (stat says which): counted, one
 * line in the tunnel log (no tunnel was made: peer "-", no bytes), a debug
 * line naming the rule, and ATS's error page with the reason.  The reason
 * the client sees does not name the rule: that stays in the log.  Releases
 * the request handles and re-enables txn. */
static void refuse_by_rule(TSHttpTxn txn, TSMBuffer bufp, TSMLoc hdr, TSMLoc url, const struct tb_rule *rule,
                           const char *host, int host_len, int port, enum tb_stat stat) {
  char target[TB_PEER_TEXT_MAX + 8];
  char detail[TB_REFUSE_DETAIL_MAX];
  char addr[64];
  struct sockaddr_storage client;
  const struct sockaddr *sa = TSHttpTxnClientAddrGet(txn);
  int deny = stat == TB_STAT_CONNECT_RULE_DENIED;

  memset(&client, 0, sizeof client);
  if (sa != NULL) {
    memcpy(&client, sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
  }
  snprintf(target, sizeof target, memchr(host, ':', (size_t)host_len) != NULL ? "[%.*s]:%d" : "%.*s:%d",
           host_len > TB_HOST_MAX ? TB_HOST_MAX : host_len, host, port);
  (void)tb_cidr_addr_text(sa, addr, sizeof addr);
  tb_stat_add(stat, 1);
  TB_DEBUG("CONNECT %s from %s: refused by rule %s (%s)", target, addr, rule->origin,
           deny ? "action deny" : "client not in its clients");
  const struct tb_tunnel_record rec = {
      .id = tb_next_id(),
      .client = &client,
      .target = target,
      .rule = rule->origin,
      .peer = "-",
      .status = 403,
      .close = deny ? "refused: deny rule" : "refused: client not in the rule's clients",
      .tried = "",
  };
  tb_tunnel_log_write(&rec);
  if (deny) {
    snprintf(detail, sizeof detail, "tls_bridge: CONNECT %s is refused here", target);
  } else {
    snprintf(detail, sizeof detail, "tls_bridge: client %s may not CONNECT to %s", addr, target);
  }
  TSHandleMLocRelease(bufp, hdr, url);
  TSHandleMLocRelease(bufp, TS_NULL_MLOC, hdr);
  tb_refuse(txn, TS_HTTP_STATUS_FORBIDDEN, detail);
}

/* The peer role: the CONNECT is authorised by the client certificate
 * (authz.h), which re-enables txn.  The host is copied first: the request
 * handles are released before the decision re-enables the transaction.
 * Takes over the reference to live. */
static void authorise(TSHttpTxn txn, TSMBuffer bufp, TSMLoc hdr, TSMLoc url, struct tb_live *live,
                      const char *host, int host_len, int port) {
  char copy[TB_HOST_MAX + 2];
  /* A longer host is passed on as too long (authz refuses it), never cut:
   * a cut name could match a target the full name does not. */
  int len = host_len < (int)sizeof copy ? host_len : (int)sizeof copy;
  memcpy(copy, host, (size_t)len);
  TSHandleMLocRelease(bufp, hdr, url);
  TSHandleMLocRelease(bufp, TS_NULL_MLOC, hdr);
  tb_authz_connect(txn, tb_live_config(live), tb_live_generation(live), copy, len, port);
  tb_live_release(live);
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

/* Bridge this transaction if it is a client's CONNECT to a configured host
 * (ingress role), or decide it by the policy (peer role).  internal: an
 * internal transaction of another plugin, which an ingress leaves alone
 * and a peer checks like any other. */
static void consider(TSHttpTxn txn, bool internal) {
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
  struct tb_captures caps;
  if (config != NULL && config->role == TB_ROLE_PEER) {
    authorise(txn, bufp, hdr, url, live, host, host_len, port); /* re-enables txn, releases live */
    return;
  }
  if (internal) {
    goto done;
  }
  if (config == NULL ||
      tb_config_lookup_captures(config, host, (size_t)host_len, port > 0 && port < 65536 ? (unsigned)port : 0,
                                &rule, &caps) != 0) {
    /* Fail closed: a host we could not match might have been a rule's. */
    TSError("[%s] matching CONNECT %.*s against the rules failed (PCRE2 limit or out of memory): refused",
            TB_TAG, host_len, host);
    tb_stat_add(TB_STAT_CONNECT_MATCH_FAILED, 1);
    tb_live_release(live);
    refuse_txn(txn, bufp, hdr, url, TS_HTTP_STATUS_BAD_GATEWAY);
    return;
  }
  if (rule == NULL && config->deny_unmatched) {
    /* unmatched: deny: nothing leaves this proxy except through a peer. */
    tb_stat_add(TB_STAT_CONNECT_UNMATCHED, 1);
    tb_stat_add(TB_STAT_CONNECT_DENIED, 1);
    TB_DEBUG("CONNECT %.*s:%d matches no rule: denied", host_len, host, port);
    tb_live_release(live);
    refuse_txn(txn, bufp, hdr, url, TS_HTTP_STATUS_FORBIDDEN);
    return;
  }
  if (rule == NULL) {
    tb_stat_add(TB_STAT_CONNECT_UNMATCHED, 1);
    TB_DEBUG("CONNECT %.*s:%d matches no rule: left to Traffic Server", host_len, host, port);
    goto done;
  }
  /* A rule that takes the CONNECT and refuses it decides here: never
   * another rule, never Traffic Server. */
  if (rule->action == TB_ACTION_DENY || !tb_rule_client_ok(rule, TSHttpTxnClientAddrGet(txn))) {
    refuse_by_rule(txn, bufp, hdr, url, rule, host, host_len, port,
                   rule->action == TB_ACTION_DENY ? TB_STAT_CONNECT_RULE_DENIED
                                                  : TB_STAT_CONNECT_CLIENT_DENIED);
    tb_live_release(live);
    return;
  }
  struct tb_settings settings;
  char host_text[TB_PEER_TEXT_MAX];
  snprintf(host_text, sizeof host_text, "CONNECT %.*s", host_len > TB_HOST_MAX ? TB_HOST_MAX : host_len,
           host);
  tb_config_settings(config, rule, &settings);
  if (apply_identity(txn, bufp, hdr, settings.identity) != TS_SUCCESS) {
    TSError("[%s] cannot apply client_identity %s to CONNECT %.*s: refused", TB_TAG,
            tb_identity_name(settings.identity), host_len, host);
    tb_stat_add(TB_STAT_CONNECT_IDENTITY_FAILED, 1);
    tb_live_release(live);
    refuse_txn(txn, bufp, hdr, url, TS_HTTP_STATUS_BAD_GATEWAY);
    return;
  }
  lift_timeouts(txn, settings.idle_timeout_ms != TB_UNSET ? TB_ATS_NEVER_S : 0,
                settings.max_lifetime_ms != TB_UNSET ? TB_ATS_NEVER_S : 0, host_text);
  if (tb_tunnel_start(txn, live, rule, &settings, host, host_len, port, &caps) != TS_SUCCESS) {
    /* Fail closed: never let a matching CONNECT go out directly. */
    TSError("[%s] out of memory: refusing CONNECT %.*s", TB_TAG, host_len, host);
    tb_stat_add(TB_STAT_FAIL_ERROR, 1);
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

int tb_request_on_event(TSCont cont, TSEvent event, void *edata) {
  (void)cont;
  TSHttpTxn txn = (TSHttpTxn)edata;
  char name[32];
  switch (event) {
  case TS_EVENT_HTTP_READ_REQUEST_HDR:
    /* The bridge's own internal CONNECTs to peers come through here too
     * (only on an ingress: a peer role makes none, and checks every CONNECT,
     * internal ones included, in consider). */
    if (TSHttpTxnIsInternal(txn)) {
      const char *tag = TSHttpTxnPluginTagGet(txn);
      if (tag != NULL && strcmp(tag, TB_TAG) == 0) {
        lift_internal(txn);
        TSHttpTxnReenable(txn, TS_EVENT_HTTP_CONTINUE);
        return 0;
      }
    }
    consider(txn, TSHttpTxnIsInternal(txn) != 0); /* re-enables txn */
    return 0;
  default:
    TSError("[%s] unexpected %s on the request hook", TB_TAG, tb_event_name(event, name, sizeof name));
    if (txn != NULL) {
      TSHttpTxnReenable(txn, TS_EVENT_HTTP_CONTINUE);
    }
    return 0;
  }
}
