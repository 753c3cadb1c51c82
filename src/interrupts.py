"""Ctrl+C, remembered until training can act on it (with src.keras_fit.StopOnInterrupt)."""

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator


class Interrupt:
    """Records Ctrl+C. `raise_now`: also raise KeyboardInterrupt at once, as Python's own
    handler does; then the record is what is left when the exception is lost: raised inside a
    finalizer, Python prints "Exception ignored" and goes on (GitPython's Repo.__del__, which
    MLflow's run start leaves to the garbage collector, swallowed a Ctrl+C at a run's start
    and the run trained to its end). Without it, as in a sweep worker, the handler only
    records: raising there could cut a database write short (an SQLite commit left the store
    locked for the run's own clean-up). Repeats change nothing."""

    def __init__(self, raise_now: bool = False):
        self.requested = False
        self.raise_now = raise_now

    def handle(self, signum, frame):
        self.requested = True
        if self.raise_now:
            raise KeyboardInterrupt

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt


@contextmanager
def noticed() -> Iterator[Interrupt]:
    """Ctrl+C inside the block raises KeyboardInterrupt at once and is remembered; Python's
    own handler again after it. One that a finalizer swallows is not printed as "Exception
    ignored" with its traceback: the record stops the run instead. Off the main thread
    (signals go to it alone) nothing is set."""
    interrupt = Interrupt(raise_now=True)
    if threading.current_thread() is not threading.main_thread():
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
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = printed
