/*
 * Test certificates made on the spot with OpenSSL's API, for the tests of
 * tb_certnames and tb_policy and for the fuzz corpus generator
 * (tests/fuzz/make_certnames_corpus.c).  Header-only (static inline), no
 * cmocka: a function returns NULL on failure and the caller asserts.
 *
 * Each certificate is self-signed with a P-256 key made for it and thrown
 * away at once: nothing secret is ever written anywhere.  The API writes
 * raw bytes into the name strings (ASN1_STRING_set, and a plain ASN.1 type
 * for a CN rather than an MBSTRING_* one), so a test can put a NUL, a
 * non-ASCII byte or an invalid UTF-8 sequence exactly where it wants: the
 * things tb_certnames must refuse, and that no CA's tooling would let
 * through.
 */
#ifndef TB_CERTGEN_H
#define TB_CERTGEN_H

#include <stddef.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* One subjectAltName entry: GEN_DNS, GEN_URI, GEN_EMAIL (IA5Strings) or
 * GEN_IPADD (an OCTET STRING of 4 or 16 bytes). */
struct tb_certgen_name {
  int type;
  const char *bytes;
  size_t len; /* 0: strlen(bytes) */
};

/* One subject commonName: its ASN.1 string type (V_ASN1_UTF8STRING,
 * V_ASN1_PRINTABLESTRING, V_ASN1_BMPSTRING, ...) and raw bytes. */
struct tb_certgen_cn {
  int type;
  const char *bytes;
  size_t len; /* 0: strlen(bytes) */
};

struct tb_certgen {
  const struct tb_certgen_name *sans; /* none: no subjectAltName extension */
  size_t nsans;
  int san_twice; /* add the subjectAltName extension a second time */
  const struct tb_certgen_cn *cns;
  size_t ncns;
};

static inline size_t tb_certgen_len(const char *bytes, size_t len) {
  return len != 0 ? len : strlen(bytes);
}

static inline GENERAL_NAMES *tb_certgen_sans(const struct tb_certgen *g) {
  GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();

  for (size_t i = 0; gens != NULL && i < g->nsans; i++) {
    const struct tb_certgen_name *n = &g->sans[i];
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_STRING *s = n->type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
    if (gn == NULL || s == NULL || !ASN1_STRING_set(s, n->bytes, (int)tb_certgen_len(n->bytes, n->len))) {
      GENERAL_NAME_free(gn);
      ASN1_STRING_free(s);
      GENERAL_NAMES_free(gens);
      return NULL;
    }
    GENERAL_NAME_set0_value(gn, n->type, s);
    if (!sk_GENERAL_NAME_push(gens, gn)) {
      GENERAL_NAME_free(gn);
      GENERAL_NAMES_free(gens);
      return NULL;
    }
  }
  return gens;
}

/* The DER bytes of the certificate g describes (OPENSSL_free them), their
 * length in *len; NULL on failure. */
static inline unsigned char *tb_certgen_der(const struct tb_certgen *g, size_t *len) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  X509_NAME *subject = X509_NAME_new();
  GENERAL_NAMES *gens = NULL;
  unsigned char *der = NULL;
  int ok = key != NULL && x != NULL && subject != NULL;

  ok = ok && X509_set_version(x, 2) && ASN1_INTEGER_set(X509_get_serialNumber(x), 1) &&
       X509_gmtime_adj(X509_getm_notBefore(x), 0) && X509_gmtime_adj(X509_getm_notAfter(x), 3600L);
  for (size_t i = 0; ok && i < g->ncns; i++) {
    const struct tb_certgen_cn *cn = &g->cns[i];
    ok = X509_NAME_add_entry_by_NID(subject, NID_commonName, cn->type, (const unsigned char *)cn->bytes,
                                    (int)tb_certgen_len(cn->bytes, cn->len), -1, 0);
  }
  ok = ok && X509_set_subject_name(x, subject) && X509_set_issuer_name(x, subject) && X509_set_pubkey(x, key);
  if (ok && g->nsans > 0) {
    gens = tb_certgen_sans(g);
    ok = gens != NULL && X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_APPEND) == 1;
    if (ok && g->san_twice) {
      ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_APPEND) == 1;
    }
  }
  ok = ok && X509_sign(x, key, EVP_sha256()) > 0;
  int n = ok ? i2d_X509(x, &der) : -1;
  GENERAL_NAMES_free(gens);
  X509_NAME_free(subject);
  X509_free(x);
  EVP_PKEY_free(key);
  if (n <= 0) {
    OPENSSL_free(der);
    return NULL;
  }
  *len = (size_t)n;
  return der;
}

#endif
