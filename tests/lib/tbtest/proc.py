"""/proc readings of a running process (Linux): what the e2e suite, the
soak and the benchmark measure an ATS instance by."""

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def fd_count(pid):
    """Open descriptors of pid."""
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kib(pid):
    """Resident set size of pid in KiB (VmRSS); 0 if not reported."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    """utime + stime of the whole process (all threads), in seconds;
    OSError when pid is gone."""
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    fields = data[data.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime is field 14, stime field 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tcp_established(pid, remote_port):
    """How many ESTABLISHED TCP connections pid holds to remote_port (any
    address, IPv4 or IPv6): its socket descriptors matched against the
    kernel's connection tables."""
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            link = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue  # closed meanwhile
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    n = 0
    for table in ("tcp", "tcp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, table)) as f:
                next(f)  # the header
                for line in f:
                    fields = line.split()
                    # rem_address is ADDR:PORT in hex; state 01 is ESTABLISHED.
                    if fields[3] == "01" and int(fields[2].rsplit(":", 1)[1], 16) == remote_port \
                            and fields[9] in inodes:
                        n += 1
        except OSError:
            pass
    return n
