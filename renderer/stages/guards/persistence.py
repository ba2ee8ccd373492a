"""NATS native and JetStream keep their messages on persistent volumes of a known class and size.

- `persistence` is set (without it the servers write to an `emptyDir` and
  lose every message when a pod is rescheduled);
- `storageClassName` is named (parameter `requireStorageClass`), so the
  volumes do not depend on whichever class is the cluster's default;
- `volumeSize` is set and at least `minVolumeSize`, compared as
  Kubernetes quantities: `50Gi` is more than `20000Mi`, and `20000Mi`
  (19.53Gi) is less than `20Gi`;
- `accessMode`, when set, is one of `accessModes` (each server writes its
  own volume: `ReadOnlyMany` cannot be written, `ReadWriteMany` needs
  shared storage NATS does not want).

Passing (`minVolumeSize: 20Gi`):

    jetstream:
      persistence:
        storageClassName: fast-ssd
        accessMode: ReadWriteOnce
        volumeSize: 50Gi

Failing:

    jetstream:
      persistence:
        volumeSize: 20000Mi   # no storage class; 19.53Gi < 20Gi
"""

from __future__ import annotations

from collections.abc import Iterator

from renderer.stages.guards.model import Finding, Param, quote, sections, value_path
from renderer.stages.validate import parse_quantity

ID = "persistence"
DESCRIPTION = ("NATS native and JetStream have persistence with a named storage class, a valid access mode and at "
               "least the profile's volume size.")
RATIONALE = ("Without persistent volumes a rescheduled pod loses its messages; an unnamed class or a small volume "
             "leaves capacity and durability to whatever the cluster defaults to.")
PARAMS = {
    "minVolumeSize": Param("quantity", "smallest volumeSize allowed", stricter="higher"),
    "requireStorageClass": Param("bool", "require storageClassName", stricter="true"),
    "accessModes": Param("strings", "access modes allowed", stricter="subset"),
}
DEFAULTS = {"minVolumeSize": "20Gi", "requireStorageClass": True, "accessModes": ["ReadWriteOnce", "ReadWriteOncePod"]}


def check(rendered, params: dict) -> Iterator[Finding]:
    """Yield a finding for each missing or too weak persistence setting."""
    minimum = params["minVolumeSize"]
    for _backend, path, section in sections(rendered, "nats-native", "jetstream"):
        ppath = path + ("persistence",)
        persistence = section.get("persistence")
        if not isinstance(persistence, dict) or not persistence:
            yield Finding(ID, path=ppath, actual="no persistence (messages live in an emptyDir and die with the pod)",
                          expected=f"persistent volumes of at least {minimum}",
                          fix=f"set {value_path(ppath)} with storageClassName, accessMode ReadWriteOnce and "
                              f"volumeSize {minimum} or more")
            continue
        if params["requireStorageClass"] and not persistence.get("storageClassName"):
            spath = ppath + ("storageClassName",)
            yield Finding(ID, path=spath, actual="no storageClassName (the cluster's default class decides)",
                          expected="a named storage class", fix=f"set {value_path(spath)} to the class the volumes "
                                                                "must use, e.g. fast-ssd")
        size = persistence.get("volumeSize")
        vpath = ppath + ("volumeSize",)
        if size is None:
            yield Finding(ID, path=vpath, actual="no volumeSize (the controller picks its own default)",
                          expected=f"at least {minimum}", fix=f"set {value_path(vpath)} to {minimum} or more")
        else:
            try:
                small = parse_quantity(size) < parse_quantity(minimum)
            except ValueError:
                small = False  # the schema reports a malformed quantity
            if small:
                yield Finding(ID, path=vpath, actual=f"volumeSize {size} ({gibibytes(parse_quantity(size))})",
                              expected=f"at least {minimum}", fix=f"set {value_path(vpath)} to {minimum} or more")
        mode = persistence.get("accessMode")
        if mode is not None and mode not in params["accessModes"]:
            mpath = ppath + ("accessMode",)
            yield Finding(ID, path=mpath, actual=f"accessMode {quote(mode)}",
                          expected="one of " + ", ".join(params["accessModes"]),
                          fix=f"set {value_path(mpath)} to {params['accessModes'][0]}")


def gibibytes(value) -> str:
    """A byte count for people: ``19.53Gi``."""
    gib = value / 2**30
    text = f"{float(gib):.2f}".rstrip("0").rstrip(".")
    return f"{text}Gi"
