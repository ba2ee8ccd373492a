"""The ``eventbus-render`` executable (and ``python -m renderer``).

In the Argo CD sidecar every render is a fresh ``eventbus-render argocd
generate`` process. Before importing click or the renderer, the command
line is offered, unparsed, to the sidecar's pre-forked worker
(:mod:`renderer.argocd.client`), which runs it through :func:`renderer.cli.main`
exactly as this process would. Every other command line, and these ones when
no worker answers, run here through :func:`renderer.cli.main`.

Every command ends its process at once (:func:`os._exit`) when it is done,
instead of tearing the interpreter down: by then everything is written and
flushed, and nothing is left to clean up (commands remove their temporary
files and stop their worker processes before they return; the renderer
registers no exit handler). The teardown frees every object the run made one
by one: it took about 10 ms of a cold ``argocd generate`` (80 ms), 1-3 ms of
a warm one (13 ms), and 24 ms of a 200-app ``render --all`` (210 ms), as
``benchmarks/bench_scale.py`` measures it.

For the same reason the process runs with the cyclic garbage collector off:
a successful render leaves no reference cycles behind
(``tests/review/test_render_all.py``; a failed one leaves a few, which the
exit frees), so the collector's passes only walk a heap that is about to go.
Re-enabled after a bulk command's pause, it walked the whole heap once more
before the exit: 7 ms of a 200-app ``render --all`` (175 ms). The Argo CD
worker, the one command that outlives its work, turns it back on
(:func:`renderer.argocd.server.serve_forever`).
"""

import gc
import os
import sys


def main() -> None:
    """Entry point of ``eventbus-render``: the worker's answer if it gives one, else :func:`renderer.cli.main`."""
    gc.disable()
    from renderer.argocd.client import run_in_worker

    args = sys.argv[1:]
    code = run_in_worker(args)
    if code is not None:
        _end(code)
    from renderer.cli import main as run_here

    try:
        run_here(args)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            _end(exc.code or 0)
        raise


def _end(code: int) -> None:
    """Flush stdout and stderr and end the process with ``code``, skipping the interpreter's teardown."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except (OSError, ValueError) as exc:  # the manifests did not reach stdout (a closed pipe, a full disk)
        code = 2
        _say(f"error: could not write the output to stdout: {getattr(exc, 'strerror', None) or exc}\n")
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(code)


def _say(text: str) -> None:
    try:
        sys.stderr.write(text)
    except (AttributeError, OSError, ValueError):
        pass


if __name__ == "__main__":
    main()
