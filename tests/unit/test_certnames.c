/*
 * Unit tests for tb_certnames: the identities of a client certificate, from
 * certificates made here with OpenSSL (tb_certgen.h, throwaway keys).  The
 * order of preference (DNS SANs, URI SANs, CNs; other SAN types ignored);
 * every way a name is skipped, never cut or altered (a NUL anywhere,
 * longer than 512 bytes, non-ASCII or control bytes, a CN that is not
 * UTF-8, a DNS name that is no host name, a '*' that is not a whole first
 * label, a URI without a scheme or with a space, past 16 names); a wildcard
 * kept as literal text; duplicates listed once; the certificates refused
 * as a whole (not DER, trailing bytes, too large, a subjectAltName twice or
 * unreadable); tb_certnames_add alone; the formatted list at every buffer
 * size.
 */
#include "tb_test.h"

#include "tb_certgen.h"
#include "tb_certnames.h"

#define ERRLEN 256

static struct tb_certnames names; /* 8 KiB: not on cmocka's stack */

/* The names of the certificate g describes; the load must succeed. */
static const struct tb_certnames *load(const struct tb_certgen *g) {
  char err[ERRLEN] = "";
  size_t len = 0;
  unsigned char *der = tb_certgen_der(g, &len);

  assert_non_null(der);
  if (tb_certnames_from_der(der, len, &names, err, sizeof err) != 0) {
    fail_msg("refused: %s", err);
  }
  OPENSSL_free(der);
  return &names;
}

/* The load must fail with words in the message, and leave no names. */
static void load_bad(const unsigned char *der, size_t len, const char *words) {
  char err[ERRLEN] = "";

  names.n = 99;
  assert_int_equal(tb_certnames_from_der(der, len, &names, err, sizeof err), -1);
  tb_assert_contains(err, words);
  assert_int_equal(names.n, 0);
}

static void expect_name(const struct tb_certnames *n, size_t i, enum tb_certname_kind kind,
                        const char *text) {
  assert_true(i < n->n);
  assert_int_equal(n->name[i].kind, kind);
  assert_int_equal(n->name[i].len, strlen(text));
  assert_string_equal(n->name[i].text, text);
}

#define SANS(...)                                                                                            \
  (const struct tb_certgen_name[]){__VA_ARGS__}, TB_NELEM(((const struct tb_certgen_name[]){__VA_ARGS__}))
#define CNS(...)                                                                                             \
  (const struct tb_certgen_cn[]){__VA_ARGS__}, TB_NELEM(((const struct tb_certgen_cn[]){__VA_ARGS__}))

static void test_order_of_preference(void **state) {
  (void)state;
  /* In the certificate: a URI, an IP, a DNS name, an e-mail, another DNS
   * name; and a CN.  Out: the DNS names, the URI, the CN. */
  const struct tb_certgen g = {
      .sans = SANS({GEN_URI, "spiffe://corp.example/ingress/branch-2", 0}, {GEN_IPADD, "\x7f\x00\x00\x01", 4},
                   {GEN_DNS, "branch-2.corp.example", 0}, {GEN_EMAIL, "ops@corp.example", 0},
                   {GEN_DNS, "gw.branch-2.corp.example", 0}),
      .cns = CNS({V_ASN1_UTF8STRING, "Branch 2 gateway", 0}),
  };
  const struct tb_certnames *n = load(&g);
  assert_int_equal(n->n, 4);
  expect_name(n, 0, TB_CERTNAME_DNS, "branch-2.corp.example");
  expect_name(n, 1, TB_CERTNAME_DNS, "gw.branch-2.corp.example");
  expect_name(n, 2, TB_CERTNAME_URI, "spiffe://corp.example/ingress/branch-2");
  expect_name(n, 3, TB_CERTNAME_CN, "Branch 2 gateway");
  assert_int_equal(n->skipped, 0);
  assert_string_equal(n->skip_why, "");
}

static void test_cn_only_and_no_names(void **state) {
  (void)state;
  const struct tb_certgen cn_only = {
      .cns = CNS({V_ASN1_PRINTABLESTRING, "ingress.test", 0}, {V_ASN1_UTF8STRING, "second-cn", 0})};
  const struct tb_certnames *n = load(&cn_only);
  assert_int_equal(n->n, 2);
  expect_name(n, 0, TB_CERTNAME_CN, "ingress.test");
  expect_name(n, 1, TB_CERTNAME_CN, "second-cn");

  const struct tb_certgen none = {.sans = SANS({GEN_IPADD, "\x0a\x00\x00\x01", 4})};
  n = load(&none);
  assert_int_equal(n->n, 0);
  assert_int_equal(n->skipped, 0);
}

