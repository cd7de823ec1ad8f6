/*
 * tb_retext: a small model of the regex text host patterns use, for
 * tb_reference: questions the text alone can answer soundly, and sample
 * hosts a pattern matches.  Answers are conservative: a part of the text
 * the model does not cover gives "cannot tell" (see tb_retext.c).
 *
 * [p, end) is a pattern's text (without a leading inline option).  Owns
 * nothing; no state; thread-safe.
 */
#ifndef TB_RETEXT_H
#define TB_RETEXT_H

#include <stddef.h>

#define TB_SAMPLE_MAX 300 /* a host name and what examples add to it */

/* A host being made: see tb_retext_sample. */
struct tb_sample {
  char host[TB_SAMPLE_MAX];
  size_t len;
  int last_star_once; /* write a trailing '*' atom once too (see make_sequence) */
};

/* Does every top-level alternative end in '$' (\z, \Z) or in '.' repeated
 * without bound (so that anchoring at the start only changes nothing)?
 * 0 also when a part is not modelled. */
int tb_retext_end_open(const char *p, const char *end);

/* Does the text hold a letter (literal, or in a class without its other
 * case)?  1 yes, 0 no (case cannot matter), -1 cannot tell. */
int tb_retext_case_sensitive(const char *p, const char *end);

/* Does the text hold an end anchor ('$', \z, \Z)?  1, 0, -1 cannot tell. */
int tb_retext_end_anchored(const char *p, const char *end);

/* Append to s a host the pattern's first alternative matches (each atom as
 * often as its minimum; a '*' once when s->last_star_once).  0, or -1 when
 * a part is not modelled or the host gets too long. */
int tb_retext_sample(struct tb_sample *s, const char *p, const char *end);

/* The other case of an ASCII letter; c itself otherwise. */
unsigned char tb_retext_other_case(unsigned char c);

#endif
