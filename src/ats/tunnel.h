/*
 * tunnel: one bridged CONNECT, from the intercept to the last byte.
 *
 * A tunnel owns its continuations (one for the VConns' events, one per
 * timer, all under one mutex), both ends (`ua`, the client side handed over
 * by the intercept, and `link`, the connection towards the peer: link.h),
 * one IOBuffer per direction, and its reference to the configuration it
 * started with.  It frees itself: on TS_EVENT_NET_ACCEPT_FAILED, once both
 * directions are done, or at once on an error.  Nothing else keeps a pointer
 * to it but the registry of open tunnels (registry.h), which it leaves
 * before it is freed.  There is no plugin-wide lock.
 */
#ifndef TB_TUNNEL_H
#define TB_TUNNEL_H

#include "glue.h"
#include "tb_capture.h"
#include "tb_config.h"

struct tb_live; /* live.h */
struct tb_pool; /* pool.h */

/* Intercept txn (called on READ_REQUEST_HDR) and bridge it to rule's peer
 * with settings s.  live is the configuration rule belongs to: the tunnel
 * takes over the caller's reference to it and releases it when it closes.
 * host/port are the CONNECT target (for messages only: the request ATS
 * rebuilds is what goes to the peer); caps: the captures of the match (for
 * peer templates).  The tunnel tries the rule's peers as its plan says
 * (plan.h), taking a warm link from the first one's pool when there is
 * one.  Returns TS_SUCCESS, or TS_ERROR when
 * nothing was intercepted (out of memory; the reference is still the
 * caller's), in which case the caller must not let the transaction through. */
TSReturnCode tb_tunnel_start(TSHttpTxn txn, struct tb_live *live, const struct tb_rule *rule,
                             const struct tb_settings *s, const char *host, int host_len, int port,
                             const struct tb_captures *caps);

#endif
