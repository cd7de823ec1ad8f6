/*
 * plan: a tunnel's attempts at its rule's peers.  Made when the CONNECT is
 * matched: the rule's peers for this CONNECT (templates expanded), each
 * with its health record (peers.h) and warm pool (pool.h), and the order
 * to try them in (tb_select.h).  During set-up the tunnel moves through it:
 * an attempt that fails before the peer answered goes on to the next peer
 * within what is left of the connect timeout; when none is left, the client
 * gets one answer naming every peer tried and why each failed.
 *
 * A plan owns its array of attempts; it belongs to one tunnel and is used
 * under that tunnel's mutex.
 */
#ifndef TB_PLAN_H
#define TB_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "glue.h"
#include "tb_capture.h"
#include "tb_config.h"
#include "tb_select.h"

struct tb_live;
struct tb_peer_state;
struct tb_pool;
struct tb_direct;

/* One peer of the plan and what came of trying it. */
struct tb_try {
  struct tb_peer peer;
  char name[TB_PEER_TEXT_MAX]; /* "host:port" */
  struct tb_peer_state *state; /* its health record; NULL: none */
  struct tb_pool *pool;        /* its warm links; NULL: none */
  const char *outcome;         /* NULL: not tried; "answered"; or a tb_cause_name */
  bool trial;                  /* this attempt holds the peer's trial */
  bool verdict;                /* success or failure reported (a trial is released by it) */
};

struct tb_plan {
  struct tb_try *tries; /* owned: the rule's peers for this CONNECT, in configuration order */
  size_t n;
  struct tb_selection sel; /* the order to try them in */
  size_t pos;              /* sel.order[pos] is being tried; pos == sel.n: none left */
  struct tb_health_settings health;
  struct tb_direct *direct; /* the rule's direct engine settings (the live's); NULL: the ats engine */
  unsigned connect_timeout_ms;
  int64_t started_ms; /* set-up start (NET_ACCEPT); 0 before */
  size_t failures;    /* attempts that failed */
  size_t timeouts;    /* of which timed out */
  char causes[1024];  /* "peer A: why; peer B: why" */
  char no_peer[512];  /* n == 0: why the rule gave no peer */
};

/* Make the plan for a CONNECT to host[0..len):port matched by rule r of the
 * configuration live (caps: its captures), turn: the rule's round-robin
 * counter.  Returns 0 (n may be 0: no_peer says why), or -1 when out of
 * memory. */
int tb_plan_make(struct tb_plan *pl, struct tb_live *live, const struct tb_rule *r, const char *host,
                 size_t len, unsigned port, const struct tb_captures *caps, uint64_t turn);

/* The peer being tried, or NULL when none is left. */
struct tb_try *tb_plan_current(struct tb_plan *pl);

/* Move to the next peer the health records let this tunnel try
 * (tb_peers_begin); from the start when called first.  Returns it, or NULL
 * when none is left. */
struct tb_try *tb_plan_next(struct tb_plan *pl);

/* The time the current attempt gets (tb_select_budget); 0: none left. */
unsigned tb_plan_budget(const struct tb_plan *pl);

/* The current attempt failed before the peer answered: for this cause,
 * with why (the text its client would have got).  Reported to the peer's
 * health. */
void tb_plan_failed(struct tb_plan *pl, enum tb_cause cause, const char *why);

/* The current peer answered (any HTTP answer). */
void tb_plan_answered(struct tb_plan *pl);

/* "a:443 unreachable, b:443 answered" (the tunnel log's tried field); "-"
 * when nothing was tried. */
void tb_plan_tried(const struct tb_plan *pl, char *buf, size_t len);

/* Release what the plan holds (a trial without a verdict is abandoned). */
void tb_plan_free(struct tb_plan *pl);

#endif
