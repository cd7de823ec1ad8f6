/*
 * Unit tests for the YAML file's engine and TLS keys (tb_yaml_tls.c, through
 * tb_config_load_yaml_text): the file's default transport from `engine` and
 * `tls`, each rule's own over it (client_cert and client_key as a pair, the
 * others key by key), paths resolved against the configuration directory,
 * sni normalised, rules that come out the same sharing one transport (and
 * the default's when they equal it), keys written after the rules; and one
 * case per error, with its exact message, each leaving the configuration as
 * it was.  The files named live in a temporary configuration directory.
 */
#include "tb_test.h"

#include <sys/stat.h>

#include "tb_yaml.h"

#define ERRLEN 1024

static char confdir[] = "/tmp/tb_unit_conf_XXXXXX";
static char path_buf[8][96];

/* confdir/name, in one of a few static buffers. */
static const char *in_conf(const char *name) {
  static size_t next;
  char *p = path_buf[next++ % 8];
  snprintf(p, sizeof path_buf[0], "%s/%s", confdir, name);
  return p;
}

static int setup(void **state) {
  static const char *const files[] = {"cert.pem", "key.pem", "ca.pem", "other.pem"};
  (void)state;
  if (mkdtemp(confdir) == NULL || mkdir(in_conf("cadir"), 0700) != 0) {
    return -1;
  }
  for (size_t i = 0; i < TB_NELEM(files); i++) {
    FILE *f = fopen(in_conf(files[i]), "w");
    if (f == NULL || fputs("-----BEGIN CERTIFICATE-----\n", f) < 0 || fclose(f) != 0) {
      return -1;
    }
  }
  return 0;
}

static int teardown(void **state) {
  static const char *const files[] = {"cert.pem", "key.pem", "ca.pem", "other.pem"};
  (void)state;
  for (size_t i = 0; i < TB_NELEM(files); i++) {
    (void)unlink(in_conf(files[i]));
  }
  (void)rmdir(in_conf("cadir"));
  return rmdir(confdir);
}

static struct tb_config *load_ok(const char *text) {
  char err[ERRLEN] = "";
  struct tb_config *c = tb_config_create();
  assert_non_null(c);
  if (tb_config_load_yaml_text(c, text, strlen(text), "t.yaml", confdir, err, sizeof err) != 0) {
    fail_msg("unexpected error: %s\nfor: %s", err, text);
  }
  return c;
}

static const struct tb_transport *transport(const struct tb_config *c, size_t rule) {
  return tb_config_transport(c, &c->rules[rule]);
}

/* Every field of rule's transport: engine, the four strings (NULL or
 * text, a path given relative to confdir), verify. */
static void expect(const struct tb_config *c, size_t rule, enum tb_engine e, const char *cert,
                   const char *key, const char *ca, const char *sni, int verify) {
  const struct tb_transport *t = transport(c, rule);
  const char *want[] = {cert, key, ca, sni};
  assert_int_equal(t->engine, e);
  assert_int_equal(t->verify, verify);
  for (int k = 0; k < TB_TLSKEY_VERIFY; k++) {
    const char *got = tb_transport_string(t, (enum tb_tls_key)k);
    const char *w = want[k] == NULL || k == TB_TLSKEY_SNI ? want[k] : in_conf(want[k]);
    if ((got == NULL) != (w == NULL) || (got != NULL && strcmp(got, w) != 0)) {
      fail_msg("rule %zu %s: got %s, want %s", rule + 1, tb_tls_key_name((enum tb_tls_key)k),
               got != NULL ? got : "NULL", w != NULL ? w : "NULL");
    }
  }
}

