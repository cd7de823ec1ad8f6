/* registry: see registry.h. */
#include "registry.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "glue.h"

#define TEXT_MAX (TB_PEER_TEXT_MAX + 8)

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tb_reg_entry *g_head;
static size_t g_count;

void tb_registry_add(struct tb_reg_entry *e) {
  pthread_mutex_lock(&g_lock);
  e->prev = NULL;
  e->next = g_head;
  if (g_head != NULL) {
    g_head->prev = e;
  }
  g_head = e;
  g_count++;
  pthread_mutex_unlock(&g_lock);
}

void tb_registry_remove(struct tb_reg_entry *e) {
  pthread_mutex_lock(&g_lock);
  if (e->prev != NULL) {
    e->prev->next = e->next;
  } else if (g_head == e) {
    g_head = e->next;
  }
  if (e->next != NULL) {
    e->next->prev = e->prev;
  }
  e->prev = e->next = NULL;
  g_count--;
  pthread_mutex_unlock(&g_lock);
}

/* One tunnel as copied for the listing. */
struct row {
  uint64_t id, generation;
  int64_t started_ms, up, down;
  const char *state;
  char target[TEXT_MAX];
  char peer[TEXT_MAX];
  char rule[TEXT_MAX];
};

void tb_registry_dump(void) {
  int64_t now = tb_now_ms();
  size_t n = 0;
  pthread_mutex_lock(&g_lock);
  size_t count = g_count;
  struct row *rows = calloc(count > 0 ? count : 1, sizeof *rows);
  if (rows == NULL) {
    pthread_mutex_unlock(&g_lock);
    TSError("[%s] out of memory listing %zu open tunnels", TB_TAG, count);
    return;
  }
  for (const struct tb_reg_entry *e = g_head; e != NULL && n < count; e = e->next, n++) {
    struct row *r = &rows[n];
    r->id = e->id;
    r->generation = e->generation;
    r->started_ms = e->started_ms;
    r->up = atomic_load(&e->up);
    r->down = atomic_load(&e->down);
    r->state = atomic_load(&e->state);
    snprintf(r->target, sizeof r->target, "%s", e->target);
    snprintf(r->peer, sizeof r->peer, "%s", atomic_load(&e->peer));
    snprintf(r->rule, sizeof r->rule, "%s", e->rule != NULL ? e->rule : "-");
  }
  pthread_mutex_unlock(&g_lock);
  for (size_t i = 0; i < n; i++) {
    const struct row *r = &rows[i];
    TSNote("[%s] tunnel id=%" PRIu64 " target=%s peer=%s rule=\"%s\" configuration=%" PRIu64
           " state=%s age_ms=%" PRId64 " up=%" PRId64 " down=%" PRId64,
           TB_TAG, r->id, r->target, r->peer, r->rule, r->generation, r->state, now - r->started_ms, r->up,
           r->down);
  }
  free(rows);
  TSNote("[%s] %zu open tunnel%s", TB_TAG, n, n == 1 ? "" : "s");
}
