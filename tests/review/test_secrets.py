"""No command prints a credential, in any format: a secret is planted everywhere a value can come from, and
every output of every command is searched for it.

The planted secret sits in a URL's user information (``kafka://admin:SECRET@``,
``nats://SECRET@``, ``admin:SECRET@broker``) or in a query parameter
(``?password=SECRET``), in the app file, a ``--set``, a ``--set-string``,
``ARGOCD_ENV_VALUES`` and a plugin parameter. The one place it may appear is a
manifest that rendered with the ``external-credentials`` guard off (the dev
profile), in its ``url`` field: the manifest is what Argo CD applies, as the
values say.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.review.helpers import GitRepo

SECRET = "S3cr3tPlanted"
URLS = {
    "userinfo": f"kafka://admin:{SECRET}@broker:9092",
    "noscheme": f"admin:{SECRET}@broker:9092",
    "query": f"kafka://broker:9092/?password={SECRET}",
    "token": f"nats://{SECRET}@nats.messaging.svc:4222",
}
KAFKA = "backend: kafka\nvalues:\n  kafka: {{topic: t, version: '3.6.0', url: {url!r}}}\n"
ENVIRONMENTS = "defaultEnvironment: dev\nenvironments:\n  dev: {profile: dev}\n  staging: {profile: staging}\n" \
               "  prod: {profile: prod}\n"


def assert_no_secret(where: str, out: str, err: str, manifests: bool = False) -> None:
    """``SECRET`` in none of ``out`` and ``err``; in ``out`` only on a manifest's ``url`` line when ``manifests``."""
    assert SECRET not in err, f"{where}: stderr holds the secret:\n{err}"
    for line in out.splitlines():
        if SECRET in line:
            assert manifests and re.match(r'\s*"?url"?: ', line), f"{where}: stdout holds the secret:\n{line}"


@pytest.fixture
def repo(tmp_path, git_home):
    """A git repository of apps whose head (the working tree) plants the secret in every form."""
    repo = GitRepo(tmp_path / "repo", git_home)
    plain = KAFKA.format(url="broker:9092")
    repo.write({f"apps/{name}/eventbus-render.yaml": f"name: {name}\n" + plain + ENVIRONMENTS for name in URLS})
    repo.write({"apps/plain/eventbus-render.yaml": plain})
    repo.commit("base")
    for name, url in URLS.items():
        text = KAFKA.format(url=url) if name != "token" else \
            f"backend: nats-exotic\nvalues:\n  nats: {{exotic: {{clusterID: c, url: {url!r}}}}}\n"
        repo.write({f"apps/{name}/eventbus-render.yaml": f"name: {name}\n" + text + ENVIRONMENTS})
    return repo


def commands(root) -> list:
    """``(label, argv, manifests on stdout when it succeeds)`` for every command and format."""
    apps = root / "apps"
    out = []
    for name in URLS:
        app = apps / name
        for env in ("dev", "staging", "prod"):
            out.append((f"render {name} {env}", ["render", "--app", app, "--env", env], True))
            out.append((f"render {name} {env} json", ["render", "--app", app, "--env", env, "--format", "json"], True))
            for fmt in ("text", "json", "sarif"):
                out.append((f"check {name} {env} {fmt}", ["check", "--app", app, "--env", env, "--format", fmt], False))
            for fmt in ("text", "json"):
                out.append((f"explain {name} {env} {fmt}", ["explain", "--app", app, "--env", env, "--format", fmt],
                            False))
        out.append((f"explain {name} url", ["explain", "--app", app, "kafka.url"], False))
        out.append((f"list {name}", ["list", "--app", app], False))
    plain = apps / "plain"
    for label, url in URLS.items():
        for flag in ("--set", "--set-string"):
            given = [flag, f"kafka.url={url}"]
            for profile in ("dev", "prod"):
                out.append((f"render plain {flag} {label} {profile}", ["render", "--app", plain, "--profile", profile,
                                                                       *given], True))
                for fmt in ("text", "json", "sarif"):
                    out.append((f"check plain {flag} {label} {profile} {fmt}",
                                ["check", "--app", plain, "--profile", profile, "--format", fmt, *given], False))
            out.append((f"explain plain {flag} {label}", ["explain", "--app", plain, *given], False))
            out.append((f"explain plain {flag} {label} json", ["explain", "--app", plain, "--format", "json", *given],
                        False))
        # the value as the wrong type, and as YAML that does not parse: the error echoes the flag
        out.append((f"render plain bad type {label}", ["render", "--app", plain, "--set", f"kafka.tls={url}"], True))
        out.append((f"render plain bad yaml {label}", ["render", "--app", plain, "--set", f"kafka.tls=[{url}"], True))
        out.append((f"render plain bad path {label}", ["render", "--app", plain, "--set", f"{url}=1"], True))
    for fmt in ("yaml", "json"):
        out.append((f"render --all {fmt}", ["render", "--all", "--root", apps, "--format", fmt], True))
    for fmt in ("text", "json", "sarif"):
        out.append((f"check --all {fmt}", ["check", "--all", "--root", apps, "--format", fmt], False))
    return out


def test_no_command_prints_a_planted_secret_in_any_format(repo, cli, tmp_path):
    codes = {}
    for label, argv, manifests in commands(repo.path):
        result = cli(*argv)
        assert "Traceback" not in result.err, (label, result.err)
        assert_no_secret(label, result.out, result.err, manifests and result.code == 0)
        codes[label] = result.code
    assert len(codes) > 150
    # every kind of outcome was searched: manifests, guard failures, input errors, reports
    assert codes["render userinfo dev"] == 0 and codes["render userinfo prod"] == 1
    assert codes["render plain bad yaml userinfo"] == 2 and codes["render --all yaml"] == 1
    assert codes["check --all sarif"] == 1


