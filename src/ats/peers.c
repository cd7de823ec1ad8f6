/* peers: see peers.h. */
#include "peers.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

#define PEERS_MAX 4096 /* records in all: bounds what client-chosen template names can make */
#define LINE_MAX_LEN 512

/* The per-peer metrics, in the order of their names. */
enum peer_stat {
  PS_ATTEMPTS,
  PS_FAIL_UNREACHABLE,
  PS_FAIL_TIMEOUT,
  PS_FAIL_CLOSED,
  PS_FAIL_BAD_ANSWER,
  PS_FAIL_OTHER,
  PS_TUNNELS,
  PS_STATE,
  PS_COUNT
};
static const char *const peer_stat_names[PS_COUNT] = {"attempts",
                                                      "failures.unreachable",
                                                      "failures.timeout",
                                                      "failures.closed",
                                                      "failures.bad_answer",
                                                      "failures.other",
                                                      "tunnels.open",
                                                      "state"};

/* The value of the .state metric. */
enum { STATE_UP = 0, STATE_DOWN = 1, STATE_DRAINING = 2 };

struct tb_peer_state {
  struct tb_peer peer;
  char name[TB_PEER_TEXT_MAX];
  struct tb_health health;    /* under g_lock */
  int64_t tunnels;            /* under g_lock */
  atomic_int stats[PS_COUNT]; /* -1: none (a template's peer, or no room); set once, read anywhere */
  bool has_stats;
  struct tb_peer_state *next; /* the list, under g_lock */
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tb_peer_state *g_head;
static size_t g_count;
static _Atomic uint32_t g_seed = 0x9e3779b9u;

/* xorshift32: the jitter of down times needs no more. */
static uint32_t random32(void) {
  uint32_t x = atomic_load(&g_seed);
  uint32_t next;
  do {
    next = x;
    next ^= next << 13;
    next ^= next >> 17;
    next ^= next << 5;
  } while (!atomic_compare_exchange_weak(&g_seed, &x, next));
  return next;
}

/* Under g_lock. */
static struct tb_peer_state *lookup(const struct tb_peer *p) {
  for (struct tb_peer_state *st = g_head; st != NULL; st = st->next) {
    if (tb_peer_same(&st->peer, p)) {
      return st;
    }
  }
  return NULL;
}

/* Metric names: host characters other than letters, digits, '-' and '.'
 * become '_', the port follows after '_' (so an IPv6 literal makes no
 * extra levels). */
static void make_stats(struct tb_peer_state *st) {
  char host[TB_HOST_MAX + 1];
  size_t i = 0;
  for (const char *c = st->peer.host; *c != '\0' && i < sizeof host - 1; c++) {
    bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
              *c == '.';
    host[i++] = ok ? *c : '_';
  }
  host[i] = '\0';
  for (int k = 0; k < PS_COUNT; k++) {
    char name[TB_HOST_MAX + 96];
    snprintf(name, sizeof name, "plugin.tls_bridge.peer.%s_%u.%s", host, (unsigned)st->peer.port,
             peer_stat_names[k]);
    atomic_store(&st->stats[k], tb_stat_make(name));
  }
  st->has_stats = true;
}

/* A new record (under g_lock); NULL when out of room or memory. */
static struct tb_peer_state *add(const struct tb_peer *p) {
  if (g_count >= PEERS_MAX) {
    return NULL;
  }
  struct tb_peer_state *st = calloc(1, sizeof *st);
  if (st == NULL) {
    return NULL;
  }
  st->peer = *p;
  if (tb_peer_format(p, st->name, sizeof st->name) < 0) {
    snprintf(st->name, sizeof st->name, "%s", p->host);
  }
  for (int k = 0; k < PS_COUNT; k++) {
    atomic_init(&st->stats[k], -1);
  }
  st->next = g_head;
  g_head = st;
  g_count++;
  return st;
}

void tb_peers_register(const struct tb_config *c) {
  for (size_t i = 0; i < c->npeers; i++) {
    pthread_mutex_lock(&g_lock);
    struct tb_peer_state *st = lookup(&c->peers[i]);
    if (st == NULL) {
      st = add(&c->peers[i]);
    }
    bool want_stats = st != NULL && !st->has_stats;
    if (want_stats) {
      st->has_stats = true; /* claimed: made below, outside the lock */
    }
    pthread_mutex_unlock(&g_lock);
    if (st == NULL) {
      TSError("[%s] no room for the health of peer %s: it is always tried", TB_TAG, c->peers[i].host);
    } else if (want_stats) {
      make_stats(st); /* the ids are written once, before any tunnel can use this configuration */
    }
  }
}

struct tb_peer_state *tb_peers_find(const struct tb_peer *p, bool create) {
  pthread_mutex_lock(&g_lock);
  struct tb_peer_state *st = lookup(p);
  if (st == NULL && create) {
    st = add(p);
  }
  pthread_mutex_unlock(&g_lock);
  return st;
}

const char *tb_peers_name(const struct tb_peer_state *st) {
  return st->name;
}

struct tb_health *tb_peers_health(struct tb_peer_state *st) {
  return &st->health;
}

void tb_peers_order(enum tb_balance balance, const struct tb_candidate *cand, size_t n, const char *host,
                    size_t len, unsigned port, uint64_t turn, struct tb_selection *out) {
  struct tb_select_in in = {balance, cand, n, (uint64_t)tb_now_ms(), host, len, port, turn};
  pthread_mutex_lock(&g_lock);
  tb_select_order(&in, out);
  pthread_mutex_unlock(&g_lock);
}

enum tb_attempt tb_peers_begin(struct tb_peer_state *st, unsigned lease_ms, int all_down) {
  if (st == NULL) {
    return TB_ATTEMPT_GO;
  }
  pthread_mutex_lock(&g_lock);
  enum tb_attempt a = tb_health_begin(&st->health, (uint64_t)tb_now_ms(), lease_ms, all_down);
  pthread_mutex_unlock(&g_lock);
  if (a != TB_ATTEMPT_SKIP) {
    tb_stat_id_add(atomic_load(&st->stats[PS_ATTEMPTS]), 1);
  }
  return a;
}

static int state_value(const struct tb_health *h) {
  return h->down ? STATE_DOWN : (h->draining ? STATE_DRAINING : STATE_UP);
}

void tb_peers_report(struct tb_peer_state *st, const struct tb_health_settings *hs, bool ok,
                     enum tb_cause cause, bool from_pool) {
  if (st == NULL) {
    return;
  }
  uint64_t now = (uint64_t)tb_now_ms();
  pthread_mutex_lock(&g_lock);
  int changed =
      ok ? tb_health_success(&st->health, now) : tb_health_failure(&st->health, hs, now, cause, random32());
  int64_t left = (int64_t)st->health.down_until_ms - (int64_t)now;
  unsigned consecutive = st->health.consecutive;
  int state = state_value(&st->health);
  pthread_mutex_unlock(&g_lock);

