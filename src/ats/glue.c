/* glue: see glue.h. */
#include "glue.h"

#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static atomic_uint_fast64_t g_next_id = 1;

int64_t tb_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t tb_next_id(void) {
  return (uint64_t)atomic_fetch_add(&g_next_id, 1);
}

const char *tb_event_name(TSEvent event, char *buf, size_t len) {
  switch (event) {
  case TS_EVENT_IMMEDIATE:
    return "IMMEDIATE";
  case TS_EVENT_TIMEOUT:
    return "TIMEOUT";
  case TS_EVENT_ERROR:
    return "ERROR";
  case TS_EVENT_NET_ACCEPT:
    return "NET_ACCEPT";
  case TS_EVENT_HTTP_SEND_RESPONSE_HDR:
    return "HTTP_SEND_RESPONSE_HDR";
  case TS_EVENT_HTTP_TXN_CLOSE:
    return "HTTP_TXN_CLOSE";
  case TS_EVENT_NET_ACCEPT_FAILED:
    return "NET_ACCEPT_FAILED";
  case TS_EVENT_VCONN_READ_READY:
    return "VCONN_READ_READY";
  case TS_EVENT_VCONN_WRITE_READY:
    return "VCONN_WRITE_READY";
  case TS_EVENT_VCONN_READ_COMPLETE:
    return "VCONN_READ_COMPLETE";
  case TS_EVENT_VCONN_WRITE_COMPLETE:
    return "VCONN_WRITE_COMPLETE";
  case TS_EVENT_VCONN_EOS:
    return "VCONN_EOS";
  case TS_EVENT_VCONN_INACTIVITY_TIMEOUT:
    return "VCONN_INACTIVITY_TIMEOUT";
  case TS_EVENT_VCONN_ACTIVE_TIMEOUT:
    return "VCONN_ACTIVE_TIMEOUT";
  default:
    snprintf(buf, len, "event %d", (int)event);
    return buf;
  }
}

enum tb_resp_result tb_resp_feed(struct tb_resp *r, TSIOBufferReader rd, int64_t *parsed) {
  int64_t skip = *parsed;
  for (TSIOBufferBlock b = TSIOBufferReaderStart(rd); b != NULL; b = TSIOBufferBlockNext(b)) {
    int64_t avail = 0;
    const char *p = TSIOBufferBlockReadStart(b, rd, &avail);
    if (skip >= avail) {
      skip -= avail;
      continue;
    }
    size_t used = 0;
    enum tb_resp_result res = tb_resp_parse(r, p + skip, (size_t)(avail - skip), &used);
    *parsed += (int64_t)used;
    skip = 0;
    if (res != TB_RESP_MORE) {
      return res;
    }
  }
  return TB_RESP_MORE;
}

void tb_timer_init(struct tb_timer *tm, TSEventFunc fn, TSMutex mutex, void *data) {
  tm->cont = TSContCreate(fn, mutex);
  tm->action = NULL;
  TSContDataSet(tm->cont, data);
}

void tb_timer_arm(struct tb_timer *tm, int64_t ms, TSEventThread th) {
  tb_timer_stop(tm);
  tm->action = th != NULL ? TSContScheduleOnThread(tm->cont, (TSHRTime)(ms < 0 ? 0 : ms), th)
                          : TSContScheduleOnPool(tm->cont, (TSHRTime)(ms < 0 ? 0 : ms), TS_THREAD_POOL_NET);
}

void tb_timer_stop(struct tb_timer *tm) {
  if (tm->action != NULL) {
    TSActionCancel(tm->action);
    tm->action = NULL;
  }
}

void tb_timer_fini(struct tb_timer *tm) {
  if (tm->cont == NULL) {
    return;
  }
  tb_timer_stop(tm);
  TSContDataSet(tm->cont, NULL);
  TSContDestroy(tm->cont);
  tm->cont = NULL;
}
