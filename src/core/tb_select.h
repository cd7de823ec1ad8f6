/*
 * tb_select: which of a rule's peers a tunnel tries, in what order, and the
 * health of each peer that decides it.  Pure functions: the clock (now_ms,
 * any monotonic milliseconds), the randomness (jitter) and the round-robin
 * turn are passed in, so every decision can be replayed in a test.
 *
 * A health record (struct tb_health) is kept per distinct peer: the glue
 * keeps one per entry of the configuration's peer table (c->peers, shared by
 * every rule that names the peer) and, if it likes, some for peers that
 * templates made.  A zeroed record is a healthy peer nobody has used.
 *
 * The life of a peer:
 *   UP:        tunnels go to it.  Each failure counts; a success clears the
 *              count.  `failures` consecutive failures mark it down.
 *   DOWN:      for down_for +-10% (the jitter keeps the ingresses of a fleet,
 *              and peers that failed together, from coming back in step) no
 *              tunnel goes to it, unless every peer of the rule is down.
 *   TRIAL_DUE: the down time has passed.  The first tunnel that attempts it
 *              (tb_health_begin) takes the one trial: its success brings the
 *              peer back up, its failure marks it down again.
 *   TRIAL_OUT: a trial is in flight; no other tunnel goes to it.  A trial
 *              that never reports is released when its lease ends (lease_ms,
 *              the rule's connect timeout: the tunnel's set-up timer has
 *              ended the attempt by then), or at once by tb_health_abandon
 *              (the tunnel ended before the attempt had a verdict).
 * Draining (set by the operator) is apart from these: a drained peer that
 * is up is tried only after every peer that is not drained.
 *
 * When every peer of a rule is DOWN or TRIAL_OUT, the tunnel tries them all
 * anyway (struct tb_selection.all_down): peers whose down time has passed
 * first, then the others, drained ones last; each failure is recorded, the
 * first success brings its peer back.  So health never refuses a CONNECT
 * that an attempt could have served: a rule with one peer behaves as it did
 * before peers had health, a wrong "down" (a blip that hit every peer) costs
 * nothing, and a client whose tunnel fails gets every peer's cause in its
 * 502/504.
 *
 * Which settings judge a failure: those of the rule whose tunnel reports it
 * (tb_config_health).  Rules that share a peer should give it the same
 * health settings.
 *
 * Thread-safety: none of these functions locks.  A record may be read and
 * written by one thread at a time: the glue holds one lock (or the peer's
 * own mutex) around tb_select_order and around each tb_health_* call on a
 * shared record.  The functions never block, allocate or call back, so the
 * lock is held for microseconds.
 */
#ifndef TB_SELECT_H
#define TB_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tb_rule.h"

#define TB_HEALTH_JITTER_PERMILLE 100 /* down_for is stretched or shortened by up to 10% */
#define TB_ATTEMPT_MIN_MS 1000u       /* tb_select_budget: the least a shared attempt gets */

/* Why an attempt at a peer failed, as far as the peer's health goes.  The
 * glue reports only what says something about the peer: a refusal the peer
 * itself made for its service (a 502 or 403 from the peer ATS) is an
 * answer, and the client leaving says nothing. */
enum tb_cause {
  TB_CAUSE_UNREACHABLE = 0, /* no connection: refused, no route, name not resolved */
  TB_CAUSE_TIMEOUT,         /* no answer within the attempt's time */
  TB_CAUSE_CLOSED,          /* the connection broke or closed before an answer (TLS included) */
  TB_CAUSE_BAD_ANSWER,      /* something that is not an HTTP answer */
  TB_CAUSE_OTHER,
  TB_CAUSE_COUNT
};

/* "unreachable", "timeout", "closed", "bad_answer", "other". */
const char *tb_cause_name(enum tb_cause cause);

enum tb_health_state {
  TB_HEALTH_UP = 0,
  TB_HEALTH_DOWN,      /* within its down time */
  TB_HEALTH_TRIAL_DUE, /* down time over, its one trial not taken */
  TB_HEALTH_TRIAL_OUT, /* down time over, a trial in flight */
};

/* "up", "down", "trial due", "trial out". */
const char *tb_health_state_name(enum tb_health_state st);

/* One peer's health.  Zeroed: up, never used.  The counters are for
 * listings (`plugin msg tls_bridge peers`); the first four fields decide. */
struct tb_health {
  bool down;               /* marked down (DOWN, TRIAL_DUE or TRIAL_OUT) */
  uint64_t down_until_ms;  /* while down: no tunnel before this time */
  uint64_t trial_until_ms; /* while down: 0 no trial out, else the trial's lease ends then */
  unsigned consecutive;    /* failures since the last success */
  bool draining;           /* the operator's: avoided unless it is the last one left */
  uint64_t successes;      /* attempts that got an answer, in all */
  uint64_t failures;       /* failed attempts, in all */
  uint64_t by_cause[TB_CAUSE_COUNT];
  uint64_t downs;           /* times marked down */
  enum tb_cause last_cause; /* of the last failure (when failures > 0) */
  uint64_t last_failure_ms; /* when it was */
  uint64_t last_change_ms;  /* when it last went down or came back up (0: never) */
};

/* Where h stands at now_ms. */
enum tb_health_state tb_health_state(const struct tb_health *h, uint64_t now_ms);

/* May a new tunnel go to h at now_ms: up, or due a trial (not yet taken)?
 * 1 yes, 0 no.  Draining does not count here (see tb_select_order). */
