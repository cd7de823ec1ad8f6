/*
 * Unit tests for tb_select: the health of a peer (every transition: up,
 * failures below and at the threshold, down, the trial taken exactly once,
 * its lease and its release, a failed trial, a late report, success), the
 * jitter's bounds, the order a tunnel tries peers in (failover, round
 * robin's rotation over the healthy peers, hash: stable, spread, and moving
 * only a lost peer's targets), draining, every peer down, the listing line,
 * and the set-up budget.
 */
#include "tb_test.h"

#include <limits.h>

#include "tb_select.h"

static const struct tb_health_settings three_10s = {3, 10000};

static struct tb_peer peer_of(const char *text) {
  struct tb_peer p;
  char err[256];
  if (tb_peer_parse(text, strlen(text), &p, err, sizeof err) != 0) {
    fail_msg("%s", err);
  }
  return p;
}

/* ---- health ------------------------------------------------------------ */

static void test_zeroed_is_up(void **state) {
  struct tb_health h;

  (void)state;
  memset(&h, 0, sizeof h);
  assert_int_equal(tb_health_state(&h, 0), TB_HEALTH_UP);
  assert_int_equal(tb_health_state(&h, UINT64_MAX), TB_HEALTH_UP);
  assert_true(tb_health_eligible(&h, 5));
  assert_int_equal(tb_health_begin(&h, 5, 1000, 0), TB_ATTEMPT_GO);
  assert_false(h.down);
}

/* Failures below the threshold count; a success clears the count; the
 * threshold marks the peer down for down_for +-10%. */
static void test_threshold(void **state) {
  struct tb_health h;

  (void)state;
  memset(&h, 0, sizeof h);
  assert_int_equal(tb_health_failure(&h, &three_10s, 1000, TB_CAUSE_UNREACHABLE, 0), 0);
  assert_int_equal(tb_health_failure(&h, &three_10s, 1001, TB_CAUSE_TIMEOUT, 0), 0);
  assert_int_equal(h.consecutive, 2);
  assert_int_equal(tb_health_success(&h, 1002), 0); /* was not down */
  assert_int_equal(h.consecutive, 0);
  assert_int_equal(tb_health_failure(&h, &three_10s, 1003, TB_CAUSE_CLOSED, 100), 0);
  assert_int_equal(tb_health_failure(&h, &three_10s, 1004, TB_CAUSE_CLOSED, 100), 0);
  assert_int_equal(tb_health_state(&h, 1004), TB_HEALTH_UP);
  assert_int_equal(tb_health_failure(&h, &three_10s, 1005, TB_CAUSE_BAD_ANSWER, 100), 1);
  /* jitter 100 of 0..200: exactly down_for */
  assert_true(h.down);
  assert_int_equal(h.down_until_ms, 1005 + 10000);
  assert_int_equal(h.downs, 1);
  assert_int_equal(h.last_change_ms, 1005);
  assert_int_equal(h.failures, 5);
  assert_int_equal(h.successes, 1);
  assert_int_equal(h.by_cause[TB_CAUSE_CLOSED], 2);
  assert_int_equal(h.by_cause[TB_CAUSE_BAD_ANSWER], 1);
  assert_int_equal(h.last_cause, TB_CAUSE_BAD_ANSWER);
  assert_int_equal(h.last_failure_ms, 1005);
  assert_int_equal(tb_health_state(&h, 1005), TB_HEALTH_DOWN);
  assert_int_equal(tb_health_state(&h, 11004), TB_HEALTH_DOWN);
  assert_false(tb_health_eligible(&h, 11004));
  assert_int_equal(tb_health_begin(&h, 11004, 5000, 0), TB_ATTEMPT_SKIP);
  assert_int_equal(tb_health_state(&h, 11005), TB_HEALTH_TRIAL_DUE);
  assert_true(tb_health_eligible(&h, 11005));

  /* one failure is enough with failures: 1; a cause out of range is "other" */
  const struct tb_health_settings one = {1, 1000};
  memset(&h, 0, sizeof h);
  assert_int_equal(tb_health_failure(&h, &one, 50, (enum tb_cause)99, 0), 1);
  assert_int_equal(h.by_cause[TB_CAUSE_OTHER], 1);
  assert_int_equal(h.down_until_ms, 50 + 900); /* jitter 0: 0.9 x */
  /* failures 0 (not a valid setting) counts as 1, not "never" */
  const struct tb_health_settings zero = {0, 1000};
  memset(&h, 0, sizeof h);
  assert_int_equal(tb_health_failure(&h, &zero, 50, TB_CAUSE_TIMEOUT, 200), 1);
  assert_int_equal(h.down_until_ms, 50 + 1100); /* jitter 200: 1.1 x */
}

