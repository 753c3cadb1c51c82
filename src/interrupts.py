"""Ctrl+C, remembered until training can act on it (with src.keras_fit.StopOnInterrupt)."""

import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator


# Code a KeyboardInterrupt must not cut short: a database client stopped mid-statement kept
# its connection's lock, and the run's own clean-up (marking it KILLED) then waited on that
# lock for SQLite's 20 s and failed with a traceback. A Ctrl+C there is raised once the call
# has returned.
DATABASE_MODULES = ("sqlalchemy", "sqlite3", "psycopg", "mlflow.store")
RETRY_SECONDS = 0.05


def in_database_call(frame) -> bool:
    """Whether `frame` or one of its callers runs in one of DATABASE_MODULES."""
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if any(name == root or name.startswith(f"{root}.") for root in DATABASE_MODULES):
            return True
        frame = frame.f_back
    return False


class Interrupt:
    """Records Ctrl+C. `raise_now`: also raise KeyboardInterrupt at once, as Python's own
    handler does (inside a database call, once it has returned); then the record is what is
    left when the exception is lost: raised inside a finalizer, Python prints "Exception
    ignored" and goes on (GitPython's Repo.__del__, which MLflow's run start leaves to the
    garbage collector, swallowed a Ctrl+C at a run's start and the run trained to its end).
    Without it, as in a sweep worker, the handler only records: raising there could cut a
    database write short (an SQLite commit left the store locked for the run's own clean-up).
    Repeats change nothing."""

    def __init__(self, raise_now: bool = False):
        self.requested = False
        self.raise_now = raise_now
        self._again: threading.Timer | None = None

    def handle(self, signum, frame):
        self.requested = True
        if not self.raise_now:
            return
        if in_database_call(frame):  # signal again shortly; raised once the call is over
            self._again = threading.Timer(RETRY_SECONDS, os.kill, (os.getpid(), signal.SIGINT))
            self._again.daemon = True
            self._again.start()
            return
        raise KeyboardInterrupt

    def cancel(self) -> bool:
        """No more signals to this process from a deferred Ctrl+C; whether one was still due."""
        if self._again is None or not self._again.is_alive():
            return False
        self._again.cancel()
        return True

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt


def takes_ctrl_c() -> bool:
    """Whether this thread may handle Ctrl+C: the main thread, where it is not ignored."""
    return (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN)


@contextmanager
def noticed() -> Iterator[Interrupt]:
    """Ctrl+C inside the block raises KeyboardInterrupt at once and is remembered; Python's
    own handler again after it; inside a database call, once it has returned (the check
    after the block raises one still pending). One that a finalizer swallows is not printed
    as "Exception ignored" with its traceback: the record stops the run instead. Nothing is
    set off the main thread (signals go to it alone), nor where Ctrl+C is ignored (a shell
    script's `cmd &`), which Python's own handler leaves ignored too."""
    interrupt = Interrupt(raise_now=True)
    if not takes_ctrl_c():
        yield interrupt
        return
    previous, printed = signal.signal(signal.SIGINT, interrupt.handle), sys.unraisablehook

    def unraisable(report):
        if not isinstance(report.exc_value, KeyboardInterrupt):
            printed(report)

    sys.unraisablehook = unraisable
    try:
        yield interrupt
    finally:
        pending = interrupt.cancel()
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = printed
    if pending:  # a Ctrl+C in the block's last database call (a run's end): raised, not dropped
        raise KeyboardInterrupt
