"""Run ``eventbus-render`` and stop it at a chosen file-system step: the harness of the kill -9 tests.

    python tests/review/audit_stop.py ARGS...     (ARGS: the command line, as for eventbus-render)

It installs an audit hook (:func:`sys.addaudithook`, PEP 578: the interpreter
reports every file open, rename, removal, ``flock`` and foreign function
call to it, before the call runs) and then runs :func:`renderer.cli.main`.
Nothing in the renderer knows about it: the steps it counts are the real
system calls of a real run, and the one event the renderer raises itself,
``renderer.publish.swap``, the instant before a tree is exchanged. Two variables of the environment, read by this
harness only, say what to do:

- ``AUDIT_LOG=PATH``: append one line per counted step, ``N EVENT DETAIL``
  (a dry run lists the steps a test can choose from);
- ``AUDIT_STOP=N:kill`` or ``N:stop``: just before the Nth counted step,
  send this process SIGKILL (kill -9 at exactly that point) or SIGSTOP (the
  test looks at the disk while the process is frozen there, then kills or
  continues it).

Only the first process counts: workers forked from it do not. Steps on the
bytecode cache of the package's templates do not count either: whether a run
writes that cache depends on what ran before it (another test, another
process), and a step counted there would move every later step of the run.
"""

import os
import signal
import sys

EVENTS = frozenset({
    "open", "os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.chmod", "os.listdir", "os.scandir",
    "os.link", "os.symlink", "os.truncate", "shutil.rmtree", "fcntl.flock", "ctypes.dlsym", "tempfile.mkdtemp",
    "renderer.publish.swap",
})

PID = os.getpid()
LOG = os.environ.pop("AUDIT_LOG", None)
LOG_FD = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600) if LOG else None  # before the hook
STOP = os.environ.pop("AUDIT_STOP", None)
AT, _, ACTION = (STOP or "0:").partition(":")
AT = int(AT)
COUNT = [0]
SKIPPED: list = []
"""Folders whose steps are not counted (the template bytecode cache, set before the hook is installed)."""


def detail(args) -> str:
    shown = []
    for arg in args:
        if isinstance(arg, (tuple, list)):
            arg = " ".join(os.fsdecode(a) if isinstance(a, (bytes, str)) else str(a) for a in arg)
        shown.append(os.fsdecode(arg) if isinstance(arg, (bytes, str)) else str(arg))
    return " ".join(shown).replace("\n", " ")


def hook(event, args):
    if event not in EVENTS or os.getpid() != PID:
        return
    if SKIPPED and any(SKIPPED[0] in str(arg) for arg in args):
        return
    COUNT[0] += 1
    if LOG_FD is not None:  # os.write is not audited: no step of its own
        os.write(LOG_FD, f"{COUNT[0]} {event} {detail(args)}\n".encode("utf-8", "replace"))
    if COUNT[0] == AT:
        os.kill(PID, signal.SIGKILL if ACTION == "kill" else signal.SIGSTOP)


if __name__ == "__main__":
    from renderer.stages.template_sandbox import cache_directory

    SKIPPED.extend(folder for folder in [cache_directory("jinja2")] if folder)
    sys.addaudithook(hook)
    from renderer.cli import main

    main(sys.argv[1:])
