"""Connections authenticate, with credentials only in Kubernetes Secrets.

Always (whatever `requireAuth` says):

- no URL carries credentials: no `user:password@` or `token@` before the
  host, no `password=` / `token=` / `secret=` in the query. Reports show
  such a URL with the credentials masked;
- every Secret reference (`accessSecret`, `tls.*Secret`, `sasl.*Secret`)
  names both the Secret and the key.

With `requireAuth` (the default):

- NATS, native and exotic, uses `auth: token` (an exotic bus also needs its
  `accessSecret`);
- JetStream exotic has an `accessSecret`;
- Kafka authenticates with SASL (`userSecret` and `passwordSecret`) or
  mutual TLS (`clientCertSecret` and `clientKeySecret`); `kafkaRequireTLS`
  and `kafkaRequireSASL` demand one or both;
- TLS does not skip verification (`insecureSkipVerify: true`).

Passing:

    kafka:
      url: kafka-0.kafka.data.svc:9093
      tls: {enabled: true}
      sasl:
        mechanism: SCRAM-SHA-512
        userSecret: {name: kafka-user, key: username}
        passwordSecret: {name: kafka-user, key: password}

Failing:

    nats:
      exotic:
        url: nats://s3cr3t@nats.messaging.svc:4222   # token inline in the URL
        auth: none
"""

from __future__ import annotations

from collections.abc import Iterator

from renderer.credentials import mask_url as mask
from renderer.credentials import url_problem
from renderer.stages.guards.model import Finding, Param, quote, sections, value_path

__all__ = ["DEFAULTS", "DESCRIPTION", "ID", "PARAMS", "RATIONALE", "check", "mask", "url_problem"]

ID = "external-credentials"
DESCRIPTION = ("NATS, JetStream exotic and Kafka connections authenticate, and take credentials only through "
               "Secret references, never inline.")
RATIONALE = ("A credential in a URL or value is committed to Git, shown by Argo CD and readable by anyone who can "
             "read the EventBus; a bus without authentication accepts events from any pod in the cluster.")
PARAMS = {
    "requireAuth": Param("bool", "require authentication on every connection", stricter="true"),
    "kafkaRequireTLS": Param("bool", "require TLS (with verification) to the Kafka brokers", stricter="true"),
    "kafkaRequireSASL": Param("bool", "require SASL authentication to the Kafka brokers", stricter="true"),
}
DEFAULTS = {"requireAuth": True, "kafkaRequireTLS": False, "kafkaRequireSASL": False}

_SECRET_REFS = (("accessSecret",), ("tls", "caCertSecret"), ("tls", "clientCertSecret"), ("tls", "clientKeySecret"),
                ("sasl", "userSecret"), ("sasl", "passwordSecret"))


def check(rendered, params: dict) -> Iterator[Finding]:
    """Yield a finding for each inline credential, malformed Secret reference and missing authentication."""
    need = params["requireAuth"]
    for backend, path, section in sections(rendered, "nats-native", "nats-exotic", "jetstream-exotic", "kafka"):
        if backend != "nats-native":
            yield from _inline(path, section)
            yield from _references(path, section)
        if not need:
            continue
        if backend in ("nats-native", "nats-exotic"):
            apath = path + ("auth",)
            if section.get("auth", "none") != "token":
                yield Finding(ID, path=apath, actual=f"auth {quote(section.get('auth'))}", expected="auth token",
                              fix=f"set {value_path(apath)} to token" + (
                                  " and accessSecret to the Secret holding the token" if backend == "nats-exotic"
                                  else " (the controller creates the Secret)"))
            elif backend == "nats-exotic" and not section.get("accessSecret"):
                yield _no_access_secret(path, "token")
        elif backend == "jetstream-exotic":
            if not section.get("accessSecret"):
                yield _no_access_secret(path, "credentials")
            yield from _insecure(path, section)
        elif backend == "kafka":
            yield from _kafka(path, section, params)


def _no_access_secret(path: tuple, what: str) -> Finding:
    spath = path + ("accessSecret",)
    return Finding(ID, path=spath, actual="no accessSecret", expected=f"a Secret reference holding the {what}",
                   fix=f"set {value_path(spath)} to {{name: <secret>, key: <key>}}")


def _inline(path: tuple, section: dict) -> Iterator[Finding]:
    url = section.get("url")
    if isinstance(url, str):
        problem = url_problem(url)
        if problem:
            upath = path + ("url",)
            yield Finding(ID, path=upath, actual=f"url {quote(mask(url))} carries {problem}",
                          expected="a URL without credentials, which come from a Secret reference",
                          fix=f"remove the credentials from {value_path(upath)}, rotate them, and reference a Secret"
                              " (accessSecret, or sasl/tls secrets for Kafka)")


def _references(path: tuple, section: dict) -> Iterator[Finding]:
    for sub in _SECRET_REFS:
        ref = section
        for part in sub:
            ref = ref.get(part) if isinstance(ref, dict) else None
        if isinstance(ref, dict):
            missing = [k for k in ("name", "key") if not ref.get(k)]
            if missing:
                rpath = path + sub
                yield Finding(ID, path=rpath, actual=f"Secret reference without {' and '.join(missing)}",
                              expected="a Secret name and key", fix=f"set {value_path(rpath)} to {{name: <secret>, "
                                                                   "key: <key>}}")


def _insecure(path: tuple, section: dict) -> Iterator[Finding]:
    tls = section.get("tls")
    if isinstance(tls, dict) and tls.get("insecureSkipVerify"):
        ipath = path + ("tls", "insecureSkipVerify")
        yield Finding(ID, path=ipath, actual="TLS without server verification (insecureSkipVerify: true)",
                      expected="verified TLS", fix=f"remove {value_path(ipath)} and set tls.caCertSecret to the CA "
                                                   "that signed the server's certificate")


def _kafka(path: tuple, section: dict, params: dict) -> Iterator[Finding]:
    tls = section.get("tls") if isinstance(section.get("tls"), dict) else {}
    sasl = section.get("sasl") if isinstance(section.get("sasl"), dict) else {}
    tls_on = bool(tls.get("enabled") or tls.get("caCertSecret") or tls.get("clientCertSecret"))
    mutual = bool(tls.get("clientCertSecret") and tls.get("clientKeySecret"))
    sasl_on = bool(sasl.get("userSecret") and sasl.get("passwordSecret"))
    yield from _insecure(path, section)
    if params["kafkaRequireTLS"] and not tls_on:
        tpath = path + ("tls",)
        yield Finding(ID, path=tpath, actual="no TLS to the brokers", expected="TLS",
                      fix=f"set {value_path(tpath)}.enabled to true (and caCertSecret for a private CA)")
    if params["kafkaRequireSASL"] and not sasl_on:
        spath = path + ("sasl",)
        yield Finding(ID, path=spath, actual="no SASL credentials", expected="sasl with userSecret and passwordSecret",
                      fix=f"set {value_path(spath)} with mechanism, userSecret and passwordSecret")
    elif not (sasl_on or mutual):
        yield Finding(ID, path=path + ("sasl",), actual="no client authentication (neither SASL nor mutual TLS)",
                      expected="SASL (userSecret, passwordSecret) or TLS client certificates",
                      fix=f"set {value_path(path + ('sasl',))} with mechanism, userSecret and passwordSecret, or "
                          f"tls.clientCertSecret and tls.clientKeySecret")
