/*
 * tb_policy: the peer role's authorisation (docs/configuration.md, "Peer
 * role"): which client identities, the names of the certificate a CONNECT
 * arrived with (tb_certnames.h), may open a tunnel to which target.
 *
 * A policy is a list of entries, in configuration order.  Each has an
 * identity regex and two lists of targets, `allow` and `deny`; a target is
 * a host regex and, optionally, ports.  A decision for a set of names and
 * a target host:port:
 *   1. the first entry whose identity matches any of the names decides (an
 *      identity regex is anchored at both ends and caseless, like a rule's
 *      host regex, and is matched against each name's text as it is; an
 *      index finds literal identities without running a regex, tb_index.h);
 *      none: unknown identity, refused;
 *   2. in that entry, a deny target that takes host:port refuses;
 *   3. else an allow target that takes it allows; none: refused.
 * A target takes host:port as a rule does: its regex matches the whole host
 * (caseless, one trailing dot dropped) and the port is in its list (no
 * list: any port; the peer's own connect_ports still apply after us).
 * Matching that fails (a PCRE2 limit) refuses: never "allowed".
 *
 * The policy owns its entries, their texts, compiled regexes and port
 * lists, and the identity index.  Building (create, add) is not
 * thread-safe; a built policy is immutable and tb_policy_decide is
 * thread-safe.
 */
#ifndef TB_POLICY_H
#define TB_POLICY_H

#include <stddef.h>

#include "tb_certnames.h"
#include "tb_rule.h"

struct tb_index;

struct tb_policy_target {
  char *pattern;               /* owned: the host regex as configured */
  void *re;                    /* owned: compiled (tb_index_compile) */
  struct tb_port_range *ports; /* owned; NULL (nports 0): any port */
  size_t nports;
};

struct tb_policy_entry {
  char *identity;                 /* owned: the identity regex as configured */
  void *re;                       /* owned: compiled */
  struct tb_policy_target *allow; /* owned, nallow; NULL when none */
  size_t nallow;
  struct tb_policy_target *deny; /* owned, ndeny; NULL when none */
  size_t ndeny;
  char origin[TB_ORIGIN_MAX]; /* the entry's name, or where it was configured */
};

struct tb_policy {
  struct tb_policy_entry *entries; /* owned array, n used, in configuration order */
  size_t n;
  size_t cap;
  void **res;             /* owned: entries[i].re, cap slots, for the index's lookups */
  struct tb_index *index; /* owned: over the identity regexes; NULL: lost (out of memory) */
};

/* A target or an entry as a front end hands it to tb_policy_add; nothing
 * in it is kept (strings and port lists are copied). */
struct tb_policy_target_spec {
  const char *pattern;               /* host regex */
  const char *origin;                /* prefixes messages about it */
  const struct tb_port_range *ports; /* each 1 <= lo <= hi; NULL with nports 0: any port */
  size_t nports;
};

struct tb_policy_entry_spec {
  const char *identity; /* identity regex */
  const char *origin;   /* prefixes messages about the identity */
  const char *name;     /* kept as the entry's origin; NULL: origin */
  const struct tb_policy_target_spec *allow;
  size_t nallow;
  const struct tb_policy_target_spec *deny;
  size_t ndeny;
};

/* An empty policy; NULL when out of memory. */
struct tb_policy *tb_policy_create(void);

/* Free p and everything it owns.  NULL is a no-op. */
void tb_policy_destroy(struct tb_policy *p);

/* Compile and copy the entry and append it.  Returns 0, or -1 with
 * "<origin>: <what is wrong>" (a bad regex, a bad port range) in err and p
 * as it was. */
int tb_policy_add(struct tb_policy *p, const struct tb_policy_entry_spec *spec, char *err, size_t errlen);

enum tb_authz_result {
  TB_AUTHZ_FAILED = -1,      /* matching itself failed: refuse */
  TB_AUTHZ_ALLOWED = 0,      /* an allow target of the deciding entry takes the target */
  TB_AUTHZ_UNKNOWN_IDENTITY, /* no entry's identity matches any name (or there is none) */
  TB_AUTHZ_DENIED,           /* a deny target of the deciding entry takes the target */
  TB_AUTHZ_NOT_ALLOWED,      /* no allow target of the deciding entry takes it */
};

/* "failed", "allowed", "unknown_identity", "target_denied", "target_not_allowed". */
const char *tb_authz_result_name(enum tb_authz_result r);

/* What decided, for the log, the refusal and the checker. */
struct tb_authz {
  enum tb_authz_result result;
  const struct tb_policy_entry *entry;   /* the deciding entry; NULL for unknown identity and failures */
  size_t entry_number;                   /* 1-based, 0 when entry is NULL */
  const struct tb_certname *name;        /* the name its identity matched (the first such, in order of
                                            preference); NULL when entry is NULL */
  const struct tb_policy_target *target; /* the deny or allow target that took host:port; NULL otherwise */
  size_t target_number;                  /* 1-based within its list, 0 when target is NULL */
};

/* Decide for the client named by names (names->n may be 0: unknown) and a
 * CONNECT to host[0..len):port (port 0: unknown, only targets without a
 * port list take it), as above, into *out; returns out->result.  p NULL or
 * empty: unknown identity.  Thread-safe. */
enum tb_authz_result tb_policy_decide(const struct tb_policy *p, const struct tb_certnames *names,
                                      const char *host, size_t len, unsigned port, struct tb_authz *out);

#endif