/* The trial: the first tunnel to begin it takes it; nobody else gets the
 * peer until the trial reports, is abandoned or its lease ends. */
static void test_trial_exactly_once(void **state) {
  struct tb_health h;
  const uint64_t t0 = 100000;

  (void)state;
  memset(&h, 0, sizeof h);
  for (int i = 0; i < 3; i++) {
    tb_health_failure(&h, &three_10s, t0, TB_CAUSE_UNREACHABLE, 100);
  }
  const uint64_t due = h.down_until_ms;
  assert_int_equal(tb_health_begin(&h, due, 2000, 0), TB_ATTEMPT_TRIAL);
  assert_int_equal(tb_health_state(&h, due), TB_HEALTH_TRIAL_OUT);
  assert_false(tb_health_eligible(&h, due));
  for (uint64_t t = due; t < due + 2000; t += 100) {
    assert_int_equal(tb_health_begin(&h, t, 2000, 0), TB_ATTEMPT_SKIP);
  }
  /* the lease ends: a trial that never reported is released */
  assert_int_equal(tb_health_state(&h, due + 2000), TB_HEALTH_TRIAL_DUE);
  assert_int_equal(tb_health_begin(&h, due + 2000, 2000, 0), TB_ATTEMPT_TRIAL);
  assert_int_equal(tb_health_begin(&h, due + 2001, 2000, 0), TB_ATTEMPT_SKIP);
  /* abandoned: free again at once */
  tb_health_abandon(&h);
  assert_int_equal(tb_health_state(&h, due + 2001), TB_HEALTH_TRIAL_DUE);
  assert_int_equal(tb_health_begin(&h, due + 2001, 0, 0), TB_ATTEMPT_TRIAL); /* lease 0: 1 ms */
  assert_int_equal(tb_health_state(&h, due + 2001), TB_HEALTH_TRIAL_OUT);
  assert_int_equal(tb_health_state(&h, due + 2002), TB_HEALTH_TRIAL_DUE);
  assert_int_equal(tb_health_begin(&h, due + 2002, 2000, 0), TB_ATTEMPT_TRIAL);

  /* the trial succeeds: up, the count cleared */
  assert_int_equal(tb_health_success(&h, due + 2100), 1);
  assert_int_equal(tb_health_state(&h, due + 2100), TB_HEALTH_UP);
  assert_int_equal(h.consecutive, 0);
  assert_int_equal(h.last_change_ms, due + 2100);
  assert_int_equal(h.downs, 1);
  /* abandoning when up changes nothing */
  tb_health_abandon(&h);
  assert_int_equal(tb_health_state(&h, due + 2100), TB_HEALTH_UP);
}

