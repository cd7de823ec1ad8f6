/*
 * tb_transport: see tb_transport.h.
 *
 * The checks here are the store's (tb_config_add, tb_config_set_transport):
 * they hold whoever builds a transport.  The front ends check the same
 * things first, where they can name the line and the key at fault.
 */
#include "tb_transport.h"

#include <stdlib.h>
#include <string.h>

const char *tb_engine_name(enum tb_engine e) {
  switch (e) {
  case TB_ENGINE_ATS:
    return "ats";
  case TB_ENGINE_DIRECT:
    return "direct";
  case TB_ENGINE_UNSET:
  default:
    return "default";
  }
}

int tb_engine_parse(const char *s, enum tb_engine *out) {
  if (strcmp(s, "ats") == 0) {
    *out = TB_ENGINE_ATS;
  } else if (strcmp(s, "direct") == 0) {
    *out = TB_ENGINE_DIRECT;
  } else {
    return -1;
  }
  return 0;
}

static const char *const key_names[TB_TLSKEY_COUNT] = {"client_cert", "client_key", "ca", "sni", "verify"};

const char *tb_tls_key_name(enum tb_tls_key k) {
  return (unsigned)k < TB_TLSKEY_COUNT ? key_names[k] : "?";
}

char **tb_transport_field(struct tb_transport *t, enum tb_tls_key k) {
  switch (k) {
  case TB_TLSKEY_CLIENT_CERT:
    return &t->client_cert;
  case TB_TLSKEY_CLIENT_KEY:
    return &t->client_key;
  case TB_TLSKEY_CA:
    return &t->ca;
  case TB_TLSKEY_SNI:
    return &t->sni;
  case TB_TLSKEY_VERIFY:
  case TB_TLSKEY_COUNT:
  default:
    return NULL;
  }
}

const char *tb_transport_string(const struct tb_transport *t, enum tb_tls_key k) {
  /* Read only: the cast lends t to tb_transport_field, as strchr does. */
  char **s = tb_transport_field((struct tb_transport *)t, k);
  return s != NULL ? *s : NULL;
}

int tb_transport_has(const struct tb_transport *t, enum tb_tls_key k) {
  return k == TB_TLSKEY_VERIFY ? t->verify != TB_VERIFY_UNSET : tb_transport_string(t, k) != NULL;
}

const char *tb_transport_sni_problem(const char *s, size_t len, char *host) {
  struct tb_peer p;
  const char *why;
  size_t digits = 0;
  size_t dots = 0;

  if (memchr(s, '[', len) != NULL || memchr(s, ']', len) != NULL || memchr(s, ':', len) != NULL) {
    return "not a host name alone (no port, no brackets)";
  }
  for (size_t i = 0; i < len; i++) {
    digits += s[i] >= '0' && s[i] <= '9';
    dots += s[i] == '.';
  }
  if (digits > 0 && digits + dots == len) {
    return "looks like an IPv4 address: SNI carries host names only (RFC 6066 3)";
  }
  why = tb_peer_problem(s, len, &p);
  if (why != NULL) {
    return why;
  }
  for (size_t i = 0;; i++) {
    char ch = p.host[i];
    host[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
    if (ch == '\0') {
      break;
    }
  }
  return NULL;
}

const char *tb_transport_problem(const struct tb_transport *t) {
  char host[TB_HOST_MAX + 1];

  if (t->engine != TB_ENGINE_ATS && t->engine != TB_ENGINE_DIRECT) {
    return "engine must be ats or direct";
  }
  if (t->verify != TB_VERIFY_UNSET && t->verify != 0 && t->verify != 1) {
    return "verify must be -1, 0 or 1";
  }
  for (int k = 0; k < TB_TLSKEY_COUNT; k++) {
    const char *s = tb_transport_string(t, (enum tb_tls_key)k);
    if (t->engine == TB_ENGINE_ATS && tb_transport_has(t, (enum tb_tls_key)k)) {
      return "TLS settings apply only to engine direct";
    }
    if (s != NULL && s[0] == '\0') {
      return "a TLS setting is empty";
    }
  }
  if (t->client_key != NULL && t->client_cert == NULL) {
    return "client_key needs client_cert (a key beside the records' certificate would not be its key)";
  }
  if (t->sni != NULL) {
    if (tb_transport_sni_problem(t->sni, strlen(t->sni), host) != NULL) {
      return "sni is not a valid host name";
    }
    if (strcmp(host, t->sni) != 0) {
      return "sni must be in lower case without a trailing dot";
    }
  }
  return NULL;
}

static int same_string(const char *a, const char *b) {
  return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

int tb_transport_same(const struct tb_transport *a, const struct tb_transport *b) {
  return a->engine == b->engine && a->verify == b->verify && same_string(a->client_cert, b->client_cert) &&
         same_string(a->client_key, b->client_key) && same_string(a->ca, b->ca) &&
         same_string(a->sni, b->sni);
}

/* FNV-1a, as tb_peer_hash; a string is hashed with its NUL, NULL as one
 * byte that no string starts with, so that fields cannot run together. */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;

  for (size_t i = 0; i < n; i++) {
    h = (h ^ b[i]) * 1099511628211ull;
  }
  return h;
}

uint64_t tb_transport_hash(const struct tb_transport *t) {
  static const unsigned char none = 0xff; /* not a byte of UTF-8 */
  uint64_t h = 14695981039346656037ull;
  const unsigned char small[2] = {(unsigned char)t->engine, (unsigned char)(t->verify + 1)}; /* 0..2 each */

  h = fnv(h, small, sizeof small);
  for (int k = 0; k < TB_TLSKEY_VERIFY; k++) {
    const char *s = tb_transport_string(t, (enum tb_tls_key)k);
    h = s != NULL ? fnv(h, s, strlen(s) + 1) : fnv(h, &none, 1);
  }
  return h;
}

int tb_transport_copy(struct tb_transport *dst, const struct tb_transport *src) {
  *dst = *src;
  for (int k = 0; k < TB_TLSKEY_VERIFY; k++) {
    *tb_transport_field(dst, (enum tb_tls_key)k) = NULL;
  }
  for (int k = 0; k < TB_TLSKEY_VERIFY; k++) {
    const char *s = tb_transport_string(src, (enum tb_tls_key)k);
    if (s != NULL && (*tb_transport_field(dst, (enum tb_tls_key)k) = strdup(s)) == NULL) {
      tb_transport_clear(dst);
      return -1;
    }
  }
  return 0;
}

void tb_transport_clear(struct tb_transport *t) {
  for (int k = 0; k < TB_TLSKEY_VERIFY; k++) {
    char **s = tb_transport_field(t, (enum tb_tls_key)k);
    free(*s);
    *s = NULL;
  }
}
