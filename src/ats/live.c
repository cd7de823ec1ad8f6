/* live: see live.h. */
#include "live.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "direct.h"
#include "glue.h"
#include "peers.h"
#include "pool.h"
#include "stats.h"
#include "tb_args.h"
#include "tb_explain.h"

#define ERR_MAX 1024

struct tb_live {
  atomic_int refs;
  uint64_t generation;
  struct tb_config *cfg; /* owned */
  /* owned arrays, one slot per peer of cfg->peers: its health record (made
   * at build: records outlive configurations) and its pool once looked up,
   * so that after the first CONNECT a peer's pool is found without a lock */
  struct tb_peer_state **peer_states;
  _Atomic(struct tb_pool *) *peer_pools; /* npeers x ntransports: [peer * ntransports + transport] */
  /* owned array, one per transport of cfg: the direct engine's TLS
   * settings (a reference each), NULL for the ats engine */
  struct tb_direct **directs;
  /* owned array, one per rule: its round-robin turn */
  atomic_uint_fast64_t *turns;
  /* What the internal transactions' timeouts must be lifted to (seconds; 0:
   * left to Traffic Server): the most any rule's limits need */
  int64_t internal_idle_s;
  int64_t internal_active_s;
};

/* The current configuration: g_live holds one reference.  The read lock
 * covers "load the pointer, take a reference", so a reload cannot free it
 * in between; it is held for a few instructions. */
static pthread_rwlock_t g_live_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct tb_live *g_live;
static uint64_t g_generation;                                     /* under g_reload_lock */
static pthread_mutex_t g_reload_lock = PTHREAD_MUTEX_INITIALIZER; /* one reload at a time */

/* plugin.config's arguments, copied at init, read again on every reload. */
static int g_argc;
static char **g_argv;

static void live_free(struct tb_live *l) {
  for (size_t i = 0; l->directs != NULL && i < l->cfg->ntransports; i++) {
    tb_direct_unref(l->directs[i]);
  }
  free(l->directs);
  tb_config_destroy(l->cfg);
  free(l->peer_states);
  free(l->peer_pools);
  free(l->turns);
  free(l);
}

/* Freeing a large configuration (compiled regexes) takes a while: never on
 * a net thread in the middle of tunnels. */
static int on_free(TSCont cont, TSEvent event, void *edata) {
  (void)event;
  (void)edata;
  live_free(TSContDataGet(cont));
  TSContDestroy(cont);
  return 0;
}

void tb_live_release(struct tb_live *l) {
  if (l == NULL || atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) != 1) {
    return;
  }
  /* TSContScheduleOnPool requires a continuation with a mutex. */
  TSCont c = TSContCreate(on_free, TSMutexCreate());
  if (c == NULL) {
    live_free(l);
    return;
  }
  TSContDataSet(c, l);
  TSContScheduleOnPool(c, 0, TS_THREAD_POOL_TASK);
}

struct tb_live *tb_live_acquire(void) {
  pthread_rwlock_rdlock(&g_live_lock);
  struct tb_live *l = g_live;
  if (l != NULL) {
    atomic_fetch_add_explicit(&l->refs, 1, memory_order_relaxed);
  }
  pthread_rwlock_unlock(&g_live_lock);
  return l;
}

const struct tb_config *tb_live_config(const struct tb_live *l) {
  return l->cfg;
}

uint64_t tb_live_generation(const struct tb_live *l) {
  return l->generation;
}

struct tb_pool *tb_live_peer_pool(struct tb_live *l, size_t i, size_t transport) {
  const struct tb_config *c = l->cfg;
  if (c->pool_size == 0 || i >= c->npeers || transport >= c->ntransports) {
    return NULL;
  }
  size_t k = i * c->ntransports + transport;
  struct tb_pool *p = atomic_load_explicit(&l->peer_pools[k], memory_order_acquire);
  if (p == NULL) {
    p = tb_pool_get(&c->peers[i], l->peer_states[i], c->pool_size, c->pool_max_age_ms, c->connect_timeout_ms,
                    l->directs[transport]);
    atomic_store_explicit(&l->peer_pools[k], p, memory_order_release);
  }
  return p;
}

