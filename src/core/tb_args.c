/*
 * tb_args: plugin.config arguments.  See tb_args.h.
 *
 * Options are tables: numeric ones (name, field, range, unit) and ones
 * that take a word from a fixed list (name, words, what each word sets), so
 * every option of a kind is parsed, and refused, the same way.
 */
#include "tb_args.h"
#include "tb_file.h"
#include "tb_rulefile.h"
#include "tb_text.h"
#include "tb_yaml.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUOTE_MAX 96 /* bytes of configured text shown in a message */

/* Numeric options: name, where the value goes, its range, and the factor
 * from what the operator writes to what is stored (seconds -> ms). */
struct num_option {
  const char *name;
  size_t offset; /* of the unsigned field in struct tb_config */
  unsigned min, max, scale;
  const char *metavar; /* how the usage names the value */
  const char *unit;
};

static const struct num_option num_options[] = {
    {"--connect-timeout", offsetof(struct tb_config, connect_timeout_ms), 1, TB_TIMEOUT_MAX_S, 1000,
     "SECONDS", "seconds"},
    {"--pool", offsetof(struct tb_config, pool_size), 0, TB_POOL_SIZE_MAX, 1, "N", "connections"},
    {"--pool-max-age", offsetof(struct tb_config, pool_max_age_ms), 1, TB_TIMEOUT_MAX_S, 1000, "SECONDS",
     "seconds"},
    {"--idle-timeout", offsetof(struct tb_config, idle_timeout_ms), 0, TB_LIFETIME_MAX_S, 1000, "SECONDS",
     "seconds"},
    {"--max-lifetime", offsetof(struct tb_config, max_lifetime_ms), 0, TB_LIFETIME_MAX_S, 1000, "SECONDS",
     "seconds"},
    {"--health-failures", offsetof(struct tb_config, health_failures), 1, TB_HEALTH_FAILURES_MAX, 1, "N",
     "failures"},
    {"--health-down-for", offsetof(struct tb_config, health_down_for_ms), TB_HEALTH_DOWN_FOR_MIN_MS / 1000,
     TB_HEALTH_DOWN_FOR_MAX_MS / 1000, 1000, "SECONDS", "seconds"},
};

/* Options that take one word of a fixed list: set() gets the word's
 * position in words, and the word's origin for a message ("plugin.config
 * argument 2 ('direct')"); it returns 0, or -1 with the message in err. */
struct word_option {
  const char *name;
  const char *words[4]; /* NULL after the last */
  int (*set)(struct tb_config *c, size_t word, const char *origin, char *err, size_t errlen);
};

static int set_unmatched(struct tb_config *c, size_t word, const char *origin, char *err, size_t errlen) {
  (void)origin;
  (void)err;
  (void)errlen;
  c->deny_unmatched = word == 1;
  return 0;
}

static int set_identity(struct tb_config *c, size_t word, const char *origin, char *err, size_t errlen) {
  static const enum tb_identity ids[] = {TB_IDENTITY_KEEP, TB_IDENTITY_STRIP, TB_IDENTITY_FORWARDED};
  (void)origin;
  (void)err;
  (void)errlen;
  c->identity = ids[word];
  return 0;
}

/* The default transport (tb_config.h): every rule without one of its own
 * uses it, those written before the option included.  Arguments give no
 * TLS settings (a YAML file does), so this replaces none. */
static int set_engine(struct tb_config *c, size_t word, const char *origin, char *err, size_t errlen) {
  static const enum tb_engine engines[] = {TB_ENGINE_ATS, TB_ENGINE_DIRECT};
  struct tb_transport t = TB_TRANSPORT_ATS;
  t.engine = engines[word];
  return tb_config_set_transport(c, &t, origin, err, errlen);
}

static const struct word_option word_options[] = {
    {"--unmatched", {"passthrough", "deny", NULL}, set_unmatched},
    {"--client-identity", {"keep", "strip", "forwarded", NULL}, set_identity},
    {"--engine", {"ats", "direct", NULL}, set_engine},
};

