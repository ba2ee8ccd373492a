"""The sidecar's entrypoint: start the render worker in the background, then become ``argocd-cmp-server``.

``eventbus-render argocd serve -- /var/run/argocd/argocd-cmp-server`` forks
the worker (:mod:`renderer.argocd.server`) and execs the command after
``--`` in its own process, with no shell, so that ``argocd-cmp-server`` is
the container's main process and the worker its child. The worker asks the
kernel for SIGTERM when that parent dies (``prctl(PR_SET_PDEATHSIG)`` on
Linux) and also polls ``getppid()`` once a second, so it never outlives the
sidecar's main process.
"""

from __future__ import annotations

import os
import signal
import sys

from renderer import processes
from renderer.argocd import server


def serve_then_exec(path: str, argv: list, run, **bounds) -> int:
    """Fork the worker (serving from the directory ``path``) into the background, then exec ``argv`` here (no shell).

    ``run`` runs one command line in the worker, ``bounds`` its ``max_renders`` and ``deadline`` (see
    :func:`renderer.argocd.server.serve_forever`).
    Returns only when the exec fails.
    """
    if not argv:
        sys.stderr.write("error: eventbus-render argocd serve needs a command after --\n")
        return 2
    parent = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        status = 0
        try:
            processes.set_parent_death_signal(signal.SIGTERM)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(0)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.close(devnull)
            status = server.serve_forever(path, run, parent_pid=parent, **bounds)
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 0
        except BaseException as exc:
            server.log(f"error: {type(exc).__name__}: {exc}")
            status = 1
        finally:
            os._exit(status)
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        sys.stderr.write(f"error: cannot run {argv[0]}: {exc.strerror or exc}\n")
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
        return 127
    return 127  # pragma: no cover - execvp does not return
