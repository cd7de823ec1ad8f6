/*
 * The far side of tb_tls in tests: throwaway certificates made with the
 * OpenSSL API (no files), and a TLS server that is an OpenSSL server SSL
 * over memory BIOs.  Header-only and free of cmocka, so that the unit test
 * (tests/unit/test_tls.c) and the fuzz corpus generator
 * (tests/fuzz/gen_tls_corpus.c) share it.  Functions return NULL or false
 * on failure; the caller asserts.
 *
 * The PKI: two CAs (the peers' CA and an unrelated one), a server
 * certificate for "peer.test", 127.0.0.1 and ::1 from the first CA, and a
 * client certificate "ingress.test" from the same CA.  EC P-256 keys (fast
 * to make), SHA-256 signatures, validity 2024-2099 (fixed: the same bytes
 * for the same keys, and no clock in the tests).
 */
#ifndef TB_TLS_PEER_H
#define TB_TLS_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* ---- a small PRNG (xorshift64*): splits, sizes and payloads ------------ */

struct tp_rng {
  uint64_t s; /* never 0 */
};

static inline void tp_seed(struct tp_rng *r, uint64_t seed) {
  r->s = seed * 0x9e3779b97f4a7c15ull + 1;
  if (r->s == 0) {
    r->s = 1;
  }
}

static inline uint64_t tp_rand(struct tp_rng *r) {
  r->s ^= r->s >> 12;
  r->s ^= r->s << 25;
  r->s ^= r->s >> 27;
  return r->s * 0x2545f4914f6cdd1dull;
}

/* Uniform in [0, n); 0 when n is 0. */
static inline size_t tp_below(struct tp_rng *r, size_t n) {
  return n == 0 ? 0 : (size_t)(tp_rand(r) % n);
}

static inline void tp_fill(struct tp_rng *r, unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    p[i] = (unsigned char)(tp_rand(r) >> 56);
  }
}

/* ---- certificates ---------------------------------------------------- */

struct tp_pki {
  EVP_PKEY *ca_key, *ca2_key, *srv_key, *cli_key; /* owned */
  X509 *ca, *ca2, *srv, *cli;                     /* owned */
};

static inline bool tp_ext(X509 *x, X509 *issuer, int nid, const char *value) {
  X509V3_CTX v3;
  X509_EXTENSION *e;
  bool ok;

  X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
  e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
  if (e == NULL) {
    return false;
  }
  ok = X509_add_ext(x, e, -1) == 1;
  X509_EXTENSION_free(e);
  return ok;
}

/* A certificate for key named cn, signed by issuer/ikey (NULL: self-signed
 * CA).  san: a subjectAltName value ("DNS:a,IP:1.2.3.4") or NULL; server:
 * serverAuth, else clientAuth. */
static inline X509 *tp_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *ikey, const char *san,
                            bool server, long serial) {
  X509 *x = X509_new();
  X509_NAME *name = X509_NAME_new();
  bool ca = issuer == NULL;

  if (x == NULL || name == NULL) {
    goto fail;
  }
  if (X509_set_version(x, X509_VERSION_3) != 1 || ASN1_INTEGER_set(X509_get_serialNumber(x), serial) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) != 1 ||
      X509_set_subject_name(x, name) != 1 ||
      X509_set_issuer_name(x, ca ? name : X509_get_subject_name(issuer)) != 1 ||
      ASN1_TIME_set_string_X509(X509_getm_notBefore(x), "20240101000000Z") != 1 ||
      ASN1_TIME_set_string_X509(X509_getm_notAfter(x), "20991231235959Z") != 1 ||
      X509_set_pubkey(x, key) != 1) {
    goto fail;
  }
  if (!tp_ext(x, ca ? x : issuer, NID_subject_key_identifier, "hash")) {
    goto fail;
  }
  if (ca) {
    if (!tp_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") ||
        !tp_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign")) {
      goto fail;
    }
  } else {
    if (!tp_ext(x, issuer, NID_authority_key_identifier, "keyid:always") ||
        !tp_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") ||
        !tp_ext(x, issuer, NID_key_usage, "critical,digitalSignature") ||
        !tp_ext(x, issuer, NID_ext_key_usage, server ? "serverAuth" : "clientAuth")) {
      goto fail;
    }
    if (san != NULL && !tp_ext(x, issuer, NID_subject_alt_name, san)) {
      goto fail;
    }
  }
  if (X509_sign(x, ca ? key : ikey, EVP_sha256()) <= 0) {
    goto fail;
  }
  X509_NAME_free(name);
  return x;

fail:
  X509_NAME_free(name);
  X509_free(x);
  return NULL;
}

static inline void tp_pki_free(struct tp_pki *p) {
  EVP_PKEY_free(p->ca_key);
  EVP_PKEY_free(p->ca2_key);
  EVP_PKEY_free(p->srv_key);
  EVP_PKEY_free(p->cli_key);
  X509_free(p->ca);
  X509_free(p->ca2);
  X509_free(p->srv);
  X509_free(p->cli);
  memset(p, 0, sizeof *p);
}