static void test_cn_string_types(void **state) {
  (void)state;
  /* A BMPString (UCS-2) CN that is ASCII is converted and kept; one with a
   * non-ASCII character is skipped, as is a UTF8String one.  (A CN that is
   * not valid in its string type cannot even be encoded: OpenSSL builds a
   * canonical form of every name, so such a certificate is refused whole,
   * as "not a DER certificate", before any name is read.) */
  const struct tb_certgen g = {
      .cns = CNS({V_ASN1_BMPSTRING, "\0a\0b\0c", 6}, {V_ASN1_BMPSTRING, "\0a\x00\xe9", 4},
                 {V_ASN1_UTF8STRING, "caf\xc3\xa9", 5}),
  };
  const struct tb_certnames *n = load(&g);
  assert_int_equal(n->n, 1);
  expect_name(n, 0, TB_CERTNAME_CN, "abc");
  assert_int_equal(n->skipped, 2);
  assert_string_equal(n->skip_why, "common name with a byte that is not ASCII");
}

/* One certificate per bad name (a good DNS name first, so that the load
 * itself must succeed and keep exactly that one), the reason checked. */
static void test_skipped_names(void **state) {
  static char long_uri[600];
  (void)state;
  static const struct {
    struct tb_certgen_name bad;
    const char *why;
  } cases[] = {
      {{GEN_DNS, "good.corp\0.evil.example", 22}, "DNS name with a NUL byte"},
      {{GEN_URI, "spiffe://corp/a\0b", 17}, "URI with a NUL byte"},
      {{GEN_DNS, "caf\xc3\xa9.example", 0}, "DNS name with a byte that is not ASCII"},
      {{GEN_DNS, "a\tb.example", 0}, "DNS name with a control character"},
      {{GEN_DNS, "", 0}, "DNS name that is empty"},
      {{GEN_DNS, "a..example", 0}, "DNS name with an empty label"},
      {{GEN_DNS, "trailing.dot.", 0}, "DNS name with an empty label"},
      {{GEN_DNS, ".leading.dot", 0}, "DNS name with an empty label"},
      {{GEN_DNS, "a b.example", 0}, "DNS name with a character not allowed in a host name"},
      {{GEN_DNS, "a/b.example", 0}, "DNS name with a character not allowed in a host name"},
      {{GEN_DNS, "f*.corp.example", 0}, "DNS name with a '*' that is not a whole first label"},
      {{GEN_DNS, "a.*.corp.example", 0}, "DNS name with a '*' that is not a whole first label"},
      {{GEN_DNS, "*", 0}, "DNS name that is only a wildcard"},
      {{GEN_DNS, "a234567890123456789012345678901234567890123456789012345678901234.example", 0},
       "DNS name with a label longer than 63 bytes"},
      {{GEN_URI, "no-scheme/path", 0}, "URI without a scheme"},
      {{GEN_URI, "1x://a", 0}, "URI without a scheme"},
      {{GEN_URI, "spiffe://corp.example/a b", 0}, "URI with a space"},
      {{GEN_URI, long_uri, 513}, "URI longer than 512 bytes"},
  };
  memset(long_uri, 'a', sizeof long_uri);
  memcpy(long_uri, "spiffe://", 9);
  for (size_t i = 0; i < TB_NELEM(cases); i++) {
    const struct tb_certgen_name sans[] = {{GEN_DNS, "kept.example", 0}, cases[i].bad};
    const struct tb_certgen g = {.sans = sans, .nsans = 2};
    const struct tb_certnames *n = load(&g);
    if (n->n != 1 || n->skipped != 1 || strcmp(n->skip_why, cases[i].why) != 0) {
      fail_msg("case %zu: %zu names, %u skipped, why '%s' (want '%s')", i, n->n, n->skipped, n->skip_why,
               cases[i].why);
    }
    expect_name(n, 0, TB_CERTNAME_DNS, "kept.example");
  }
}

static void test_cn_with_nul_is_skipped(void **state) {
  (void)state;
  const struct tb_certgen g = {.cns = CNS({V_ASN1_UTF8STRING, "branch-1\0.evil", 14})};
  const struct tb_certnames *n = load(&g);
  assert_int_equal(n->n, 0);
  assert_int_equal(n->skipped, 1);
  assert_string_equal(n->skip_why, "common name with a NUL byte");
}

