/*
 * libFuzzer target: tb_tls, the inbound side.  A fresh client (always the
 * same ClientHello: tls_det_rand.h) is fed the input as what the server
 * sent, cut and served as fuzz_tls_drive.h describes; the checks there
 * abort on any disagreement between the pump's bits and its state.  The
 * input is passed to tb_tls_feed as libFuzzer's own buffer, so a read past
 * it is an ASan report.  Seeds are real server flights recorded against
 * this client by gen_tls_corpus.c (make fuzz-corpus-tls).
 */
#include "fuzz_tls_drive.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tb_tls_ctx *ctx; /* made once; lives as long as the process */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (ctx == NULL) {
    if (det_rand_install() != 1) {
      abort();
    }
    ctx = drive_ctx();
  }
  (void)tls_drive(ctx, data, size, NULL, 0);
  return 0;
}
