"""Retrying flaky operations."""

import time


def retry(func, attempts):
    """Call FUNC until it returns without raising, at most ATTEMPTS times; return its result."""
    last_error = None
    for attempt in range(attempts):
        try:
            return func()
        except Exception as exc:
            last_error = exc
            time.sleep(0.001 * attempt)
    raise last_error


def backoff_delays(count):
    """The delays, in seconds, of COUNT retries with exponential backoff."""
    delays = []
    for i in range(count):
        delays.append(0.5 * 2 ** i)
    return delays


def is_transient(message):
    """Whether an error MESSAGE describes a temporary failure."""
    lowered = message.lower()
    return "timeout" in lowered or "temporarily" in lowered
