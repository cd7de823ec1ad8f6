/*
 * libFuzzer target: client certificate names (tb_certnames) from DER bytes,
 * the plugin's own path from the TLS connection's certificate.  Checks: a
 * refused input leaves no names and a terminated message; a read one has
 * at most TB_CERTNAMES_MAX names, each 1..TB_CERTNAME_MAX bytes of
 * printable ASCII, terminated, with no NUL inside, DNS names of host-name
 * characters only; and every name kept is, byte for byte, a name OpenSSL
 * itself finds in the certificate (a SAN of its kind, or a CN as UTF-8):
 * nothing is cut, joined or altered.  The seed corpus is made by
 * make_certnames_corpus.c (make fuzz-corpus).
 */
#include "tb_certnames.h"

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Is nm exactly one of x's names of its kind, as OpenSSL reads them? */
static int openssl_has(X509 *x, const struct tb_certname *nm) {
  if (nm->kind == TB_CERTNAME_CN) {
    const X509_NAME *subject = X509_get_subject_name(x);
    int pos = -1;
    while ((pos = X509_NAME_get_index_by_NID(subject, NID_commonName, pos)) >= 0) {
      unsigned char *utf8 = NULL;
      int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, pos)));
      int same = len >= 0 && (size_t)len == nm->len && memcmp(utf8, nm->text, nm->len) == 0;
      OPENSSL_free(utf8);
      if (same) {
        return 1;
      }
    }
    return 0;
  }
  GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
  int found = 0;
  for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans) && !found; i++) {
    const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
    int type = nm->kind == TB_CERTNAME_DNS ? GEN_DNS : GEN_URI;
    if (gn->type == type) {
      const ASN1_STRING *s = type == GEN_DNS ? gn->d.dNSName : gn->d.uniformResourceIdentifier;
      found = (size_t)ASN1_STRING_length(s) == nm->len && memcmp(ASN1_STRING_get0_data(s), nm->text, nm->len) == 0;
    }
  }
  GENERAL_NAMES_free(sans);
  return found;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct tb_certnames names;
  char err[256];
  char text[2048];

  memset(err, 'x', sizeof err);
  if (tb_certnames_from_der(data, size, &names, err, sizeof err) != 0) {
    if (names.n != 0 || memchr(err, '\0', sizeof err) == NULL) {
      abort();
    }
    return 0;
  }
  if (names.n > TB_CERTNAMES_MAX) {
    abort();
  }
  const unsigned char *p = data;
  X509 *x = d2i_X509(NULL, &p, (long)size);
  if (x == NULL) {
    abort(); /* tb_certnames read what OpenSSL cannot */
  }
  for (size_t i = 0; i < names.n; i++) {
    const struct tb_certname *nm = &names.name[i];
    if (nm->len == 0 || nm->len > TB_CERTNAME_MAX || nm->text[nm->len] != '\0' || strlen(nm->text) != nm->len ||
        (unsigned)nm->kind > TB_CERTNAME_GIVEN || nm->kind == TB_CERTNAME_GIVEN) {
      abort();
    }
    for (size_t k = 0; k < nm->len; k++) {
      unsigned char c = (unsigned char)nm->text[k];
      if (c < 0x20 || c > 0x7e) {
        abort();
      }
      if (nm->kind == TB_CERTNAME_DNS && strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.*", c) == NULL) {
        abort();
      }
    }
    if (!openssl_has(x, nm)) {
      abort();
    }
  }
  X509_free(x);
  (void)tb_certnames_format(&names, text, sizeof text);
  if (memchr(text, '\0', sizeof text) == NULL) {
    abort();
  }
  return 0;
}
