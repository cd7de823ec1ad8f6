/*
 * pool: see pool.h.
 *
 * The pool's lock is a leaf: it is held only to push or pop a pointer and
 * adjust counters, never while calling into ATS.  A warm link reports to its
 * slot (link.h's callback, under the link's own mutex).  A link taken by a
 * tunnel is no longer in the slot's idle list; news of it that reaches the
 * slot afterwards (it died, or expired, in the moment between the take and
 * the tunnel's adopt) is ignored here: the tunnel finds out at adopt.
 */
#include "pool.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "direct.h"
#include "peers.h"
#include "stats.h"

#define POOL_THREADS_MAX 64
#define BACKOFF_MIN_MS 100   /* first wait after a failed warm-up */
#define BACKOFF_MAX_MS 10000 /* longest wait between warm-ups to a failing peer */

/* The warm links made on one event thread. */
struct pool_slot {
  struct tb_pool *pool;
  TSEventThread thread;
  struct tb_link *idle[TB_POOL_SIZE_MAX]; /* owned by the pool */
  int nidle;
  int warming; /* links being opened for this slot */
};

struct tb_pool {
  pthread_mutex_t lock; /* a leaf: see the top */
  struct pool_slot slots[POOL_THREADS_MAX];
  int nslots;
  unsigned size; /* how many to keep ready per event thread */
  unsigned max_age_ms;
  unsigned connect_timeout_ms;
  int64_t last_claim_ms; /* the pool refills only while its peer is in use */
  int64_t backoff_ms;    /* after a failed warm-up: wait before the next one */
  int64_t next_try_ms;
  struct tb_peer peer;
  struct tb_peer_state *state; /* not owned: the peer's health, which warm-ups report to (may be NULL) */
  struct tb_direct *direct; /* a reference to the latest settings of its key (under lock); NULL: ats engine */
  char peer_text[TB_PEER_TEXT_MAX];
  struct tb_pool *next; /* the list of all pools, under g_pools_lock */
};

static pthread_mutex_t g_pools_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tb_pool *g_pools;
/* How warm-ups are judged (the configuration's health defaults).  Read
 * without the lock by the pools: a struct of two words written at reload,
 * where a torn read only mixes two valid settings. */
static struct tb_health_settings g_health = {3, 10000};

static void refill(struct tb_pool *p, int i);

/* The slot for event thread th, made if new (under p->lock); -1 if none. */
static int slot_index(struct tb_pool *p, TSEventThread th, bool make) {
  if (th == NULL) {
    return -1;
  }
  for (int i = 0; i < p->nslots; i++) {
    if (p->slots[i].thread == th) {
      return i;
    }
  }
  if (!make || p->nslots == POOL_THREADS_MAX) {
    return -1;
  }
  p->slots[p->nslots].thread = th;
  p->slots[p->nslots].pool = p;
  return p->nslots++;
}

/* Remove l from sl's idle list (under p->lock); false when it is not there
 * (a tunnel took it). */
static bool idle_remove(struct pool_slot *sl, const struct tb_link *l) {
  for (int i = 0; i < sl->nidle; i++) {
    if (sl->idle[i] == l) {
      sl->idle[i] = sl->idle[--sl->nidle];
      return true;
    }
  }
  return false;
}

/* After a failed warm-up: wait before the next (under p->lock). */
static void back_off(struct tb_pool *p) {
  p->backoff_ms = p->backoff_ms == 0
                      ? BACKOFF_MIN_MS
                      : (p->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : p->backoff_ms * 2);
  p->next_try_ms = tb_now_ms() + p->backoff_ms;
}

/* News of a warm link (under its mutex).  A link the peer closes before
 * any use counts as a failed warm-up, like one that never opened: ATS
 * answers its internal CONNECT as soon as TCP is up, so a peer that is
 * down or refusing TLS shows up as exactly that, and refilling at once
 * would open and lose links in a tight loop. */
