/*
 * tb_config: rules from plugin.config arguments and rule files, and the
 * matcher.  See tb_config.h.
 *
 * Every regex is compiled with the anchoring in its compile options, not at
 * match time: PCRE2 documents that PCRE2_ANCHORED or PCRE2_ENDANCHORED passed
 * to pcre2_match() turn the JIT off for that call (and pcre2_jit_match()
 * ignores them), while compile-time anchoring holds on both paths.  So
 * ".*[.]service[.]com" matches the whole host or nothing, JIT or not.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "tb_config.h"

#include <errno.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#define RE_OPTIONS                                                                                           \
  (PCRE2_CASELESS | PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C)
#define FILE_MAX ((size_t)16 << 20) /* a rule file larger than this is a mistake */
#define TIMEOUT_MAX_S 3600u
#define QUOTE_MAX 96 /* bytes of configured text shown in a message */

/* Configured text as printable text for a message: bytes outside 0x20..0x7e
 * and the quote become \xNN; long text is cut with "...".  Backslashes stay
 * as they are: regexes are full of them. */
static void quote(char *q, size_t qlen, const char *s) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  size_t i;

  for (i = 0; i < QUOTE_MAX && s[i] != '\0'; i++) {
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
  if (s[i] != '\0' && o + 3 < qlen) {
    memcpy(q + o, "...", 3);
    o += 3;
  }
  q[o] = '\0';
}

struct tb_config *tb_config_create(void) {
  struct tb_config *c = calloc(1, sizeof *c);

  if (c == NULL) {
    return NULL;
  }
  c->connect_timeout_ms = TB_DEFAULT_CONNECT_TIMEOUT_MS;
  return c;
}

/* Drop the rules from index n on (undoes a load that failed half-way). */
static void truncate_rules(struct tb_config *c, size_t n) {
  while (c->nrules > n) {
    struct tb_rule *r = &c->rules[--c->nrules];
    pcre2_code_free(r->re);
    free(r->pattern);
  }
}

void tb_config_destroy(struct tb_config *c) {
  if (c == NULL) {
    return;
  }
  truncate_rules(c, 0);
  free(c->rules);
  free(c);
}

/* Room for one more rule; doubling keeps 100,000 rules at O(n) copying. */
static int reserve(struct tb_config *c) {
  struct tb_rule *rules;
  size_t cap;

  if (c->nrules < c->cap) {
    return 0;
  }
  cap = c->cap == 0 ? 16 : c->cap * 2;
  if (cap < c->cap || cap > SIZE_MAX / sizeof *rules) {
    return -1;
  }
  rules = realloc(c->rules, cap * sizeof *rules);
  if (rules == NULL) {
    return -1;
  }
  c->rules = rules;
  c->cap = cap;
  return 0;
}

int tb_config_add_rule(struct tb_config *c, const char *pattern, const char *peer, const char *origin,
                       char *err, size_t errlen) {
  char perr[512];
  char q[QUOTE_MAX * 4 + 4];
  struct tb_peer p;
  pcre2_code *re = NULL;
  char *pat = NULL;
  struct tb_rule *r;
  size_t patlen;
  int code;
  PCRE2_SIZE offset;

  if (tb_peer_parse(peer, strlen(peer), &p, perr, sizeof perr) != 0) {
    snprintf(err, errlen, "%s: %s", origin, perr);
    goto fail;
  }
  patlen = strlen(pattern);
  if (patlen == 0) {
    snprintf(err, errlen, "%s: empty regex", origin);
    goto fail;
  }
  re = pcre2_compile((PCRE2_SPTR)pattern, patlen, RE_OPTIONS, &code, &offset, NULL);
  if (re == NULL) {
    PCRE2_UCHAR msg[256];
    if (pcre2_get_error_message(code, msg, sizeof msg) < 0) {
      snprintf((char *)msg, sizeof msg, "error %d", code);
    }
    quote(q, sizeof q, pattern);
    snprintf(err, errlen, "%s: bad regex '%s' at offset %lu: %s", origin, q, (unsigned long)offset,
             (const char *)msg);
    goto fail;
  }
  /* Without JIT (no support for this CPU, no executable memory) the
   * interpreter gives the same answers, only slower: not worth failing. */
  (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);

  pat = malloc(patlen + 1);
  if (pat == NULL || reserve(c) != 0) {
    snprintf(err, errlen, "%s: out of memory", origin);
    goto fail;
  }
  memcpy(pat, pattern, patlen + 1);

  r = &c->rules[c->nrules++];
  memset(r, 0, sizeof *r);
  r->pattern = pat;
  r->re = re;
  r->peer = p;
  snprintf(r->origin, sizeof r->origin, "%s", origin); /* cut if long: only for messages */
  return 0;

fail:
  pcre2_code_free(re);
  free(pat);
  return -1;
}

