/*
 * tb_certnames: see tb_certnames.h.
 *
 * OpenSSL decodes the certificate (d2i_X509) and its subjectAltName
 * (X509_get_ext_d2i, which also tells a missing extension from a duplicated
 * one); everything about which bytes make an acceptable name is here, on
 * the raw ASN.1 string bytes, so that a NUL or a non-ASCII byte is seen
 * and never hidden by a conversion to a C string.
 */
#include "tb_certnames.h"

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdio.h>
#include <string.h>

#define DNS_MAX 253
#define LABEL_MAX 63

const char *tb_certname_kind_name(enum tb_certname_kind kind) {
  switch (kind) {
  case TB_CERTNAME_DNS:
    return "dns";
  case TB_CERTNAME_URI:
    return "uri";
  case TB_CERTNAME_CN:
    return "cn";
  case TB_CERTNAME_GIVEN:
  default:
    return "name";
  }
}

void tb_certnames_init(struct tb_certnames *names) {
  names->n = 0;
  names->skipped = 0;
  names->skip_why[0] = '\0';
}

/* Count a skipped name, keeping the first reason. */
static int skip(struct tb_certnames *names, enum tb_certname_kind kind, const char *why) {
  static const char *const what[] = {"DNS name", "URI", "common name", "name"};
  if (names->skipped++ == 0) {
    snprintf(names->skip_why, sizeof names->skip_why, "%s %s", what[kind], why);
  }
  return -1;
}

static int is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Dot-separated labels of [A-Za-z0-9_-], 1-63 bytes each; the first may
 * be a lone '*'.  NULL when s[0..len) is one, else what is wrong. */
static const char *dns_problem(const char *s, size_t len) {
  size_t label = 0;

  if (len > DNS_MAX) {
    return "longer than 253 bytes";
  }
  for (size_t i = 0; i <= len; i++) {
    if (i == len || s[i] == '.') {
      if (label == 0) {
        return "with an empty label";
      }
      label = 0;
      continue;
    }
    if (s[i] == '*' && i == 0 && (len == 1 || s[1] == '.')) {
      label = 1; /* the wildcard label, kept as text */
      continue;
    }
    if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_') {
      return s[i] == '*' ? "with a '*' that is not a whole first label"
                         : "with a character not allowed in a host name";
    }
    if (++label > LABEL_MAX) {
      return "with a label longer than 63 bytes";
    }
  }
  if (len == 1 && s[0] == '*') {
    return "that is only a wildcard";
  }
  return NULL;
}

/* scheme ":" rest, RFC 3986 3.1: a letter, then letters, digits, '+', '-', '.'. */
static const char *uri_problem(const char *s, size_t len) {
  size_t i = 0;

  if (len == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) {
    return "without a scheme";
  }
  while (i < len && (is_alnum(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')) {
    i++;
  }
  if (i == len || s[i] != ':') {
    return "without a scheme";
  }
  for (i = 0; i < len; i++) {
    if (s[i] == ' ') {
      return "with a space";
    }
  }
  return NULL;
}

int tb_certnames_add(struct tb_certnames *names, enum tb_certname_kind kind, const char *text, size_t len) {
  const char *why = NULL;

  if (len == 0) {
    return skip(names, kind, "that is empty");
  }
  if (memchr(text, '\0', len) != NULL) {
    return skip(names, kind, "with a NUL byte");
  }
  if (len > TB_CERTNAME_MAX) {
    return skip(names, kind, "longer than 512 bytes");
  }
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)text[i];
    if (c < 0x20 || c > 0x7e) {
      return skip(names, kind, c > 0x7e ? "with a byte that is not ASCII" : "with a control character");
    }
  }
  if (kind == TB_CERTNAME_DNS) {
    why = dns_problem(text, len);
  } else if (kind == TB_CERTNAME_URI) {
    why = uri_problem(text, len);
  }
  if (why != NULL) {
    return skip(names, kind, why);
  }
  for (size_t i = 0; i < names->n; i++) {
    if (names->name[i].len == len && memcmp(names->name[i].text, text, len) == 0) {
      return 0; /* listed already, as a kind preferred over this one */
    }
  }
  if (names->n == TB_CERTNAMES_MAX) {
    return skip(names, kind, "past the first 16 names");
  }
  struct tb_certname *nm = &names->name[names->n++];
  nm->kind = kind;
  nm->len = len;
  memcpy(nm->text, text, len);
  nm->text[len] = '\0';
  return 0;
}

