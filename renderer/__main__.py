"""The ``eventbus-render`` executable (and ``python -m renderer``).

In the Argo CD sidecar every render is a fresh ``eventbus-render argocd
generate`` process. Before importing click or the renderer, the command
line is offered, unparsed, to the sidecar's pre-forked worker
(:mod:`renderer.argocd.client`), which runs it through :func:`renderer.cli.main`
exactly as this process would. Every other command line, and these ones when
no worker answers, run here through :func:`renderer.cli.main`.
"""

import sys


def main() -> None:
    """Entry point of ``eventbus-render``: the worker's answer if it gives one, else :func:`renderer.cli.main`."""
    from renderer.argocd.client import run_in_worker

    args = sys.argv[1:]
    code = run_in_worker(args)
    if code is not None:
        sys.exit(code)
    from renderer.cli import main as run_here

    run_here(args)


if __name__ == "__main__":
    main()
