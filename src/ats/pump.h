/*
 * pump: a tunnel's byte shuttle, two directions between the client side
 * (`ua`) and the peer side, each one IOBuffer read into by one VIO and
 * written out of by another: no copies.  A source is re-enabled only when
 * its destination asks for more (WRITE_READY), so the bytes held per
 * direction are bounded by the PluginVC transfer limit (max(water mark,
 * 32 KiB)) whatever the speed of the reader: backpressure.  A source's EOS
 * fixes its destination's byte count, and the destination is shut for
 * writing only after the last byte went out, so a FIN travels after the
 * bytes before it.
 *
 * The pump owns the two buffers (and their readers); the VConns are the
 * tunnel's.  The peer side is a link (link.h): its VIOs are re-enabled and
 * its write side shut through the link.  It knows nothing of tunnels: it reports what happened and the
 * tunnel decides.  Used under the tunnel's mutex only.
 */
#ifndef TB_PUMP_H
#define TB_PUMP_H

#include <stdbool.h>
#include <stdint.h>

#include "glue.h"
#include "link.h"

/* One direction: bytes read from read_vio's VConn into buf, written out of
 * reader by write_vio. */
struct tb_dir {
  TSIOBuffer buf; /* owned, with reader */
  TSIOBufferReader reader;
  TSVIO read_vio;  /* source side; NULL until reading starts */
  TSVIO write_vio; /* destination side; NULL until writing starts */
  bool eos;        /* the source said EOS: no more bytes will come */
  bool done;       /* all bytes delivered and the destination shut for write */
};

struct tb_pump {
  struct tb_dir up;     /* client bytes: ua -> peer */
  struct tb_dir down;   /* peer bytes: peer -> ua */
  TSVConn ua;           /* not owned */
  TSVConn peer;         /* not owned: the link's VConn */
  struct tb_link *link; /* not owned: the peer side's link (set with peer) */
  uint64_t id;          /* the tunnel's, for debug lines */
};

/* Which VIO of the pump an event is about. */
enum tb_pump_end { TB_END_UA_READ, TB_END_UA_WRITE, TB_END_PEER_READ, TB_END_PEER_WRITE, TB_END_UNKNOWN };

enum tb_pump_verdict {
  TB_PUMP_GOING,      /* nothing to decide */
  TB_PUMP_HALF,       /* one direction is done, the other still open */
  TB_PUMP_FINISHED,   /* both directions done */
  TB_PUMP_UA_ERROR,   /* an error or timeout on the client side */
  TB_PUMP_PEER_ERROR, /* an error or timeout on the peer side */
};

/* Empty buffers for both directions, no VIO yet. */
void tb_pump_init(struct tb_pump *p, uint64_t id);

/* Free the buffers (after the VConns whose VIOs point into them closed). */
void tb_pump_fini(struct tb_pump *p);

enum tb_pump_end tb_pump_which(const struct tb_pump *p, TSVIO vio);

/* A VConn event on end e while bytes move: re-enable, close a direction in
 * order, or report an error. */
enum tb_pump_verdict tb_pump_event(struct tb_pump *p, TSEvent event, enum tb_pump_end e);

/* The source of d said EOS (also when that was learnt before d's writing
 * started: call again once it has). */
enum tb_pump_verdict tb_pump_source_eos(struct tb_pump *p, struct tb_dir *d);

/* Re-enable both source reads (a read pass with nothing new is what reports
 * an EOS that ATS did not deliver) and any write whose bytes wait in our
 * buffer. */
void tb_pump_nudge(struct tb_pump *p);

/* Let the peer's read go on (the set-up phases, before bytes flow). */
void tb_pump_reenable_peer_read(struct tb_pump *p);

/* Bytes read so far, both ways (activity), and delivered each way. */
int64_t tb_pump_read(const struct tb_pump *p);
int64_t tb_pump_written(const struct tb_dir *d);

#endif