struct tb_direct *tb_live_direct(const struct tb_live *l, size_t transport) {
  return transport < l->cfg->ntransports ? l->directs[transport] : NULL;
}

struct tb_peer_state *tb_live_peer_state(const struct tb_live *l, size_t i) {
  return i < l->cfg->npeers ? l->peer_states[i] : NULL;
}

uint64_t tb_live_turn(struct tb_live *l, const struct tb_rule *rule) {
  size_t i = (size_t)(rule - l->cfg->rules);
  return i < l->cfg->nrules ? (uint64_t)atomic_fetch_add_explicit(&l->turns[i], 1, memory_order_relaxed) : 0;
}

/* Seconds a limit of ms needs of Traffic Server's timeouts: "never" for 0,
 * else the limit and a margin over the nudge's lateness; 0 for unset. */
static int64_t need_s(unsigned ms) {
  if (ms == TB_UNSET) {
    return 0;
  }
  return ms == 0 ? TB_ATS_NEVER_S : (int64_t)ms / 1000 + 10;
}

static int64_t max64(int64_t a, int64_t b) {
  return a > b ? a : b;
}

static void internal_needs(struct tb_live *l) {
  for (size_t i = 0; i < l->cfg->nrules; i++) {
    struct tb_settings s;
    tb_config_settings(l->cfg, &l->cfg->rules[i], &s);
    l->internal_idle_s = max64(l->internal_idle_s, need_s(s.idle_timeout_ms));
    l->internal_active_s = max64(l->internal_active_s, need_s(s.max_lifetime_ms));
  }
}

void tb_live_internal_timeouts(const struct tb_live *l, int64_t *idle_s, int64_t *active_s) {
  *idle_s = l->internal_idle_s;
  *active_s = l->internal_active_s;
}

/* Build a configuration from the saved arguments; NULL with err set. */
static struct tb_live *build(char *err, size_t errlen) {
  struct tb_live *l = calloc(1, sizeof *l);
  if (l == NULL || (l->cfg = tb_config_create()) == NULL) {
    snprintf(err, errlen, "out of memory");
    free(l);
    return NULL;
  }
  if (tb_config_load_plugin_args(l->cfg, g_argc, (const char *const *)g_argv, TSConfigDirGet(), err,
                                 errlen) != 0) {
    live_free(l);
    return NULL;
  }
  size_t np = l->cfg->npeers > 0 ? l->cfg->npeers : 1;
  size_t nt = l->cfg->ntransports > 0 ? l->cfg->ntransports : 1;
  l->peer_states = calloc(np, sizeof *l->peer_states);
  l->peer_pools = calloc(np * nt, sizeof *l->peer_pools);
  l->directs = calloc(nt, sizeof *l->directs);
  l->turns = calloc(l->cfg->nrules > 0 ? l->cfg->nrules : 1, sizeof *l->turns);
  if (l->peer_states == NULL || l->peer_pools == NULL || l->directs == NULL || l->turns == NULL) {
    snprintf(err, errlen, "out of memory");
    live_free(l);
    return NULL;
  }
  /* The direct engine's certificates and CAs are read now: a file that
   * cannot be used fails the load, as any other error does. */
  for (size_t i = 0; i < l->cfg->ntransports; i++) {
    if (l->cfg->transports[i].engine == TB_ENGINE_DIRECT &&
        (l->directs[i] = tb_direct_make(&l->cfg->transports[i], err, errlen)) == NULL) {
      live_free(l);
      return NULL;
    }
  }
  internal_needs(l);
  tb_peers_register(l->cfg);
  for (size_t i = 0; i < l->cfg->npeers; i++) {
    l->peer_states[i] = tb_peers_find(&l->cfg->peers[i], true);
  }
  for (size_t i = 0; i < np * nt; i++) {
    atomic_init(&l->peer_pools[i], NULL);
  }
  for (size_t i = 0; i < l->cfg->nrules; i++) {
    atomic_init(&l->turns[i], 0);
  }
  atomic_init(&l->refs, 1); /* g_live's */
  return l;
}

