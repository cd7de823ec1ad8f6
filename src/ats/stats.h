/*
 * stats: the plugin's metrics, plugin.tls_bridge.*, readable with
 * `traffic_ctl metric match tls_bridge` or stats_over_http.
 *
 * The fixed ones are created once in TSPluginInit (tb_stats_init); after
 * that tb_stat_add is lock-free and may be called from any thread.  Per-peer
 * metrics (peers.c) are created as peers appear (tb_stat_make).  Owns
 * nothing.
 */
#ifndef TB_STATS_H
#define TB_STATS_H

#include <stddef.h>
#include <stdint.h>

enum tb_stat {
  TB_STAT_TUNNELS_ACTIVE,        /* client tunnels open now (set-up included) */
  TB_STAT_TUNNELS_STARTED,       /* CONNECTs intercepted */
  TB_STAT_TUNNELS_COMPLETED,     /* tunnels that ended with both directions done */
  TB_STAT_FAIL_PEER_UNREACHABLE, /* ATS could not open a connection to the peer (502/504) */
  TB_STAT_FAIL_PEER_CLOSED, /* the peer connection closed before the peer answered (TLS failure, peer down) */
  TB_STAT_FAIL_PEER_REFUSED,        /* the peer answered with a non-2xx status */
  TB_STAT_FAIL_PEER_TIMEOUT,        /* no answer within --connect-timeout (504) */
  TB_STAT_FAIL_PEER_BAD_RESPONSE,   /* the peer's answer was not HTTP or too long */
  TB_STAT_FAIL_CLIENT_GONE,         /* the client left before its tunnel was set up */
  TB_STAT_FAIL_ERROR,               /* a VConn error or an internal failure ended a tunnel */
  TB_STAT_FAIL_IDLE_TIMEOUT,        /* --idle-timeout ended a tunnel */
  TB_STAT_FAIL_LIFETIME,            /* --max-lifetime ended a tunnel */
  TB_STAT_BYTES_CLIENT_TO_PEER,     /* bytes written towards peers (the client's CONNECT included) */
  TB_STAT_BYTES_PEER_TO_CLIENT,     /* bytes written towards clients after the 2xx */
  TB_STAT_CONNECT_UNMATCHED,        /* CONNECTs that matched no rule */
  TB_STAT_CONNECT_DENIED,           /* unmatched CONNECTs answered 403 (unmatched: deny) */
  TB_STAT_POOL_WARM_USED,           /* tunnels set up over a warm connection */
  TB_STAT_POOL_STALE_RETRIED,       /* CONNECTs resent because a warm connection was stale */
  TB_STAT_RELOADS_DONE,             /* reloads that put a new configuration in force */
  TB_STAT_RELOADS_FAILED,           /* reloads refused (invalid configuration): the old one stays */
  TB_STAT_POOL_WARM_FAILED,         /* warm-ups (pool connections) that failed to open */
  TB_STAT_CONNECT_MATCH_FAILED,     /* CONNECTs refused (502) because matching itself failed */
  TB_STAT_CONNECT_IDENTITY_FAILED,  /* CONNECTs refused (502) because the client_identity policy could not be
                                       applied */
  TB_STAT_FAIL_NO_PEER,             /* tunnels refused (502): their rule gave no valid peer (a template) */
  TB_STAT_CONNECT_CLIENT_DENIED,    /* CONNECTs refused (403): the client is not in the rule's clients */
  TB_STAT_CONNECT_RULE_DENIED,      /* CONNECTs refused (403) by a rule with action: deny */
  TB_STAT_AUTHZ_ALLOWED,            /* peer role: CONNECTs the policy allowed (left to Traffic Server) */
  TB_STAT_AUTHZ_NO_CERTIFICATE,     /* peer role: refused (403): not over TLS, no or unverified certificate */
  TB_STAT_AUTHZ_UNKNOWN_IDENTITY,   /* peer role: refused (403): no policy entry names the certificate */
  TB_STAT_AUTHZ_TARGET_NOT_ALLOWED, /* peer role: refused (403): the entry denies or does not allow the target
                                     */
  TB_STAT_AUTHZ_FAILED,             /* peer role: refused (403): matching failed, or an internal error */
  /* The direct engine tells these apart (the ats engine's are in PEER_UNREACHABLE and PEER_CLOSED): */
  TB_STAT_FAIL_PEER_DNS,     /* the peer's name did not resolve */
  TB_STAT_FAIL_PEER_CONNECT, /* TCP to the peer failed (refused, unreachable) */
  TB_STAT_FAIL_PEER_TLS,     /* the TLS handshake failed, or the peer rejected us with an alert */
  TB_STAT_FAIL_PEER_VERIFY,  /* the peer's certificate failed verification */
  TB_STAT_COUNT
};

/* Create (or find, after a plugin reload) every metric.  Returns 0, or -1
 * naming the one that failed in err. */
int tb_stats_init(char *err, size_t errlen);

/* Add n (may be negative) to metric s. */
void tb_stat_add(enum tb_stat s, int64_t n);

/* A metric of its own (found if it exists already: after a reload), by
 * full name; its id, or -1 (logged) when ATS has no room for it
 * (proxy.config.stat_api.max_stats_allowed). */
int tb_stat_make(const char *name);

/* Add n to, or set v on, a metric tb_stat_make made (id -1: no-op). */
void tb_stat_id_add(int id, int64_t n);
void tb_stat_id_set(int id, int64_t v);

#endif
