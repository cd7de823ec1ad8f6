/* tb_text: see tb_text.h. */
#include "tb_text.h"

#include <string.h>

void tb_text_quote(char *q, size_t qlen, const char *s, size_t len, size_t max) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  size_t i;

  if (qlen == 0) {
    return;
  }
  for (i = 0; i < len && i < max; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch >= 0x20 && ch <= 0x7e && ch != '\'') {
      if (o + 1 >= qlen) {
        break;
      }
      q[o++] = (char)ch;
    } else {
      if (o + 4 >= qlen) {
        break;
      }
      q[o++] = '\\';
      q[o++] = 'x';
      q[o++] = hex[ch >> 4];
      q[o++] = hex[ch & 0xf];
    }
  }
  if (i < len && o + 3 < qlen) {
    memcpy(q + o, "...", 3);
    o += 3;
  }
  q[o] = '\0';
}
