"""Versions and images are pinned to one concrete release.

- `jetstream.version` is a concrete release: `2.10.29` or a variant such as
  `2.8.2-alpine`; never `latest`, a bare major or minor (`v2`, `2.10`),
  a wildcard (`2.10.x`, `2.*`) or a range (`>=2.9`, `~2.9`). (Whether
  the controller lists it is a controller rule.)
- `kafka.version` is set and concrete (`3.6.0`): without it the Kafka
  client speaks an old protocol version by default.
- Any container image a value sets (a key `image` or `...Image`) carries a
  tag other than `latest` or a digest (`nats@sha256:...`). The v1.9 spec
  has no image field, so this applies to templates that add one.

Passing:

    jetstream:
      version: "2.10.29"
    kafka:
      version: "3.6.0"

Failing:

    jetstream:
      version: latest     # a different server after every controller upgrade
    kafka: {}             # no version
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from renderer.stages.guards.model import Finding, quote, sections, value_path

ID = "pinned-versions"
DESCRIPTION = "JetStream and Kafka versions, and any image a value sets, are pinned to one concrete release."
RATIONALE = ("'latest', ranges and wildcards change what runs without a change in Git: a controller upgrade or an "
             "image push silently replaces the server, and a rollback is no longer a revert.")
PARAMS: dict = {}
DEFAULTS: dict = {}

# patterns, not compiled objects: re caches them on first use, so a render without the backend pays nothing
_RELEASE = r"v?\d+\.\d+\.\d+(-[0-9A-Za-z]+([.-][0-9A-Za-z]+)*)?"
_KAFKA = r"\d+\.\d+\.\d+(\.\d+)?"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[+._-][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"


def check(rendered, params: dict) -> Iterator[Finding]:
    """Yield a finding for each version or image that is not pinned."""
    for _backend, path, section in sections(rendered, "jetstream"):
        version = section.get("version")
        vpath = path + ("version",)
        # an empty or missing version is a controller rule
        if version and not (isinstance(version, str) and re.fullmatch(_RELEASE, version)):
            yield Finding(ID, path=vpath, actual=f"version {quote(version)} is {_why(version)}",
                          expected="a concrete release such as 2.10.29",
                          fix=f"set {value_path(vpath)} to the exact release to run, e.g. 2.10.29")
    for _backend, path, section in sections(rendered, "kafka"):
        version = section.get("version")
        vpath = path + ("version",)
        if not version:
            yield Finding(ID, path=vpath, actual="no Kafka version (the client falls back to an old protocol)",
                          expected="the brokers' release, e.g. 3.6.0",
                          fix=f"set {value_path(vpath)} to the Kafka version of the brokers, e.g. 3.6.0")
        elif not (isinstance(version, str) and re.fullmatch(_KAFKA, version)):
            yield Finding(ID, path=vpath, actual=f"version {quote(version)} is {_why(version)}",
                          expected="a concrete release such as 3.6.0",
                          fix=f"set {value_path(vpath)} to the exact Kafka version of the brokers, e.g. 3.6.0")
    text = getattr(rendered, "builtin_text", None)
    # the built-in templates write keys as they are: no "mage" in their text, no image to check
    if text is None or "mage" in text:
        yield from _images(rendered.manifest.get("spec"), ("spec",))


def _why(version) -> str:
    text = str(version).strip()
    if not text or text.lower() == "latest":
        return "not a release"
    if any(c in text for c in "<>=~^,| "):
        return "a range"
    if re.search(r"(^|[.-])[xX*]($|[.-])", text) or "*" in text:
        return "a wildcard"
    return "not a full release"


def _images(node, path: tuple) -> Iterator[Finding]:
    """Every unpinned ``image`` (or ``...Image``) string below ``node``, depth first in document order."""
    stack = [(node, path)]
    while stack:
        node, path = stack.pop()
        cls = node.__class__
        if cls is str:  # an image reference, queued in its place among its siblings
            problem = image_problem(node)
            if problem:
                yield Finding(ID, path=path, actual=f"image {quote(node)} {problem}",
                              expected="a tag other than latest, or a digest",
                              fix=f"set {value_path(path)} to a released tag or a digest, e.g. {_example(node)}")
        elif cls is dict:
            below = []
            for key, value in node.items():
                image = isinstance(key, str) and (key == "image" or key.endswith("Image")) and isinstance(value, str)
                if image or value.__class__ is dict or value.__class__ is list:
                    below.append((value, path + (key,)))
            stack.extend(reversed(below))
        elif cls is list:
            stack.extend(reversed([(item, path + (index,)) for index, item in enumerate(node)
                                   if item.__class__ is dict or item.__class__ is list]))


def image_problem(image: str) -> str | None:
    """Why ``image`` is not pinned (``has no tag``, ``is tagged latest``), or None."""
    name, at, digest = image.partition("@")
    if at:
        return None if re.fullmatch(_DIGEST, digest) else "has a malformed digest"
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag"
    tag = last.rsplit(":", 1)[1]
    if not tag or tag.lower() == "latest":
        return "is tagged latest" if tag else "has an empty tag"
    return None


def _example(image: str) -> str:
    name = image.partition("@")[0]
    head, _, last = name.rpartition("/")
    base = last.split(":", 1)[0]
    return (head + "/" if head else "") + base + ":<version>"