/* diags.log: what each direct transport in force uses. */
static void note_directs(const struct tb_live *l) {
  for (size_t i = 0; i < l->cfg->ntransports; i++) {
    if (l->directs[i] != NULL) {
      TSNote("[%s] %s", TB_TAG, tb_direct_describe(l->directs[i]));
    }
  }
}

static void describe_rules(const struct tb_config *c) {
  if (!TB_DEBUG_ON()) {
    return;
  }
  for (size_t i = 0; i < c->nrules && i < 20; i++) {
    char peers[512];
    const struct tb_rule *r = &c->rules[i];
    (void)tb_config_format_peers(c, r, peers, sizeof peers); /* a cut list is fine here */
    tb_debug("rule %zu (%s): '%s'%s -> %s", i + 1, r->origin, r->pattern,
             r->nports > 0 ? " (some ports)" : "", peers);
  }
}

/* Put l in force; the old configuration lives on while tunnels hold it. */
static void install(struct tb_live *l) {
  struct tb_health_settings hs = {l->cfg->health_failures, l->cfg->health_down_for_ms};
  tb_pool_health(&hs); /* warm-ups are judged by the defaults in force */
  pthread_rwlock_wrlock(&g_live_lock);
  struct tb_live *old = g_live;
  g_live = l;
  pthread_rwlock_unlock(&g_live_lock);
  tb_live_release(old);
}

int tb_live_init(int argc, const char *argv[], char *err, size_t errlen) {
  g_argv = calloc((size_t)argc + 1, sizeof *g_argv);
  if (g_argv == NULL) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (int i = 0; i < argc; i++) {
    g_argv[i] = argv[i] != NULL ? strdup(argv[i]) : NULL;
    if (argv[i] != NULL && g_argv[i] == NULL) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
  }
  g_argc = argc;
  struct tb_live *l = build(err, errlen);
  if (l == NULL) {
    return -1;
  }
  pthread_mutex_lock(&g_reload_lock);
  l->generation = ++g_generation;
  pthread_mutex_unlock(&g_reload_lock);
  describe_rules(l->cfg);
  install(l);
  const struct tb_config *c = l->cfg;
  if (c->role == TB_ROLE_PEER) {
    TSNote("[%s] tls_bridge %s: role peer, %zu policy entr%s loaded: CONNECTs are authorised by the client "
           "certificate",
           TB_TAG, TB_VERSION, c->policy->n, c->policy->n == 1 ? "y" : "ies");
    return 0;
  }
  TSNote("[%s] tls_bridge %s: %zu rule%s loaded, set-up timeout %u ms, %u warm connection%s per peer in use, "
         "unmatched CONNECTs %s",
         TB_TAG, TB_VERSION, c->nrules, c->nrules == 1 ? "" : "s", c->connect_timeout_ms, c->pool_size,
         c->pool_size == 1 ? "" : "s", c->deny_unmatched ? "denied" : "left to Traffic Server");
  note_directs(l);
  return 0;
}

/* What a configuration holds, for the reload note: "N rules" or "role
 * peer, N policy entries". */
static void describe_size(const struct tb_config *c, char *buf, size_t len) {
  if (c->role == TB_ROLE_PEER) {
    snprintf(buf, len, "role peer, %zu policy entr%s", c->policy->n, c->policy->n == 1 ? "y" : "ies");
  } else {
    snprintf(buf, len, "%zu rule%s", c->nrules, c->nrules == 1 ? "" : "s");
  }
}

