/*
 * tb_index: which rule takes a CONNECT host (and, with the same machinery,
 * which policy entry takes a certificate's identity: tb_policy.h).  It compiles each rule's regex
 * (PCRE2, anchored at both ends, caseless, JITed where that pays) and keeps
 * an index over the rules so that a lookup seldom runs a regex: exact names
 * ("svc[.]example[.]com") and dot suffixes (".*[.]example[.]com") are found
 * in hash tables, and only the remaining rules that come before the best
 * indexed match are tried as regexes.  The answer is always the one trying
 * every rule's regex in order would give: the first rule that matches.
 *
 * A struct tb_index owns its tables (copies of the literals), not the rules
 * it indexes: those stay in the caller's array, which must not move or
 * change under a lookup.  Building (create, add) is not thread-safe; once
 * built, any number of threads may look up at once (each thread keeps its
 * own PCRE2 match data, with room for the whole match and TB_CAPTURE_MAX
 * groups, made on first use, freed when the thread ends).
 * All of PCRE2 is here: no other module includes pcre2.h.
 */
#ifndef TB_INDEX_H
#define TB_INDEX_H

#include <stddef.h>

#include "tb_capture.h"
#include "tb_rule.h"

struct tb_index;

/* Compile pattern as a rule's regex: a pcre2_code * to put in a rule's re,
 * or NULL with "empty regex" or "bad regex '<pattern>' at offset N: <why>"
 * in err. */
void *tb_index_compile(const char *pattern, char *err, size_t errlen);

/* How many capture groups the compiled regex re has
 * (PCRE2_INFO_CAPTURECOUNT). */
unsigned tb_index_groups(const void *re);

/* Free what tb_index_compile returned.  NULL is a no-op. */
void tb_index_free_regex(void *re);

/* An empty index; NULL when out of memory. */
struct tb_index *tb_index_create(void);

/* Free ix and its tables (not the rules).  NULL is a no-op. */
void tb_index_destroy(struct tb_index *ix);

/* Enter rule number i, whose regex text is pattern; i must be the number of
 * rules entered so far.  Returns 0, or -1 when out of memory, after which ix
 * may only be destroyed. */
int tb_index_add(struct tb_index *ix, const char *pattern, size_t i);

/* Find the first of rules[0..nrules) taking host[0..len) and port: the
 * whole host matches its regex (anchored at both ends, case-insensitive,
 * one trailing dot dropped) and tb_rule_port_ok(port) holds (port 0:
 * unknown, only rules without a port list apply).  Sets *rule to it, or to
 * NULL when no rule matches, and returns 0.  Returns -1 (and *rule NULL)
 * when matching itself failed (out of memory, a PCRE2 resource limit hit by
 * a pathological regex): not "no rule".  ix holds rules 0..nrules-1, or is
 * NULL: then every rule is tried as a regex, in order (same answers,
 * slower).  Thread-safe. */
int tb_index_lookup(const struct tb_index *ix, const struct tb_rule *rules, size_t nrules, const char *host,
                    size_t len, unsigned port, const struct tb_rule **rule);

/* tb_index_lookup that also gives the chosen rule's capture groups: *caps
 * gets the offsets into host of the whole match and of groups 1 to
 * min(rule's groups, TB_CAPTURE_MAX) (caps->n pairs); caps->n is 0 when
 * there is no rule or the rule has no groups.  The offsets come from the
 * same per-thread match data (room for TB_CAPTURE_MAX groups): no
 * allocation per call.  Thread-safe. */
int tb_index_lookup_captures(const struct tb_index *ix, const struct tb_rule *rules, size_t nrules,
                             const char *host, size_t len, unsigned port, const struct tb_rule **rule,
                             struct tb_captures *caps);

/* The first of res[0..n) (regexes from tb_index_compile, entered into ix
 * as patterns 0..n-1, or ix NULL) that matches the whole of text[0..len),
 * taken as it is (anchored at both ends, case-insensitive; no dot is
 * dropped: the text need not be a host name, e.g. a certificate's
 * identity, tb_policy.h): its number into *found, SIZE_MAX when none
 * matches (or len is 0).  Returns 0, or -1 (and *found SIZE_MAX) when
 * matching itself failed: not "no match".  Thread-safe. */
int tb_index_lookup_texts(const struct tb_index *ix, void *const *res, size_t n, const char *text, size_t len,
                          size_t *found);

/* Does the one regex re (from tb_index_compile) take host[0..len) as a
 * rule's regex would: the whole host, caseless, one trailing dot dropped,
 * an empty host never?  1 yes, 0 no, -1 matching failed.  Thread-safe. */
int tb_index_match_host(const void *re, const char *host, size_t len);

/* Does pattern match host[0..len) the way the upstream C++ tls_bridge (the
 * reference, see docs/reference-comparison.md) matches: anchored at the start
 * only (a match of a prefix of host is enough), case-sensitive, host taken as
 * given (a trailing dot is part of it)?  1 yes, 0 no, -1 the pattern does
 * not compile or matching failed (out of memory, a PCRE2 limit).  Compiles
 * pattern on every call: for tools (tls_bridge_check), never on the request
 * path.  Thread-safe. */
int tb_index_reference_match(const char *pattern, const char *host, size_t len);

#endif