/* The file's default and each rule's own over it. */
static void test_default_and_rules(void **state) {
  struct tb_config *c = load_ok("engine: direct\n"
                                "tls:\n"
                                "  client_cert: cert.pem\n"
                                "  client_key: key.pem\n"
                                "  ca: ca.pem\n"
                                "  sni: Peer.Example.\n"
                                "  verify: false\n"
                                "rules:\n"
                                "- {host: a, peer: p}\n"                                    /* the default */
                                "- {host: b, peer: p, sni: b.example}\n"                    /* one key */
                                "- {host: c, peer: p, engine: ats}\n"                       /* ats */
                                "- {host: d, peer: p, sni: B.example}\n"                    /* shares b's */
                                "- {host: e, peer: p, client_cert: other.pem}\n"            /* the pair */
                                "- {host: f, peer: p, ca: cadir, verify: true}\n"           /* a directory */
                                "- {host: g, peer: p, engine: direct, sni: peer.example}\n" /* the default */
                                "- {host: h, peer: p, client_cert: other.pem, client_key: key.pem}\n");

  (void)state;
  assert_int_equal(c->nrules, 8);
  expect(c, 0, TB_ENGINE_DIRECT, "cert.pem", "key.pem", "ca.pem", "peer.example", 0);
  expect(c, 1, TB_ENGINE_DIRECT, "cert.pem", "key.pem", "ca.pem", "b.example", 0);
  expect(c, 2, TB_ENGINE_ATS, NULL, NULL, NULL, NULL, TB_VERIFY_UNSET);
  expect(c, 4, TB_ENGINE_DIRECT, "other.pem", NULL, "ca.pem", "peer.example", 0); /* its key in other.pem */
  expect(c, 5, TB_ENGINE_DIRECT, "cert.pem", "key.pem", "cadir", "peer.example", 1);
  expect(c, 7, TB_ENGINE_DIRECT, "other.pem", "key.pem", "ca.pem", "peer.example", 0);
  assert_int_equal(c->rules[0].transport, 0);
  assert_int_equal(c->rules[6].transport, 0); /* the same as the default: the default */
  assert_int_equal(c->rules[3].transport, c->rules[1].transport);
  assert_int_equal(c->ntransports, 6); /* the default, b (and d), c, e, f, h */
  tb_config_destroy(c);
}

/* Engines at each level; no TLS keys at all is Traffic Server's records. */
static void test_engines(void **state) {
  struct tb_config *c = load_ok("rules: [{host: a, peer: p}]\n");

  (void)state;
  expect(c, 0, TB_ENGINE_ATS, NULL, NULL, NULL, NULL, TB_VERIFY_UNSET);
  assert_int_equal(c->ntransports, 1);
  tb_config_destroy(c);
  c = load_ok("engine: direct\nrules: [{host: a, peer: p}, {host: b, peer: p, engine: ats}]\n");
  expect(c, 0, TB_ENGINE_DIRECT, NULL, NULL, NULL, NULL, TB_VERIFY_UNSET);
  expect(c, 1, TB_ENGINE_ATS, NULL, NULL, NULL, NULL, TB_VERIFY_UNSET);
  tb_config_destroy(c);
  c = load_ok(
      "engine: ats\nrules:\n- {host: a, peer: p, engine: direct, client_cert: cert.pem, verify: True}\n"
      "- {host: b, peer: p, engine: ats}\n");
  expect(c, 0, TB_ENGINE_DIRECT, "cert.pem", NULL, NULL, NULL, 1);
  assert_int_equal(c->rules[1].transport, 0);
  tb_config_destroy(c);
  /* written after the rules, the top level's keys still make the default */
  c = load_ok("rules: [{host: a, peer: p}, {host: b, peer: p, ca: cadir}]\ntls: {verify: FALSE}\n"
              "engine: direct\n");
  expect(c, 0, TB_ENGINE_DIRECT, NULL, NULL, NULL, NULL, 0);
  expect(c, 1, TB_ENGINE_DIRECT, NULL, NULL, "cadir", NULL, 0);
  tb_config_destroy(c);
}

/* Absolute paths ignore confdir; without one a relative path is used as
 * written (relative to the working directory, as --file is). */