static void test_bounds(void **state) {
  static char dns253[254];
  static char dns254[255];
  static char uri512[513];
  (void)state;
  /* 253 bytes of DNS name (labels of 63) and 512 of URI are kept whole. */
  for (size_t i = 0; i < 253; i++) {
    dns253[i] = i % 64 == 63 ? '.' : 'a';
  }
  memcpy(dns254, dns253, 253);
  dns254[253] = 'b';
  memset(uri512, 'u', 512);
  memcpy(uri512, "urn:", 4);
  const struct tb_certgen g = {
      .sans = SANS({GEN_DNS, dns253, 253}, {GEN_DNS, dns254, 254}, {GEN_URI, uri512, 512})};
  const struct tb_certnames *n = load(&g);
  assert_int_equal(n->n, 2);
  assert_int_equal(n->name[0].len, 253);
  assert_int_equal(n->name[1].len, 512);
  assert_int_equal(n->skipped, 1);
  assert_string_equal(n->skip_why, "DNS name longer than 253 bytes");
}

static void test_wildcard_is_literal(void **state) {
  (void)state;
  const struct tb_certgen g = {.sans = SANS({GEN_DNS, "*.corp.example", 0})};
  const struct tb_certnames *n = load(&g);
  assert_int_equal(n->n, 1);
  expect_name(n, 0, TB_CERTNAME_DNS, "*.corp.example");
}

static void test_sixteen_names_and_duplicates(void **state) {
  static char text[20][16];
  struct tb_certgen_name sans[21];
  (void)state;
  for (size_t i = 0; i < 20; i++) {
    snprintf(text[i], sizeof text[i], "n%zu.example", i);
    sans[i] = (struct tb_certgen_name){GEN_DNS, text[i], 0};
  }
  sans[20] = (struct tb_certgen_name){GEN_DNS, "n0.example", 0}; /* again */
  const struct tb_certgen_cn cn[] = {{V_ASN1_UTF8STRING, "n1.example", 0}};
  const struct tb_certgen g = {.sans = sans, .nsans = 21, .cns = cn, .ncns = 1};
  const struct tb_certnames *n = load(&g);
  assert_int_equal(n->n, TB_CERTNAMES_MAX);
  expect_name(n, 15, TB_CERTNAME_DNS, "n15.example");
  /* n16..n19 do not fit; the second n0 and the CN n1 are duplicates, not
   * skipped. */
  assert_int_equal(n->skipped, 4);
  assert_string_equal(n->skip_why, "DNS name past the first 16 names");

  const struct tb_certgen dup = {.sans = SANS({GEN_DNS, "same.example", 0}, {GEN_URI, "urn:x", 0}),
                                 .cns = CNS({V_ASN1_UTF8STRING, "same.example", 0})};
  n = load(&dup);
  assert_int_equal(n->n, 2);
  expect_name(n, 0, TB_CERTNAME_DNS, "same.example");
  expect_name(n, 1, TB_CERTNAME_URI, "urn:x");
}

static void test_refused_certificates(void **state) {
  static unsigned char big[TB_CERT_DER_MAX + 1];
  size_t len = 0;
  (void)state;
  load_bad((const unsigned char *)"", 0, "no certificate");
  load_bad(NULL, 10, "no certificate");
  load_bad(big, sizeof big, "no certificate, or one over 65536 bytes");
  load_bad((const unsigned char *)"\x30\x03\x02\x01\x01", 5, "not a DER certificate");

  const struct tb_certgen twice = {.sans = SANS({GEN_DNS, "a.example", 0}),
                                   .san_twice = 1,
                                   .cns = CNS({V_ASN1_UTF8STRING, "fallback", 0})};
  unsigned char *der = tb_certgen_der(&twice, &len);
  assert_non_null(der);
  load_bad(der, len, "several subjectAltName extensions");
  OPENSSL_free(der);

  const struct tb_certgen ok = {.sans = SANS({GEN_DNS, "a.example", 0})};
  der = tb_certgen_der(&ok, &len);
  assert_non_null(der);
  unsigned char *more = malloc(len + 1);
  assert_non_null(more);
  memcpy(more, der, len);
  more[len] = 0;
  load_bad(more, len + 1, "1 bytes after the certificate");
  load_bad(der, len - 1, "not a DER certificate");
  free(more);
  OPENSSL_free(der);
}

/* A subjectAltName extension whose value is not GeneralNames: the
 * certificate is refused, never read by its CN.  OpenSSL 3 already refuses
 * it while decoding the certificate (it caches the extensions then); an
 * OpenSSL that decoded it would leave the extension unreadable, which
 * tb_certnames refuses itself.  Either message is a refusal. */
