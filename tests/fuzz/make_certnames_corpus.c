/*
 * Writes fuzz_certnames' seed corpus (tests/fuzz/corpus/certnames/): DER
 * certificates made with tests/unit/tb_certgen.h, one per shape the parser
 * must handle: SAN DNS, URI and CN names in every mix, a wildcard, a NUL
 * inside a DNS name and a CN, non-ASCII, a name over 512 bytes, 20 names,
 * the subjectAltName twice, IP and e-mail SANs, a BMPString CN.  Each is
 * self-signed with a key made for it and never stored (no secrets in the
 * corpus: only certificates).  Run by `make fuzz-corpus`; the output is
 * checked in, so a run changes the files (new keys, new signatures) but
 * not what they exercise.
 *
 *   make_certnames_corpus DIR
 */
#include <stdio.h>
#include <string.h>

#include "tb_certgen.h"

static int write_one(const char *dir, const char *name, const struct tb_certgen *g) {
  char path[512];
  size_t len = 0;
  unsigned char *der = tb_certgen_der(g, &len);
  if (der == NULL) {
    fprintf(stderr, "%s: cannot make the certificate\n", name);
    return -1;
  }
  snprintf(path, sizeof path, "%s/%s.der", dir, name);
  FILE *f = fopen(path, "wb");
  int ok = f != NULL && fwrite(der, 1, len, f) == len;
  if (f != NULL && fclose(f) != 0) {
    ok = 0;
  }
  OPENSSL_free(der);
  if (!ok) {
    fprintf(stderr, "%s: cannot write it\n", path);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  static char long_uri[600];
  static char many[20][16];
  struct tb_certgen_name many_sans[20];
  int rc = 0;

  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  memset(long_uri, 'u', sizeof long_uri);
  memcpy(long_uri, "spiffe://", 9);
  for (int i = 0; i < 20; i++) {
    snprintf(many[i], sizeof many[i], "n%d.example", i);
    many_sans[i] = (struct tb_certgen_name){GEN_DNS, many[i], 0};
  }
  const struct tb_certgen_name dns[] = {{GEN_DNS, "branch-1.corp.example", 0}};
  const struct tb_certgen_name uri[] = {{GEN_URI, "spiffe://corp.example/ingress/branch-2", 0}};
  const struct tb_certgen_name mixed[] = {{GEN_URI, "spiffe://corp.example/a", 0},
                                          {GEN_IPADD, "\x7f\x00\x00\x01", 4},
                                          {GEN_DNS, "a.corp.example", 0},
                                          {GEN_EMAIL, "ops@corp.example", 0}};
  const struct tb_certgen_name wildcard[] = {{GEN_DNS, "*.corp.example", 0}};
  const struct tb_certgen_name nul[] = {{GEN_DNS, "good.corp\0.evil.example", 22}, {GEN_DNS, "ok.example", 0}};
  const struct tb_certgen_name nonascii[] = {{GEN_DNS, "caf\xc3\xa9.example", 0}, {GEN_URI, "urn:x", 0}};
  const struct tb_certgen_name longname[] = {{GEN_URI, long_uri, 513}, {GEN_DNS, "short.example", 0}};
  const struct tb_certgen_cn cn[] = {{V_ASN1_UTF8STRING, "ingress.test", 0}};
  const struct tb_certgen_cn cn_nul[] = {{V_ASN1_UTF8STRING, "a\0b", 3}};
  const struct tb_certgen_cn cn_bmp[] = {{V_ASN1_BMPSTRING, "\0a\0b", 4}, {V_ASN1_PRINTABLESTRING, "Two Words", 0}};
  const struct {
    const char *name;
    struct tb_certgen g;
  } certs[] = {
      {"dns", {dns, 1, 0, cn, 1}},
      {"uri", {uri, 1, 0, NULL, 0}},
      {"mixed", {mixed, 4, 0, cn, 1}},
      {"wildcard", {wildcard, 1, 0, NULL, 0}},
      {"nul", {nul, 2, 0, cn_nul, 1}},
      {"nonascii", {nonascii, 2, 0, NULL, 0}},
      {"long", {longname, 2, 0, NULL, 0}},
      {"many", {many_sans, 20, 0, cn, 1}},
      {"san-twice", {dns, 1, 1, cn, 1}},
      {"cn-only", {NULL, 0, 0, cn_bmp, 2}},
  };
  for (size_t i = 0; i < sizeof certs / sizeof certs[0]; i++) {
    rc |= write_one(argv[1], certs[i].name, &certs[i].g);
  }
  return rc != 0;
}