SECURED = ("kafka: {topic: t, version: '3.6.0', url: 'broker:9092', tls: {enabled: true}, sasl: {mechanism: PLAIN, "
           "userSecret: {name: k, key: u}, passwordSecret: {name: k, key: p}}}")


def test_diff_in_every_format_prints_no_planted_secret(tmp_path, git_home, cli):
    """The base renders everywhere; the head plants the secret in each form in dev only, where the guard is off,
    so that the diff compares (and shows) the changed manifests."""
    repo = GitRepo(tmp_path / "repo", git_home)
    files = {f"apps/{name}/eventbus-render.yaml": f"name: {name}\nbackend: kafka\nvalues:\n  {SECURED}\n"
             + ENVIRONMENTS for name in URLS}
    repo.write(files)
    repo.commit("base")
    for name, url in URLS.items():
        dev = f"  dev: {{profile: dev, values: {{kafka: {{url: {url!r}}}, annotations: {{example.com/u: {url!r}}}}}}}"
        repo.write({path: text.replace("  dev: {profile: dev}", dev) for path, text in files.items()
                    if path == f"apps/{name}/eventbus-render.yaml"})
    for fmt in ("text", "markdown", "json"):
        result = cli("diff", "--root", repo.path, "--base", "HEAD", "--format", fmt, "--color", "never")
        assert result.code == 0 and "broker:9092" in result.out, result.err
        assert_no_secret(f"diff {fmt}", result.out, result.err)
    repo.commit("head")
    tree = tmp_path / "tree"
    assert cli("render", "--all", "--root", repo.path / "apps", "-o", tree).code == 0
    repo.write({path: text for path, text in files.items()})  # back to the base: the secret is in the tree
    for fmt in ("text", "markdown", "json"):
        result = cli("diff", "--root", repo.path / "apps", "--against", tree, "--format", fmt, "--color", "never")
        assert result.code == 0 and "broker:9092" in result.out, result.err
        assert_no_secret(f"diff --against {fmt}", result.out, result.err)


def test_the_secret_only_reaches_a_manifest_whose_profile_lets_it(repo, cli):
    result = cli("render", "--app", repo.path / "apps" / "userinfo", "--env", "dev")
    assert result.code == 0 and f"url: kafka://admin:{SECRET}@broker:9092" in result.out
    for env in ("staging", "prod"):
        refused = cli("render", "--app", repo.path / "apps" / "userinfo", "--env", env)
        assert refused.out == "" and "kafka://***@broker:9092" in refused.err


def test_a_rendered_tree_and_its_index_hold_no_secret_but_in_manifests(repo, cli, tmp_path):
    out = tmp_path / "tree"
    result = cli("render", "--all", "--root", repo.path / "apps", "--profile", "staging", "-o", out)
    assert result.code == 1 and not out.exists()  # the guard refuses the credentials: nothing written
    result = cli("render", "--all", "--root", repo.path / "apps", "--profile", "dev", "-o", out)
    assert result.code == 0, result.err
    assert_no_secret("render --all -o", "", result.err)
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert_no_secret(str(path), text, "", manifests=path.suffix == ".yaml")
    index = json.loads((out / ".eventbus-render-index.json").read_text())
    assert SECRET not in json.dumps(index)


def argocd_inputs() -> list:
    """``(label, environment)`` of Argo CD requests that plant the secret in variables and parameters."""
    out = []
    for label, url in URLS.items():
        for profile in ("dev", "prod"):
            base = {"ARGOCD_ENV_PROFILE": profile}
            out.append((f"env values {label} {profile}", {**base, "ARGOCD_ENV_VALUES": f"kafka.url={url}"}))
            out.append((f"env values {label} {profile} bad yaml", {**base, "ARGOCD_ENV_VALUES": f"kafka.url=[{url}"}))
            out.append((f"env values {label} {profile} not a pair", {**base, "ARGOCD_ENV_VALUES": url}))
            params = [{"name": "values", "map": {"kafka.url": url}}, {"name": "profile", "string": profile}]
            out.append((f"parameter {label} {profile}", {"ARGOCD_APP_PARAMETERS": json.dumps(params)}))
            out.append((f"parameter name {label} {profile}",
                        {"ARGOCD_APP_PARAMETERS": json.dumps([{"name": url, "string": "x"}])}))
            out.append((f"unknown env variable {label}", {**base, "ARGOCD_ENV_KAFKA_URL": url}))
    return out


@pytest.mark.parametrize("label, environ", argocd_inputs(), ids=[label for label, _ in argocd_inputs()])
def test_argocd_generate_and_parameters_print_no_planted_secret(repo, label, environ):
    from renderer.argocd.plugin import run_command

    app = repo.path / "apps" / "plain"
    for command in ("generate", "parameters"):
        code, out, err = run_command(command, app, dict(environ))
        assert "Traceback" not in err
        assert_no_secret(f"{command} {label}", out, err, manifests=command == "generate" and code == 0)


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\r"])
def test_argocd_env_values_are_split_at_newlines_only(tmp_path, separator):
    from renderer.argocd import inputs

    found = inputs.read_inputs({"ARGOCD_ENV_VALUES": f"annotations.note=a{separator}jetstream.replicas=5\n"
                                                     "labels.team=x"})
    assert [layer.name for layer in found.layers] == [
        f"ARGOCD_ENV_VALUES annotations.note=a{separator}jetstream.replicas=5".rstrip("\r"),
        "ARGOCD_ENV_VALUES labels.team=x"]
    assert found.layers[0].values == {"annotations": {"note": ("a" + separator + "jetstream.replicas=5").rstrip("\r")}}
