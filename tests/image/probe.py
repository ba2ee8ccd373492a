"""Run INSIDE the sidecar image by tests/image/test_sidecar_image.py (standard library and the package only).

``python3 probe.py sandbox``        what the container allows: JSON on stdout
``python3 probe.py install``        the installed package, its dependencies and launcher: JSON
``python3 probe.py bytecode ARGS``  run ``eventbus-render ARGS`` in-process, then list every imported module
                                    whose bytecode is not in the image: JSON
``python3 probe.py await-worker DIR TMPDIR -- COMMAND...``
                                    wait until the render worker reads DIR's FIFO, then exec COMMAND
                                    with TMPDIR (a simulated argocd-cmp-server unpacks repositories there)
"""

import contextlib
import errno
import importlib.metadata
import importlib.util
import io
import json
import os
import stat
import sys
import time


def attempt_write(path: str) -> str:
    try:
        with open(path, "w") as handle:
            handle.write("x")
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    os.unlink(path)
    return "written"


def sandbox() -> dict:
    return {
        "uid": os.getuid(), "gid": os.getgid(),
        "tmp": attempt_write("/tmp/probe"),
        "root": attempt_write("/probe-root-file"),
        "home": attempt_write(os.path.expanduser("~/probe")),
        "interfaces": sorted(os.listdir("/sys/class/net")),
    }


def install() -> dict:
    launcher = os.stat("/usr/local/bin/eventbus-render")
    with open("/usr/local/bin/eventbus-render", encoding="utf-8") as handle:
        launcher_text = handle.read()
    names = ["click", "deepmerge", "jinja2", "markupsafe", "pyyaml", "eventbus-renderer"]
    return {
        "versions": {name: importlib.metadata.version(name) for name in names},
        "launcher": {"mode": oct(stat.S_IMODE(launcher.st_mode)), "uid": launcher.st_uid, "gid": launcher.st_gid,
                     "text": launcher_text},
        "python": sys.version_info[:2],
    }


def bytecode(args: list) -> dict:
    from renderer.cli import main

    out = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out):
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code
    sources = sorted({module.__file__ for module in list(sys.modules.values())
                      if (getattr(module, "__file__", None) or "").endswith(".py")})
    missing = [source for source in sources
               if not source.startswith("/probe/") and not os.path.exists(importlib.util.cache_from_source(source))]
    return {"code": code, "modules": len(sources), "missing": missing, "rendered": len(out.getvalue())}


def await_worker(directory: str, tmpdir: str, command: list) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            os.close(os.open(os.path.join(directory, "requests"), os.O_WRONLY | os.O_NONBLOCK))
            break
        except OSError:
            if time.monotonic() > deadline:
                sys.exit(f"probe: no worker reads {directory}/requests after 60 s")
            time.sleep(0.05)
    os.execvpe(command[0], command, dict(os.environ, TMPDIR=tmpdir))


def main(argv: list) -> None:
    if argv[0] == "await-worker":
        assert argv[3] == "--", argv
        await_worker(argv[1], argv[2], argv[4:])
    report = {"sandbox": sandbox, "install": install}.get(argv[0])
    print(json.dumps(report() if report else bytecode(argv[1:])))


if __name__ == "__main__":
    main(sys.argv[1:])