/* A failed trial: down again from then, for a new down time. */
static void test_trial_fails(void **state) {
  struct tb_health h;

  (void)state;
  memset(&h, 0, sizeof h);
  for (int i = 0; i < 3; i++) {
    tb_health_failure(&h, &three_10s, 0, TB_CAUSE_UNREACHABLE, 100);
  }
  assert_int_equal(tb_health_begin(&h, 10000, 2000, 0), TB_ATTEMPT_TRIAL);
  assert_int_equal(tb_health_failure(&h, &three_10s, 10500, TB_CAUSE_TIMEOUT, 100), 1);
  assert_int_equal(tb_health_state(&h, 10500), TB_HEALTH_DOWN);
  assert_int_equal(h.down_until_ms, 20500);
  assert_int_equal(h.trial_until_ms, 0);
  assert_int_equal(h.downs, 2);
  assert_int_equal(h.last_change_ms, 0); /* still down since 0: no change */
  assert_int_equal(h.consecutive, 4);
}

/* A failure reported while the peer is within its down time (a tunnel that
 * started before it went down, or one that tried every peer) keeps the
 * schedule; a success from one brings the peer back. */
static void test_late_reports(void **state) {
  struct tb_health h;

  (void)state;
  memset(&h, 0, sizeof h);
  for (int i = 0; i < 3; i++) {
    tb_health_failure(&h, &three_10s, 0, TB_CAUSE_UNREACHABLE, 100);
  }
  assert_int_equal(tb_health_failure(&h, &three_10s, 5000, TB_CAUSE_UNREACHABLE, 0), 0);
  assert_int_equal(h.down_until_ms, 10000);
  assert_int_equal(h.downs, 1);
  assert_int_equal(h.failures, 4);
  assert_int_equal(tb_health_success(&h, 6000), 1);
  assert_int_equal(tb_health_state(&h, 6000), TB_HEALTH_UP);
  assert_int_equal(h.last_change_ms, 6000);
  /* a count that would overflow stays at its maximum */
  h.consecutive = UINT_MAX;
  tb_health_failure(&h, &three_10s, 7000, TB_CAUSE_UNREACHABLE, 0);
  assert_int_equal(h.consecutive, UINT_MAX);
}

/* Every jitter value keeps the down time within down_for +-10%, and the
 * whole range is used. */
static void test_jitter_bounds(void **state) {
  static const unsigned down_for[] = {1000, 10000, 3600000, 1, 4000000}; /* the last two clamped */
  (void)state;
  for (size_t k = 0; k < TB_NELEM(down_for); k++) {
    const struct tb_health_settings s = {1, down_for[k]};
    uint64_t d = down_for[k] < TB_HEALTH_DOWN_FOR_MIN_MS   ? TB_HEALTH_DOWN_FOR_MIN_MS
                 : down_for[k] > TB_HEALTH_DOWN_FOR_MAX_MS ? TB_HEALTH_DOWN_FOR_MAX_MS
                                                           : down_for[k];
    uint64_t lo = UINT64_MAX;
    uint64_t hi = 0;
    for (uint64_t j = 0; j < 5000; j++) {
      struct tb_health h;
      uint32_t jitter = (uint32_t)(j * 2654435761u);
      memset(&h, 0, sizeof h);
      tb_health_failure(&h, &s, 1, TB_CAUSE_UNREACHABLE, jitter);
      uint64_t got = h.down_until_ms - 1;
      assert_true(got * 10 >= d * 9 && got * 10 <= d * 11);
      lo = got < lo ? got : lo;
      hi = got > hi ? got : hi;
    }
    for (uint32_t jitter = UINT32_MAX - 300; jitter != 0; jitter++) {
      struct tb_health h;
      memset(&h, 0, sizeof h);
      tb_health_failure(&h, &s, 1, TB_CAUSE_UNREACHABLE, jitter);
      assert_true((h.down_until_ms - 1) * 10 >= d * 9 && (h.down_until_ms - 1) * 10 <= d * 11);
    }
    assert_int_equal(lo, d * 9 / 10);
    assert_int_equal(hi, d * 11 / 10);
  }
}

