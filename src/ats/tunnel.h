/*
 * tunnel: one bridged CONNECT, from the intercept to the last byte.
 *
 * A tunnel owns its continuation (with its own mutex), both VConns
 * (`ua`, the client side handed over by the intercept, and `peer`, the
 * internal transaction towards the peer ATS), one IOBuffer per direction and
 * a set-up timer.  It frees itself: on TS_EVENT_NET_ACCEPT_FAILED, or once
 * both directions are done, or at once on an error.  Nothing else keeps a
 * pointer to it.  All its events run under its own mutex; there is no
 * plugin-wide lock.
 */
#ifndef TB_TUNNEL_H
#define TB_TUNNEL_H

#include <stdint.h>
#include <sys/socket.h>

#include <ts/ts.h>

#include "tb_config.h"

#define TB_TAG "tls_bridge"
#define TB_POOL_MAX 64 /* warm connections kept per peer, at most */

/* Warm connections to one peer (see tunnel.c).  Created once per peer at
 * first use and never freed: their number is bounded by the configuration. */
struct tb_pool;

/* A pool keeping `size` (0..TB_POOL_MAX) connections to peer open and
 * ready while the peer is in use, each retired after max_age_ms.  NULL when
 * out of memory. */
struct tb_pool *tb_pool_create(const struct tb_peer *peer, int size, unsigned max_age_ms,
                               unsigned connect_timeout_ms);

struct tb_live; /* live.h */

/* Intercept txn (called on READ_REQUEST_HDR) and bridge it to rule's peer
 * with settings s.  live is the configuration rule belongs to: the tunnel
 * takes over the caller's reference to it and releases it when it closes.
 * host/port are the CONNECT target (for messages only: the request ATS
 * rebuilds is what goes to the peer).  pool (may be NULL): where to take a
 * warm connection to the peer from.  Returns TS_SUCCESS, or TS_ERROR when
 * nothing was intercepted (out of memory; the reference is still the
 * caller's), in which case the caller must not let the transaction through. */
TSReturnCode tb_tunnel_start(TSHttpTxn txn, struct tb_live *live, const struct tb_rule *rule,
                             const struct tb_settings *s, const char *host, int host_len, int port,
                             struct tb_pool *pool);

/* Write one line per open client tunnel to diags.log (TSNote). */
void tb_tunnel_dump(void);

/* Where each client tunnel writes its one line when it closes (NULL: no log). */
void tb_tunnel_set_log(TSTextLogObject log);

/* Number of tunnels alive right now (for debugging and tests). */
int64_t tb_tunnel_count(void);

#endif
