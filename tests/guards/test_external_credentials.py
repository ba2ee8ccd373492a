"""external-credentials: connections authenticate, with credentials only in Secret references."""

from __future__ import annotations

import pytest

from renderer.stages.guards import format_report
from renderer.stages.guards.external_credentials import mask, url_problem

RULE = "external-credentials"


@pytest.mark.parametrize("backend, values, expected", [
    ("nats-exotic", None, []),
    ("nats-exotic", {"nats": {"exotic": {"url": "nats://s3cr3t@nats.messaging.svc:4222"}}}, ["spec.nats.exotic.url"]),
    ("nats-exotic", {"nats": {"exotic": {"url": "nats://user:pw@nats:4222"}}}, ["spec.nats.exotic.url"]),
    ("nats-exotic", {"nats": {"exotic": {"auth": "none"}}}, ["spec.nats.exotic.auth"]),
    ("nats-exotic", {"nats": {"exotic": {"accessSecret": None}}}, ["spec.nats.exotic.accessSecret"]),
    ("nats-exotic", {"nats": {"exotic": {"accessSecret": {"name": None}}}}, ["spec.nats.exotic.accessSecret"]),
    ("nats-native", None, []),
    ("nats-native", {"nats": {"native": {"auth": "none"}}}, ["spec.nats.native.auth"]),
    ("jetstream-exotic", None, []),
    ("jetstream-exotic", {"jetstreamExotic": {"url": "nats://js:4222/?token=abc"}}, ["spec.jetstreamExotic.url"]),
    ("jetstream-exotic", {"jetstreamExotic": {"url": "nats://js:4222/?timeout=5s"}}, []),
    ("jetstream-exotic", {"jetstreamExotic": {"accessSecret": None}}, ["spec.jetstreamExotic.accessSecret"]),
    ("jetstream-exotic", {"jetstreamExotic": {"tls": {"insecureSkipVerify": True}}},
     ["spec.jetstreamExotic.tls.insecureSkipVerify"]),
    ("kafka", None, []),
    ("kafka", {"kafka": {"url": "kafka-0:9093,admin:pw@kafka-1:9093"}}, ["spec.kafka.url"]),
    ("kafka", {"kafka": {"tls": None}}, ["spec.kafka.tls"]),
    ("kafka", {"kafka": {"sasl": None}}, ["spec.kafka.sasl"]),
    ("kafka", {"kafka": {"sasl": None, "tls": {"clientCertSecret": {"name": "c", "key": "tls.crt"},
                                               "clientKeySecret": {"name": "c", "key": "tls.key"}}}}, []),
    ("kafka", {"kafka": {"tls": {"insecureSkipVerify": True}}}, ["spec.kafka.tls.insecureSkipVerify"]),
], ids=["exotic-ok", "token-in-url", "password-in-url", "exotic-no-auth", "exotic-no-secret", "secret-without-name",
        "native-ok", "native-no-auth", "js-exotic-ok", "token-in-query", "harmless-query", "js-exotic-no-secret",
        "js-exotic-unverified-tls", "kafka-ok", "kafka-password-in-url", "kafka-no-tls", "kafka-no-sasl",
        "kafka-mutual-tls", "kafka-unverified-tls"])
def test_prod_connections_authenticate_through_secret_references_only(violations, backend, values, expected):
    assert violations(RULE, backend, values) == expected


def test_staging_does_not_require_authentication_but_still_refuses_inline_credentials(evaluate):
    evaluation = evaluate("nats-exotic", {"nats": {"exotic": {"auth": "none", "url": "nats://tok@nats:4222"}}},
                          profile="staging")
    assert [(f.rule, f.path_text, f.level) for f in evaluation.findings] == [(RULE, "spec.nats.exotic.url", "error")]


def test_kafka_sasl_can_be_required_on_top_of_tls(violations):
    files = {"profiles/strict.yaml": "extends: prod\nguards:\n  external-credentials: {kafkaRequireSASL: true}\n"}
    mutual = {"kafka": {"sasl": None, "tls": {"clientCertSecret": {"name": "c", "key": "tls.crt"},
                                              "clientKeySecret": {"name": "c", "key": "tls.key"}}}}
    assert violations(RULE, "kafka", mutual, profile="strict", files=files) == ["spec.kafka.sasl"]


def test_a_credential_in_a_url_is_never_repeated_in_the_report(evaluate):
    evaluation = evaluate("nats-exotic", {"nats": {"exotic": {"url": "nats://s3cr3t@nats.messaging.svc:4222"}}})
    report = format_report(evaluation)
    assert "s3cr3t" not in report
    assert "url 'nats://***@nats.messaging.svc:4222' carries credentials before the host" in report
    assert "rotate them" in report


@pytest.mark.parametrize("url, masked", [
    ("nats://user:pw@host:4222", "nats://***@host:4222"),
    ("host:9093,u:p@other:9093", "host:9093,***@other:9093"),
    ("nats://host/?token=abc&timeout=5s", "nats://host/?token=***&timeout=5s"),
    ("nats://host:4222", "nats://host:4222"),
])
def test_masking_hides_userinfo_and_secret_query_values(url, masked):
    assert mask(url) == masked


@pytest.mark.parametrize("url, problem", [
    ("nats://host:4222", None),
    ("nats://t@host:4222", "credentials before the host"),
    ("kafka:9092,x:y@kafka2:9092", "credentials before the host"),
    ("nats://host/?password=x", "a password in the query"),
    ("nats://host/path@with-at", None),  # an @ after the host is not userinfo
])
def test_credentials_are_found_before_the_host_and_in_the_query(url, problem):
    assert url_problem(url) == problem