static void test_drain_flag(void **state) {
  struct tb_health h;

  (void)state;
  memset(&h, 0, sizeof h);
  tb_health_drain(&h, 7);
  assert_true(h.draining);
  assert_true(tb_health_eligible(&h, 0)); /* draining orders, it does not exclude */
  tb_health_drain(&h, 0);
  assert_false(h.draining);
}

static void test_format(void **state) {
  struct tb_health h;
  char buf[512];
  char small[16];

  (void)state;
  memset(&h, 0, sizeof h);
  assert_int_equal(tb_health_format(&h, 0, buf, sizeof buf), 0);
  assert_string_equal(buf, "up; 0 consecutive failures; 0 successes, 0 failures; down 0 times");
  tb_health_success(&h, 1);
  tb_health_failure(&h, &three_10s, 100, TB_CAUSE_TIMEOUT, 100);
  assert_int_equal(tb_health_format(&h, 600, buf, sizeof buf), 0);
  assert_string_equal(buf, "up; 1 consecutive failure; 1 success, 1 failure (timeout 1); last failure: "
                           "timeout 500 ms ago; down 0 times");
  tb_health_failure(&h, &three_10s, 200, TB_CAUSE_UNREACHABLE, 100);
  tb_health_failure(&h, &three_10s, 300, TB_CAUSE_UNREACHABLE, 100);
  tb_health_drain(&h, 1);
  assert_int_equal(tb_health_format(&h, 1300, buf, sizeof buf), 0);
  assert_string_equal(buf, "down (9000 ms left), draining; 3 consecutive failures; 1 success, 3 failures "
                           "(unreachable 2, timeout 1); last failure: unreachable 1000 ms ago; down 1 time");
  assert_int_equal(tb_health_begin(&h, 10300, 4000, 0), TB_ATTEMPT_TRIAL);
  assert_int_equal(tb_health_format(&h, 11300, buf, sizeof buf), 0);
  tb_assert_contains(buf, "trial out (3000 ms left), draining; ");
  assert_int_equal(tb_health_format(&h, 14300, buf, sizeof buf), 0);
  tb_assert_contains(buf, "trial due, draining; ");
  assert_int_equal(tb_health_format(&h, 14300, small, sizeof small), -1);
  assert_string_equal(small, "trial due, d...");
  assert_int_equal(tb_health_format(&h, 14300, NULL, 0), -1);
  assert_string_equal(tb_cause_name(TB_CAUSE_CLOSED), "closed");
  assert_string_equal(tb_cause_name(TB_CAUSE_BAD_ANSWER), "bad_answer");
  assert_string_equal(tb_cause_name(TB_CAUSE_COUNT), "other");
  assert_string_equal(tb_health_state_name(TB_HEALTH_TRIAL_DUE), "trial due");
}

/* ---- selection ------------------------------------------------------------ */

#define NP 4
struct fleet {
  struct tb_peer peer[NP];
  struct tb_health health[NP];
  struct tb_candidate cand[NP];
};

static void fleet_init(struct fleet *f, size_t n) {
  static const char *const names[NP] = {"a.peer:4443", "b.peer:4443", "c.peer:4443", "d.peer:4443"};
  memset(f, 0, sizeof *f);
  for (size_t i = 0; i < n; i++) {
    f->peer[i] = peer_of(names[i]);
    f->cand[i].peer = &f->peer[i];
    f->cand[i].health = &f->health[i];
  }
}

static void mark_down(struct tb_health *h, uint64_t now) {
  for (int i = 0; i < 3; i++) {
    tb_health_failure(h, &three_10s, now, TB_CAUSE_UNREACHABLE, 100);
  }
}

/* The order as a string of letters, "ab", and all_down. */
static void order_of(const struct fleet *f, size_t n, enum tb_balance b, uint64_t now, const char *host,
                     uint64_t turn, char *letters, int *all_down) {
  struct tb_select_in in = {b, f->cand, n, now, host, host != NULL ? strlen(host) : 0, 443, turn};
  struct tb_selection sel;
  tb_select_order(&in, &sel);
  for (size_t i = 0; i < sel.n; i++) {
    letters[i] = (char)('a' + sel.order[i]);
  }
  letters[sel.n] = '\0';
  *all_down = sel.all_down;
}

