"""Waiting on a condition instead of sleeping a fixed time.

A test that waits for an event (a metric moving, a log line, a port, a
process ending) polls for it with a deadline: it goes on as soon as the
event has happened, and when it never does the failure says what was
awaited, for how long, and what was seen last."""

import time


class WaitTimeout(AssertionError):
    """A condition did not hold within its deadline (an AssertionError, so
    pytest reports it as a test failure, not an error in the harness)."""


def _short(value, limit=500):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def wait_until(pred, timeout, what, interval=0.2, retry=(), stop_if=None):
    """Call pred() every `interval` seconds until it returns a true value,
    and return that value.

    After `timeout` seconds raise WaitTimeout("timed out after T s waiting
    for <what>; last value ..., last error ...").  Exceptions of the types in
    `retry` count as "not yet" (their last one is named in the message);
    others propagate.  stop_if: called before each try; a true value (a
    reason) ends the wait at once with WaitTimeout naming it (for example a
    process that died, so waiting on would be pointless)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    value = err = None
    while True:
        if stop_if is not None:
            reason = stop_if()
            if reason:
                raise WaitTimeout("gave up after %.1f s waiting for %s: %s (last value %s%s)"
                                  % (time.monotonic() - t0, what, reason, _short(value),
                                     ", last error %r" % (err,) if err else ""))
        try:
            value = pred()
        except retry as e:  # noqa: B030 - retry is a tuple of exception types
            value, err = None, e
        if value:
            return value
        now = time.monotonic()
        if now >= deadline:
            raise WaitTimeout("timed out after %.1f s waiting for %s (last value %s%s)"
                              % (now - t0, what, _short(value),
                                 ", last error %r" % (err,) if err else ""))
        time.sleep(min(interval, max(0.0, deadline - now)))


def poll(read, ok, timeout, interval=0.2):
    """Call read() until ok(value) holds or timeout seconds have passed, and
    return the last value either way: for a check whose assertion should
    show what was read (a count, a set of metrics) rather than fail here."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        now = time.monotonic()
        if ok(value) or now >= deadline:
            return value
        time.sleep(min(interval, deadline - now))


def wait_steady(read, window, timeout, interval=0.2, good=None):
    """A reading at rest: poll read() (a number, e.g. a descriptor count)
    until it has not changed for `window` seconds, or good(value) says it
    is already where it should be, and return it.  If it never settles
    within `timeout` seconds, the lowest value seen."""
    t0 = time.monotonic()
    last = low = read()
    since = t0
    while True:
        now = time.monotonic()
        if (good is not None and good(last)) or now - since >= window:
            return last
        if now - t0 >= timeout:
            return low
        time.sleep(interval)
        value = read()
        low = min(low, value)
        if value != last:
            last, since = value, time.monotonic()
