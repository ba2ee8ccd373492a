"""Nothing of a repository leads outside its root, loops, or is something other than a file or folder.

Every reader of a repository's files (app file, profiles, overlays, the
templates folder and each template, a rendered tree read back by ``diff
--against``) goes through one check, :func:`renderer.stages.containment.confine`:
a path that leaves its root through a symlink, a symlink loop, a symlink to
nothing, a FIFO, a socket or a device is one message naming the path, exit
2, nothing on stdout and nothing written. A symlink that stays inside is
fine.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys

import pytest

from tests.conftest import write_app

SECRET = "ghp_TokenThatMustNotLeak0123456789"
GIT_CONFIG = f'[remote "origin"]\n\turl = https://x-access-token:{SECRET}@github.com/o/r.git\n'
HEADER = "apiVersion: argoproj.io/v1alpha1\nkind: EventBus\nmetadata:\n  name: default\n  namespace: argo-events\n"
BACKEND_TEMPLATE = ('{%- extends "_eventbus.j2" -%}{%- set runs_pods = true -%}'
                    '{%- block spec %}{"jetstream": {{ pod_spec | yaml }}}{% endblock -%}\n')


def refused(result, *fragments):
    """Exit 2, one message with ``fragments``, nothing on stdout, no traceback, nothing of the secret."""
    assert result.code == 2, (result.code, result.out, result.err)
    assert result.out == ""
    assert "Traceback" not in result.err and "RuntimeError" not in result.err
    assert SECRET not in result.err
    for fragment in fragments:
        assert fragment in result.err, result.err


@pytest.fixture
def repo(tmp_path):
    """A checkout: ``.git/config`` holding a token, and an app directory ``apps/a`` beside it."""
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text(GIT_CONFIG)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "x.yaml").write_text(f"description: {SECRET}\nvalues: {{}}\n")
    (tmp_path / "outside" / "jetstream.yaml.j2").write_text(BACKEND_TEMPLATE)
    write_app(tmp_path / "apps" / "a", "backend: jetstream\n")
    return tmp_path


def app_of(repo):
    return repo / "apps" / "a"


# -- leaving the app directory --------------------------------------------------------------------------

LEAVING = {
    # what the symlink is, where it points (relative to its own folder), what the app file says
    "a profile file": ("profiles/x.yaml", "../../../outside/x.yaml", "profile: x\n", "profile 'x' is a symlink"),
    "a profile file, absolute": ("profiles/x.yaml", "{root}/outside/x.yaml", "profile: x\n",
                                 "profile 'x' is a symlink"),
    "an overlay file": ("overlays/x.yaml", "../../../outside/x.yaml", "overlays: [x]\n", "overlay 'x' is a symlink"),
    "the profiles folder": ("profiles", "../../outside", "profile: x\n", "passes through a symlink (profiles)"),
    "the overlays folder": ("overlays", "{root}/outside", "overlays: [x]\n", "passes through a symlink (overlays)"),
    "the templates folder": ("templates", "../../outside", "", "the templates folder is a symlink"),
    "the templates folder, to .git": ("templates", "../../.git", "", "the templates folder is a symlink"),
    "the backend template": ("templates/jetstream.yaml.j2", "../../../outside/jetstream.yaml.j2", "",
                             "template 'jetstream.yaml.j2' is a symlink"),
    "a chain of two symlinks": ("profiles/x.yaml", "y.yaml", "profile: x\n", "profile 'x' is a symlink"),
}


@pytest.mark.parametrize("case", sorted(LEAVING))
def test_a_symlink_that_leaves_the_app_directory_is_refused(repo, cli, case, tmp_path):
    link, target, app_text, message = LEAVING[case]
    app = app_of(repo)
    (app / "eventbus-render.yaml").write_text("backend: jetstream\n" + app_text)
    path = app / link
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target.format(root=repo), path)
    if case == "a chain of two symlinks":
        os.symlink("../../../outside/x.yaml", path.parent / "y.yaml")
    out = tmp_path / "out"
    for command in (("render", "--app", app, "-o", out), ("check", "--app", app), ("explain", "--app", app)):
        if command[0] == "explain" and "template" in case:
            continue  # explain merges values and reads no template
        result = cli(*command)
        refused(result, message, "that leaves the app")
    assert not out.exists()


def test_include_of_git_config_through_a_symlinked_folder_is_refused_with_a_message(repo, cli):
    app = app_of(repo)
    (app / "templates").mkdir()
    os.symlink("../../../.git", app / "templates" / "g")
    for target in ("g/config", "g/../g/config"):
        (app / "templates" / "jetstream.yaml.j2").write_text(
            HEADER + "spec: {jetstream: {version: latest}}\n# {% include '" + target + "' %}\n")
        result = cli("render", "--app", app)
        assert result.code == 2 and result.out == "" and SECRET not in result.err
    (app / "templates" / "jetstream.yaml.j2").write_text(HEADER + "# {% include 'g/config' %}\n")
    refused(cli("render", "--app", app), "templates/g/config",
            "template 'g/config' passes through a symlink (g) that leaves the app's templates folder")


@pytest.mark.parametrize("statement", ["{% include 'c' %}", "{% import 'c' as m %}", "{% from 'c' import x %}",
                                       "{% extends 'c' %}"])
def test_every_way_a_template_names_another_file_is_confined(repo, cli, statement):
    app = app_of(repo)
    (app / "templates").mkdir()
    os.symlink(repo / ".git" / "config", app / "templates" / "c")
    (app / "templates" / "jetstream.yaml.j2").write_text(statement + "\n" + HEADER)
    refused(cli("render", "--app", app), "template 'c' is a symlink that leaves the app's templates folder")


def test_the_app_file_as_a_symlink_leaving_the_app_is_refused(repo, cli):
    app = app_of(repo)
    (app / "eventbus-render.yaml").unlink()
    (repo / "outside" / "eventbus-render.yaml").write_text("backend: jetstream\n")
    os.symlink("../../outside/eventbus-render.yaml", app / "eventbus-render.yaml")
    refused(cli("render", "--app", app),
            "eventbus-render.yaml: the app file is a symlink that leaves the app directory")


def test_symlinks_that_stay_inside_the_app_directory_are_followed(repo, cli):
    app = app_of(repo)
    (app / "eventbus-render.yaml").write_text("backend: jetstream\nprofile: x\noverlays: [y]\n")
    (app / "shared").mkdir()
    (app / "shared" / "x.yaml").write_text("extends: dev\nvalues: {labels: {from: shared}}\n")
    (app / "shared" / "tpl").mkdir()
    (app / "shared" / "tpl" / "jetstream.yaml.j2").write_text(BACKEND_TEMPLATE)
    (app / "profiles").mkdir()
    os.symlink("../shared/x.yaml", app / "profiles" / "x.yaml")
    os.symlink("shared", app / "overlays")
    (app / "shared" / "y.yaml").write_text("values: {labels: {overlay: y}}\n")
    os.symlink("shared/tpl", app / "templates")
    result = cli("render", "--app", app)
    assert result.code == 0, result.err
    assert "from: shared" in result.out and 'overlay: "y"' in result.out


# -- loops, dangling links, special files ---------------------------------------------------------------

LOOPS = {
    "a profile": ("profiles/x.yaml", "x.yaml", "profile: x\n"),
    "an overlay": ("overlays/x.yaml", "x.yaml", "overlays: [x]\n"),
    "the profiles folder": ("profiles", "profiles", "profile: x\n"),
    "the templates folder": ("templates", "templates", ""),
    "the backend template": ("templates/jetstream.yaml.j2", "jetstream.yaml.j2", ""),
    "the app file": ("eventbus-render.yaml", "eventbus-render.yaml", None),
    "two files pointing at each other": ("profiles/x.yaml", "y.yaml", "profile: x\n"),
}


def make_loop(app, case):
    link, target, app_text = LOOPS[case]
    if app_text is not None:
        (app / "eventbus-render.yaml").write_text("backend: jetstream\n" + app_text)
    else:
        (app / "eventbus-render.yaml").unlink()
    (app / link).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, app / link)
    if case == "two files pointing at each other":
        os.symlink("x.yaml", app / "profiles" / "y.yaml")


@pytest.mark.parametrize("case", sorted(LOOPS))
def test_a_symlink_loop_is_one_message_never_a_runtime_error(repo, cli, case):
    app = app_of(repo)
    make_loop(app, case)
    for command in (("render", "--app", app), ("check", "--app", app, "--format", "json")):
        refused(cli(*command), "symlink loop")


@pytest.mark.parametrize("case", sorted(LOOPS))
def test_list_and_a_mistyped_profile_survive_a_symlink_loop(repo, cli, case):
    app = app_of(repo)
    make_loop(app, case)
    listed = cli("list", "--app", app)
    assert listed.code == 0 and "Traceback" not in listed.err, listed.err
    assert "[built-in]" in listed.out and "dev " in listed.out
    mistyped = cli("render", "--app", app, "--profile", "prdo")
    if case == "the profiles folder":  # every profile of the app is looked up through the loop
        refused(mistyped, "profile 'prdo' passes through a symlink (profiles) that never ends (a symlink loop)")
    elif case != "the app file":
        refused(mistyped, "unknown profile 'prdo'", "did you mean 'prod'?")


def test_argocd_parameters_never_fail_on_a_symlink_loop(repo, sim):
    app = app_of(repo)
    (app / "eventbus-render.yaml").write_text("backend: jetstream\nprofile: x\n")
    (app / "profiles").mkdir()
    (app / "overlays").mkdir()
    os.symlink("x.yaml", app / "profiles" / "x.yaml")
    os.symlink("overlays", app / "overlays" / "loop")
    os.symlink("o.yaml", app / "overlays" / "o.yaml")
    result = sim(repo, "apps/a", "--parameters")
    assert result.code == 0, result.err
    assert "Traceback" not in result.err


def test_a_symlink_to_nothing_is_named(repo, cli):
    app = app_of(repo)
    (app / "eventbus-render.yaml").write_text("backend: jetstream\nprofile: x\n")
    (app / "profiles").mkdir()
    os.symlink("gone.yaml", app / "profiles" / "x.yaml")
    refused(cli("render", "--app", app), "profiles/x.yaml: profile 'x' is a symlink to nothing")


def run_fresh(*args, timeout=60):
    """A new process, so that a regression hangs this test only until the timeout."""
    result = subprocess.run([sys.executable, "-m", "renderer", *map(str, args)], capture_output=True, text=True,
                            timeout=timeout, env={**os.environ, "EVENTBUS_RENDER_WORKER": ""})
    return type("Result", (), {"code": result.returncode, "out": result.stdout, "err": result.stderr})


def make_special(path, kind):
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        return server
    elif kind == "device":
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # what /dev/zero is
    return None


SPECIAL_PLACES = {
    "the app file": ("eventbus-render.yaml", None, "the app file is"),
    "a profile": ("profiles/x.yaml", "profile: x\n", "profile 'x' is"),
    "an overlay": ("overlays/x.yaml", "overlays: [x]\n", "overlay 'x' is"),
    "the backend template": ("templates/jetstream.yaml.j2", "", "template 'jetstream.yaml.j2' is"),
    "an included template": ("templates/inc.j2", "", "template 'inc.j2' is"),
    "the templates folder": ("templates", "", "the templates folder is"),
}
KIND_NAMES = {"fifo": "a FIFO", "socket": "a socket", "device": "a character device"}


@pytest.mark.parametrize("kind", sorted(KIND_NAMES))
@pytest.mark.parametrize("place", sorted(SPECIAL_PLACES))
def test_a_fifo_socket_or_device_is_refused_without_being_opened(repo, place, kind):
    if kind == "device" and (not hasattr(os, "geteuid") or os.geteuid() != 0):
        pytest.skip("only root can make a device node")
    app = app_of(repo)
    relative, app_text, subject = SPECIAL_PLACES[place]
    if app_text is None:
        (app / "eventbus-render.yaml").unlink()
    else:
        (app / "eventbus-render.yaml").write_text("backend: jetstream\n" + app_text)
    if place == "an included template":
        (app / "templates").mkdir()
        (app / "templates" / "jetstream.yaml.j2").write_text("{% include 'inc.j2' %}" + HEADER)
    server = make_special(app / relative, kind)
    try:
        for args in (("render", "--app", app), ("render", "--all", "--root", repo / "apps"),
                     ("list", "--app", app)):
            result = run_fresh(*args)
            if args[0] == "list":
                assert result.code == 0 and "Traceback" not in result.err, result.err
                continue
            refused(result, f"{subject} {KIND_NAMES[kind]}, not")
    finally:
        if server is not None:
            server.close()


# -- a rendered tree read back by diff --against --------------------------------------------------------

@pytest.fixture
def rendered_tree(repo, cli):
    """``repo/apps`` rendered with ``render --all -o``: ``(root, tree, the manifest's path)``."""
    tree = repo / "tree"
    result = cli("render", "--all", "--root", repo / "apps", "-o", tree)
    assert result.code == 0, result.err
    (manifest,) = [path for path in tree.rglob("eventbus-*.yaml")]
    return repo / "apps", tree, manifest


@pytest.mark.parametrize("attack, message", [
    ("loop", "is a symlink that never ends (a symlink loop)"),
    ("outside", "is a symlink that leaves the rendered tree"),
    ("fifo", "is a FIFO, not a regular file"),
    ("index loop", "is a symlink that never ends (a symlink loop)"),
    ("index fifo", "is a FIFO, not a regular file"),
    ("index outside", "is a symlink that leaves the rendered tree"),
    ("entry escaping by name", "is not a path inside the tree"),
])
def test_diff_against_a_tampered_tree_is_one_message(rendered_tree, repo, attack, message):
    root, tree, manifest = rendered_tree
    index = tree / ".eventbus-render-index.json"
    target = index if attack.startswith("index") else manifest
    if attack == "entry escaping by name":
        index.write_text(index.read_text().replace(manifest.relative_to(tree).as_posix(), "../.git/config"))
    else:
        target.unlink()
        if attack.endswith("loop"):
            os.symlink(target.name, target)
        elif attack.endswith("outside"):
            os.symlink(repo / ".git" / "config", target)
        else:
            os.mkfifo(target)
    refused(run_fresh("diff", "--against", tree, "--root", root), message)