/* Read the whole file into a NUL-terminated buffer (one spare byte). */
static char *read_file(const char *path, size_t *lenp, char *err, size_t errlen) {
  FILE *f;
  char *buf = NULL;
  size_t len = 0;
  size_t cap = 0;

  f = fopen(path, "rb");
  if (f == NULL) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  for (;;) {
    size_t n;
    if (len == cap) {
      size_t ncap = cap == 0 ? 4096 : cap * 2;
      char *nbuf;
      if (ncap > FILE_MAX + 1) {
        ncap = FILE_MAX + 1; /* one byte over the limit is enough to tell */
      }
      nbuf = realloc(buf, ncap + 1);
      if (nbuf == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
      }
      buf = nbuf;
      cap = ncap;
    }
    n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (len > FILE_MAX) {
      snprintf(err, errlen, "%s: larger than 16 MiB", path);
      goto fail;
    }
    if (n == 0) {
      if (ferror(f)) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        goto fail;
      }
      break;
    }
  }
  (void)fclose(f); /* read-only: nothing can be lost on close */
  buf[len] = '\0';
  *lenp = len;
  return buf;

fail:
  (void)fclose(f);
  free(buf);
  return NULL;
}

static int is_blank(char ch) {
  return ch == ' ' || ch == '\t';
}

int tb_config_load_file(struct tb_config *c, const char *path, char *err, size_t errlen) {
  size_t n0 = c->nrules;
  char *origin = NULL;
  char *buf;
  char *p;
  char *end;
  size_t len;
  size_t lineno;
  size_t originlen = strlen(path) + 32; /* "<path>:<line>" */

  buf = read_file(path, &len, err, errlen);
  if (buf == NULL) {
    return -1;
  }
  origin = malloc(originlen);
  if (origin == NULL) {
    snprintf(err, errlen, "%s: out of memory", path);
    goto fail;
  }

  end = buf + len;
  for (p = buf, lineno = 1; p < end; lineno++) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *line = p;
    char *field[2] = {NULL, NULL};
    size_t n;
    size_t nfields = 0;
    size_t i;

    n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
    p = nl != NULL ? nl + 1 : end;
    if (memchr(line, '\0', n) != NULL) {
      snprintf(err, errlen, "%s:%zu: NUL byte in line", path, lineno);
      goto fail;
    }
    if (n > 0 && line[n - 1] == '\r') {
      n--; /* CRLF line end */
    }
    while (n > 0 && is_blank(line[n - 1])) {
      n--;
    }
    while (n > 0 && is_blank(line[0])) {
      line++;
      n--;
    }
    if (n == 0 || line[0] == '#') {
      continue;
    }

    /* Fields are cut in place: the byte after each one is a blank, the line
     * end, or the spare byte after the buffer, so it may become a NUL. */
    for (i = 0; i < n;) {
      size_t start;
      while (i < n && is_blank(line[i])) {
        i++;
      }
      start = i;
      while (i < n && !is_blank(line[i])) {
        i++;
      }
      if (nfields < 2) {
        field[nfields] = line + start;
      }
      nfields++;
      if (nfields <= 2) {
        line[i] = '\0';
        i += i < n;
      }
    }
    if (nfields != 2) {
      snprintf(err, errlen, "%s:%zu: expected '<regex> <peer>', found %zu field%s", path, lineno, nfields,
               nfields == 1 ? "" : "s");
      goto fail;
    }
    snprintf(origin, originlen, "%s:%zu", path, lineno);
    if (tb_config_add_rule(c, field[0], field[1], origin, err, errlen) != 0) {
      goto fail;
    }
  }
  free(origin);
  free(buf);
  return 0;

fail:
  truncate_rules(c, n0);
  free(origin);
  free(buf);
  return -1;
}