static void test_paths(void **state) {
  char text[512];
  char err[ERRLEN] = "";
  struct tb_config *c;

  (void)state;
  snprintf(text, sizeof text, "engine: direct\ntls: {client_cert: '%s'}\nrules: [{host: a, peer: p}]\n",
           in_conf("cert.pem"));
  c = tb_config_create();
  assert_non_null(c);
  assert_int_equal(tb_config_load_yaml_text(c, text, strlen(text), "t.yaml", "/nonexistent", err, sizeof err),
                   0);
  assert_string_equal(c->transports[0].client_cert, in_conf("cert.pem"));
  tb_config_destroy(c);
  c = tb_config_create();
  assert_non_null(c);
  snprintf(text, sizeof text,
           "engine: direct\ntls: {ca: tb-unit-no-such.pem}\nrules: [{host: a, peer: p}]\n");
  assert_int_equal(tb_config_load_yaml_text(c, text, strlen(text), "t.yaml", NULL, err, sizeof err), -1);
  assert_string_equal(err, "t.yaml:2:11: ca 'tb-unit-no-such.pem': cannot open: No such file or directory");
  tb_config_destroy(c);
}

/* text must fail with exactly "t.yaml:" + where (CONF stands for confdir),
 * leaving the default transport and everything else as it was. */
static void load_bad(const char *text, const char *where) {
  char err[ERRLEN] = "";
  char want[ERRLEN];
  const char *conf = strstr(where, "CONF");
  struct tb_config *c = tb_config_create();

  assert_non_null(c);
  if (conf != NULL) {
    snprintf(want, sizeof want, "t.yaml:%.*s%s%s", (int)(conf - where), where, confdir, conf + 4);
  } else {
    snprintf(want, sizeof want, "t.yaml:%s", where);
  }
  if (tb_config_load_yaml_text(c, text, strlen(text), "t.yaml", confdir, err, sizeof err) == 0) {
    fail_msg("accepted: %s", text);
  }
  if (strcmp(err, want) != 0) {
    fail_msg("for: %s\n got: %s\nwant: %s", text, err, want);
  }
  assert_int_equal(c->nrules, 0);
  assert_int_equal(c->ntransports, 1);
  assert_int_equal(c->transports[0].engine, TB_ENGINE_ATS);
  for (int k = 0; k < TB_TLSKEY_COUNT; k++) {
    assert_false(tb_transport_has(&c->transports[0], (enum tb_tls_key)k));
  }
  tb_config_destroy(c);
}

