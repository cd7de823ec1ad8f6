/*
 * tb_select: peer selection and health.  See tb_select.h.
 *
 * Rendezvous hashing: a target's score for a peer is a 64-bit mix of the
 * target's hash and the peer's (tb_peer_hash), and the target goes to the
 * peer with the highest score among those that may take it.  Taking a peer
 * away changes no score, so only the targets whose best peer it was move,
 * each to its second best; adding it back moves exactly those back.  Both
 * hashes are FNV-1a and the mix is MurmurHash3's 64-bit finaliser: the same
 * numbers on every machine, so every ingress of a fleet agrees.
 */
#include "tb_select.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

const char *tb_cause_name(enum tb_cause cause) {
  switch (cause) {
  case TB_CAUSE_UNREACHABLE:
    return "unreachable";
  case TB_CAUSE_TIMEOUT:
    return "timeout";
  case TB_CAUSE_CLOSED:
    return "closed";
  case TB_CAUSE_BAD_ANSWER:
    return "bad_answer";
  case TB_CAUSE_OTHER:
  case TB_CAUSE_COUNT:
  default:
    return "other";
  }
}

const char *tb_health_state_name(enum tb_health_state st) {
  switch (st) {
  case TB_HEALTH_DOWN:
    return "down";
  case TB_HEALTH_TRIAL_DUE:
    return "trial due";
  case TB_HEALTH_TRIAL_OUT:
    return "trial out";
  case TB_HEALTH_UP:
  default:
    return "up";
  }
}

/* ---- health -------------------------------------------------------------- */

enum tb_health_state tb_health_state(const struct tb_health *h, uint64_t now_ms) {
  if (!h->down) {
    return TB_HEALTH_UP;
  }
  if (now_ms < h->down_until_ms) {
    return TB_HEALTH_DOWN;
  }
  if (h->trial_until_ms != 0 && now_ms < h->trial_until_ms) {
    return TB_HEALTH_TRIAL_OUT;
  }
  return TB_HEALTH_TRIAL_DUE;
}

int tb_health_eligible(const struct tb_health *h, uint64_t now_ms) {
  enum tb_health_state st = tb_health_state(h, now_ms);
  return st == TB_HEALTH_UP || st == TB_HEALTH_TRIAL_DUE;
}

/* down_for (kept within its range) times 0.9 .. 1.1, by jitter. */
static uint64_t down_time(const struct tb_health_settings *s, uint32_t jitter) {
  uint64_t d = s->down_for_ms;
  uint64_t spread = 2u * TB_HEALTH_JITTER_PERMILLE + 1u; /* 0.900, 0.901, ... 1.100 */

  if (d < TB_HEALTH_DOWN_FOR_MIN_MS) {
    d = TB_HEALTH_DOWN_FOR_MIN_MS;
  } else if (d > TB_HEALTH_DOWN_FOR_MAX_MS) {
    d = TB_HEALTH_DOWN_FOR_MAX_MS;
  }
  return d * (1000u - TB_HEALTH_JITTER_PERMILLE + jitter % spread) / 1000u;
}

static void mark_down(struct tb_health *h, const struct tb_health_settings *s, uint64_t now_ms,
                      uint32_t jitter) {
  if (!h->down) {
    h->last_change_ms = now_ms;
  }
  h->down = true;
  h->down_until_ms = now_ms + down_time(s, jitter);
  h->trial_until_ms = 0;
  h->downs++;
}

int tb_health_failure(struct tb_health *h, const struct tb_health_settings *s, uint64_t now_ms,
                      enum tb_cause cause, uint32_t jitter) {
  unsigned threshold = s->failures == 0 ? 1 : s->failures;

  if ((unsigned)cause >= TB_CAUSE_COUNT) {
    cause = TB_CAUSE_OTHER;
  }
  h->failures++;
  h->by_cause[cause]++;
  h->last_cause = cause;
  h->last_failure_ms = now_ms;
  if (h->consecutive < UINT_MAX) {
    h->consecutive++;
  }
  if (!h->down) {
    if (h->consecutive < threshold) {
      return 0;
    }
    mark_down(h, s, now_ms, jitter);
    return 1;
  }
  if (now_ms >= h->down_until_ms) {
    mark_down(h, s, now_ms, jitter); /* the trial (or an all-down attempt) failed */
    return 1;
  }
  return 0; /* a late report: the schedule stands */
}