int tb_live_reload(const char *why) {
  char err[ERR_MAX] = "";
  char size[64];
  pthread_mutex_lock(&g_reload_lock);
  struct tb_live *l = build(err, sizeof err);
  struct tb_live *cur = l != NULL ? tb_live_acquire() : NULL;
  if (l != NULL && cur != NULL && l->cfg->role != cur->cfg->role) {
    /* The hooks, the log and the metrics in use were set up for the role at
     * start: a role changes with a restart, never under traffic. */
    snprintf(err, sizeof err,
             "the configuration is now role %s, but Traffic Server started with role %s: a "
             "role changes only with a restart",
             tb_role_name(l->cfg->role), tb_role_name(cur->cfg->role));
    live_free(l);
    l = NULL;
  }
  tb_live_release(cur);
  if (l == NULL) {
    uint64_t gen = g_generation;
    pthread_mutex_unlock(&g_reload_lock);
    tb_stat_add(TB_STAT_RELOADS_FAILED, 1);
    TSError("[%s] reload (%s) failed, configuration %" PRIu64 " stays in force: %s", TB_TAG, why, gen, err);
    return -1;
  }
  l->generation = ++g_generation;
  describe_rules(l->cfg);
  install(l);
  pthread_mutex_unlock(&g_reload_lock);
  tb_stat_add(TB_STAT_RELOADS_DONE, 1);
  describe_size(l->cfg, size, sizeof size);
  TSNote("[%s] reload (%s): configuration %" PRIu64
         " in force, %s; open tunnels keep the one they started with",
         TB_TAG, why, l->generation, size);
  note_directs(l);
  return 0;
}

static int on_reload(TSCont cont, TSEvent event, void *edata) {
  (void)event;
  (void)edata;
  char *why = TSContDataGet(cont);
  tb_live_reload(why != NULL ? why : "request");
  free(why);
  TSContDestroy(cont);
  return 0;
}

void tb_live_reload_soon(const char *why) {
  TSCont c = TSContCreate(on_reload, TSMutexCreate());
  if (c == NULL) {
    TSError("[%s] out of memory: reload (%s) not done", TB_TAG, why);
    return;
  }
  TSContDataSet(c, strdup(why));
  TSContScheduleOnPool(c, 0, TS_THREAD_POOL_TASK);
}

/* match NAME HOST:PORT on a peer: what the policy of l decides for a client
 * certificate with that one name (words: the message's argument). */
static void explain_peer(const struct tb_live *l, const char *words, size_t len) {
  static const char usage[] = "expected 'match NAME HOST:PORT' (NAME: an identity of a client certificate)";
  struct tb_certnames names;
  struct tb_peer target;
  char perr[256];
  char line[TB_EXPLAIN_MAX];
  size_t sp = len;

  while (sp > 0 && words[sp - 1] != ' ') {
    sp--;
  }
  size_t name_len = sp;
  while (name_len > 0 && words[name_len - 1] == ' ') {
    name_len--;
  }
  tb_certnames_init(&names);
  if (name_len == 0 || tb_certnames_add(&names, TB_CERTNAME_GIVEN, words, name_len) != 0) {
    TSError("[%s] match: %s%s%s", TB_TAG, usage, names.skipped ? "; " : "",
            names.skipped ? names.skip_why : "");
    return;
  }
  if (sp == len || tb_peer_parse(words + sp, len - sp, &target, perr, sizeof perr) != 0) {
    TSError("[%s] match: %s%s%s", TB_TAG, usage, sp < len ? ": " : "", sp < len ? perr : "");
    return;
  }
  (void)tb_policy_explain(l->cfg, &names, target.host, strlen(target.host), target.port, l->generation, NULL,
                          line, sizeof line);
  TSNote("[%s] %s", TB_TAG, line);
}

void tb_live_explain(const char *hostport, size_t len) {
  char perr[256];
  struct tb_peer target;
  struct tb_live *peer = tb_live_acquire();
  if (peer != NULL && peer->cfg->role == TB_ROLE_PEER) {
    explain_peer(peer, hostport, len);
    tb_live_release(peer);
    return;
  }
  tb_live_release(peer);
  if (len == 0 || tb_peer_parse(hostport, len, &target, perr, sizeof perr) != 0) {
    TSError("[%s] match: expected HOST:PORT, got '%.*s'%s%s", TB_TAG, (int)(len > 200 ? 200 : len), hostport,
            len ? ": " : "", len ? perr : "");
    return;
  }
  struct tb_live *l = tb_live_acquire();
  if (l == NULL) {
    TSError("[%s] match %s:%u: no configuration loaded", TB_TAG, target.host, target.port);
    return;
  }
  char line[TB_EXPLAIN_MAX];
  (void)tb_config_explain(l->cfg, target.host, strlen(target.host), target.port, l->generation, line,
                          sizeof line);
  TSNote("[%s] %s", TB_TAG, line);
  tb_live_release(l);
}