static void on_news(void *owner, struct tb_link *l, enum tb_link_news news,
                    const struct tb_link_failure *why) {
  struct pool_slot *sl = owner;
  struct tb_pool *p = sl->pool;
  int slot = (int)(sl - p->slots);
  bool mine = false;

  if (news == TB_LINK_OPENED) {
    tb_link_expire_in(l, p->max_age_ms); /* retired before the peer's idle timeout can close it */
  }
  pthread_mutex_lock(&p->lock);
  switch (news) {
  case TB_LINK_OPENED:
    sl->warming--;
    if ((unsigned)sl->nidle < p->size) {
      sl->idle[sl->nidle++] = l;
      mine = true;
    }
    break;
  case TB_LINK_FAILED:
    sl->warming--;
    back_off(p);
    break;
  case TB_LINK_LOST:
    mine = idle_remove(sl, l);
    if (mine) {
      back_off(p);
    }
    break;
  case TB_LINK_STEADY:
    break;
  case TB_LINK_EXPIRED:
  default:
    mine = idle_remove(sl, l);
    break;
  }
  pthread_mutex_unlock(&p->lock);

  /* Warm-ups are evidence of the peer's health: an idle peer that died is
   * marked down before a client needs it, and one that comes back is found
   * (tb_pool_touch keeps a down peer's warm-ups going while its rule is in
   * use).  On the direct engine an opened link has completed its TLS
   * handshake: a success.  On the ats engine ATS answers the internal
   * CONNECT on TCP alone, so a link open for a while (STEADY) is weaker
   * evidence, not taken while the peer's failures are timeouts
   * (tb_peers_report_steady): counted as a success, it reset the timeouts
   * of a peer that accepts TCP and never answers TLS, which then was never
   * marked down.  Judged by the default health settings (pool.h). */
  if (news == TB_LINK_STEADY) {
    if (!tb_link_open_proves_peer(l)) {
      tb_peers_report_steady(p->state, &g_health);
    }
    return;
  }
  if (news == TB_LINK_OPENED && tb_link_open_proves_peer(l)) {
    tb_peers_report(p->state, &g_health, true, TB_CAUSE_OTHER, true); /* a handshake completed */
  }
  if (news == TB_LINK_FAILED || (news == TB_LINK_LOST && mine)) {
    tb_peers_report(p->state, &g_health, false,
                    news == TB_LINK_LOST || why == NULL ? TB_CAUSE_CLOSED : tb_link_health_cause(why->cause),
                    true);
  }
  if (news == TB_LINK_OPENED) {
    if (!mine) {
      tb_link_close(l); /* the slot filled up meanwhile */
    }
    return;
  }
  if (news != TB_LINK_FAILED && !mine) {
    return; /* taken by a tunnel, which will see it at adopt */
  }
  if (news == TB_LINK_EXPIRED) {
    TB_DEBUG("pool %s: warm connection retired at its maximum age", p->peer_text);
  } else {
    tb_stat_add(TB_STAT_POOL_WARM_FAILED, 1);
    TB_DEBUG("pool %s: warm-up failed (%s); next in %" PRId64 " ms at the earliest", p->peer_text,
             why != NULL ? why->text : "?", p->backoff_ms);
  }
  tb_link_close(l);
  refill(p, slot);
}

/* Start warming links on slot i's thread until it has the pool's size
 * (counting those warming), unless the peer is idle or warm-ups back off. */
static void refill(struct tb_pool *p, int i) {
  int64_t now = tb_now_ms();
  struct pool_slot *sl = &p->slots[i];
  int need;

  pthread_mutex_lock(&p->lock);
  need = (int)p->size - sl->nidle - sl->warming;
  if (now < p->next_try_ms || now - p->last_claim_ms > (int64_t)p->max_age_ms) {
    need = 0;
  }
  if (need > 0) {
    sl->warming += need;
  }
  pthread_mutex_unlock(&p->lock);

  /* The internal transaction's client address: loopback, the ingress
   * itself (TSHttpConnectPlugin asserts a non-zero port). */
  struct sockaddr_in self = {0};
  self.sin_family = AF_INET;
  self.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  self.sin_port = htons(1);
  pthread_mutex_lock(&p->lock);
  struct tb_direct *direct = p->direct != NULL ? tb_direct_ref(p->direct) : NULL; /* swapped at reload */
  pthread_mutex_unlock(&p->lock);
  struct tb_link_spec spec = {&p->peer, (const struct sockaddr *)&self, "(pool)",
                              0,        p->connect_timeout_ms,          direct};
  for (int k = 0; k < need; k++) {
    TSMutex mutex = TSMutexCreate();
    spec.id = tb_next_id();
    struct tb_link *l = mutex != NULL ? tb_link_open(&spec, mutex, sl->thread, on_news, sl) : NULL;
    if (l == NULL) {
      pthread_mutex_lock(&p->lock);
      sl->warming -= need - k;
      pthread_mutex_unlock(&p->lock);
      break;
    }
  }
  tb_direct_unref(direct); /* each link took its own */
}