_Static_assert(TB_CERTNAME_MAX == 512 && TB_CERTNAMES_MAX == 16, "the skip messages name the limits");

/* The subjectAltName names of one type (GEN_DNS or GEN_URI), in order. */
static void add_sans(struct tb_certnames *names, const GENERAL_NAMES *sans, int type,
                     enum tb_certname_kind kind) {
  int n = sk_GENERAL_NAME_num(sans);

  for (int i = 0; i < n; i++) {
    const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
    if (gn == NULL || gn->type != type) {
      continue;
    }
    /* dNSName and uniformResourceIdentifier are both IA5Strings. */
    const ASN1_IA5STRING *s = type == GEN_DNS ? gn->d.dNSName : gn->d.uniformResourceIdentifier;
    const unsigned char *data = s != NULL ? ASN1_STRING_get0_data(s) : NULL;
    int len = s != NULL ? ASN1_STRING_length(s) : 0;
    (void)tb_certnames_add(names, kind, data != NULL ? (const char *)data : "", len > 0 ? (size_t)len : 0);
  }
}

/* The subject's common names, in order, each converted to UTF-8 from
 * whatever string type it was written in. */
static void add_cns(struct tb_certnames *names, const X509 *x) {
  const X509_NAME *subject = X509_get_subject_name(x);
  int pos = -1;

  while (subject != NULL && (pos = X509_NAME_get_index_by_NID(subject, NID_commonName, pos)) >= 0) {
    const X509_NAME_ENTRY *e = X509_NAME_get_entry(subject, pos);
    const ASN1_STRING *s = e != NULL ? X509_NAME_ENTRY_get_data(e) : NULL;
    unsigned char *utf8 = NULL;
    int len = s != NULL ? ASN1_STRING_to_UTF8(&utf8, s) : -1;
    if (len < 0) {
      (void)skip(names, TB_CERTNAME_CN, "that cannot be read as UTF-8");
    } else {
      (void)tb_certnames_add(names, TB_CERTNAME_CN, utf8 != NULL ? (const char *)utf8 : "", (size_t)len);
    }
    OPENSSL_free(utf8);
  }
}

int tb_certnames_from_der(const unsigned char *der, size_t len, struct tb_certnames *names, char *err,
                          size_t errlen) {
  const unsigned char *p = der;
  X509 *x = NULL;
  GENERAL_NAMES *sans = NULL;
  int crit = -1;
  int rc = -1;

  tb_certnames_init(names);
  if (der == NULL || len == 0 || len > TB_CERT_DER_MAX) {
    snprintf(err, errlen, "no certificate, or one over %u bytes", TB_CERT_DER_MAX);
    return -1;
  }
  x = d2i_X509(NULL, &p, (long)len);
  if (x == NULL) {
    snprintf(err, errlen, "not a DER certificate");
    return -1;
  }
  if (p != der + len) {
    snprintf(err, errlen, "%zu bytes after the certificate", len - (size_t)(p - der));
    goto done;
  }
  sans = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
  if (sans == NULL && crit != -1) {
    /* -2: several subjectAltName extensions; >= 0: present but unreadable. */
    snprintf(err, errlen,
             crit == -2 ? "several subjectAltName extensions" : "unreadable subjectAltName extension");
    goto done;
  }
  if (sans != NULL) {
    add_sans(names, sans, GEN_DNS, TB_CERTNAME_DNS);
    add_sans(names, sans, GEN_URI, TB_CERTNAME_URI);
  }
  add_cns(names, x);
  rc = 0;

done:
  GENERAL_NAMES_free(sans);
  X509_free(x);
  if (rc != 0) {
    tb_certnames_init(names);
  }
  return rc;
}

int tb_certnames_format(const struct tb_certnames *names, char *buf, size_t buflen) {
  size_t used = 0;

  if (buflen == 0) {
    return -1;
  }
  if (names->n == 0) {
    return snprintf(buf, buflen, "-") < (int)buflen ? 0 : -1;
  }
  buf[0] = '\0';
  for (size_t i = 0; i < names->n; i++) {
    const struct tb_certname *nm = &names->name[i];
    int n = snprintf(buf + used, buflen - used, "%s%s:%s", i ? " " : "", tb_certname_kind_name(nm->kind),
                     nm->text);
    if (n < 0 || (size_t)n >= buflen - used) {
      if (buflen >= 4) {
        memcpy(buf + buflen - 4, "...", 4);
      }
      return -1;
    }
    used += (size_t)n;
  }
  return 0;
}
