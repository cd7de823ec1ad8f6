/* plan: see plan.h. */
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live.h"
#include "peers.h"

int tb_plan_make(struct tb_plan *pl, struct tb_live *live, const struct tb_rule *r, const char *host,
                 size_t len, unsigned port, const struct tb_captures *caps, uint64_t turn) {
  const struct tb_config *c = tb_live_config(live);
  struct tb_candidate cand[TB_RULE_PEERS_MAX];

  memset(pl, 0, sizeof *pl);
  pl->tries = calloc(r->npeers > 0 ? r->npeers : 1, sizeof *pl->tries);
  if (pl->tries == NULL) {
    return -1;
  }
  tb_config_health(c, r, &pl->health);
  pl->direct = tb_live_direct(live, r->transport);
  for (size_t i = 0; i < r->npeers && pl->n < TB_RULE_PEERS_MAX; i++) {
    struct tb_try *t = &pl->tries[pl->n];
    char err[sizeof pl->no_peer];
    if (tb_config_rule_peer(c, r, i, host, len, caps, &t->peer, err, sizeof err) != 0) {
      /* A template that gives no valid peer for this host: never a
       * connection somewhere unexpected, the next peer if there is one. */
      snprintf(pl->no_peer, sizeof pl->no_peer, "%s", err);
      continue;
    }
    if (tb_peer_format(&t->peer, t->name, sizeof t->name) < 0) {
      snprintf(t->name, sizeof t->name, "%s", t->peer.host);
    }
    size_t idx = r->peers[i].index != TB_PEER_TEMPLATE ? r->peers[i].index : tb_config_find_peer(c, &t->peer);
    if (idx != SIZE_MAX) {
      t->state = tb_live_peer_state(live, idx);
      t->pool = tb_live_peer_pool(live, idx, r->transport);
    } else {
      t->state = tb_peers_find(&t->peer, true); /* a peer only this template names: no warm links */
    }
    cand[pl->n].peer = &t->peer;
    cand[pl->n].health = t->state != NULL ? tb_peers_health(t->state) : NULL;
    pl->n++;
  }
  tb_peers_order(r->balance, cand, pl->n, host, len, port, turn, &pl->sel);
  pl->pos = SIZE_MAX; /* tb_plan_next starts at 0 */
  return 0;
}

struct tb_try *tb_plan_current(struct tb_plan *pl) {
  return pl->pos < pl->sel.n ? &pl->tries[pl->sel.order[pl->pos]] : NULL;
}

struct tb_try *tb_plan_next(struct tb_plan *pl) {
  for (pl->pos = pl->pos == SIZE_MAX ? 0 : pl->pos + 1; pl->pos < pl->sel.n; pl->pos++) {
    struct tb_try *t = &pl->tries[pl->sel.order[pl->pos]];
    enum tb_attempt a = tb_peers_begin(t->state, pl->connect_timeout_ms, pl->sel.all_down);
    if (a != TB_ATTEMPT_SKIP) {
      t->trial = a == TB_ATTEMPT_TRIAL;
      return t;
    }
    t->outcome = "skipped (down)"; /* it went down, or its trial was taken, since the order was made */
  }
  return NULL;
}

unsigned tb_plan_budget(const struct tb_plan *pl) {
  size_t left = pl->pos < pl->sel.n ? pl->sel.n - pl->pos : 0;
  return tb_select_budget((uint64_t)pl->started_ms, pl->connect_timeout_ms, (uint64_t)tb_now_ms(), left);
}

void tb_plan_failed(struct tb_plan *pl, enum tb_cause cause, const char *why) {
  struct tb_try *t = tb_plan_current(pl);
  if (t == NULL) {
    return;
  }
  t->outcome = tb_cause_name(cause);
  t->verdict = true;
  pl->failures++;
  pl->timeouts += cause == TB_CAUSE_TIMEOUT;
  size_t used = strlen(pl->causes);
  snprintf(pl->causes + used, sizeof pl->causes - used, "%s%s", used > 0 ? "; " : "", why);
  tb_peers_report(t->state, &pl->health, false, cause, false);
}

void tb_plan_answered(struct tb_plan *pl) {
  struct tb_try *t = tb_plan_current(pl);
  if (t == NULL || t->verdict) {
    return;
  }
  t->outcome = "answered";
  t->verdict = true;
  tb_peers_report(t->state, &pl->health, true, TB_CAUSE_OTHER, false);
}

void tb_plan_tried(const struct tb_plan *pl, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t k = 0; k < pl->sel.n && used < len; k++) {
    const struct tb_try *t = &pl->tries[pl->sel.order[k]];
    if (t->outcome == NULL && k != pl->pos) {
      continue;
    }
    int w = snprintf(buf + used, len - used, "%s%s %s", used > 0 ? ", " : "", t->name,
                     t->outcome != NULL ? t->outcome : "no verdict");
    if (w < 0) {
      break;
    }
    used += (size_t)w;
  }
  if (used == 0) {
    snprintf(buf, len, "-");
  }
}

void tb_plan_free(struct tb_plan *pl) {
  for (size_t k = 0; pl->tries != NULL && k < pl->n; k++) {
    if (pl->tries[k].trial && !pl->tries[k].verdict) {
      tb_peers_abandon(pl->tries[k].state);
    }
  }
  free(pl->tries);
  pl->tries = NULL;
  pl->n = 0;
}
