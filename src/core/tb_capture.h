/*
 * tb_capture: peer templates.  A rule's peer may name capture groups of the
 * rule's host regex, "$1" to "$9": with host '(.*)[.]site-(a|b)[.]corp' and
 * peer 'gw.site-$2.corp:4443', a CONNECT to db.site-b.corp goes to
 * gw.site-b.corp:4443.  At load a template is checked (tb_template_check):
 * its '$' syntax, that each group it names exists, and that its literal
 * text can make a peer at all.  For each CONNECT the matcher hands over the
 * capture offsets (struct tb_captures, tb_index_lookup_captures) and
 * tb_template_expand makes the peer, validated exactly as a configured peer
 * (tb_peer_parse): a bad result is an error, never a connection somewhere
 * else.
 *
 * What a capture may bring in: only the characters of a host name (ASCII
 * letters, digits, '-', '_', '.'), lower-cased.  A ':' or a bracket from the
 * CONNECT host could otherwise choose the peer's port or make it an IPv6
 * literal; the port and the brackets come from the template's own text.
 * There is no escape for a literal '$' ("$$"): no valid peer holds a '$'
 * (host names, IP literals and ports cannot), so the escape could only ever
 * make an invalid peer; a '$' that is not followed by 1-9 is refused.
 *
 * Owns nothing; thread-safe (no state).
 */
#ifndef TB_CAPTURE_H
#define TB_CAPTURE_H

#include <stddef.h>

#include "tb_peer.h"

#define TB_CAPTURE_MAX 9              /* groups a template may name: $1..$9 */
#define TB_CAPTURE_UNSET ((size_t)-1) /* a group that took no part in the match */
#define TB_TEMPLATE_MAX 512           /* bytes of a template, and of what it expands to */

/* Where a regex match put its groups, as offsets into the host it matched:
 * pair 0 the whole match, pair k group k.  n is 1 + the groups copied (at
 * most TB_CAPTURE_MAX + 1); 0 when there are none to give (the rule was
 * answered without running its regex: an exact or suffix rule, which has no
 * groups).  A group that took no part has both offsets TB_CAPTURE_UNSET. */
struct tb_captures {
  size_t n;
  size_t start[TB_CAPTURE_MAX + 1];
  size_t end[TB_CAPTURE_MAX + 1];
};

/* Is s[0..len) a template (does it hold a '$')?  1 yes, 0 no. */
int tb_template_is(const char *s, size_t len);

/* Check template tpl (NUL-terminated) for a host regex with ngroups capture
 * groups: every '$' is followed by a digit 1-9 naming an existing group,
 * and the literal text can make a valid peer (tried with each $n as "a", or
 * "1" in the port, and as nothing; a template starting with '[' is checked
 * only when expanded).  Returns 0, or -1 with "peer template 'TPL': <what is
 * wrong>" in err. */
int tb_template_check(const char *tpl, unsigned ngroups, char *err, size_t errlen);

/* Make the peer that template tpl names for a CONNECT to host[0..len) whose
 * match left caps: each $n replaced by group n's text (lower-cased; an
 * unset group is empty), the result parsed as a configured peer is.
 * Returns 0 with the peer in *out, or -1 with "peer template 'TPL' gave
 * 'RESULT': <what is wrong>" (or "peer template 'TPL': <what is wrong>" when
 * no text could be made) in err. */
int tb_template_expand(const char *tpl, const char *host, size_t len, const struct tb_captures *caps,
                       struct tb_peer *out, char *err, size_t errlen);

#endif