int tb_health_success(struct tb_health *h, uint64_t now_ms) {
  int was_down = h->down;

  h->successes++;
  h->consecutive = 0;
  h->down = false;
  h->down_until_ms = 0;
  h->trial_until_ms = 0;
  if (was_down) {
    h->last_change_ms = now_ms;
  }
  return was_down;
}

enum tb_attempt tb_health_begin(struct tb_health *h, uint64_t now_ms, unsigned lease_ms, int all_down) {
  if (all_down) {
    return TB_ATTEMPT_GO;
  }
  switch (tb_health_state(h, now_ms)) {
  case TB_HEALTH_UP:
    return TB_ATTEMPT_GO;
  case TB_HEALTH_TRIAL_DUE:
    h->trial_until_ms = now_ms + (lease_ms > 0 ? lease_ms : 1);
    return TB_ATTEMPT_TRIAL;
  case TB_HEALTH_DOWN:
  case TB_HEALTH_TRIAL_OUT:
  default:
    return TB_ATTEMPT_SKIP;
  }
}

void tb_health_abandon(struct tb_health *h) {
  if (h->down) {
    h->trial_until_ms = 0;
  }
}

void tb_health_drain(struct tb_health *h, int on) {
  h->draining = on != 0;
}

/* Appending to a buffer; the first piece that does not fit cuts the text
 * and ends it in "..." (as tb_explain does). */
struct out {
  char *buf;
  size_t len;
  size_t used;
  int cut;
};

static void put(struct out *o, int n) {
  if (o->cut) {
    return;
  }
  if (n < 0 || (size_t)n >= o->len - o->used) {
    o->cut = 1;
    if (o->len >= 4) {
      memcpy(o->buf + o->len - 4, "...", 4);
    }
    return;
  }
  o->used += (size_t)n;
}

#define PUT(o, ...) put((o), (o)->cut ? 0 : snprintf((o)->buf + (o)->used, (o)->len - (o)->used, __VA_ARGS__))

int tb_health_format(const struct tb_health *h, uint64_t now_ms, char *buf, size_t len) {
  struct out o = {buf, len, 0, 0};
  enum tb_health_state st = tb_health_state(h, now_ms);
  int any = 0;

  if (len == 0) {
    return -1;
  }
  buf[0] = '\0';
  PUT(&o, "%s", tb_health_state_name(st));
  if (st == TB_HEALTH_DOWN) {
    PUT(&o, " (%" PRIu64 " ms left)", h->down_until_ms - now_ms);
  } else if (st == TB_HEALTH_TRIAL_OUT) {
    PUT(&o, " (%" PRIu64 " ms left)", h->trial_until_ms - now_ms);
  }
  if (h->draining) {
    PUT(&o, ", draining");
  }
  PUT(&o, "; %u consecutive failure%s; %" PRIu64 " success%s, %" PRIu64 " failure%s", h->consecutive,
      h->consecutive == 1 ? "" : "s", h->successes, h->successes == 1 ? "" : "es", h->failures,
      h->failures == 1 ? "" : "s");
  for (int k = 0; k < TB_CAUSE_COUNT; k++) {
    if (h->by_cause[k] != 0) {
      PUT(&o, "%s%s %" PRIu64, any ? ", " : " (", tb_cause_name((enum tb_cause)k), h->by_cause[k]);
      any = 1;
    }
  }
  if (any) {
    PUT(&o, ")");
  }
  if (h->failures > 0) {
    PUT(&o, "; last failure: %s %" PRIu64 " ms ago", tb_cause_name(h->last_cause),
        now_ms >= h->last_failure_ms ? now_ms - h->last_failure_ms : 0);
  }
  PUT(&o, "; down %" PRIu64 " time%s", h->downs, h->downs == 1 ? "" : "s");
  return o.cut ? -1 : 0;
}

/* ---- selection ------------------------------------------------------------ */

static uint64_t fmix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

/* The target as hash balancing keys on it: host without ASCII case and
 * without one trailing dot (the names the matcher treats as one), port. */
static uint64_t target_hash(const char *host, size_t len, unsigned port) {
  uint64_t h = 1469598103934665603ull;

  if (host == NULL) {
    len = 0;
  }
  if (len > 0 && host[len - 1] == '.') {
    len--;
  }
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)host[i];
    h ^= ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch - 'A' + 'a') : ch;
    h *= 1099511628211ull;
  }
  for (int k = 0; k < 2; k++) {
    h ^= (port >> (8 * (1 - k))) & 0xffu;
    h *= 1099511628211ull;
  }
  return h;
}

