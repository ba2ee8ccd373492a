"""Podman without a daemon or a registry, for building and running the sidecar image in tests.

Everything lives in a cache folder outside the checkout (``EVENTBUS_RENDER_CI_CACHE``, default
``~/.cache/eventbus-render-ci``), kept between runs on the same machine:

- ``containers.conf``: runc as the runtime (crun refuses the rlimits of machines with cgroup v1),
  cgroupfs, events to a file, and default ulimits no higher than this process's hard limits
  (podman's defaults ask for more than such a machine allows, and runc then fails to start);
- ``storage.conf``: overlay storage in ``storage/`` (its run-time state in ``/run``);
- the base root filesystem, made by ``debootstrap --variant=minbase bookworm`` from the Debian
  mirror this machine's apt sources name (read at run time) and imported with ``podman import``;
- on it, a Python base (``python-base.Containerfile``), built with this machine's extra CA
  certificates (downloads go through a TLS-intercepting proxy).

Nothing is pulled: every ``FROM`` is local and every command passes ``--pull=never``. A lock file
serialises test sessions that share the cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOOLS = ("podman", "runc", "debootstrap")
SUITE = "bookworm"
DEBIAN_IMAGE = f"localhost/eventbus-render-ci/debian:{SUITE}-minbase"
PYTHON_IMAGE = f"localhost/eventbus-render-ci/python:{SUITE}"
SIDECAR_IMAGE = "localhost/eventbus-render-ci/sidecar:test"
APT_SOURCES = Path("/etc/apt")
EXTRA_CA_CERTIFICATES = Path("/usr/local/share/ca-certificates")
# Codenames and aliases of the Debian archive's own suites (not -updates, -security or a vendor's).
DEBIAN_SUITES = {"bookworm", "trixie", "forky", "duke", "sid", "stable", "testing", "unstable"}


class Unavailable(Exception):
    """This machine cannot build images: a tool is missing, or the tests do not run as root."""


def cache_dir() -> Path:
    configured = os.environ.get("EVENTBUS_RENDER_CI_CACHE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "eventbus-render-ci"


def check_available() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise Unavailable(f"{', '.join(missing)} not installed (apt-get install podman runc debootstrap; .ci/run does)")
    if os.geteuid() != 0:
        raise Unavailable("debootstrap and podman's overlay storage here need root")


def _deb822_entries(text: str):
    for stanza in re.split(r"\n\s*\n", text):
        fields, key = {}, None
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0].isspace() and key:
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if fields.get("enabled", "yes").lower() == "no" or "deb" not in fields.get("types", "").split():
            continue
        for uri in fields.get("uris", "").split():
            yield uri, fields.get("suites", "").split(), fields.get("components", "").split()


def _one_line_entries(text: str):
    for line in text.splitlines():
        words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
        if len(words) >= 4 and words[0] == "deb":
            yield words[1], [words[2]], words[3:]


def apt_mirror(apt: Path = APT_SOURCES) -> str:
    """The Debian mirror this machine's apt sources name: the first one serving the archive's ``main``."""
    entries = []
    files = [apt / "sources.list"] + sorted((apt / "sources.list.d").glob("*.list"))
    for path in files:
        if path.is_file():
            entries += _one_line_entries(path.read_text(encoding="utf-8", errors="replace"))
    for path in sorted((apt / "sources.list.d").glob("*.sources")):
        entries += _deb822_entries(path.read_text(encoding="utf-8", errors="replace"))
    for uri, suites, components in entries:
        if "main" in components and DEBIAN_SUITES & set(suites) and uri.startswith(("http://", "https://")):
            return uri.rstrip("/")
    raise Unavailable(f"no Debian mirror serving 'main' in the apt sources under {apt}")


@dataclass
class Podman:
    """``podman`` with this cache's configuration."""

    cache: Path

    @classmethod
    def prepare(cls, cache: Path | None = None) -> Podman:
        check_available()
        cache = cache or cache_dir()
        (cache / "storage").mkdir(parents=True, exist_ok=True)
        _, nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
        _, nproc = resource.getrlimit(resource.RLIMIT_NPROC)
        nproc = 32768 if nproc == resource.RLIM_INFINITY else min(32768, nproc)
        _write_if_changed(cache / "containers.conf", (
            "[containers]\n"
            f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
            "\n[engine]\n"
            'runtime = "runc"\n'
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'))
        _write_if_changed(cache / "storage.conf", (
            "[storage]\n"
            'driver = "overlay"\n'
            f'graphroot = "{cache / "storage"}"\n'
            f'runroot = "/run/eventbus-render-ci/{hashlib.sha256(str(cache).encode()).hexdigest()[:16]}"\n'))
        return cls(cache)

    def env(self) -> dict:
        return dict(os.environ, CONTAINERS_CONF=str(self.cache / "containers.conf"),
                    CONTAINERS_STORAGE_CONF=str(self.cache / "storage.conf"))

    def run(self, *args, timeout: float = 120, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
        proc = subprocess.run(["podman", *map(str, args)], env=self.env(), capture_output=True, text=True,
                              timeout=timeout, **kwargs)
        if check and proc.returncode != 0:
            raise AssertionError(f"podman {' '.join(map(str, args))} exited {proc.returncode}:\n"
                                 f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
        return proc

    def has_image(self, name: str) -> bool:
        return self.run("image", "exists", name, check=False).returncode == 0

    @contextlib.contextmanager
    def locked(self):
        """Hold the cache's lock: one session at a time builds in it."""
        with open(self.cache / "lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def debian_base(self) -> str:
        """The debootstrapped Debian image, made once per cache."""
        if self.has_image(DEBIAN_IMAGE):
            return DEBIAN_IMAGE
        mirror = apt_mirror()
        with tempfile.TemporaryDirectory(dir=self.cache, prefix="rootfs-") as work:
            rootfs, tarball = Path(work) / "rootfs", Path(work) / "rootfs.tar"
            proc = subprocess.run(["debootstrap", "--variant=minbase", SUITE, str(rootfs), mirror],
                                  capture_output=True, text=True, timeout=1200)
            if proc.returncode != 0:
                raise AssertionError(f"debootstrap from {mirror} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
            for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for path in (rootfs / leftover).glob("*"):
                    if path.is_file():
                        path.unlink()
            subprocess.run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), "."], check=True,
                           timeout=600)
            self.run("import", tarball, DEBIAN_IMAGE, timeout=600)
        return DEBIAN_IMAGE

    def python_base(self) -> str:
        """A Python base on the Debian image; podman's layer cache makes a rebuild a no-op when nothing changed."""
        debian = self.debian_base()
        with tempfile.TemporaryDirectory(prefix="python-base-") as context:
            certificates = Path(context) / "ca-certificates"
            certificates.mkdir()
            for certificate in sorted(EXTRA_CA_CERTIFICATES.rglob("*.crt")) if EXTRA_CA_CERTIFICATES.is_dir() else []:
                shutil.copyfile(certificate, certificates / certificate.name)
            shutil.copyfile(HERE / "python-base.Containerfile", Path(context) / "Containerfile")
            self.run("build", "--pull=never", "--build-arg", f"DEBIAN_IMAGE={debian}", "--tag", PYTHON_IMAGE,
                     context, timeout=1200)
        return PYTHON_IMAGE

    def build(self, context: Path, tag: str, base: str) -> str:
        """Build ``context``'s Dockerfile on ``base`` (its ``BASE_IMAGE``), then drop the images it replaced.

        Without a layer cache: each build then leaves nothing behind but its image (a cached layer of
        the sources would pile up on every change), and only the dependencies' download is repeated.
        """
        self.run("build", "--pull=never", "--layers=false", "--build-arg", f"BASE_IMAGE={base}",
                 "--file", context / "Dockerfile", "--tag", tag, context, timeout=1200)
        self.drop_orphans()
        return tag

    def drop_orphans(self) -> None:
        """Remove sidecar images of test sessions that are gone (tagged ``-PID``), then untagged images."""
        listed = self.run("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter",
                          f"reference={SIDECAR_IMAGE.rpartition(':')[0]}").stdout.split()
        for name in listed:
            match = re.fullmatch(re.escape(SIDECAR_IMAGE) + r"-(\d+)", name)
            if match and not Path(f"/proc/{match.group(1)}").exists():
                self.run("rmi", name, check=False)
        self.run("image", "prune", "--force", timeout=300)


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
