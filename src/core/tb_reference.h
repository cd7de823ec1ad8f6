/*
 * tb_reference: what a configuration meant to the upstream C++ tls_bridge
 * (the reference: Debian's trafficserver-experimental-plugins tls_bridge.so),
 * rule by rule, so that an operator sees what replacing it changes
 * (tls_bridge_check --from-reference).
 *
 * The reference matches a regex anchored at the start only and
 * case-sensitively, ignores the CONNECT port, does not drop a trailing dot
 * from the host, sends a peer without a port to port 80 (this plugin: 443),
 * knows one peer per rule (no lists, no templates), and knows no option but
 * --file.  Whether a pattern is affected is decided
 * from its text where that is sound (a pattern whose every branch ends in
 * '$' or '.*' is end-anchored there too; one whose letters all come in both
 * cases, or that starts with "(?i)", is caseless there too), and otherwise
 * by an example: a host made from the pattern is run through both matchers
 * (tb_index), and a difference is reported with that host.  When neither
 * decides, the note says so ("may").
 *
 * Owns nothing; thread-safe (no state).
 */
#ifndef TB_REFERENCE_H
#define TB_REFERENCE_H

#include <stddef.h>

#include "tb_rule.h"

#define TB_REFERENCE_PEER_PORT 80 /* the reference's port for a peer given without one */
#define TB_REF_NOTE_MAX 768       /* bytes of one note's text */

/* The ways a rule can mean something else to the reference, in the order
 * notes are given. */
enum tb_ref_kind {
  TB_REF_ANCHOR,    /* it also matched hosts that merely start with a match */
  TB_REF_CASE,      /* it matched case-sensitively */
  TB_REF_DOT,       /* it kept a trailing dot on the host */
  TB_REF_PEER_PORT, /* the rule's peer has no port: 80 there, 443 here */
  TB_REF_PORTS,     /* the rule takes some ports only: the reference took every port */
  TB_REF_PEERS,     /* several peers or a peer template: the reference took one peer, as written */
  TB_REF_ACCESS,    /* a deny rule or a clients list: the reference had no access control */
  TB_REF_KINDS
};

struct tb_ref_note {
  enum tb_ref_kind kind;
  int certain;                /* 1: shown by an example host, or by the rule itself; 0: may differ */
  char text[TB_REF_NOTE_MAX]; /* one sentence, no newline, e.g. "the reference matched
                                 case-sensitively: 'DB.INTERNAL' was not bridged there" */
};

/* "anchoring", "case", "trailing dot", "peer port", "ports", "peers", "access". */
const char *tb_ref_kind_name(enum tb_ref_kind kind);

/* Compare rule r (of a built configuration: its regex compiled) with what
 * the reference made of the same pattern and peer.  Writes one note per
 * difference into notes[0..n), in enum order, and returns n (0: the rule
 * means the same there; a deny rule, which the reference could not have
 * had at all, gets the access note alone); -1 when running a regex failed (out of memory, a
 * PCRE2 limit), with notes undefined. */
int tb_reference_rule(const struct tb_rule *r, struct tb_ref_note notes[TB_REF_KINDS]);

/* The next plugin.config argument, from *i on, that the reference cannot
 * parse: every option except --file, and a rule's peer that is a list
 * ("a:4443,b:4443") or a template ("gw-$1:4443").  argv must be arguments
 * that loaded without error (tb_config_load_args), so that they come in
 * pairs (an option and its value, a regex and its peer).  Writes
 * "plugin.config argument N ('--pool'): an option of this plugin only: the
 * reference cannot parse it" (for a peer: "plugin.config argument N
 * ('a:4443,b:4443'): a peer list, an option of this plugin only: the
 * reference takes one peer per rule", or "... a peer template, ...: the
 * reference takes the peer as written") into buf (NUL-terminated, cut to
 * fit), sets *i past the pair and returns 1; returns 0 when no such
 * argument is left.  Start with *i = 0. */
int tb_reference_next_option(int argc, const char *const *argv, int *i, char *buf, size_t buflen);

#endif
