/*
 * tb_config: the bridge's rules, built from plugin.config arguments
 * (pairs "<regex> <peer>", "--file PATH", options) and rule files, and the
 * matcher that picks the first rule whose regex matches a CONNECT host.
 *
 * Matching is on the whole host (anchored at both ends), case-insensitive,
 * after dropping one trailing dot.  Regexes are PCRE2, compiled (and JITed
 * where available) once at load.
 *
 * A built tb_config is immutable and may be shared by any number of threads;
 * tb_config_match is thread-safe.  Building (the _add/_load calls) is not.
 * The config owns its rules, their pattern strings and compiled regexes.
 */
#ifndef TB_CONFIG_H
#define TB_CONFIG_H

#include <stddef.h>

#include "tb_peer.h"

#define TB_ORIGIN_MAX 160 /* "plugin.config argument 3" or "/path/rules.conf:12" */
#define TB_DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define TB_DEFAULT_POOL_SIZE 2u           /* warm connections per peer in use */
#define TB_DEFAULT_POOL_MAX_AGE_MS 30000u /* a warm connection is retired after this */
#define TB_POOL_SIZE_MAX 64u
#define TB_UNSET 0xffffffffu /* a rule setting left to the configuration's default */

/* What the ingress tells the peer about the client, in the CONNECT it
 * forwards: */
enum tb_identity {
  TB_IDENTITY_UNSET = 0, /* (rules only) the configuration's default */
  TB_IDENTITY_KEEP,      /* whatever Traffic Server adds (Client-ip, X-Forwarded-For per records) */
  TB_IDENTITY_STRIP,     /* no client identity headers at all */
  TB_IDENTITY_FORWARDED, /* only "Forwarded: for=<client address>" (RFC 7239) */
};

/* "keep", "strip", "forwarded" (UNSET: "default"). */
const char *tb_identity_name(enum tb_identity id);

struct tb_port_range {
  unsigned short lo, hi; /* inclusive, 1..65535, lo <= hi */
};

struct tb_rule {
  char *pattern;               /* owned: the regex text as configured */
  void *re;                    /* owned: pcre2_code *, opaque to users */
  struct tb_peer peer;         /* where matching CONNECTs go */
  char origin[TB_ORIGIN_MAX];  /* where the rule was configured, for messages */
  struct tb_port_range *ports; /* owned; NULL (nports 0): every port */
  size_t nports;
  /* Overrides of the configuration's defaults; TB_UNSET / TB_IDENTITY_UNSET:
   * not overridden.  Read them through tb_config_settings. */
  unsigned connect_timeout_ms;
  unsigned idle_timeout_ms;
  unsigned max_lifetime_ms;
  enum tb_identity identity;
};

struct tb_config {
  struct tb_rule *rules; /* owned array, nrules used, in configuration order */
  size_t nrules;
  size_t cap;
  unsigned connect_timeout_ms; /* set-up deadline per tunnel (peer answer) */
  unsigned pool_size;          /* warm connections kept per peer (0: none) */
  unsigned pool_max_age_ms;    /* age at which a warm connection is replaced */
  unsigned idle_timeout_ms;    /* end a tunnel with no bytes either way for this long (0: never) */
  unsigned max_lifetime_ms;    /* end a tunnel this long after it started (0: never) */
  enum tb_identity identity;   /* client identity policy (never UNSET here) */
  int deny_unmatched;          /* CONNECTs that match no rule: 0 left to ATS, 1 answered 403 */
  void *index;                 /* owned: lookup tables over the rules (see tb_config.c) */
};

/* A rule's effective settings: its overrides, else the defaults of c. */
struct tb_settings {
  unsigned connect_timeout_ms;
  unsigned idle_timeout_ms; /* 0: none */
  unsigned max_lifetime_ms; /* 0: none */
  enum tb_identity identity;
};

void tb_config_settings(const struct tb_config *c, const struct tb_rule *r, struct tb_settings *out);

/* Allocate an empty configuration with defaults; NULL when out of memory. */
struct tb_config *tb_config_create(void);

/* Free c and everything it owns.  NULL is a no-op. */
void tb_config_destroy(struct tb_config *c);

/* Compile pattern and parse peer, append a rule.  origin names where it came
 * from.  Returns 0, or -1 with "<origin>: <what is wrong>" in err. */
int tb_config_add_rule(struct tb_config *c, const char *pattern, const char *peer, const char *origin,
                       char *err, size_t errlen);

/* Read a rule file: one "<regex> <peer>" per line, blank lines and lines whose
 * first non-blank character is '#' ignored.  Returns 0, or -1 with
 * "<path>:<line>: <what is wrong>" in err and c as it was before the call. */
int tb_config_load_file(struct tb_config *c, const char *path, char *err, size_t errlen);

/* Apply plugin.config arguments (argv[0] is the first argument, not the
 * plugin path): "--file PATH" (relative PATH resolved against confdir, or
 * used as is when confdir is NULL), "--connect-timeout SECONDS" (1..3600),
 * "--pool N", "--pool-max-age SECONDS", "--idle-timeout SECONDS" and
 * "--max-lifetime SECONDS" (0: never), "--unmatched passthrough|deny",
 * "--client-identity keep|strip|forwarded", and "<regex> <peer>" pairs, in
 * order; or "--config PATH" alone (a YAML file, see tb_config_load_yaml).
 * Returns 0, or -1 with "plugin.config argument N ...: <what is wrong>" (or
 * the file's message) in err and c as it was before the call. */
int tb_config_load_args(struct tb_config *c, int argc, const char *const *argv, const char *confdir,
                        char *err, size_t errlen);

/* Read a YAML configuration (docs/configuration.md) into c, which must be
 * empty (no rules).  Returns 0, or -1 with "<path>:<line>:<column>: <what is
 * wrong>" (or "<path>: ..." for the file as a whole) in err and c as it was
 * before the call. */
int tb_config_load_yaml(struct tb_config *c, const char *path, char *err, size_t errlen);

/* The same from text in memory; name stands for the path in messages. */
int tb_config_load_yaml_text(struct tb_config *c, const char *text, size_t len, const char *name, char *err,
                             size_t errlen);

/* Does r take CONNECTs to port?  (Every port when r has no port list; none
 * when port is 0, "unknown".) */
int tb_rule_port_ok(const struct tb_rule *r, unsigned port);

/* Find the first rule matching host[0..len) and port (see above; port 0:
 * unknown, only rules without a port list apply): sets *rule to it, or
 * to NULL when no rule matches, and returns 0.  Returns -1 (and *rule NULL)
 * when matching itself failed (out of memory, a PCRE2 resource limit hit by a
 * pathological regex): the caller must not treat that as "no rule", or
 * traffic meant for a peer could go elsewhere.  Thread-safe.
 *
 * Exact names ("svc[.]example[.]com") and dot suffixes
 * (".*[.]example[.]com") are found in hash tables before any regex runs;
 * only the remaining rules that come before the best indexed match are
 * tried as regexes, so the cost hardly grows with the number of rules of
 * those two shapes. */
int tb_config_lookup_port(const struct tb_config *c, const char *host, size_t len, unsigned port,
                          const struct tb_rule **rule);

/* tb_config_lookup_port with port 0. */
int tb_config_lookup(const struct tb_config *c, const char *host, size_t len, const struct tb_rule **rule);

/* tb_config_lookup's rule, or NULL for no match and for a failure. */
const struct tb_rule *tb_config_match(const struct tb_config *c, const char *host, size_t len);

#endif