int tb_health_eligible(const struct tb_health *h, uint64_t now_ms);

/* A failed attempt at h's peer, judged by s (its rule's tb_config_health)
 * at now_ms; jitter is any 32-bit random value (the glue's PRNG), which
 * sets the down time to down_for * (0.9 .. 1.1).  Up: counts, and marks the
 * peer down at s->failures consecutive failures.  Down with its down time
 * over (its trial, or an attempt made while every peer was down, failed):
 * down again from now.  Down within its down time (a late report): counted
 * only, the schedule kept.  Returns 1 when this call marked the peer down,
 * else 0. */
int tb_health_failure(struct tb_health *h, const struct tb_health_settings *s, uint64_t now_ms,
                      enum tb_cause cause, uint32_t jitter);

/* An attempt at h's peer got an answer (any HTTP answer: the peer works):
 * the count of failures cleared, the peer up, any trial ended.  now_ms
 * dates a change.  Returns 1 when the peer was down (it is back), else 0. */
int tb_health_success(struct tb_health *h, uint64_t now_ms);

/* Before each attempt at a peer (in normal mode: all_down 0), at now_ms:
 * TB_ATTEMPT_GO (up), TB_ATTEMPT_TRIAL (due a trial: this attempt takes it,
 * leased for lease_ms; the caller must report its success or failure, or
 * call tb_health_abandon), or TB_ATTEMPT_SKIP (it went down, or another
 * tunnel took its trial, since the order was made: go on to the next peer).
 * With all_down 1 (the selection said so) always TB_ATTEMPT_GO, nothing
 * taken. */
enum tb_attempt { TB_ATTEMPT_SKIP = 0, TB_ATTEMPT_GO, TB_ATTEMPT_TRIAL };
enum tb_attempt tb_health_begin(struct tb_health *h, uint64_t now_ms, unsigned lease_ms, int all_down);

/* A trial this tunnel took (tb_health_begin said TB_ATTEMPT_TRIAL) ended
 * without a verdict (the client left, the tunnel was torn down): release it
 * so that the next tunnel can take it.  Only for the tunnel that holds the
 * trial. */
void tb_health_abandon(struct tb_health *h);

/* Start (on 1) or stop (on 0) draining h's peer. */
void tb_health_drain(struct tb_health *h, int on);

/* h in one line for a listing, into buf (always NUL-terminated when len >
 * 0, cut to fit):
 *   up|down (N ms left)|trial due|trial out (N ms left)[, draining];
 *   N consecutive failures; S successes, F failures (unreachable N, timeout N, ...); last failure:
 *   CAUSE N ms ago; down N times
 * (the cause counts only those not zero; "last failure" only when there was
 * one).  Returns 0, or -1 when it was cut. */
int tb_health_format(const struct tb_health *h, uint64_t now_ms, char *buf, size_t len);

/* One of a rule's peers, as the glue has it for one CONNECT. */
struct tb_candidate {
  const struct tb_peer *peer; /* the address (hash balancing keys on it) */
  struct tb_health *health;   /* its record; NULL: none (up, never drained) */
};

struct tb_select_in {
  enum tb_balance balance;
  const struct tb_candidate *cand; /* the rule's peers, in configuration order */
  size_t n;                        /* 1..TB_RULE_PEERS_MAX (more are ignored) */
  uint64_t now_ms;
  const char *host; /* the CONNECT target (hash: host, caseless, one trailing dot dropped, and port) */
  size_t len;
  unsigned port;
  uint64_t turn; /* round robin: a counter the caller advances once per CONNECT of this rule */
};

struct tb_selection {
  size_t n;                        /* peers to try: order[0..n) */
  size_t order[TB_RULE_PEERS_MAX]; /* indexes into cand, first to try first */
  int all_down;                    /* no peer was up: every peer is in order, tried regardless */
};

/*
 * The order in which a tunnel tries the peers of in->cand (read only):
 *   - normal (some peer is up): the peers up or due a trial, not drained,
 *     in the balance's order; then the drained ones that are up or due, in
 *     the same order.  Peers DOWN or TRIAL_OUT are left out.  The balance's
 *     order:  failover: configuration order.  round_robin: configuration
 *     order rotated by turn modulo the number of those peers (so the
 *     healthy peers share evenly, whichever are down).  hash: rendezvous
 *     (highest random weight): each peer scored by a stable 64-bit hash of
 *     (peer, target), highest first; a target keeps its peer while that
 *     peer is healthy, and a peer going down moves only its own targets
 *     (each to its next best) and none of the others.
 *   - all down (no peer is up): every peer, those whose down time has
 *     passed first, then the others, drained ones after the rest (each
 *     group in the balance's order); out->all_down 1.
 * Then, before each attempt, tb_health_begin.  n 0 gives an empty order.
 */
void tb_select_order(const struct tb_select_in *in, struct tb_selection *out);

/* The time the next attempt of a set-up gets: what is left of
 * connect_timeout_ms since started_ms at now_ms (0 when spent), shared with
 * the attempts after it: with attempts_left > 1 (this one included) an
 * attempt gets an equal share of what is left, but at least
 * TB_ATTEMPT_MIN_MS (or all that is left, if less), so that a peer that
 * swallows packets cannot use up the whole set-up and leave the other peers
 * untried.  attempts_left 0 or 1: all that is left.  Whatever the calls,
 * the set-up ends within connect_timeout_ms. */
unsigned tb_select_budget(uint64_t started_ms, unsigned connect_timeout_ms, uint64_t now_ms,
                          size_t attempts_left);

#endif