static void expect_order(const struct fleet *f, size_t n, enum tb_balance b, uint64_t now, uint64_t turn,
                         const char *want, int want_all_down) {
  char got[NP + 1];
  int all_down;
  order_of(f, n, b, now, "x.example", turn, got, &all_down);
  if (strcmp(got, want) != 0 || all_down != want_all_down) {
    fail_msg("balance %s turn %lu: got '%s' (all_down %d), want '%s' (%d)", tb_balance_name(b),
             (unsigned long)turn, got, all_down, want, want_all_down);
  }
}

static void test_failover(void **state) {
  struct fleet f;

  (void)state;
  fleet_init(&f, 3);
  expect_order(&f, 3, TB_BALANCE_FAILOVER, 0, 0, "abc", 0);
  expect_order(&f, 3, TB_BALANCE_FAILOVER, 0, 17, "abc", 0); /* the turn is round robin's */
  mark_down(&f.health[0], 0);
  expect_order(&f, 3, TB_BALANCE_FAILOVER, 1, 0, "bc", 0);
  /* a due primary is offered first again: its trial is this tunnel's first attempt */
  expect_order(&f, 3, TB_BALANCE_FAILOVER, 10000, 0, "abc", 0);
  assert_int_equal(tb_health_begin(&f.health[0], 10000, 3000, 0), TB_ATTEMPT_TRIAL);
  /* while the trial is out, others skip it */
  expect_order(&f, 3, TB_BALANCE_FAILOVER, 10001, 0, "bc", 0);
  tb_health_success(&f.health[0], 10100);
  expect_order(&f, 3, TB_BALANCE_FAILOVER, 10100, 0, "abc", 0);
  /* no health record: always up */
  f.cand[1].health = NULL;
  mark_down(&f.health[0], 20000);
  mark_down(&f.health[2], 20000);
  expect_order(&f, 3, TB_BALANCE_FAILOVER, 20001, 0, "b", 0);
  /* one peer, empty list */
  expect_order(&f, 1, TB_BALANCE_FAILOVER, 20001, 0, "a", 1);
  expect_order(&f, 0, TB_BALANCE_FAILOVER, 0, 0, "", 0);
}

/* Round robin: successive turns start at successive healthy peers, each
 * the same number of times, whichever peers are down. */
static void test_round_robin(void **state) {
  struct fleet f;
  static const char *const all4[] = {"abcd", "bcda", "cdab", "dabc"};
  static const char *const three[] = {"acd", "cda", "dac"};

  (void)state;
  fleet_init(&f, 4);
  for (uint64_t t = 0; t < 8; t++) {
    expect_order(&f, 4, TB_BALANCE_ROUND_ROBIN, 0, t, all4[t % 4], 0);
  }
  mark_down(&f.health[1], 0);
  for (uint64_t t = 0; t < 9; t++) {
    expect_order(&f, 4, TB_BALANCE_ROUND_ROBIN, 1, t, three[t % 3], 0);
  }
  /* an even share for the three that are up, over many turns */
  size_t first[NP] = {0};
  for (uint64_t t = UINT64_MAX - 149; t != 150; t++) {
    struct tb_select_in in = {TB_BALANCE_ROUND_ROBIN, f.cand, 4, 1, "h", 1, 443, t};
    struct tb_selection sel;
    tb_select_order(&in, &sel);
    assert_int_equal(sel.n, 3);
    first[sel.order[0]]++;
  }
  assert_int_equal(first[1], 0);
  /* 300 turns (the counter wrapping included): exactly 100 each */
  assert_int_equal(first[0], 100);
  assert_int_equal(first[2], 100);
  assert_int_equal(first[3], 100);
}