/* Decimal digits only, min..max. */
static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out) {
  unsigned long v = 0;
  size_t i;

  for (i = 0; s[i] != '\0'; i++) {
    if (s[i] < '0' || s[i] > '9' || i >= 8) {
      return -1;
    }
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (i == 0 || v < min || v > max) {
    return -1;
  }
  *out = (unsigned)v;
  return 0;
}

/* A file loader: the path resolved; confdir for the paths inside it. */
typedef int (*load_fn)(struct tb_config *c, const char *path, const char *confdir, char *err, size_t errlen);

/* A rule file names no other file. */
static int load_rulefile(struct tb_config *c, const char *path, const char *confdir, char *err,
                         size_t errlen) {
  (void)confdir;
  return tb_config_load_file(c, path, err, errlen);
}

/* Load the file that argument number argno names (resolved against confdir). */
static int load_path(struct tb_config *c, load_fn load, const char *confdir, const char *arg, int argno,
                     char *err, size_t errlen) {
  char *path = tb_file_resolve(confdir, arg);
  int rc;

  if (path == NULL) {
    snprintf(err, errlen, "plugin.config argument %d: out of memory", argno);
    return -1;
  }
  rc = load(c, path, confdir, err, errlen);
  free(path);
  return rc;
}

static const struct num_option *find_num_option(const char *a) {
  for (size_t k = 0; k < sizeof num_options / sizeof num_options[0]; k++) {
    if (strcmp(a, num_options[k].name) == 0) {
      return &num_options[k];
    }
  }
  return NULL;
}

static const struct word_option *find_word_option(const char *a) {
  for (size_t k = 0; k < sizeof word_options / sizeof word_options[0]; k++) {
    if (strcmp(a, word_options[k].name) == 0) {
      return &word_options[k];
    }
  }
  return NULL;
}

/* "--name N" at argument i (quoted as q): the value, scaled, into c. */
static int set_num(struct tb_config *c, const struct num_option *opt, int argc, const char *const *argv,
                   int i, const char *q, char *err, size_t errlen) {
  char vq[TB_QUOTE_SIZE(QUOTE_MAX)];
  unsigned v = 0;

  if (i + 1 >= argc || argv[i + 1] == NULL) {
    snprintf(err, errlen, "plugin.config argument %d ('%s'): needs %s", i + 1, q, opt->metavar);
    return -1;
  }
  if (parse_uint(argv[i + 1], opt->min, opt->max, &v) != 0) {
    tb_text_quote(vq, sizeof vq, argv[i + 1], strlen(argv[i + 1]), QUOTE_MAX);
    snprintf(err, errlen, "plugin.config argument %d ('%s'): %s must be whole %s, %u-%u", i + 2, vq,
             opt->name, opt->unit, opt->min, opt->max);
    return -1;
  }
  *(unsigned *)((char *)c + opt->offset) = v * opt->scale;
  return 0;
}

/* The words of opt as its message lists them: "'a' or 'b'", "'a', 'b' or 'c'". */
static void list_words(char *buf, size_t len, const struct word_option *opt) {
  size_t n = 0;

  while (opt->words[n] != NULL) {
    n++;
  }
  buf[0] = '\0';
  for (size_t k = 0; k < n; k++) {
    size_t used = strlen(buf);
    const char *sep = ", ";
    if (k == 0) {
      sep = "";
    } else if (k + 1 == n) {
      sep = " or ";
    }
    snprintf(buf + used, len - used, "%s'%s'", sep, opt->words[k]);
  }
}

/* "--name WORD" at argument i (quoted as q): what the word means, into c. */
static int set_word(struct tb_config *c, const struct word_option *opt, int argc, const char *const *argv,
                    int i, const char *q, char *err, size_t errlen) {
  const char *v = i + 1 < argc ? argv[i + 1] : NULL;
  char vq[TB_QUOTE_SIZE(QUOTE_MAX)];
  char words[128];
  char origin[TB_QUOTE_SIZE(QUOTE_MAX) + 48];

  if (v != NULL) {
    tb_text_quote(vq, sizeof vq, v, strlen(v), QUOTE_MAX);
  }
  for (size_t k = 0; v != NULL && opt->words[k] != NULL; k++) {
    if (strcmp(v, opt->words[k]) == 0) {
      snprintf(origin, sizeof origin, "plugin.config argument %d ('%s')", i + 2, vq);
      return opt->set(c, k, origin, err, errlen);
    }
  }
  list_words(words, sizeof words, opt);
  snprintf(err, errlen, "plugin.config argument %d ('%s'): %s takes %s", v != NULL ? i + 2 : i + 1,
           v != NULL ? vq : q, opt->name, words);
  return -1;
}

int tb_config_load_args(struct tb_config *c, int argc, const char *const *argv, const char *confdir,
                        char *err, size_t errlen) {
  struct tb_config saved = *c; /* the options, to restore on failure */
  const struct num_option *num;
  const struct word_option *word;
  char q[TB_QUOTE_SIZE(QUOTE_MAX)];
  char origin[48];

  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];

    if (a == NULL) {
      snprintf(err, errlen, "plugin.config argument %d: missing", i + 1);
      goto fail;
    }
    tb_text_quote(q, sizeof q, a, strlen(a), QUOTE_MAX);
    if (strcmp(a, "--config") == 0) {
      if (argc != 2 || i != 0 || c->nrules != 0 || argv[1] == NULL || argv[1][0] == '\0') {
        snprintf(err, errlen,
                 "plugin.config argument %d ('%s'): --config PATH must be the only argument (the YAML file "
                 "holds the whole configuration)",
                 i + 1, q);
        goto fail;
      }
      if (load_path(c, tb_config_load_yaml, confdir, argv[i + 1], i + 2, err, errlen) != 0) {
        goto fail;
      }
      i++;
    } else if (strcmp(a, "--file") == 0) {
      if (i + 1 >= argc || argv[i + 1] == NULL || argv[i + 1][0] == '\0') {
        snprintf(err, errlen, "plugin.config argument %d ('%s'): needs a PATH", i + 1, q);
        goto fail;
      }
      if (load_path(c, load_rulefile, confdir, argv[i + 1], i + 2, err, errlen) != 0) {
        goto fail;
      }
      i++;
    } else if ((word = find_word_option(a)) != NULL) {
      if (set_word(c, word, argc, argv, i, q, err, errlen) != 0) {
        goto fail;
      }
      i++;
    } else if ((num = find_num_option(a)) != NULL) {
      if (set_num(c, num, argc, argv, i, q, err, errlen) != 0) {
        goto fail;
      }
      i++;
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
  tb_config_undo(c, &saved);
  return -1;
}

int tb_config_load_plugin_args(struct tb_config *c, int argc, const char *const *argv, const char *confdir,
                               char *err, size_t errlen) {
  struct tb_config saved = *c;

  if (tb_config_load_args(c, argc, argv, confdir, err, errlen) != 0) {
    return -1;
  }
  if (tb_config_check_loaded(c, err, errlen) != 0) {
    tb_config_undo(c, &saved); /* the options an option-only list set */
    return -1;
  }
  return 0;
}
