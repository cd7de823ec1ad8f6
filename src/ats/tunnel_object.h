/*
 * tunnel_object: a tunnel as an object: its fields, one function for each
 * resource it holds, how it refuses a client, and how it ends (log line,
 * metrics, free).  The state machine that drives it is tunnel.c, the only
 * user of this header.  Everything here runs under the tunnel's mutex.
 */
#ifndef TB_TUNNEL_OBJECT_H
#define TB_TUNNEL_OBJECT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "glue.h"
#include "link.h"
#include "plan.h"
#include "pump.h"
#include "registry.h"
#include "reply.h"
#include "stats.h"
#include "tb_config.h"

struct tb_live;
struct tb_pool;

#define TB_TUNNEL_MAGIC 0x54424e4cu /* "TBNL": checked on every event */

enum tb_phase {
  TB_PH_ACCEPT,      /* intercepted, waiting for NET_ACCEPT (a warm link may be held) */
  TB_PH_PEER_OPEN,   /* the link to the peer is being opened (link.h) */
  TB_PH_PEER_ANSWER, /* the client's CONNECT flows to the peer; its answer is parsed in place */
  TB_PH_HANDOVER,    /* the peer's 2xx header is with ATS; tunnel bytes wait */
  TB_PH_TUNNEL,      /* bytes both ways */
  TB_PH_REFUSE,      /* our own answer is being written to the client, then close */
  TB_PH_COUNT
};

/* "accept", "peer-open", ... (also shown by `plugin msg tunnels`). */
extern const char *const tb_phase_names[TB_PH_COUNT];

struct tb_tunnel {
  uint32_t magic;
  enum tb_phase phase;
  uint64_t id;
  TSCont cont;             /* owned: NET_ACCEPT and the VConns' events; its mutex serialises everything */
  struct tb_timer setup;   /* owned: the set-up deadline (same mutex) */
  struct tb_timer nudge;   /* owned: the EOS nudge (same mutex) */
  struct tb_link *link;    /* owned: the connection towards the peer */
  struct tb_pump pump;     /* the two directions; pump.ua is owned (the client side from the intercept),
                              pump.peer is the link's VConn once used (the link owns it), NULL before */
  int64_t nudge_ms;        /* current nudge interval */
  int64_t nudge_seen;      /* bytes read both ways at the last nudge */
  int64_t half_closed_ms;  /* when the first direction finished; 0 before */
  struct tb_resp resp;     /* the peer's answer */
  int64_t parsed;          /* bytes of pump.down.reader already fed to resp */
  struct tb_reply reply;   /* owned: the header we write to ua (ours in REFUSE, the peer's in HANDOVER) */
  TSIOBufferReader replay; /* owned (a reader of pump.up.buf): the client's CONNECT, kept until the peer
                              answers, to resend it if a warm link was stale */
  struct tb_pool *pool;    /* not owned: where the rule's warm links are; may be NULL */
  struct tb_live *live;    /* owned reference: the configuration the tunnel started with */
  struct tb_reg_entry reg; /* in the registry from start to destroy */
  int64_t started_ms;      /* at the intercept */
  int64_t open_ms;         /* when the tunnel opened (2xx handed over); 0 before */
  int64_t last_active_ms;  /* when bytes last moved (checked by the nudge) */
  int handover_ready;      /* WRITE_READYs seen in HANDOVER (see start_handover) */
  unsigned connect_timeout_ms;
  unsigned idle_timeout_ms; /* 0: no limit of the plugin's */
  unsigned max_lifetime_ms; /* 0: no limit */
  bool lifetime_is_ats;     /* max_lifetime_ms is Traffic Server's transaction_active_timeout_in */
  unsigned client_status;   /* the status the client was given; 0: none yet */
  const char *refused_why;  /* static text: why the client got our own answer (the log's close reason) */
  bool reused;              /* the link came from the pool */
  bool retried;             /* a stale warm link was replaced once already */
  struct sockaddr_storage client_addr;
  struct tb_plan plan;             /* owned: the rule's peers for this CONNECT and what came of trying them */
  const char *peer_text;           /* "host:port" of the peer being tried (in plan), or "-" */
  unsigned attempt_ms;             /* the current attempt's share of the set-up time */
  struct tb_peer_state *open_peer; /* the peer the open tunnel counts against (peers.h), or NULL */
  char target[TB_PEER_TEXT_MAX];   /* "host:port" the client asked for, for messages */
};

/* A debug line about tunnel t, prefixed with its id. */
#define TB_TDEBUG(t, fmt, ...) TB_DEBUG("[%" PRIu64 "] " fmt, (t)->id, ##__VA_ARGS__)

/* A new tunnel in ACCEPT for the CONNECT in txn (host:port) matching rule
 * with settings s, trying peers as plan says; its continuations (events to
 * on_event, timers to on_setup and on_nudge, data: the tunnel) run under
 * mutex.  It takes over the caller's reference to live and plan (moved in),
 * registers itself and counts itself started.  NULL when out of memory
 * (nothing taken over). */
struct tb_tunnel *tb_tunnel_create(TSMutex mutex, TSEventFunc on_event, TSEventFunc on_setup,
                                   TSEventFunc on_nudge, TSHttpTxn txn, struct tb_live *live,
                                   const struct tb_rule *rule, const struct tb_settings *s, const char *host,
                                   int host_len, int port, const struct tb_plan *plan);

/* The one place a phase changes (traced, and shown to the registry). */
void tb_tunnel_set_phase(struct tb_tunnel *t, enum tb_phase next);

/* (Re)arm the nudge for t->nudge_ms from now. */
void tb_tunnel_nudge_arm(struct tb_tunnel *t);

/* The one place the connection to the peer is closed (if there is one). */
void tb_tunnel_close_link(struct tb_tunnel *t);

/* Log, count and free.  The caller returns at once: t is gone. */
void tb_tunnel_end(struct tb_tunnel *t, const char *why);

/* An event the phase has no business receiving: a TSError naming it, then
 * the end (never a leak).  t is gone. */
void tb_tunnel_unexpected(struct tb_tunnel *t, TSEvent event, const char *where);

/* Answer the client ourselves (status, reason, X-TLS-Bridge-Error: the
 * formatted text), count cause, close the link: REFUSE.  Only before any
 * peer byte went to the client.  t may be gone (when even that failed). */
void tb_tunnel_refuse(struct tb_tunnel *t, enum tb_stat cause, unsigned status, const char *reason,
                      const char *fmt, ...) TS_PRINTFLIKE(5, 6);

/* Refuse for a link that could not be opened (its cause and text). */
void tb_tunnel_refuse_link(struct tb_tunnel *t, const struct tb_link_failure *why);

#endif