/* Hash: a target keeps its peer; the targets spread over the peers; a peer
 * going down moves only its own targets, and its coming back moves them
 * back; case and a trailing dot do not change the target. */
static void test_hash(void **state) {
  enum { TARGETS = 3000 };
  static size_t before[TARGETS];
  struct fleet f;
  size_t count[NP] = {0};
  char host[64];

  (void)state;
  fleet_init(&f, 4);
  for (size_t t = 0; t < TARGETS; t++) {
    struct tb_selection sel;
    snprintf(host, sizeof host, "svc%zu.example", t);
    struct tb_select_in in = {TB_BALANCE_HASH, f.cand, 4, 0, host, strlen(host), 443, t};
    tb_select_order(&in, &sel);
    assert_int_equal(sel.n, 4);
    before[t] = sel.order[0];
    count[before[t]]++;
    /* the same answer again, whatever the turn; another port is another target */
    struct tb_selection again;
    in.turn = 12345;
    tb_select_order(&in, &again);
    assert_memory_equal(sel.order, again.order, sizeof sel.order[0] * 4);
  }
  for (size_t i = 0; i < 4; i++) {
    assert_true(count[i] > TARGETS / 4 * 8 / 10 && count[i] < TARGETS / 4 * 12 / 10); /* within 20% */
  }
  /* c goes down: only c's targets move, spread over the others */
  mark_down(&f.health[2], 0);
  size_t moved_to[NP] = {0};
  for (size_t t = 0; t < TARGETS; t++) {
    struct tb_selection sel;
    snprintf(host, sizeof host, "svc%zu.example", t);
    struct tb_select_in in = {TB_BALANCE_HASH, f.cand, 4, 1, host, strlen(host), 443, 0};
    tb_select_order(&in, &sel);
    assert_int_equal(sel.n, 3);
    if (before[t] != 2) {
      assert_int_equal(sel.order[0], before[t]);
    } else {
      moved_to[sel.order[0]]++;
    }
  }
  assert_int_equal(moved_to[2], 0);
  assert_int_equal(moved_to[0] + moved_to[1] + moved_to[3], count[2]);
  assert_true(moved_to[0] > 0 && moved_to[1] > 0 && moved_to[3] > 0);
  /* back up: every target where it was */
  tb_health_success(&f.health[2], 2);
  for (size_t t = 0; t < TARGETS; t++) {
    struct tb_selection sel;
    snprintf(host, sizeof host, "svc%zu.example", t);
    struct tb_select_in in = {TB_BALANCE_HASH, f.cand, 4, 3, host, strlen(host), 443, 0};
    tb_select_order(&in, &sel);
    assert_int_equal(sel.order[0], before[t]);
  }
  /* the target's name: any case, one trailing dot */
  struct tb_selection x, y, z;
  struct tb_select_in in = {TB_BALANCE_HASH, f.cand, 4, 3, "Svc7.Example.", 13, 443, 0};
  tb_select_order(&in, &x);
  in.host = "svc7.example";
  in.len = 12;
  tb_select_order(&in, &y);
  assert_memory_equal(x.order, y.order, sizeof x.order[0] * 4);
  /* the order depends on the peers, not their positions in the list */
  struct tb_candidate swapped[2] = {f.cand[1], f.cand[0]};
  struct tb_select_in two = {TB_BALANCE_HASH, f.cand, 2, 3, "svc7.example", 12, 443, 0};
  tb_select_order(&two, &y);
  two.cand = swapped;
  tb_select_order(&two, &z);
  assert_int_equal(y.order[0], 1 - z.order[0]);
  /* no host at all: still an order */
  two.host = NULL;
  tb_select_order(&two, &z);
  assert_int_equal(z.n, 2);
}

/* Hash scores are the same numbers everywhere: a fixed table, so a change
 * to the hash (which would move every target of a fleet) fails here. */