void tb_pool_refill_here(struct tb_pool *p) {
  pthread_mutex_lock(&p->lock);
  int i = slot_index(p, TSEventThreadSelf(), true);
  pthread_mutex_unlock(&p->lock);
  if (i >= 0) {
    refill(p, i);
  }
}

void tb_pool_peer_ok(struct tb_pool *p) {
  pthread_mutex_lock(&p->lock);
  bool was_failing = p->backoff_ms != 0;
  p->backoff_ms = 0;
  p->next_try_ms = 0;
  pthread_mutex_unlock(&p->lock);
  if (was_failing) {
    tb_pool_refill_here(p);
  }
}

struct tb_link *tb_pool_take(struct tb_pool *p) {
  struct tb_link *l = NULL;
  pthread_mutex_lock(&p->lock);
  p->last_claim_ms = tb_now_ms();
  int i = slot_index(p, TSEventThreadSelf(), false);
  if (i >= 0 && p->slots[i].nidle > 0) {
    l = p->slots[i].idle[--p->slots[i].nidle];
  }
  pthread_mutex_unlock(&p->lock);
  return l;
}

void tb_pool_health(const struct tb_health_settings *hs) {
  pthread_mutex_lock(&g_pools_lock);
  g_health = *hs;
  pthread_mutex_unlock(&g_pools_lock);
}

void tb_pool_touch(struct tb_pool *p) {
  pthread_mutex_lock(&p->lock);
  p->last_claim_ms = tb_now_ms();
  pthread_mutex_unlock(&p->lock);
  tb_pool_refill_here(p);
}

/* Do a pool made with direct settings a and a request for b mean the same
 * engine and TLS settings?  (Their files are read again at each reload:
 * the pool then moves to the newer ones.) */
static bool same_settings(const struct tb_direct *a, const struct tb_direct *b) {
  if (a == NULL || b == NULL) {
    return a == b;
  }
  return strcmp(tb_direct_key(a), tb_direct_key(b)) == 0;
}

struct tb_pool *tb_pool_get(const struct tb_peer *peer, struct tb_peer_state *state, unsigned size,
                            unsigned max_age_ms, unsigned connect_timeout_ms, struct tb_direct *direct) {
  struct tb_pool *p;
  if (size > TB_POOL_SIZE_MAX) {
    size = TB_POOL_SIZE_MAX;
  }
  pthread_mutex_lock(&g_pools_lock);
  for (p = g_pools; p != NULL; p = p->next) {
    if (p->size == size && p->max_age_ms == max_age_ms && p->connect_timeout_ms == connect_timeout_ms &&
        p->peer.port == peer->port && strcmp(p->peer.host, peer->host) == 0 &&
        same_settings(p->direct, direct)) {
      break;
    }
  }
  if (p != NULL && p->direct != direct) {
    pthread_mutex_lock(&p->lock);
    struct tb_direct *old = p->direct;
    p->direct = tb_direct_ref(direct); /* the newest load's: new warm-ups use it */
    pthread_mutex_unlock(&p->lock);
    tb_direct_unref(old);
  }
  if (p == NULL && (p = calloc(1, sizeof *p)) != NULL) {
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
      free(p);
      p = NULL;
    } else {
      p->size = size;
      p->max_age_ms = max_age_ms;
      p->connect_timeout_ms = connect_timeout_ms;
      p->peer = *peer;
      p->state = state;
      p->direct = direct != NULL ? tb_direct_ref(direct) : NULL;
      if (tb_peer_format(peer, p->peer_text, sizeof p->peer_text) < 0) {
        snprintf(p->peer_text, sizeof p->peer_text, "%s", peer->host);
      }
      p->next = g_pools;
      g_pools = p;
    }
  }
  pthread_mutex_unlock(&g_pools_lock);
  return p;
}
