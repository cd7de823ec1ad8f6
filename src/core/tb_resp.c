/*
 * tb_resp: restartable parser for an HTTP/1.x response header.  See tb_resp.h.
 *
 * A byte-at-a-time state machine in the manner of nginx's
 * ngx_http_parse_status_line: every byte is judged on its own against the
 * state left by the bytes before it (no look-ahead), so a header split at any
 * offset gives the same verdict at the same byte.  An impossible byte fails
 * at once; only a header that is well formed so far makes the caller wait.
 *
 * Grammar (RFC 9112 2.2, 4, 5), with bare LF accepted as a line end:
 *   status-line = "HTTP/1." DIGIT SP 3DIGIT [ SP reason ] EOL
 *   field-line  = token ":" *( VCHAR / obs-text / SP / HTAB ) EOL
 *   header      = status-line *field-line EOL
 */
#include "tb_resp.h"

#include <string.h>

/* The message below spells the limit out. */
_Static_assert(TB_RESP_MAX_HEADER == 16384, "update the too-long message");

enum {
  sw_start = 0, /* a zeroed struct starts here */
  sw_H,
  sw_HT,
  sw_HTT,
  sw_HTTP,
  sw_slash,
  sw_major,
  sw_dot,
  sw_minor,
  sw_status,       /* count = status digits so far */
  sw_after_status, /* three digits read */
  sw_reason,
  sw_status_cr,
  sw_line_start, /* a field line or the empty line that ends the header */
  sw_name,
  sw_value,
  sw_line_cr,
  sw_final_cr,
  sw_done,
  sw_error
};

void tb_resp_init(struct tb_resp *r) {
  memset(r, 0, sizeof *r);
}

/* RFC 9110 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-"
 *                       / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
static int is_tchar(unsigned char ch) {
  if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) {
    return 1;
  }
  return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* Field content: VCHAR, SP, HTAB, obs-text. */
