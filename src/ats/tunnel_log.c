/* tunnel_log: see tunnel_log.h. */
#include "tunnel_log.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>

static TSTextLogObject g_log; /* not owned; set once at start */

void tb_tunnel_log_set(TSTextLogObject log) {
  g_log = log;
}

void tb_tunnel_log_write(const struct tb_tunnel_record *r) {
  char addr[INET6_ADDRSTRLEN + 2] = "-"; /* an IPv6 address in brackets, like target= */
  int port = 0;
  if (g_log == NULL) {
    return;
  }
  if (r->client->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)r->client;
    inet_ntop(AF_INET, &a->sin_addr, addr, sizeof addr);
    port = ntohs(a->sin_port);
  } else if (r->client->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)r->client;
    char bare[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, &a->sin6_addr, bare, sizeof bare) != NULL) {
      snprintf(addr, sizeof addr, "[%s]", bare);
    }
    port = ntohs(a->sin6_port);
  }
  if (TSTextLogObjectWrite(g_log,
                           "id=%" PRIu64 " client=%s:%d target=%s rule=\"%s\" peer=%s status=%u up=%" PRId64
                           " down=%" PRId64 " setup_ms=%" PRId64 " duration_ms=%" PRId64
                           " close=\"%s\" tried=\"%s\"",
                           r->id, addr, port, r->target, r->rule != NULL ? r->rule : "-", r->peer, r->status,
                           r->up, r->down, r->setup_ms, r->duration_ms, r->close, r->tried) != TS_SUCCESS) {
    TB_DEBUG("[%" PRIu64 "] tunnel log line could not be written", r->id);
  }
}

const char *tb_tunnel_log_refusal(enum tb_stat cause) {
  switch (cause) {
  case TB_STAT_FAIL_PEER_UNREACHABLE:
    return "refused: peer unreachable";
  case TB_STAT_FAIL_PEER_CLOSED:
    return "refused: peer closed before answering";
  case TB_STAT_FAIL_PEER_REFUSED:
    return "refused: peer answered non-2xx";
  case TB_STAT_FAIL_PEER_TIMEOUT:
    return "refused: peer timeout";
  case TB_STAT_FAIL_PEER_BAD_RESPONSE:
    return "refused: bad peer response";
  case TB_STAT_FAIL_NO_PEER:
    return "refused: no valid peer";
  default:
    return "refused: internal error";
  }
}
