/* direct: see direct.h. */
#include "direct.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PATH_MAX_LEN 1024
#define CACHE_SLOTS 1024 /* sessions kept, all peers and settings together */

struct tb_direct {
  atomic_int refs;
  struct tb_tls_ctx *ctx; /* owned */
  char *sni;              /* owned, or NULL */
  char key[4 * PATH_MAX_LEN + 64];
  char describe[4 * PATH_MAX_LEN + 96];
};

/* A record's string value into out ("" when unset or empty). */
static void record(const char *name, char *out, size_t len) {
  TSMgmtString v = NULL;
  out[0] = '\0';
  if (TSMgmtStringGet(name, &v) == TS_SUCCESS && v != NULL) {
    snprintf(out, len, "%s", v);
    TSfree(v);
  }
}

/* ATS's path + filename: the filename alone when it is absolute or there
 * is no path; "" when there is no filename. */
static void record_file(const char *path_rec, const char *file_rec, char *out, size_t len) {
  char dir[PATH_MAX_LEN], file[PATH_MAX_LEN];
  record(path_rec, dir, sizeof dir);
  record(file_rec, file, sizeof file);
  if (file[0] == '\0') {
    out[0] = '\0';
  } else if (file[0] == '/' || dir[0] == '\0') {
    snprintf(out, len, "%s", file);
  } else if (snprintf(out, len, "%s/%s", dir, file) >= (int)len) {
    out[0] = '\0'; /* cannot be: ATS's own paths are shorter; then "none", which the load reports */
  }
}

static bool is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

struct tb_direct *tb_direct_make(const struct tb_transport *t, char *err, size_t errlen) {
  char cert[PATH_MAX_LEN], key[PATH_MAX_LEN], ca[PATH_MAX_LEN], policy[64];
  const char *verify_from = "rule";
  struct tb_direct *d = calloc(1, sizeof *d);
  if (d == NULL) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  atomic_init(&d->refs, 1);
  /* What the rule leaves unset comes from the records the ats engine uses. */
  if (t->client_cert != NULL) {
    snprintf(cert, sizeof cert, "%s", t->client_cert);
    snprintf(key, sizeof key, "%s", t->client_key != NULL ? t->client_key : "");
  } else {
    record_file("proxy.config.ssl.client.cert.path", "proxy.config.ssl.client.cert.filename", cert,
                sizeof cert);
    record_file("proxy.config.ssl.client.private_key.path", "proxy.config.ssl.client.private_key.filename",
                key, sizeof key);
  }
  if (t->ca != NULL) {
    snprintf(ca, sizeof ca, "%s", t->ca);
  } else {
    record_file("proxy.config.ssl.client.CA.cert.path", "proxy.config.ssl.client.CA.cert.filename", ca,
                sizeof ca);
    if (ca[0] == '\0') {
      record("proxy.config.ssl.client.CA.cert.path", ca, sizeof ca); /* a directory of hashed CAs, or "" */
    }
  }
  bool verify;
  if (t->verify != TB_VERIFY_UNSET) {
    verify = t->verify != 0;
  } else {
    /* ENFORCED verifies; PERMISSIVE only logs a failure in ATS, and a
     * check whose failure is ignored is none: the direct engine then does
     * not verify (and says so at load). */
    record("proxy.config.ssl.client.verify.server.policy", policy, sizeof policy);
    verify = strcmp(policy, "ENFORCED") == 0;
    verify_from = "proxy.config.ssl.client.verify.server.policy";
  }
  struct tb_tls_config cfg = {
      .ca_file = ca[0] != '\0' && !is_dir(ca) ? ca : NULL,
      .ca_dir = ca[0] != '\0' && is_dir(ca) ? ca : NULL,
      .cert_file = cert[0] != '\0' ? cert : NULL,
      .key_file = key[0] != '\0' ? key : NULL,
      .verify = verify,
  };
  char why[512];
  d->ctx = tb_tls_ctx_create(&cfg, why, sizeof why);
  if (d->ctx == NULL) {
    snprintf(err, errlen, "engine direct: %s", why);
    free(d);
    return NULL;
  }
  if (t->sni != NULL && (d->sni = strdup(t->sni)) == NULL) {
    snprintf(err, errlen, "out of memory");
    tb_tls_ctx_destroy(d->ctx);
    free(d);
    return NULL;
  }
  snprintf(d->key, sizeof d->key, "cert=%s|key=%s|ca=%s|verify=%d|sni=%s", cert, key, ca, verify ? 1 : 0,
           d->sni != NULL ? d->sni : "");
  snprintf(d->describe, sizeof d->describe,
           "engine direct (client certificate %s, CA %s, verification %s (%s)%s%s)",
           cert[0] != '\0' ? cert : "none", ca[0] != '\0' ? ca : "the system's", verify ? "on" : "off",
           verify_from, d->sni != NULL ? ", SNI " : "", d->sni != NULL ? d->sni : "");
  return d;
}

struct tb_direct *tb_direct_ref(struct tb_direct *d) {
  atomic_fetch_add(&d->refs, 1);
  return d;
}

void tb_direct_unref(struct tb_direct *d) {
  if (d != NULL && atomic_fetch_sub(&d->refs, 1) == 1) {
    tb_tls_ctx_destroy(d->ctx); /* open connections keep what they need */
    free(d->sni);
    free(d);
  }
}

const struct tb_tls_ctx *tb_direct_ctx(const struct tb_direct *d) {
  return d->ctx;
}

const char *tb_direct_sni(const struct tb_direct *d) {
  return d->sni;
}

const char *tb_direct_key(const struct tb_direct *d) {
  return d->key;
}

const char *tb_direct_describe(const struct tb_direct *d) {
  return d->describe;
}

static pthread_once_t g_cache_once = PTHREAD_ONCE_INIT;
static struct tb_tls_cache *g_cache;

static void cache_make(void) {
  g_cache = tb_tls_cache_create(CACHE_SLOTS); /* NULL: no resumption */
}

struct tb_tls_cache *tb_direct_cache(void) {
  pthread_once(&g_cache_once, cache_make);
  return g_cache;
}
