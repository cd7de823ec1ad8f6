/*
 * Deterministic randomness for fuzz_tls and its corpus generator: every
 * random byte OpenSSL draws in this process comes from a seeded generator,
 * one stream per role (the client, the server), so that a client made after
 * det_rand_reset() always sends the same ClientHello and makes the same key
 * shares, whatever the server drew meanwhile.  A server flight recorded
 * against that client is then a valid answer when replayed to a fresh one,
 * and the fuzzer's mutations reach past the first record.
 *
 * Test code only: it replaces OpenSSL's random number generator
 * (RAND_set_rand_method, deprecated in OpenSSL 3 but kept: RAND_bytes_ex
 * and RAND_priv_bytes_ex, which key generation and nonces go through, still
 * ask it first).
 */
#ifndef TLS_DET_RAND_H
#define TLS_DET_RAND_H

#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/rand.h>

#include <stdint.h>

enum det_role { DET_CLIENT, DET_SERVER };

static uint64_t det_state[2];
static enum det_role det_role_now = DET_CLIENT;

static uint64_t det_next(uint64_t *s) {
  /* splitmix64: every state gives a well-mixed output, seeds need no care */
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static int det_bytes(unsigned char *buf, int num) {
  uint64_t *s = &det_state[det_role_now];
  for (int i = 0; i < num; i++) {
    buf[i] = (unsigned char)(det_next(s) >> 56);
  }
  return 1;
}

static int det_status(void) {
  return 1;
}

static RAND_METHOD det_method = {NULL, det_bytes, NULL, NULL, det_bytes, det_status};

/* Route OpenSSL's randomness here (once per process). */
static int det_rand_install(void) {
  return RAND_set_rand_method(&det_method);
}

/* Both streams back to their start. */
static void det_rand_reset(void) {
  det_state[DET_CLIENT] = 0x746c735f636c6e74ull; /* "tls_clnt" */
  det_state[DET_SERVER] = 0x746c735f73727672ull; /* "tls_srvr" */
  det_role_now = DET_CLIENT;
}

/* Whose stream the next draws come from. */
static void det_rand_role(enum det_role r) {
  det_role_now = r;
}

#endif