/* Seconds as decimal digits only, 1..3600. */
static int parse_timeout(const char *s, unsigned *ms) {
  unsigned long v = 0;
  size_t i;

  for (i = 0; s[i] != '\0'; i++) {
    if (s[i] < '0' || s[i] > '9' || i >= 8) {
      return -1;
    }
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (i == 0 || v < 1 || v > TIMEOUT_MAX_S) {
    return -1;
  }
  *ms = (unsigned)v * 1000u;
  return 0;
}

/* PATH as is when absolute or when there is no confdir, else confdir/PATH. */
static char *resolve(const char *confdir, const char *path) {
  size_t dl;
  size_t pl = strlen(path);
  char *full;

  if (path[0] == '/' || confdir == NULL || confdir[0] == '\0') {
    dl = 0;
  } else {
    dl = strlen(confdir);
  }
  full = malloc(dl + 1 + pl + 1);
  if (full == NULL) {
    return NULL;
  }
  if (dl == 0) {
    memcpy(full, path, pl + 1);
    return full;
  }
  memcpy(full, confdir, dl);
  if (confdir[dl - 1] != '/') {
    full[dl++] = '/';
  }
  memcpy(full + dl, path, pl + 1);
  return full;
}

int tb_config_load_args(struct tb_config *c, int argc, const char *const *argv, const char *confdir,
                        char *err, size_t errlen) {
  size_t n0 = c->nrules;
  unsigned timeout0 = c->connect_timeout_ms;
  char q[QUOTE_MAX * 4 + 4];
  char origin[48];
  char *path = NULL;
  int i;

  for (i = 0; i < argc; i++) {
    const char *a = argv[i];

    if (a == NULL) {
      snprintf(err, errlen, "plugin.config argument %d: missing", i + 1);
      goto fail;
    }
    quote(q, sizeof q, a);
    if (strcmp(a, "--file") == 0) {
      if (i + 1 >= argc || argv[i + 1] == NULL || argv[i + 1][0] == '\0') {
        snprintf(err, errlen, "plugin.config argument %d ('%s'): needs a PATH", i + 1, q);
        goto fail;
      }
      path = resolve(confdir, argv[++i]);
      if (path == NULL) {
        snprintf(err, errlen, "plugin.config argument %d: out of memory", i + 1);
        goto fail;
      }
      if (tb_config_load_file(c, path, err, errlen) != 0) {
        goto fail;
      }
      free(path);
      path = NULL;
    } else if (strcmp(a, "--connect-timeout") == 0) {
      if (i + 1 >= argc || argv[i + 1] == NULL) {
        snprintf(err, errlen, "plugin.config argument %d ('%s'): needs SECONDS", i + 1, q);
        goto fail;
      }
      i++;
      if (parse_timeout(argv[i], &c->connect_timeout_ms) != 0) {
        quote(q, sizeof q, argv[i]);
        snprintf(err, errlen,
                 "plugin.config argument %d ('%s'): --connect-timeout must be whole seconds, 1-%u", i + 1, q,
                 TIMEOUT_MAX_S);
        goto fail;
      }
    } else if (a[0] == '-' && a[1] == '-') {
      snprintf(err, errlen, "plugin.config argument %d ('%s'): unknown option", i + 1, q);
      goto fail;
    } else {
      if (i + 1 >= argc || argv[i + 1] == NULL) {
        snprintf(err, errlen, "plugin.config argument %d: regex '%s' has no peer (arguments come in pairs)",
                 i + 1, q);
        goto fail;
      }
      snprintf(origin, sizeof origin, "plugin.config argument %d", i + 1);
      if (tb_config_add_rule(c, a, argv[i + 1], origin, err, errlen) != 0) {
        goto fail;
      }
      i++;
    }
  }
  return 0;

fail:
  free(path);
  truncate_rules(c, n0);
  c->connect_timeout_ms = timeout0;
  return -1;
}

/*
 * pcre2_match() needs a match-data block to write into.  Making one per call
 * costs a malloc and a free per CONNECT; sharing one would be a data race
 * between ATS's threads.  So each thread keeps its own in a _Thread_local
 * pointer, made on first use.  It is made with pcre2_match_data_create(1,
 * NULL), not from a pattern, so it serves every rule of every configuration
 * (old and new ones during a reload): a yes/no anchored match needs only the
 * one pair.  ATS's threads last as long as the process, but a thread that
 * does exit (a test, an embedding program) frees its block through a C11 tss
 * destructor; the main thread's block stays reachable until exit.
 */
static _Thread_local pcre2_match_data *match_data;
static once_flag match_key_once = ONCE_FLAG_INIT;
static tss_t match_key;
static int match_key_ok;

static void match_data_free(void *md) {
  pcre2_match_data_free(md);
  match_data = NULL; /* runs in the exiting thread: its own slot */
}

static void match_key_init(void) {
  match_key_ok = tss_create(&match_key, match_data_free) == thrd_success;
}

static pcre2_match_data *thread_match_data(void) {
  if (match_data != NULL) {
    return match_data;
  }
  match_data = pcre2_match_data_create(1, NULL);
  if (match_data == NULL) {
    return NULL;
  }
  call_once(&match_key_once, match_key_init);
  if (match_key_ok) {
    (void)tss_set(match_key, match_data); /* on failure: leaked at thread exit only */
  }
  return match_data;
}

const struct tb_rule *tb_config_match(const struct tb_config *c, const char *host, size_t len) {
  pcre2_match_data *md;

  if (c == NULL || host == NULL || len == 0) {
    return NULL;
  }
  if (host[len - 1] == '.') {
    len--; /* "example.com." is the same name as "example.com" */
  }
  if (len == 0) {
    return NULL;
  }
  md = thread_match_data();
  if (md == NULL) {
    return NULL; /* out of memory: no rule, ATS handles the CONNECT itself */
  }
  for (size_t i = 0; i < c->nrules; i++) {
    int rc = pcre2_match(c->rules[i].re, (PCRE2_SPTR)host, len, 0, 0, md, NULL);
    if (rc >= 0) {
      return &c->rules[i];
    }
    /* PCRE2_ERROR_NOMATCH, or a match or depth limit hit by a pathological
     * pattern: either way this rule does not take the host. */
  }
  return NULL;
}