static int is_field_char(unsigned char ch) {
  return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

static void reason_add(struct tb_resp *r, unsigned char ch) {
  if (r->reason_len < TB_RESP_REASON_MAX) {
    r->reason[r->reason_len++] = (char)ch;
    r->reason[r->reason_len] = '\0';
  }
}

/* One byte.  Returns TB_RESP_MORE to go on, DONE, or ERROR with r->error set. */
static enum tb_resp_result step(struct tb_resp *r, unsigned char ch) {
  switch (r->state) {
  case sw_start:
    if (ch != 'H') {
      r->error = "not an HTTP/1.x response";
      return TB_RESP_ERROR;
    }
    r->state = sw_H;
    return TB_RESP_MORE;
  case sw_H:
  case sw_HT:
  case sw_HTT:
  case sw_HTTP:
  case sw_slash:
  case sw_major:
    /* "TTP/1." one expected byte per state, in order */
    if (ch != (unsigned char)"TTP/1."[r->state - sw_H]) {
      r->error = "not an HTTP/1.x response";
      return TB_RESP_ERROR;
    }
    r->state++;
    return TB_RESP_MORE;
  case sw_dot:
    if (ch < '0' || ch > '9') {
      r->error = "bad HTTP version";
      return TB_RESP_ERROR;
    }
    r->minor = (unsigned)(ch - '0');
    r->state = sw_minor;
    return TB_RESP_MORE;
  case sw_minor:
    if (ch != ' ') {
      r->error = "bad HTTP version";
      return TB_RESP_ERROR;
    }
    r->state = sw_status;
    r->count = 0;
    r->status = 0;
    return TB_RESP_MORE;
  case sw_status:
    if (ch < '0' || ch > '9') {
      r->error = "status code must be 3 digits";
      return TB_RESP_ERROR;
    }
    if (r->count == 0 && (ch < '1' || ch > '5')) {
      r->error = "status code must be 100-599";
      return TB_RESP_ERROR;
    }
    r->status = r->status * 10 + (unsigned)(ch - '0');
    if (++r->count == 3) {
      r->state = sw_after_status;
    }
    return TB_RESP_MORE;
  case sw_after_status:
    if (ch == ' ') {
      r->state = sw_reason;
    } else if (ch == '\r') {
      r->state = sw_status_cr;
    } else if (ch == '\n') {
      r->state = sw_line_start;
    } else if (ch >= '0' && ch <= '9') {
      r->error = "status code must be 3 digits";
      return TB_RESP_ERROR;
    } else {
      r->error = "bad byte after status code";
      return TB_RESP_ERROR;
    }
    return TB_RESP_MORE;
  case sw_reason:
    if (ch == '\r') {
      r->state = sw_status_cr;
    } else if (ch == '\n') {
      r->state = sw_line_start;
    } else if (ch == '\t') {
      reason_add(r, ' ');
    } else if (ch >= 0x80) {
      reason_add(r, '?'); /* obs-text: kept out of what we may echo */
    } else if (ch >= 0x20 && ch != 0x7f) {
      reason_add(r, ch);
    } else {
      r->error = "control byte in reason phrase";
      return TB_RESP_ERROR;
    }
    return TB_RESP_MORE;
  case sw_status_cr:
  case sw_line_cr:
    if (ch != '\n') {
      r->error = "CR not followed by LF";
      return TB_RESP_ERROR;
    }
    r->state = sw_line_start;
    return TB_RESP_MORE;
  case sw_line_start:
    if (ch == '\r') {
      r->state = sw_final_cr;
      return TB_RESP_MORE;
    }
    if (ch == '\n') {
      r->state = sw_done;
      return TB_RESP_DONE;
    }
    if (ch == ' ' || ch == '\t') {
      r->error = "obsolete line folding in header"; /* RFC 9112 5.2 */
      return TB_RESP_ERROR;
    }
    if (ch == ':') {
      r->error = "empty header field name";
      return TB_RESP_ERROR;
    }
    if (!is_tchar(ch)) {
      r->error = "bad byte in header field name";
      return TB_RESP_ERROR;
    }
    r->state = sw_name;
    return TB_RESP_MORE;
  case sw_name:
    if (ch == ':') {
      r->state = sw_value;
    } else if (ch == '\r' || ch == '\n') {
      r->error = "header field line without ':'";
      return TB_RESP_ERROR;
    } else if (ch == ' ' || ch == '\t') {
      r->error = "whitespace before ':' in header field"; /* RFC 9112 5.1 */
      return TB_RESP_ERROR;
    } else if (!is_tchar(ch)) {
      r->error = "bad byte in header field name";
      return TB_RESP_ERROR;
    }
    return TB_RESP_MORE;
  case sw_value:
    if (ch == '\r') {
      r->state = sw_line_cr;
    } else if (ch == '\n') {
      r->state = sw_line_start;
    } else if (!is_field_char(ch)) {
      r->error = "control byte in header field";
      return TB_RESP_ERROR;
    }
    return TB_RESP_MORE;
  case sw_final_cr:
    if (ch != '\n') {
      r->error = "CR not followed by LF";
      return TB_RESP_ERROR;
    }
    r->state = sw_done;
    return TB_RESP_DONE;
  default:
    r->error = "parser state corrupt";
    return TB_RESP_ERROR;
  }
}

enum tb_resp_result tb_resp_parse(struct tb_resp *r, const char *buf, size_t len, size_t *consumed) {
  const unsigned char *p = (const unsigned char *)buf;
  size_t i;

  *consumed = 0;
  if (r->state == sw_done) {
    return TB_RESP_DONE;
  }
  if (r->state == sw_error) {
    return TB_RESP_ERROR;
  }
  for (i = 0; i < len; i++) {
    enum tb_resp_result res;

    /* The limit is checked before the byte is taken, so an endless header
     * fails on byte TB_RESP_MAX_HEADER + 1 exactly. */
    if (r->total >= TB_RESP_MAX_HEADER) {
      r->state = sw_error;
      r->error = "response header exceeds 16384 bytes";
      *consumed = i + 1;
      return TB_RESP_ERROR;
    }
    r->total++;
    res = step(r, p[i]);
    if (res == TB_RESP_MORE) {
      continue;
    }
    if (res == TB_RESP_ERROR) {
      r->state = sw_error;
    }
    *consumed = i + 1;
    return res;
  }
  *consumed = len;
  return TB_RESP_MORE;
}
