/* pump: see pump.h. */
#include "pump.h"

#include <inttypes.h>
#include <string.h>

static void dir_init(struct tb_dir *d) {
  /* Small blocks: the PluginVC moves every chunk of 128 bytes or more by
   * sharing ATS's own blocks (no copy, no block of ours), and copies only
   * smaller chunks into our blocks.  So our block size costs bulk transfers
   * nothing, while an idle or chatty tunnel keeps 4 KiB per direction
   * rather than 32 KiB. */
  d->buf = TSIOBufferSizedCreate(TS_IOBUFFER_SIZE_INDEX_4K);
  d->reader = TSIOBufferReaderAlloc(d->buf);
}

static void dir_fini(struct tb_dir *d) {
  if (d->buf != NULL) {
    TSIOBufferDestroy(d->buf); /* frees its readers too */
  }
  memset(d, 0, sizeof *d);
}

void tb_pump_init(struct tb_pump *p, uint64_t id) {
  memset(p, 0, sizeof *p);
  p->id = id;
  dir_init(&p->up);
  dir_init(&p->down);
}

void tb_pump_fini(struct tb_pump *p) {
  dir_fini(&p->up);
  dir_fini(&p->down);
}

enum tb_pump_end tb_pump_which(const struct tb_pump *p, TSVIO vio) {
  if (vio == NULL) {
    return TB_END_UNKNOWN;
  }
  if (vio == p->up.read_vio) {
    return TB_END_UA_READ;
  }
  if (vio == p->down.write_vio) {
    return TB_END_UA_WRITE;
  }
  if (vio == p->down.read_vio) {
    return TB_END_PEER_READ;
  }
  if (vio == p->up.write_vio) {
    return TB_END_PEER_WRITE;
  }
  return TB_END_UNKNOWN;
}

/* Re-enable vio of direction d: through the link on the peer side. */
static void reenable(struct tb_pump *p, TSVIO vio) {
  if (p->link != NULL && (vio == p->down.read_vio || vio == p->up.write_vio)) {
    tb_link_reenable(p->link, vio);
  } else {
    TSVIOReenable(vio);
  }
}

/* d's destination is done: shut it for writing (the peer's through its link). */
static void shut_dest(struct tb_pump *p, struct tb_dir *d) {
  if (d == &p->up) {
    tb_link_shutdown_write(p->link);
  } else {
    TSVConnShutdown(p->ua, 0, 1);
  }
  d->done = true;
}

void tb_pump_reenable_peer_read(struct tb_pump *p) {
  reenable(p, p->down.read_vio);
}

static enum tb_pump_verdict after_done(const struct tb_pump *p) {
  return p->up.done && p->down.done ? TB_PUMP_FINISHED : TB_PUMP_HALF;
}

enum tb_pump_verdict tb_pump_source_eos(struct tb_pump *p, struct tb_dir *d) {
  bool up = d == &p->up;
  d->eos = true;
  TB_DEBUG("[%" PRIu64 "] EOS from the %s side; %" PRId64 " bytes still to deliver", p->id,
           up ? "client" : "peer", TSIOBufferReaderAvail(d->reader));
  if (d->write_vio == NULL || d->done) {
    return TB_PUMP_GOING;
  }
  int64_t pending = TSIOBufferReaderAvail(d->reader);
  TSVIONBytesSet(d->write_vio, TSVIONDoneGet(d->write_vio) + pending);
  if (pending > 0) {
    reenable(p, d->write_vio); /* WRITE_COMPLETE follows */
    return TB_PUMP_GOING;
  }
  shut_dest(p, d);
  return after_done(p);
}

/* WRITE_COMPLETE on d's destination: meaningful only after the source's EOS
 * fixed nbytes (a bounded write may complete early otherwise). */
static enum tb_pump_verdict dest_complete(struct tb_pump *p, struct tb_dir *d) {
  bool up = d == &p->up;
  if (!d->eos || d->done) {
    return TB_PUMP_GOING;
  }
  TB_DEBUG("[%" PRIu64 "] %s side shut for writing after all bytes", p->id, up ? "peer" : "client");
  shut_dest(p, d);
  return after_done(p);
}

enum tb_pump_verdict tb_pump_event(struct tb_pump *p, TSEvent event, enum tb_pump_end e) {
  struct tb_dir *d = e == TB_END_UA_READ || e == TB_END_PEER_WRITE ? &p->up : &p->down;
  bool on_ua = e == TB_END_UA_READ || e == TB_END_UA_WRITE;
  switch (event) {
  case TS_EVENT_VCONN_READ_READY: /* bytes in: let the destination take them */
    if (d->write_vio != NULL) {
      reenable(p, d->write_vio);
    }
    return TB_PUMP_GOING;
  case TS_EVENT_VCONN_WRITE_READY: /* room out: let the source read more */
    if (!d->eos && d->read_vio != NULL) {
      reenable(p, d->read_vio);
    }
    return TB_PUMP_GOING;
  case TS_EVENT_VCONN_READ_COMPLETE:
  case TS_EVENT_VCONN_EOS:
    return tb_pump_source_eos(p, d);
  case TS_EVENT_VCONN_WRITE_COMPLETE:
    return dest_complete(p, d);
  default: {
    char name[32];
    bool is_write = e == TB_END_UA_WRITE || e == TB_END_PEER_WRITE;
    struct tb_dir *other = d == &p->up ? &p->down : &p->up;
    TB_DEBUG("[%" PRIu64 "] %s on the %s %s side", p->id, tb_event_name(event, name, sizeof name),
             on_ua ? "client" : "peer", is_write ? "write" : "read");
    if (is_write && other->eos && !d->done) {
      /* That side had already closed its own sending cleanly (the other
       * direction's EOS): what was still on its way to it cannot be
       * delivered, but what it sent, buffered here, still can.  So this
       * direction is over and the other one drains; the linger bounds it. */
      TB_DEBUG("[%" PRIu64 "] %" PRId64 " bytes towards the %s side dropped; its own bytes still go out",
               p->id, TSIOBufferReaderAvail(d->reader), on_ua ? "client" : "peer");
      d->eos = true;
      d->done = true;
      return after_done(p);
    }
    return on_ua ? TB_PUMP_UA_ERROR : TB_PUMP_PEER_ERROR;
  }
  }
}

static void kick_writer(struct tb_pump *p, struct tb_dir *d) {
  if (d->write_vio != NULL && !d->done && TSIOBufferReaderAvail(d->reader) > 0) {
    reenable(p, d->write_vio);
  }
}

void tb_pump_nudge(struct tb_pump *p) {
  if (!p->up.eos && p->up.read_vio != NULL) {
    TSVIOReenable(p->up.read_vio);
  }
  if (!p->down.eos && p->down.read_vio != NULL) {
    reenable(p, p->down.read_vio);
  }
  /* Bytes already in our buffer move only when their write VIO is
   * re-enabled; should a READ_READY ever go unanswered, this is what
   * delivers them rather than an inactivity timeout. */
  kick_writer(p, &p->up);
  kick_writer(p, &p->down);
}

int64_t tb_pump_read(const struct tb_pump *p) {
  return (p->up.read_vio != NULL ? TSVIONDoneGet(p->up.read_vio) : 0) +
         (p->down.read_vio != NULL ? TSVIONDoneGet(p->down.read_vio) : 0);
}

int64_t tb_pump_written(const struct tb_dir *d) {
  return d->write_vio != NULL ? TSVIONDoneGet(d->write_vio) : 0;
}
