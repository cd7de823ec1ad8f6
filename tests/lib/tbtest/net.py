"""Socket helpers shared by the load generators."""

import socket
import struct

# SO_LINGER {on, 0 s}: close() then sends a RST instead of a FIN.
RST_LINGER = struct.pack("ii", 1, 0)


def close_rst(sock):
    """Abortive close (RST), ignoring a socket that is already gone."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RST_LINGER)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