/* The balance's order of all n peers into base (round robin's rotation
 * comes later, over the peers actually offered). */
static void base_order(const struct tb_select_in *in, size_t n, size_t *base) {
  uint64_t score[TB_RULE_PEERS_MAX];
  uint64_t th;

  for (size_t i = 0; i < n; i++) {
    base[i] = i;
  }
  if (in->balance != TB_BALANCE_HASH) {
    return;
  }
  th = target_hash(in->host, in->len, in->port);
  for (size_t i = 0; i < n; i++) {
    score[i] = in->cand[i].peer != NULL ? fmix64(th ^ fmix64(tb_peer_hash(in->cand[i].peer))) : 0;
  }
  /* Insertion sort, highest score first, ties by configuration order: at
   * most TB_RULE_PEERS_MAX entries. */
  for (size_t i = 1; i < n; i++) {
    size_t v = base[i];
    size_t j = i;
    while (j > 0 && score[base[j - 1]] < score[v]) {
      base[j] = base[j - 1];
      j--;
    }
    base[j] = v;
  }
}

/* Append to out the peers of base[0..n) that pick() takes, rotated by turn
 * when round robin. */
static void take(const struct tb_select_in *in, const size_t *base, size_t n, const int *pick,
                 struct tb_selection *out) {
  size_t group[TB_RULE_PEERS_MAX];
  size_t k = 0;
  size_t first = 0;

  for (size_t i = 0; i < n; i++) {
    if (pick[base[i]]) {
      group[k++] = base[i];
    }
  }
  if (k > 0 && in->balance == TB_BALANCE_ROUND_ROBIN) {
    first = (size_t)(in->turn % k);
  }
  for (size_t i = 0; i < k; i++) {
    out->order[out->n++] = group[(first + i) % k];
  }
}

void tb_select_order(const struct tb_select_in *in, struct tb_selection *out) {
  enum tb_health_state st[TB_RULE_PEERS_MAX];
  int drained[TB_RULE_PEERS_MAX];
  int pick[TB_RULE_PEERS_MAX];
  size_t base[TB_RULE_PEERS_MAX];
  size_t n = in->n < TB_RULE_PEERS_MAX ? in->n : TB_RULE_PEERS_MAX;
  int any_up = 0;

  out->n = 0;
  out->all_down = 0;
  if (n == 0 || in->cand == NULL) {
    return;
  }
  for (size_t i = 0; i < n; i++) {
    const struct tb_health *h = in->cand[i].health;
    st[i] = h != NULL ? tb_health_state(h, in->now_ms) : TB_HEALTH_UP;
    drained[i] = h != NULL && h->draining;
    any_up |= st[i] == TB_HEALTH_UP;
  }
  base_order(in, n, base);
  if (any_up) {
    for (int pass = 0; pass < 2; pass++) { /* not drained, then drained */
      for (size_t i = 0; i < n; i++) {
        pick[i] = (st[i] == TB_HEALTH_UP || st[i] == TB_HEALTH_TRIAL_DUE) && drained[i] == pass;
      }
      take(in, base, n, pick, out);
    }
    return;
  }
  /* Every peer down: all of them, those whose down time has passed first. */
  out->all_down = 1;
  for (int pass = 0; pass < 4; pass++) {
    int want_drained = pass >= 2;
    int want_passed = pass % 2 == 0;
    for (size_t i = 0; i < n; i++) {
      pick[i] = drained[i] == want_drained && (st[i] != TB_HEALTH_DOWN) == want_passed;
    }
    take(in, base, n, pick, out);
  }
}

unsigned tb_select_budget(uint64_t started_ms, unsigned connect_timeout_ms, uint64_t now_ms,
                          size_t attempts_left) {
  uint64_t elapsed = now_ms > started_ms ? now_ms - started_ms : 0;
  uint64_t left;
  uint64_t share;

  if (elapsed >= connect_timeout_ms) {
    return 0;
  }
  left = connect_timeout_ms - elapsed;
  if (attempts_left <= 1) {
    return (unsigned)left;
  }
  share = left / attempts_left;
  if (share < TB_ATTEMPT_MIN_MS) {
    share = TB_ATTEMPT_MIN_MS;
  }
  return (unsigned)(share < left ? share : left);
}
