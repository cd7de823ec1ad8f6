/*
 * tb_certnames: the identities a client certificate names, as the peer
 * role's policy (tb_policy.h) checks them.  Input is the certificate's DER
 * bytes (the glue turns OpenSSL's X509 into DER with i2d_X509), so that
 * exactly what runs in the plugin can be unit-tested and fuzzed alone.
 *
 * The names, in this order of preference: the subjectAltName's DNS names,
 * then its URIs (SPIFFE IDs such as spiffe://corp.example/ingress/a), each
 * in certificate order, then the subject's common names.  Other kinds of
 * name (IP addresses, e-mail, directory names) are not identities here.
 * Each name is validated and skipped, never altered, when it fails:
 *   - a NUL byte anywhere (a name is never cut at one: "a.corp\0.evil"
 *     must not pass for "a.corp");
 *   - longer than TB_CERTNAME_MAX bytes, or past the first
 *     TB_CERTNAMES_MAX names (bounded work per CONNECT);
 *   - any byte outside printable ASCII (internationalised names must come
 *     as A-labels; a CN in another string type is converted to UTF-8 first
 *     and must then be ASCII);
 *   - a DNS name that is not dot-separated labels of letters, digits, '-'
 *     and '_' (1-63 bytes each, 253 in all), except that the first label
 *     may be a lone '*': a wildcard SAN is kept as the literal text
 *     "*.corp.example", never expanded, so only a policy regex that matches
 *     that text accepts it;
 *   - a URI without a scheme ("<letter><letters, digits, + - .>:"), or with
 *     a space.
 * A certificate whose subjectAltName extension is present but unreadable,
 * or appears twice, is refused as a whole: falling back to its CN would
 * name the client by something the issuer did not mean as its identity.
 * Identical texts are listed once (the first, preferred kind).
 *
 * Owns nothing; struct tb_certnames is a plain value (about 8 KiB: fine on
 * a thread's stack).  Thread-safe (no state; OpenSSL's decoding is).
 */
#ifndef TB_CERTNAMES_H
#define TB_CERTNAMES_H

#include <stddef.h>

#define TB_CERTNAME_MAX 512         /* bytes of one name; longer ones are skipped */
#define TB_CERTNAMES_MAX 16         /* names kept from one certificate */
#define TB_CERT_DER_MAX (64u << 10) /* a larger certificate is refused */
#define TB_CERTNAMES_WHY_MAX 96     /* bytes of skip_why */

enum tb_certname_kind {
  TB_CERTNAME_DNS,   /* subjectAltName dNSName */
  TB_CERTNAME_URI,   /* subjectAltName uniformResourceIdentifier */
  TB_CERTNAME_CN,    /* subject commonName */
  TB_CERTNAME_GIVEN, /* given by hand (tls_bridge_check --identity): printable ASCII */
};

struct tb_certname {
  enum tb_certname_kind kind;
  size_t len;                     /* of text, 1..TB_CERTNAME_MAX */
  char text[TB_CERTNAME_MAX + 1]; /* NUL-terminated, printable ASCII */
};

struct tb_certnames {
  size_t n; /* names kept, in order of preference */
  struct tb_certname name[TB_CERTNAMES_MAX];
  unsigned skipped;                    /* names left out by the rules above */
  char skip_why[TB_CERTNAMES_WHY_MAX]; /* why the first one was: "DNS name with a NUL byte" ("" when none) */
};

/* "dns", "uri", "cn", "name". */
const char *tb_certname_kind_name(enum tb_certname_kind kind);

/* Empty *names. */
void tb_certnames_init(struct tb_certnames *names);

/* Read the names of the certificate der[0..len) into *names (emptied
 * first).  Returns 0 (names->n may be 0: a certificate with no usable
 * name), or -1 with what is wrong in err ("not a DER certificate",
 * "unreadable subjectAltName extension", ...) and names->n 0.  der must be
 * exactly one certificate (no trailing bytes) of at most TB_CERT_DER_MAX
 * bytes. */
int tb_certnames_from_der(const unsigned char *der, size_t len, struct tb_certnames *names, char *err,
                          size_t errlen);

/* Append text[0..len) as a name of this kind, validated as above.
 * Returns 0 when kept (or already listed), -1 when skipped (counted, with
 * the first reason in skip_why). */
int tb_certnames_add(struct tb_certnames *names, enum tb_certname_kind kind, const char *text, size_t len);

/* Every name as "dns:a.corp.example uri:spiffe://x/y cn:a" in buf
 * (NUL-terminated, cut to fit with "..."), "-" when there is none.
 * Returns 0, or -1 when it was cut. */
int tb_certnames_format(const struct tb_certnames *names, char *buf, size_t buflen);

#endif