static void test_errors(void **state) {
  static const struct {
    const char *text, *where;
  } cases[] = {
      /* engine */
      {"engine: tls\nrules: [{host: a, peer: p}]\n", "1:9: engine must be ats or direct, found 'tls'"},
      {"engine: [direct]\nrules: [{host: a, peer: p}]\n", "1:9: engine must be ats or direct, found a list"},
      {"rules: [{host: a, peer: p, engine: Direct}]\n", "1:36: engine must be ats or direct, found 'Direct'"},
      {"rules: [{host: a, peer: p, engine: }]\n", "1:36: engine must be ats or direct, found ''"},
      /* the tls mapping */
      {"tls: 3\nrules: [{host: a, peer: p}]\n",
       "1:6: tls must be a mapping (key: value lines), found a single value"},
      {"engine: direct\ntls: {bogus: 1}\nrules: [{host: a, peer: p}]\n",
       "2:7: unknown key 'bogus' in tls (expected client_cert, client_key, ca, sni, verify)"},
      {"engine: direct\ntls: {ca: ca.pem, ca: cadir}\nrules: [{host: a, peer: p}]\n",
       "2:19: key 'ca' appears twice in tls (first at line 2)"},
      {"engine: direct\ntls: {engine: ats}\nrules: [{host: a, peer: p}]\n",
       "2:7: unknown key 'engine' in tls (expected client_cert, client_key, ca, sni, verify)"},
      /* TLS keys where the engine is ats: the first one written */
      {"tls: {verify: true, ca: ca.pem}\nrules: [{host: a, peer: p, engine: direct}]\n",
       "1:7: verify applies only to engine: direct; the file's default engine is ats"},
      {"engine: ats\ntls: {sni: x.example}\nrules: [{host: a, peer: p}]\n",
       "2:7: sni applies only to engine: direct; the file's default engine is ats"},
      {"rules: [{host: a, peer: p, client_cert: cert.pem}]\n",
       "1:28: client_cert applies only to engine: direct; this rule uses engine ats"},
      {"rules:\n- host: a\n  peer: p\n  sni: x.example\n  ca: ca.pem\n",
       "4:3: sni applies only to engine: direct; this rule uses engine ats"},
      {"engine: direct\ntls: {ca: ca.pem}\nrules: [{host: a, peer: p, engine: ats, verify: false}]\n",
       "3:41: verify applies only to engine: direct; this rule uses engine ats"},
      /* client_key alone */
      {"engine: direct\ntls: {client_key: key.pem}\nrules: [{host: a, peer: p}]\n",
       "2:7: client_key needs client_cert beside it: a key is of use only with its own certificate"},
      {"engine: direct\ntls: {client_cert: cert.pem}\nrules: [{host: a, peer: p, client_key: key.pem}]\n",
       "3:28: client_key needs client_cert beside it: a key is of use only with its own certificate"},
      /* paths */
      {"engine: direct\ntls: {client_cert: ''}\nrules: [{host: a, peer: p}]\n",
       "2:20: client_cert must be a non-empty string, found a single value"},
      {"engine: direct\ntls: {client_key: }\nrules: [{host: a, peer: p}]\n",
       "2:19: client_key must be a non-empty string, found nothing"},
      {"engine: direct\ntls: {ca: [ca.pem]}\nrules: [{host: a, peer: p}]\n",
       "2:11: ca must be a non-empty string, found a list"},
      {"engine: direct\ntls: {client_cert: nope.pem}\nrules: [{host: a, peer: p}]\n",
       "2:20: client_cert 'CONF/nope.pem': cannot open: No such file or directory"},
      {"rules: [{host: a, peer: p, engine: direct, client_cert: cadir}]\n",
       "1:57: client_cert 'CONF/cadir': is a directory, not a file"},
      {"rules: [{host: a, peer: p, engine: direct, ca: /dev/null}]\n",
       "1:48: ca '/dev/null': not a regular file or directory"},
      {"rules: [{host: a, peer: p, engine: direct, client_key: /dev/null, client_cert: cert.pem}]\n",
       "1:56: client_key '/dev/null': not a regular file"},
      /* sni */
      {"rules: [{host: a, peer: p, engine: direct, sni: 'peer:443'}]\n",
       "1:49: sni 'peer:443': not a host name alone (no port, no brackets)"},
      {"rules: [{host: a, peer: p, engine: direct, sni: '[::1]'}]\n",
       "1:49: sni '[::1]': not a host name alone (no port, no brackets)"},
      {"rules: [{host: a, peer: p, engine: direct, sni: 192.0.2.1}]\n",
       "1:49: sni '192.0.2.1': looks like an IPv4 address: SNI carries host names only (RFC 6066 3)"},
      {"rules: [{host: a, peer: p, engine: direct, sni: 'a b'}]\n", "1:49: sni 'a b': contains whitespace"},
      {"rules: [{host: a, peer: p, engine: direct, sni: a..b}]\n",
       "1:49: sni 'a..b': host has an empty label"},
      {"rules: [{host: a, peer: p, engine: direct, sni: ''}]\n",
       "1:49: sni must be a non-empty string, found a single value"},
      /* verify */
      {"engine: direct\ntls: {verify: yes}\nrules: [{host: a, peer: p}]\n",
       "2:15: verify must be true or false, found 'yes'"},
      {"rules: [{host: a, peer: p, engine: direct, verify: 1}]\n",
       "1:52: verify must be true or false, found '1'"},
      {"rules: [{host: a, peer: p, engine: direct, verify: [true]}]\n",
       "1:52: verify must be true or false, found a list"},
      /* a later rule fails: the default set before is undone too */
      {"engine: direct\ntls: {client_cert: cert.pem, ca: cadir}\nrules:\n- {host: a, peer: p, sni: "
       "a.example}\n"
       "- {host: b, peer: p, engine: ats, ca: ca.pem}\n",
       "5:35: ca applies only to engine: direct; this rule uses engine ats"},
  };

  (void)state;
  for (size_t i = 0; i < TB_NELEM(cases); i++) {
    load_bad(cases[i].text, cases[i].where);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_and_rules),
      cmocka_unit_test(test_engines),
      cmocka_unit_test(test_paths),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests_name("tb_yaml_tls", tests, setup, teardown);
}