static void test_hash_is_stable(void **state) {
  struct fleet f;
  char got[NP + 1];
  int all_down;
  static const struct {
    const char *host;
    const char *order;
  } known[] = {
      {"a.example", "dbca"},
      {"b.example", "adcb"},
      {"db.internal", "acbd"},
      {"x", "dbca"},
  };

  (void)state;
  fleet_init(&f, 4);
  for (size_t k = 0; k < TB_NELEM(known); k++) {
    order_of(&f, 4, TB_BALANCE_HASH, 0, known[k].host, 0, got, &all_down);
    assert_string_equal(got, known[k].order);
  }
  /* and tb_peer_hash, which they rest on: FNV-1a of "peer.example" and the
   * port's two bytes (checked by hand), the same in any case */
  struct tb_peer p = peer_of("peer.example:4443");
  struct tb_peer q = peer_of("PEER.Example.:4443");
  assert_true(tb_peer_hash(&p) == 0x81f39b65db8c3593ull);
  assert_true(tb_peer_hash(&q) == tb_peer_hash(&p));
}

/* Drained peers come after every other peer that can take the tunnel, and
 * are used when they are the only ones left. */
static void test_drain(void **state) {
  struct fleet f;

  (void)state;
  fleet_init(&f, 3);
  tb_health_drain(&f.health[0], 1);
  expect_order(&f, 3, TB_BALANCE_FAILOVER, 0, 0, "bca", 0);
  expect_order(&f, 3, TB_BALANCE_ROUND_ROBIN, 0, 1, "cba", 0);
  mark_down(&f.health[1], 0);
  mark_down(&f.health[2], 0);
  expect_order(&f, 3, TB_BALANCE_FAILOVER, 1, 0, "a", 0); /* the last one left */
  /* drained and down: tried last when every peer is down */
  mark_down(&f.health[0], 0);
  expect_order(&f, 3, TB_BALANCE_FAILOVER, 1, 0, "bca", 1);
  /* a drained peer due a trial is offered after the others */
  tb_health_success(&f.health[1], 2);
  expect_order(&f, 3, TB_BALANCE_FAILOVER, 10000, 0, "bca", 0);
}

/* Every peer down: all are tried anyway, those whose down time has passed
 * first, and tb_health_begin lets every attempt through. */
static void test_all_down(void **state) {
  struct fleet f;

  (void)state;
  fleet_init(&f, 3);
  mark_down(&f.health[0], 0);     /* due at 10000 */
  mark_down(&f.health[1], 5000);  /* due at 15000 */
  mark_down(&f.health[2], 20000); /* due at 30000 */
  expect_order(&f, 3, TB_BALANCE_FAILOVER, 1, 0, "abc", 1);
  expect_order(&f, 3, TB_BALANCE_FAILOVER, 12000, 0, "abc", 1);
  assert_int_equal(tb_health_begin(&f.health[2], 12000, 1000, 1), TB_ATTEMPT_GO);
  expect_order(&f, 3, TB_BALANCE_FAILOVER, 25000, 0, "abc", 1);
  /* c due, a and b not (c failed its trial... re-marked): passed ones first */
  tb_health_failure(&f.health[0], &three_10s, 25000, TB_CAUSE_TIMEOUT, 100); /* a: down to 35000 */
  tb_health_failure(&f.health[1], &three_10s, 25000, TB_CAUSE_TIMEOUT, 100); /* b: down to 35000 */
  expect_order(&f, 3, TB_BALANCE_FAILOVER, 31000, 0, "cab", 1);
  /* a trial out counts as passed; round robin rotates within each group */
  assert_int_equal(tb_health_begin(&f.health[2], 31000, 5000, 0), TB_ATTEMPT_TRIAL);
  expect_order(&f, 3, TB_BALANCE_FAILOVER, 32000, 0, "cab", 1);
  expect_order(&f, 3, TB_BALANCE_ROUND_ROBIN, 32000, 1, "cba", 1);
  /* a success from one of them: normal again */
  tb_health_success(&f.health[1], 33000);
  expect_order(&f, 3, TB_BALANCE_FAILOVER, 33000, 0, "b", 0);
}

