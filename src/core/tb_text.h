/*
 * tb_text: configured or received text made safe to put in a message.
 *
 * Owns nothing; thread-safe (no state).
 */
#ifndef TB_TEXT_H
#define TB_TEXT_H

#include <stddef.h>

/* Bytes a buffer needs to hold tb_text_quote's output for max input bytes. */
#define TB_QUOTE_SIZE(max) ((max)*4 + 4)

/* Copy s[0..len) into q (qlen bytes, NUL-terminated) as printable text:
 * bytes outside 0x20..0x7e and the single quote become \xNN; backslashes
 * stay as they are (regexes are full of them); input past max bytes, or past
 * what fits, is cut and marked with "...". */
void tb_text_quote(char *q, size_t qlen, const char *s, size_t len, size_t max);

#endif