static void test_unreadable_san(void **state) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  X509_NAME *subject = X509_NAME_new();
  ASN1_OCTET_STRING *junk = ASN1_OCTET_STRING_new();
  unsigned char *der = NULL;
  (void)state;
  assert_true(key != NULL && x != NULL && subject != NULL && junk != NULL);
  assert_true(ASN1_OCTET_STRING_set(junk, (const unsigned char *)"\x04\x02hi", 4));
  X509_EXTENSION *ext = X509_EXTENSION_create_by_NID(NULL, NID_subject_alt_name, 0, junk);
  assert_non_null(ext);
  assert_true(X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_ASC, (const unsigned char *)"cn",
                                         -1, -1, 0));
  assert_true(X509_set_subject_name(x, subject) && X509_set_issuer_name(x, subject) &&
              X509_set_pubkey(x, key));
  assert_true(X509_add_ext(x, ext, -1));
  assert_true(X509_sign(x, key, EVP_sha256()) > 0);
  int len = i2d_X509(x, &der);
  assert_true(len > 0);
  char err[ERRLEN] = "";
  names.n = 99;
  assert_int_equal(tb_certnames_from_der(der, (size_t)len, &names, err, sizeof err), -1);
  assert_int_equal(names.n, 0);
  if (strcmp(err, "not a DER certificate") != 0 && strcmp(err, "unreadable subjectAltName extension") != 0) {
    fail_msg("unexpected refusal: %s", err);
  }
  OPENSSL_free(der);
  X509_EXTENSION_free(ext);
  ASN1_OCTET_STRING_free(junk);
  X509_NAME_free(subject);
  X509_free(x);
  EVP_PKEY_free(key);
}

static void test_add_given(void **state) {
  (void)state;
  tb_certnames_init(&names);
  assert_int_equal(tb_certnames_add(&names, TB_CERTNAME_GIVEN, "any text: 1", 11), 0);
  assert_int_equal(tb_certnames_add(&names, TB_CERTNAME_GIVEN, "tab\there", 8), -1);
  assert_int_equal(tb_certnames_add(&names, TB_CERTNAME_GIVEN, "", 0), -1);
  assert_int_equal(names.n, 1);
  assert_int_equal(names.skipped, 2);
  assert_string_equal(names.skip_why, "name with a control character");
  assert_string_equal(tb_certname_kind_name(TB_CERTNAME_DNS), "dns");
  assert_string_equal(tb_certname_kind_name(TB_CERTNAME_URI), "uri");
  assert_string_equal(tb_certname_kind_name(TB_CERTNAME_CN), "cn");
  assert_string_equal(tb_certname_kind_name(TB_CERTNAME_GIVEN), "name");
}

static void test_format(void **state) {
  char full[256];
  char buf[256];
  (void)state;
  tb_certnames_init(&names);
  assert_int_equal(tb_certnames_format(&names, buf, sizeof buf), 0);
  assert_string_equal(buf, "-");
  assert_int_equal(tb_certnames_add(&names, TB_CERTNAME_DNS, "a.example", 9), 0);
  assert_int_equal(tb_certnames_add(&names, TB_CERTNAME_URI, "spiffe://x/y", 12), 0);
  assert_int_equal(tb_certnames_add(&names, TB_CERTNAME_CN, "A Name", 6), 0);
  assert_int_equal(tb_certnames_format(&names, full, sizeof full), 0);
  assert_string_equal(full, "dns:a.example uri:spiffe://x/y cn:A Name");
  /* Every size: terminated, a cut text ends in "...". */
  for (size_t len = 0; len <= strlen(full) + 1; len++) {
    char *b = malloc(len > 0 ? len : 1);
    assert_non_null(b);
    int rc = tb_certnames_format(&names, b, len);
    if (len > strlen(full)) {
      assert_int_equal(rc, 0);
      assert_string_equal(b, full);
    } else {
      assert_int_equal(rc, -1);
      if (len > 0) {
        assert_true(strlen(b) < len);
      }
      if (len >= 4) {
        assert_string_equal(b + len - 4, "...");
      }
    }
    free(b);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_order_of_preference),
      cmocka_unit_test(test_cn_only_and_no_names),
      cmocka_unit_test(test_cn_string_types),
      cmocka_unit_test(test_skipped_names),
      cmocka_unit_test(test_cn_with_nul_is_skipped),
      cmocka_unit_test(test_bounds),
      cmocka_unit_test(test_wildcard_is_literal),
      cmocka_unit_test(test_sixteen_names_and_duplicates),
      cmocka_unit_test(test_refused_certificates),
      cmocka_unit_test(test_unreadable_san),
      cmocka_unit_test(test_add_given),
      cmocka_unit_test(test_format),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
