/*
 * request: the global READ_REQUEST_HDR hook, where a client's CONNECT is
 * matched against the rules in force and, on a match, handed to a tunnel
 * (tunnel.h) after the rule's client-identity policy and timeouts are
 * applied to the transaction.  It also lifts Traffic Server's own timeouts
 * on the bridge's internal transactions to peers, whose life the tunnels
 * govern.
 *
 * The hook's continuation has no mutex (no plugin-wide lock); it owns no
 * state of its own.
 */
#ifndef TB_REQUEST_H
#define TB_REQUEST_H

#include "glue.h"

/* The READ_REQUEST_HDR continuation's handler (TSContCreate(.., NULL)). */
int tb_request_on_event(TSCont cont, TSEvent event, void *edata);

#endif