  if (!ok) {
    static const enum peer_stat by_cause[TB_CAUSE_COUNT] = {
        [TB_CAUSE_UNREACHABLE] = PS_FAIL_UNREACHABLE,
        [TB_CAUSE_TIMEOUT] = PS_FAIL_TIMEOUT,
        [TB_CAUSE_CLOSED] = PS_FAIL_CLOSED,
        [TB_CAUSE_BAD_ANSWER] = PS_FAIL_BAD_ANSWER,
        [TB_CAUSE_OTHER] = PS_FAIL_OTHER,
    };
    tb_stat_id_add(atomic_load(&st->stats[by_cause[cause < TB_CAUSE_COUNT ? cause : TB_CAUSE_OTHER]]), 1);
  }
  tb_stat_id_set(atomic_load(&st->stats[PS_STATE]), state);
  if (!changed) {
    return;
  }
  if (ok) {
    TSNote("[%s] peer %s is up again: %s answered", TB_TAG, st->name, from_pool ? "a warm-up" : "a tunnel");
  } else {
    TSNote("[%s] peer %s is down for %" PRId64 " ms: %u consecutive failures, the last one %s (%s)", TB_TAG,
           st->name, left > 0 ? left : 0, consecutive, tb_cause_name(cause),
           from_pool ? "a warm-up" : "a tunnel");
  }
}

void tb_peers_report_steady(struct tb_peer_state *st, const struct tb_health_settings *hs) {
  if (st == NULL) {
    return;
  }
  pthread_mutex_lock(&g_lock);
  bool stalling = st->health.consecutive > 0 && st->health.last_cause == TB_CAUSE_TIMEOUT;
  pthread_mutex_unlock(&g_lock);
  if (!stalling) {
    tb_peers_report(st, hs, true, TB_CAUSE_OTHER, true);
  }
}

void tb_peers_abandon(struct tb_peer_state *st) {
  if (st == NULL) {
    return;
  }
  pthread_mutex_lock(&g_lock);
  tb_health_abandon(&st->health);
  pthread_mutex_unlock(&g_lock);
}

void tb_peers_tunnels(struct tb_peer_state *st, int delta) {
  if (st == NULL) {
    return;
  }
  pthread_mutex_lock(&g_lock);
  st->tunnels += delta;
  pthread_mutex_unlock(&g_lock);
  tb_stat_id_add(atomic_load(&st->stats[PS_TUNNELS]), delta);
}

void tb_peers_drain(const char *name, size_t len, int on) {
  char perr[256];
  struct tb_peer p;
  if (len == 0 || tb_peer_parse(name, len, &p, perr, sizeof perr) != 0) {
    TSError("[%s] %s: expected a peer as host:port, got '%.*s'%s%s", TB_TAG, on ? "drain" : "undrain",
            (int)(len > 200 ? 200 : len), name, len ? ": " : "", len ? perr : "");
    return;
  }
  pthread_mutex_lock(&g_lock);
  struct tb_peer_state *st = lookup(&p);
  int state = 0;
  if (st != NULL) {
    tb_health_drain(&st->health, on);
    state = state_value(&st->health);
  }
  pthread_mutex_unlock(&g_lock);
  if (st == NULL) {
    TSError("[%s] %s: no peer %.*s is known (see `plugin msg tls_bridge peers`)", TB_TAG,
            on ? "drain" : "undrain", (int)(len > 200 ? 200 : len), name);
    return;
  }
  tb_stat_id_set(atomic_load(&st->stats[PS_STATE]), state);
  TSNote("[%s] peer %s %s", TB_TAG, st->name,
         on ? "draining: new tunnels avoid it unless no other peer is left; open tunnels continue"
            : "no longer draining");
}

void tb_peers_dump(void) {
  /* Copied under the lock, written after it. */
  size_t n = 0;
  pthread_mutex_lock(&g_lock);
  size_t count = g_count;
  struct row {
    char name[TB_PEER_TEXT_MAX];
    struct tb_health health;
    int64_t tunnels;
  } *rows = calloc(count > 0 ? count : 1, sizeof *rows);
  for (const struct tb_peer_state *st = g_head; rows != NULL && st != NULL && n < count; st = st->next, n++) {
    memcpy(rows[n].name, st->name, sizeof rows[n].name);
    rows[n].health = st->health;
    rows[n].tunnels = st->tunnels;
  }
  pthread_mutex_unlock(&g_lock);
  if (rows == NULL) {
    TSError("[%s] out of memory listing %zu peers", TB_TAG, count);
    return;
  }
  uint64_t now = (uint64_t)tb_now_ms();
  for (size_t i = n; i-- > 0;) { /* oldest first */
    char line[LINE_MAX_LEN];
    (void)tb_health_format(&rows[i].health, now, line, sizeof line); /* a cut line is still useful */
    TSNote("[%s] peer %s: %" PRId64 " open tunnel%s; %s", TB_TAG, rows[i].name, rows[i].tunnels,
           rows[i].tunnels == 1 ? "" : "s", line);
  }
  free(rows);
  TSNote("[%s] %zu peer%s", TB_TAG, n, n == 1 ? "" : "s");
}