static inline bool tp_pki_make(struct tp_pki *p) {
  memset(p, 0, sizeof *p);
  p->ca_key = EVP_EC_gen("P-256");
  p->ca2_key = EVP_EC_gen("P-256");
  p->srv_key = EVP_EC_gen("P-256");
  p->cli_key = EVP_EC_gen("P-256");
  if (p->ca_key == NULL || p->ca2_key == NULL || p->srv_key == NULL || p->cli_key == NULL) {
    goto fail;
  }
  p->ca = tp_cert(p->ca_key, "tls_bridge test CA", NULL, NULL, NULL, false, 1);
  p->ca2 = tp_cert(p->ca2_key, "some other CA", NULL, NULL, NULL, false, 2);
  if (p->ca == NULL || p->ca2 == NULL) {
    goto fail;
  }
  p->srv = tp_cert(p->srv_key, "peer.test", p->ca, p->ca_key, "DNS:peer.test,IP:127.0.0.1,IP:::1", true, 3);
  p->cli = tp_cert(p->cli_key, "ingress.test", p->ca, p->ca_key, "DNS:ingress.test", false, 4);
  if (p->srv == NULL || p->cli == NULL) {
    goto fail;
  }
  return true;

fail:
  ERR_print_errors_fp(stderr);
  tp_pki_free(p);
  return false;
}

/* PEM text of a certificate (key NULL) or of a private key (x NULL;
 * encrypted with pass when pass is not NULL).  malloc'd, NUL-terminated;
 * its length in *len. */
static inline char *tp_pem(X509 *x, EVP_PKEY *key, const char *pass, size_t *len) {
  BIO *b = BIO_new(BIO_s_mem());
  char *data = NULL, *out = NULL;
  long n;
  int ok;

  if (b == NULL) {
    return NULL;
  }
  if (x != NULL) {
    ok = PEM_write_bio_X509(b, x);
  } else if (pass != NULL) {
    ok = PEM_write_bio_PrivateKey(b, key, EVP_aes_128_cbc(), NULL, 0, NULL, (void *)pass);
  } else {
    ok = PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
  }
  n = BIO_get_mem_data(b, &data);
  if (ok == 1 && n > 0 && (out = malloc((size_t)n + 1)) != NULL) {
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    *len = (size_t)n;
  }
  BIO_free(b);
  return out;
}

/* ---- the server ------------------------------------------------------- */

enum tp_client_cert {
  TP_NO_CLIENT_CERT,  /* the server does not ask */
  TP_ASK_CLIENT_CERT, /* asks, takes none, verifies one that comes */
  TP_REQUIRE_CLIENT_CERT,
};

/* Take the client's SNI, so that OpenSSL keeps it in TLS 1.2 sessions (and
 * SSL_get_servername gives it after a resumption too). */
static inline int tp_on_sni(SSL *ssl, int *alert, void *arg) {
  (void)ssl;
  (void)alert;
  (void)arg;
  return SSL_TLSEXT_ERR_OK;
}

/* A server SSL_CTX with p's server certificate, versions min..max (0: no
 * bound), the client certificate policy cc (verified against p's CA), a
 * session id context (resumption with client certificates needs one). */
static inline SSL_CTX *tp_server_ctx(const struct tp_pki *p, int min, int max, enum tp_client_cert cc) {
  SSL_CTX *c = SSL_CTX_new(TLS_server_method());
  X509_STORE *store;

  if (c == NULL) {
    return NULL;
  }
  if (SSL_CTX_use_certificate(c, p->srv) != 1 || SSL_CTX_use_PrivateKey(c, p->srv_key) != 1 ||
      SSL_CTX_set_min_proto_version(c, min) != 1 || SSL_CTX_set_max_proto_version(c, max) != 1 ||
      SSL_CTX_set_session_id_context(c, (const unsigned char *)"tbtest", 6) != 1) {
    SSL_CTX_free(c);
    return NULL;
  }
  SSL_CTX_set_tlsext_servername_callback(c, tp_on_sni);
  if (min != 0 && min < TLS1_2_VERSION) {
    SSL_CTX_set_security_level(c, 0); /* Debian's level 2 has no TLS 1.1 at all */
  }
  if (cc != TP_NO_CLIENT_CERT) {
    store = SSL_CTX_get_cert_store(c);
    if (X509_STORE_add_cert(store, p->ca) != 1) {
      SSL_CTX_free(c);
      return NULL;
    }
    SSL_CTX_set_verify(
        c, SSL_VERIFY_PEER | (cc == TP_REQUIRE_CLIENT_CERT ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
  }
  return c;
}

struct tp_server {
  SSL *ssl; /* owned; owns in and out */
  BIO *in;  /* ciphertext from the client */
  BIO *out; /* ciphertext to the client */
};

static inline bool tp_server_new(struct tp_server *s, SSL_CTX *ctx) {
  s->ssl = SSL_new(ctx);
  s->in = BIO_new(BIO_s_mem());
  s->out = BIO_new(BIO_s_mem());
  if (s->ssl == NULL || s->in == NULL || s->out == NULL) {
    SSL_free(s->ssl);
    BIO_free(s->in);
    BIO_free(s->out);
    return false;
  }
  BIO_set_mem_eof_return(s->in, -1);
  SSL_set_bio(s->ssl, s->in, s->out);
  SSL_set_accept_state(s->ssl);
  return true;
}

static inline void tp_server_free(struct tp_server *s) {
  SSL_free(s->ssl);
  memset(s, 0, sizeof *s);
}

#endif
