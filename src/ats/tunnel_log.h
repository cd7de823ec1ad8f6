/*
 * tunnel_log: the one line each client tunnel writes to tls_bridge.log when
 * it closes (docs/reference.md, "Tunnel log").
 *
 * The log object is created once at start (TSPluginInit) and never freed;
 * writing is thread-safe (ATS's text log).
 */
#ifndef TB_TUNNEL_LOG_H
#define TB_TUNNEL_LOG_H

#include <stdint.h>
#include <sys/socket.h>

#include "glue.h"
#include "stats.h"

/* What one line says. */
struct tb_tunnel_record {
  uint64_t id;
  const struct sockaddr_storage *client;
  const char *target; /* "host:port" the client asked for */
  const char *rule;   /* the rule's name or origin; NULL: "-" */
  const char *peer;   /* "host:port" of the peer */
  unsigned status;    /* what the client was answered; 0: nothing */
  int64_t up, down;   /* bytes delivered each way after the 2xx */
  int64_t setup_ms, duration_ms;
  const char *close; /* the close reason */
  const char *tried; /* the peers tried and what came of each (plan.h) */
};

/* Where lines go (NULL: nowhere). */
void tb_tunnel_log_set(TSTextLogObject log);

void tb_tunnel_log_write(const struct tb_tunnel_record *r);

/* The close reason of a tunnel refused for this cause (a failure metric):
 * "refused: peer unreachable" and the like. */
const char *tb_tunnel_log_refusal(enum tb_stat cause);

#endif
