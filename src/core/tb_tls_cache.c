/*
 * tb_tls_cache: the direct engine's resumable TLS sessions, per peer and
 * per settings (tb_tls_cache.h; the public part is in tb_tls.h).  A fixed
 * table of slots under one mutex: put takes a free slot, else the peer's
 * oldest once it has TB_TLS_CACHE_PER_PEER, else the oldest of all; take
 * hands out the peer's newest live session and drops expired ones it meets.
 * Sessions are freed outside the lock.
 */
#include "tb_tls_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct tb_tls_slot {
  SSL_SESSION *sess;   /* owned; NULL: the slot is free */
  struct tb_peer peer; /* whose session */
  uint64_t ctx_id;     /* made under which settings */
  uint64_t stamp;      /* when it was stored: larger is newer */
};

struct tb_tls_cache {
  pthread_mutex_t lock; /* guards clock and slots */
  unsigned capacity;
  uint64_t clock;
  struct tb_tls_slot *slots; /* owned: capacity of them */
};

struct tb_tls_cache *tb_tls_cache_create(unsigned capacity) {
  struct tb_tls_cache *c;

  if (capacity == 0) {
    capacity = 1;
  }
  c = calloc(1, sizeof *c);
  if (c == NULL) {
    return NULL;
  }
  c->slots = calloc(capacity, sizeof *c->slots);
  if (c->slots == NULL || pthread_mutex_init(&c->lock, NULL) != 0) {
    free(c->slots);
    free(c);
    return NULL;
  }
  c->capacity = capacity;
  return c;
}

void tb_tls_cache_destroy(struct tb_tls_cache *cache) {
  if (cache == NULL) {
    return;
  }
  for (unsigned i = 0; i < cache->capacity; i++) {
    SSL_SESSION_free(cache->slots[i].sess);
  }
  pthread_mutex_destroy(&cache->lock);
  free(cache->slots);
  free(cache);
}

static bool slot_is(const struct tb_tls_slot *s, uint64_t ctx_id, const struct tb_peer *peer) {
  return s->sess != NULL && s->ctx_id == ctx_id && tb_peer_same(&s->peer, peer);
}

/* Has the session outlived its lifetime (the ticket's, in TLS 1.3)? */
static bool expired(const SSL_SESSION *s, time_t now) {
  long born = (long)SSL_SESSION_get_time(s);
  long life = (long)SSL_SESSION_get_timeout(s);

  return (long)now >= born + life;
}

void tb_tls_cache_put(struct tb_tls_cache *c, uint64_t ctx_id, const struct tb_peer *peer,
                      SSL_SESSION *sess) {
  struct tb_tls_slot *free_slot = NULL, *oldest = NULL, *oldest_mine = NULL, *victim;
  SSL_SESSION *old;
  unsigned mine = 0;

  pthread_mutex_lock(&c->lock);
  for (unsigned i = 0; i < c->capacity; i++) {
    struct tb_tls_slot *s = &c->slots[i];
    if (s->sess == NULL) {
      if (free_slot == NULL) {
        free_slot = s;
      }
      continue;
    }
    if (slot_is(s, ctx_id, peer)) {
      mine++;
      if (oldest_mine == NULL || s->stamp < oldest_mine->stamp) {
        oldest_mine = s;
      }
    }
    if (oldest == NULL || s->stamp < oldest->stamp) {
      oldest = s;
    }
  }
  if (mine >= TB_TLS_CACHE_PER_PEER && oldest_mine != NULL) {
    victim = oldest_mine;
  } else {
    victim = free_slot != NULL ? free_slot : oldest;
  }
  if (victim == NULL) { /* no slot at all (capacity is at least 1: never) */
    pthread_mutex_unlock(&c->lock);
    SSL_SESSION_free(sess);
    return;
  }
  old = victim->sess;
  victim->sess = sess;
  victim->peer = *peer;
  victim->ctx_id = ctx_id;
  victim->stamp = ++c->clock;
  pthread_mutex_unlock(&c->lock);
  SSL_SESSION_free(old); /* outside the lock; NULL is a no-op */
}

SSL_SESSION *tb_tls_cache_take(struct tb_tls_cache *c, uint64_t ctx_id, const struct tb_peer *peer) {
  time_t now = time(NULL);
  struct tb_tls_slot *best = NULL;
  SSL_SESSION *sess = NULL;

  pthread_mutex_lock(&c->lock);
  for (unsigned i = 0; i < c->capacity; i++) {
    struct tb_tls_slot *s = &c->slots[i];
    if (!slot_is(s, ctx_id, peer)) {
      continue;
    }
    if (expired(s->sess, now)) {
      SSL_SESSION_free(s->sess);
      s->sess = NULL;
      continue;
    }
    if (best == NULL || s->stamp > best->stamp) {
      best = s;
    }
  }
  if (best != NULL) {
    sess = best->sess;
    best->sess = NULL;
  }
  pthread_mutex_unlock(&c->lock);
  return sess;
}

unsigned tb_tls_cache_count_id(struct tb_tls_cache *cache, uint64_t ctx_id, const struct tb_peer *peer) {
  time_t now = time(NULL);
  unsigned n = 0;

  pthread_mutex_lock(&cache->lock);
  for (unsigned i = 0; i < cache->capacity; i++) {
    const struct tb_tls_slot *s = &cache->slots[i];
    if (slot_is(s, ctx_id, peer) && !expired(s->sess, now)) {
      n++;
    }
  }
  pthread_mutex_unlock(&cache->lock);
  return n;
}