/* The order is a proposal: a peer that went down, or whose trial another
 * tunnel took, since it was made is skipped at its attempt. */
static void test_begin_after_order(void **state) {
  struct fleet f;
  struct tb_selection one, two;

  (void)state;
  fleet_init(&f, 2);
  mark_down(&f.health[0], 0);
  struct tb_select_in in = {TB_BALANCE_FAILOVER, f.cand, 2, 10000, "h", 1, 443, 0};
  tb_select_order(&in, &one);
  tb_select_order(&in, &two); /* two tunnels, the same moment */
  assert_int_equal(one.n, 2);
  assert_int_equal(two.n, 2);
  assert_int_equal(one.order[0], 0);
  assert_int_equal(tb_health_begin(&f.health[one.order[0]], 10000, 3000, one.all_down), TB_ATTEMPT_TRIAL);
  assert_int_equal(tb_health_begin(&f.health[two.order[0]], 10000, 3000, two.all_down), TB_ATTEMPT_SKIP);
  assert_int_equal(tb_health_begin(&f.health[two.order[1]], 10000, 3000, two.all_down), TB_ATTEMPT_GO);
}

static void test_budget(void **state) {
  (void)state;
  /* one attempt: all that is left */
  assert_int_equal(tb_select_budget(1000, 10000, 1000, 1), 10000);
  assert_int_equal(tb_select_budget(1000, 10000, 4000, 1), 7000);
  assert_int_equal(tb_select_budget(1000, 10000, 4000, 0), 7000);
  assert_int_equal(tb_select_budget(1000, 10000, 10999, 1), 1);
  assert_int_equal(tb_select_budget(1000, 10000, 11000, 1), 0);
  assert_int_equal(tb_select_budget(1000, 10000, 99999, 3), 0);
  assert_int_equal(tb_select_budget(1000, 10000, 500, 1), 10000); /* a clock before the start */
  /* several: an equal share, at least TB_ATTEMPT_MIN_MS, never more than is left */
  assert_int_equal(tb_select_budget(0, 10000, 0, 2), 5000);
  assert_int_equal(tb_select_budget(0, 10000, 0, 3), 3333);
  assert_int_equal(tb_select_budget(0, 10000, 0, 32), TB_ATTEMPT_MIN_MS);
  assert_int_equal(tb_select_budget(0, 10000, 9500, 4), 500);
  assert_int_equal(tb_select_budget(0, 3600000, 0, 2), 1800000);
  /* whatever happens, the attempts end within the connect timeout */
  for (size_t peers = 1; peers <= TB_RULE_PEERS_MAX; peers++) {
    uint64_t now = 7;
    for (size_t left = peers; left > 0; left--) {
      unsigned b = tb_select_budget(7, 2500, now, left);
      now += b; /* each attempt uses all it got */
    }
    assert_true(now <= 7 + 2500);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_zeroed_is_up),
      cmocka_unit_test(test_threshold),
      cmocka_unit_test(test_trial_exactly_once),
      cmocka_unit_test(test_trial_fails),
      cmocka_unit_test(test_late_reports),
      cmocka_unit_test(test_jitter_bounds),
      cmocka_unit_test(test_drain_flag),
      cmocka_unit_test(test_format),
      cmocka_unit_test(test_failover),
      cmocka_unit_test(test_round_robin),
      cmocka_unit_test(test_hash),
      cmocka_unit_test(test_hash_is_stable),
      cmocka_unit_test(test_drain),
      cmocka_unit_test(test_all_down),
      cmocka_unit_test(test_begin_after_order),
      cmocka_unit_test(test_budget),
  };
  return cmocka_run_group_tests_name("tb_select", tests, NULL, NULL);
}
