"""How a process of the renderer ends: on a signal (cleaning up first), and never after its parent.

- :func:`stop_on_signals`: while a command runs, SIGTERM and SIGHUP raise
  :class:`Stopped` in the main thread, as SIGINT raises
  :exc:`KeyboardInterrupt`, so every ``finally`` and ``except BaseException``
  on the way out runs: ``render --all`` removes its staging tree and its lock,
  ``diff`` its exported revisions. The command line then exits ``128 + N``.
  A second signal while cleaning up ends the process at once.
- :func:`signals_blocked`: a few steps that must not be cut in two
  (publishing a tree, making a temporary folder and remembering it) run with
  those signals held back; they are delivered right after.
- :func:`set_parent_death_signal`: Linux sends a signal to a child when its
  parent dies (``prctl(PR_SET_PDEATHSIG)``): the workers of ``render --all``
  and of the Argo CD sidecar never outlive the process that started them.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
"""The signals that stop a command after it has cleaned up."""


class Stopped(BaseException):
    """A command was stopped by ``signum`` (SIGTERM or SIGHUP; SIGINT raises :exc:`KeyboardInterrupt` itself).

    A :exc:`BaseException`, as :exc:`KeyboardInterrupt` is: ``except Exception`` never swallows it.
    """

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


@contextlib.contextmanager
def stop_on_signals():
    """Turn SIGTERM and SIGHUP into :class:`Stopped` while the block runs (main thread only; else nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = [s for s in STOP_SIGNALS if s != signal.SIGINT]
    previous = {}

    def stop(signum, frame):
        for other in caught:  # a second signal while cleaning up ends the process
            signal.signal(other, signal.SIG_DFL)
        raise Stopped(signum)

    try:
        for signum in caught:
            previous[signum] = signal.signal(signum, stop)
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def signals_blocked():
    """Hold back SIGINT, SIGTERM and SIGHUP while the block runs; they are delivered when it ends."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - POSIX has it
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def set_parent_death_signal(signum: int) -> bool:
    """Ask Linux to send ``signum`` to this process when its parent dies (``prctl(PR_SET_PDEATHSIG)``)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return libc().prctl(1, signum, 0, 0, 0) == 0  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return False


_LIBC: list = []


def libc():
    """The C library, through :mod:`ctypes`: loaded once per process (forked workers inherit it)."""
    if not _LIBC:
        import ctypes

        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    return _LIBC[0]


def die_with_parent(parent: int) -> None:
    """In a forked worker: die (SIGKILL) when ``parent`` dies, take signals' default actions, never linger.

    The parent cleans up what its workers wrote; a worker only has to stop.
    """
    import os

    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
