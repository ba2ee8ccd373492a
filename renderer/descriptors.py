"""Writing all of a buffer to a file descriptor: the one loop over :func:`os.write`, which may write only part.

The Argo CD sidecar's thin client (:mod:`renderer.argocd.client`) imports it
before anything else, so it imports :mod:`os` alone.
"""

import os


def write_all(fd: int, data, wait=None) -> None:
    """Write all of ``data`` (bytes or a memoryview) to ``fd``: each :func:`os.write` takes what the last one left.

    On a non-blocking ``fd`` that takes nothing now (:exc:`BlockingIOError`), ``wait()`` is called before the
    next try (it raises to give up); without ``wait`` the error is the caller's.
    """
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            if wait is None:
                raise
            wait()
