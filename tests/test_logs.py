"""Tests for podself.logs with the standard logging module: fields, presets, redaction,
collisions, the JSON formatter, configure() and dictConfig snippets."""

from __future__ import annotations

import calendar
import io
import json
import logging
import logging.config
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import podself
from podself.logs import (
    NEVER_LOGGED,
    PRESETS,
    JsonFormatter,
    PodIdentityFilter,
    Preset,
    configure,
    identity_fields,
    is_secret_like,
)
from podself.logs.fields import Selector, workload_names
from podself.pod import PodInfo, Workload
from podself.testing import FakePod

ROOT = Path(__file__).resolve().parents[1]

SEED_LINE = {
    "timestamp": "2025-11-08T10:30:45.123Z",
    "level": "INFO",
    "message": "Request processed",
    "pod": "api-server-5d8c7f6b9-xk2jp",
    "namespace": "production",
    "node": "node-3",
    "request_id": "abc-123",
    "duration_ms": 45,
}
SEED_CREATED = calendar.timegm((2025, 11, 8, 10, 30, 45, 0, 0, 0)) + 0.123
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def seed_info(**changes: Any) -> PodInfo:
    """The pod of the seed's example line, a Deployment replica."""
    values: dict[str, Any] = {
        "name": "api-server-5d8c7f6b9-xk2jp",
        "namespace": "production",
        "node_name": "node-3",
        "uid": "6f1c2d3e-0000-4000-8000-000000000001",
        "pod_ip": "10.244.0.7",
        "container": "api",
        "labels": {"app": "api-server", "pod-template-hash": "5d8c7f6b9"},
        "workload": Workload(kind="Deployment", name="api-server"),
    }
    values.update(changes)
    return PodInfo(**values)


def outside_pod(tmp_path: Path) -> PodInfo:
    """What ``podself.read`` finds with no env, no volume, no cgroups: nothing."""
    none = tmp_path / "none"
    return podself.read(
        environ={},
        podinfo_dirs=[none],
        cgroup_root=none,
        proc_root=none,
        serviceaccount_dir=none,
        hosts_file=none,
    )


def make_record(
    msg: str = "Request processed",
    extra: dict[str, Any] | None = None,
    level: int = logging.INFO,
    created: float | None = SEED_CREATED,
    **kwargs: Any,
) -> logging.LogRecord:
    """A record as ``logger.info(msg, extra=extra)`` makes it, at the seed's time."""
    record = logging.getLogger("app").makeRecord(
        "app", level, __file__, 1, msg, (), kwargs.pop("exc_info", None), extra=extra, **kwargs
    )
    if created is not None:
        record.created = created
        record.msecs = round(created % 1 * 1000) + 0.0
    return record


def render(formatter: logging.Formatter, record: logging.LogRecord) -> dict[str, Any]:
    """Format and parse one line, checking it is exactly one line."""
    line = formatter.format(record)
    assert "\n" not in line
    parsed: dict[str, Any] = json.loads(line)
    return parsed


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    """Every JSON line written to ``stream``."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    named = {n: logging.getLogger(n).level for n in ("app", "uvicorn", "podself.logs")}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            setup = getattr(handler, "setup", None)
            if setup is not None:
                setup.close()
            root.removeHandler(handler)
    root.handlers[:] = handlers  # dictConfig removes the handlers it finds
    root.setLevel(level)
    for name, old in named.items():
        logging.getLogger(name).setLevel(old)


class TestSeedExample:
    def test_exact_line(self) -> None:
        """The seed's example record renders key for key, in order, as the seed prints it."""
        formatter = JsonFormatter(identity=PodIdentityFilter(info=seed_info()))
        line = formatter.format(make_record(extra={"request_id": "abc-123", "duration_ms": 45}))
        assert line == json.dumps(SEED_LINE)
        assert list(json.loads(line)) == list(SEED_LINE)

    def test_filter_on_handler_gives_the_same_line(self) -> None:
        """The filter adding the identity to the record gives the same line as embedding it."""
        record = make_record(extra={"request_id": "abc-123", "duration_ms": 45})
        PodIdentityFilter(info=seed_info()).filter(record)
        assert JsonFormatter().format(record) == json.dumps(SEED_LINE)

    def test_configure_end_to_end(self) -> None:
        """configure() + logger.info(..., extra=...) writes the seed's keys with a UTC timestamp."""
        stream = io.StringIO()
        configure(info=seed_info(), stream=stream, live=False)
        logging.getLogger("app").info(
            "Request processed", extra={"request_id": "abc-123", "duration_ms": 45}
        )
        [line] = lines(stream)
        assert list(line) == list(SEED_LINE)
        assert TIMESTAMP.match(line.pop("timestamp"))
        assert {k: v for k, v in SEED_LINE.items() if k != "timestamp"} == line

    def test_timestamp_is_utc_with_milliseconds(self) -> None:
        """Milliseconds come from the record and are zero-padded; the zone is always Z."""
        formatter = JsonFormatter()
        record = make_record(created=SEED_CREATED - 0.118)
        assert render(formatter, record)["timestamp"] == "2025-11-08T10:30:45.005Z"

    def test_one_line_per_record(self) -> None:
        """Newlines in messages and values are escaped: a record is always one line."""
        formatter = JsonFormatter(identity=PodIdentityFilter(info=seed_info()))
        record = make_record("first\nsecond", extra={"sql": "SELECT 1\nFROM t"})
        parsed = render(formatter, record)
        assert parsed["message"] == "first\nsecond"
        assert parsed["sql"] == "SELECT 1\nFROM t"


class TestOutsidePod:
    def test_identity_says_unknown(self, tmp_path: Path) -> None:
        """Without a pod the seed's three fields say unknown, like the seed's defaults."""
        assert identity_fields(outside_pod(tmp_path)) == {
            "pod": "unknown",
            "namespace": "unknown",
            "node": "unknown",
        }

    @pytest.mark.parametrize("preset", ["otel", "ecs"])
    def test_presets_say_unknown_for_core_fields_only(self, tmp_path: Path, preset: str) -> None:
        """Other presets name pod, namespace and node as unknown and leave optional ones out."""
        fields = identity_fields(outside_pod(tmp_path), preset=preset)
        assert set(fields.values()) == {"unknown"}
        assert len(fields) == 3

    def test_unknown_none_leaves_fields_out(self, tmp_path: Path) -> None:
        """unknown=None drops unknown fields instead of writing a placeholder."""
        assert identity_fields(outside_pod(tmp_path), unknown=None) == {}

    def test_configure_never_raises(self, tmp_path: Path) -> None:
        """configure() outside a pod logs JSON with unknown identity and starts no follower."""
        stream = io.StringIO()
        setup = configure(info=outside_pod(tmp_path), stream=stream)
        logging.getLogger("app").warning("no pod here")
        [line] = lines(stream)
        assert (line["pod"], line["namespace"], line["node"]) == ("unknown",) * 3
        assert setup.follower is None

    def test_configure_with_the_real_process(self) -> None:
        """configure() with podself.current() works wherever the tests run."""
        stream = io.StringIO()
        configure(stream=stream, live=False)
        logging.getLogger("app").info("hello")
        [line] = lines(stream)
        assert {"timestamp", "level", "message", "pod", "namespace", "node"} <= set(line)


class TestPresets:
    def test_otel_names(self) -> None:
        """The otel preset uses the semantic-convention keys, workload included."""
        assert identity_fields(seed_info(), preset="otel") == {
            "k8s.pod.name": "api-server-5d8c7f6b9-xk2jp",
            "k8s.namespace.name": "production",
            "k8s.node.name": "node-3",
            "k8s.pod.uid": "6f1c2d3e-0000-4000-8000-000000000001",
            "k8s.pod.ip": "10.244.0.7",
            "k8s.container.name": "api",
            "k8s.deployment.name": "api-server",
            "k8s.replicaset.name": "api-server-5d8c7f6b9",
        }

    def test_ecs_names(self) -> None:
        """The ecs preset uses the Beats/ECS kubernetes.* keys."""
        assert identity_fields(seed_info(), preset="ecs") == {
            "kubernetes.pod.name": "api-server-5d8c7f6b9-xk2jp",
            "kubernetes.namespace": "production",
            "kubernetes.node.name": "node-3",
            "kubernetes.pod.uid": "6f1c2d3e-0000-4000-8000-000000000001",
            "kubernetes.pod.ip": "10.244.0.7",
            "kubernetes.container.name": "api",
            "kubernetes.deployment.name": "api-server",
            "kubernetes.replicaset.name": "api-server-5d8c7f6b9",
        }

    def test_seed_preset_has_only_the_seed_fields(self) -> None:
        """The seed preset writes pod, namespace and node, nothing more."""
        assert list(identity_fields(seed_info())) == ["pod", "namespace", "node"]

    @pytest.mark.parametrize(
        ("kind", "key"),
        [
            ("StatefulSet", "k8s.statefulset.name"),
            ("DaemonSet", "k8s.daemonset.name"),
            ("Job", "k8s.job.name"),
            ("ReplicaSet", "k8s.replicaset.name"),
        ],
    )
    def test_workload_kinds(self, kind: str, key: str) -> None:
        """Each controller kind becomes its own k8s.<kind>.name field."""
        info = seed_info(name="web-0", labels={}, workload=Workload(kind=kind, name="web"))
        fields = identity_fields(info, preset="otel")
        assert fields[key] == "web"
        assert "k8s.deployment.name" not in fields

    def test_replicaset_from_pod_name_without_labels(self) -> None:
        """Without the pod-template-hash label the ReplicaSet comes from the pod name."""
        info = seed_info(labels={})
        assert workload_names(info) == {
            "deployment": "api-server",
            "replicaset": "api-server-5d8c7f6b9",
        }

    def test_bare_pod_has_no_workload_fields(self) -> None:
        """A pod without a controller gets no workload fields."""
        info = seed_info(workload=Workload(kind="Pod", name="api-server-5d8c7f6b9-xk2jp"))
        assert workload_names(info) == {}

    def test_otel_labels_keep_dots_ecs_labels_are_dedotted(self) -> None:
        """Labels are k8s.pod.label.<key> for otel and de-dotted kubernetes.labels.* for ecs."""
        info = seed_info(labels={"app.kubernetes.io/name": "api"})
        otel = identity_fields(info, preset="otel", labels=True)
        ecs = identity_fields(info, preset="ecs", labels=True)
        assert otel["k8s.pod.label.app.kubernetes.io/name"] == "api"
        assert ecs["kubernetes.labels.app_kubernetes_io/name"] == "api"

    def test_seed_labels_are_one_object(self) -> None:
        """The seed preset puts selected labels and annotations in nested objects."""
        info = seed_info(annotations={"team": "payments"})
        fields = identity_fields(info, labels=["app"], annotations=True)
        assert fields["labels"] == {"app": "api-server"}
        assert fields["annotations"] == {"team": "payments"}

    def test_formatter_keys_follow_the_preset(self) -> None:
        """ecs writes @timestamp and a lower-case log.level; otel keeps the seed's keys."""
        ecs = render(JsonFormatter(preset="ecs"), make_record())
        otel = render(JsonFormatter(preset="otel"), make_record())
        assert list(ecs)[:3] == ["@timestamp", "log.level", "message"]
        assert ecs["log.level"] == "info"
        assert list(otel)[:3] == ["timestamp", "level", "message"]

    def test_custom_preset(self) -> None:
        """A Preset object names fields freely and flattens labels with a {key} template."""
        preset = Preset("mine", {"name": "pod_name", "service_account": "sa"}, labels="l.{key}")
        info = seed_info(service_account="api-sa")
        fields = identity_fields(info, preset=preset, labels=True)
        assert fields == {
            "pod_name": "api-server-5d8c7f6b9-xk2jp",
            "sa": "api-sa",
            "l.app": "api-server",
            "l.pod-template-hash": "5d8c7f6b9",
        }

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"fields": {"pod": "pod"}}, "unknown identity attribute 'pod'"),
            ({"fields": {"name": ""}}, "must be a non-empty string"),
            ({"fields": {}, "labels": "x.{key}.{key}"}, "one {key}"),
            ({"fields": {}, "exception_key": ("a", "b")}, "three keys"),
        ],
    )
    def test_bad_presets(self, kwargs: dict[str, Any], message: str) -> None:
        """A Preset naming an unknown attribute or with a bad template is refused."""
        with pytest.raises(ValueError, match=re.escape(message)):
            Preset("bad", **kwargs)

    def test_unknown_preset_name(self) -> None:
        """An unknown preset name is refused with the known ones listed."""
        with pytest.raises(
            ValueError, match=r"preset 'datadog': unknown; known: seed, otel, ecs, gcp"
        ):
            identity_fields(seed_info(), preset="datadog")

    def test_presets_table(self) -> None:
        """Four presets are built in."""
        assert list(PRESETS) == ["seed", "otel", "ecs", "gcp"]

    def test_ecs_version_on_every_line(self) -> None:
        """ECS requires ecs.version on every event: it follows the message; an extra field
        with that name is kept as extra.ecs.version."""
        line = render(JsonFormatter(preset="ecs"), make_record(extra={"ecs.version": "x"}))
        assert list(line)[:4] == ["@timestamp", "log.level", "message", "ecs.version"]
        assert (line["ecs.version"], line["extra.ecs.version"]) == ("1.6.0", "x")

    def test_gcp_trace_of_the_active_span(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """gcp: inside an OpenTelemetry span (the real SDK) the line carries the trace as
        Cloud Logging's resource name, the span ID and the sampling decision; outside a span,
        or for a span not sampled, what holds then."""
        sdk = pytest.importorskip("opentelemetry.sdk.trace")
        sampling = pytest.importorskip("opentelemetry.sdk.trace.sampling")
        monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "shop-prod")
        formatter = JsonFormatter(preset="gcp")
        assert "logging.googleapis.com/trace" not in render(formatter, make_record())
        with sdk.TracerProvider().get_tracer("t").start_as_current_span("GET /") as span:
            line = render(formatter, make_record(extra={"logging.googleapis.com/spanId": "x"}))
        context = span.get_span_context()
        assert line["logging.googleapis.com/trace"] == (
            f"projects/shop-prod/traces/{context.trace_id:032x}"
        )
        assert line["logging.googleapis.com/spanId"] == f"{context.span_id:016x}"
        assert line["logging.googleapis.com/trace_sampled"] is True
        assert line["extra.logging.googleapis.com/spanId"] == "x"  # never overwritten
        monkeypatch.delenv("GOOGLE_CLOUD_PROJECT")
        unsampled = sdk.TracerProvider(sampler=sampling.ALWAYS_OFF).get_tracer("t")
        with unsampled.start_as_current_span("GET /") as span:
            line = render(JsonFormatter(preset="gcp"), make_record())
        assert line["logging.googleapis.com/trace"] == f"{span.get_span_context().trace_id:032x}"
        assert line["logging.googleapis.com/trace_sampled"] is False
        with sdk.TracerProvider().get_tracer("t").start_as_current_span("GET /"):
            for preset in ("seed", "otel", "ecs"):  # the trace is gcp's only
                line = render(JsonFormatter(preset=preset), make_record())
                assert not any("trace" in key or "span" in key for key in line), preset

    def test_gcp_line(self) -> None:
        """gcp: time, severity (Cloud Logging's names for the levels Python uses), the
        source location, and the identity and labels as the entry's labels object; the
        traceback in stack_trace, where Error Reporting reads it."""
        formatter = JsonFormatter(
            preset="gcp",
            identity=PodIdentityFilter(info=seed_info(), preset="gcp", labels=["app"]),
        )
        try:
            int("abc")
        except ValueError:
            record = make_record(level=logging.ERROR, exc_info=sys.exc_info())
        line = render(formatter, record)
        assert list(line)[:4] == [
            "time",
            "severity",
            "message",
            "logging.googleapis.com/sourceLocation",
        ]
        assert line["severity"] == "ERROR"
        assert line["logging.googleapis.com/sourceLocation"] == {
            "file": record.pathname,
            "line": str(record.lineno),
            "function": record.funcName,
        }
        assert line["logging.googleapis.com/labels"] == {
            "pod_name": "api-server-5d8c7f6b9-xk2jp",
            "namespace_name": "production",
            "node_name": "node-3",
            "container_name": "api",
            "pod_uid": "6f1c2d3e-0000-4000-8000-000000000001",
            "pod_ip": "10.244.0.7",
            "deployment_name": "api-server",
            "replicaset_name": "api-server-5d8c7f6b9",
            "k8s-pod/app": "api-server",
        }
        assert line["exception.type"] == "ValueError"
        assert line["stack_trace"].startswith("Traceback (most recent call last):")

    def test_group_needs_flat_label_templates(self) -> None:
        """A grouped preset must write labels as one string each (Cloud Logging labels)."""
        with pytest.raises(ValueError, match="must be templates with"):
            Preset("bad", {}, group="g")


class TestRedaction:
    @pytest.mark.parametrize(
        "key",
        [
            "kubectl.kubernetes.io/last-applied-configuration",
            "api-token",
            "GITHUB_TOKEN",
            "vault.example.com/secret-path",
            "db-password",
            "DB_PASSWD",
            "my-passphrase",
            "mysql_pwd",
            "aws-credentials",
            "x-apikey",
            "stripe-api-key",
            "openai_api_key",
            "tls-private-key",
            "PrivateKey",
            "aws-access-key-id",
            "authorization",
            "session-cookie",
        ],
    )
    def test_secret_like_keys(self, key: str) -> None:
        """Keys that look like secrets (any case) are recognised."""
        assert is_secret_like(key)

    @pytest.mark.parametrize(
        "key", ["app", "app.kubernetes.io/name", "version", "tier", "log-level", "author"]
    )
    def test_ordinary_keys(self, key: str) -> None:
        """Ordinary keys are not treated as secrets."""
        assert not is_secret_like(key)

    def test_never_logged_even_when_allowed(self) -> None:
        """An allow list naming a secret-like key or last-applied-configuration is ignored."""
        info = seed_info(
            labels={"app": "a", "api-token": "t0k3n"},
            annotations={NEVER_LOGGED[0]: '{"kind":"Pod"}', "db-password": "hunter2"},
        )
        fields = identity_fields(
            info,
            labels=["app", "api-token"],
            annotations=[NEVER_LOGGED[0], "db-password", "*"],
        )
        assert fields["labels"] == {"app": "a"}
        assert "annotations" not in fields
        assert "hunter2" not in json.dumps(fields)

    def test_labels_are_opt_in(self) -> None:
        """By default no label or annotation is logged."""
        info = seed_info(annotations={"team": "payments"})
        assert set(identity_fields(info)) == {"pod", "namespace", "node"}

    def test_allow_and_deny_globs(self) -> None:
        """Allow globs select keys; deny globs win over them."""
        selector = Selector.of(["app.kubernetes.io/*", "tier"], deny=["*/managed-by"])
        mapping = {
            "app.kubernetes.io/name": "api",
            "app.kubernetes.io/managed-by": "helm",
            "tier": "web",
            "other": "x",
        }
        assert selector.select(mapping) == {"app.kubernetes.io/name": "api", "tier": "web"}

    def test_globs_are_case_sensitive(self) -> None:
        """Label keys are case-sensitive in Kubernetes, and so are the globs."""
        assert Selector.of(["App"]).select({"app": "x", "App": "y"}) == {"App": "y"}

    def test_bad_patterns(self) -> None:
        """Empty or non-string patterns are refused."""
        with pytest.raises(ValueError, match="allow pattern ''"):
            Selector.of([""])
        with pytest.raises(ValueError, match="deny pattern 3"):
            Selector.of(True, deny=[3])  # type: ignore[list-item]

    def test_redacted_in_json_output(self) -> None:
        """A secret-like annotation never reaches the log line."""
        info = seed_info(annotations={"db-password": "hunter2", "team": "payments"})
        stream = io.StringIO()
        configure(info=info, stream=stream, annotations=True, live=False)
        logging.getLogger("app").info("x")
        [line] = lines(stream)
        assert line["annotations"] == {"team": "payments"}
        assert "hunter2" not in stream.getvalue()


FLAT = Preset("flat", {"name": "pod"}, labels="{key}")


class TestCollisions:
    def test_label_named_like_record_attributes(self) -> None:
        """Labels called message, levelname or timestamp never replace the record's own."""
        info = seed_info(labels={"message": "m", "levelname": "l", "timestamp": "t"})
        filt = PodIdentityFilter(info=info, preset=FLAT, labels=True)
        record = make_record("real message")
        filt.filter(record)
        assert record.levelname == "INFO"
        assert record.getMessage() == "real message"
        parsed = render(JsonFormatter(), record)
        assert parsed["message"] == "real message"
        assert parsed["level"] == "INFO"
        assert parsed["timestamp"] == "2025-11-08T10:30:45.123Z"
        assert parsed["podself.message"] == "m"
        assert parsed["podself.levelname"] == "l"
        assert parsed["podself.timestamp"] == "t"

    def test_label_collisions_when_embedded(self) -> None:
        """The formatter's embedded identity renames colliding labels the same way."""
        info = seed_info(labels={"message": "m", "level": "l"})
        formatter = JsonFormatter(identity=PodIdentityFilter(info=info, preset=FLAT, labels=True))
        parsed = render(formatter, make_record("real"))
        assert (parsed["message"], parsed["level"]) == ("real", "INFO")
        assert (parsed["podself.message"], parsed["podself.level"]) == ("m", "l")

    @pytest.mark.parametrize("mode", ["filter", "embedded"])
    def test_extra_named_like_identity_wins(self, mode: str) -> None:
        """An extra= field called pod keeps its name; the identity moves to podself.pod."""
        filt = PodIdentityFilter(info=seed_info())
        record = make_record("scaled", extra={"pod": "worker-7"})
        if mode == "filter":
            filt.filter(record)
            assert record.pod == "worker-7"  # type: ignore[attr-defined]
            formatter = JsonFormatter()
        else:
            formatter = JsonFormatter(identity=filt)
        parsed = render(formatter, record)
        assert parsed["pod"] == "worker-7"
        assert parsed["podself.pod"] == "api-server-5d8c7f6b9-xk2jp"
        assert parsed["namespace"] == "production"

    def test_extra_named_like_formatter_keys(self) -> None:
        """extra= fields named timestamp or level are kept as extra.timestamp, extra.level."""
        parsed = render(JsonFormatter(), make_record(extra={"timestamp": 1, "level": "x"}))
        assert parsed["timestamp"] == "2025-11-08T10:30:45.123Z"
        assert parsed["level"] == "INFO"
        assert (parsed["extra.timestamp"], parsed["extra.level"]) == (1, "x")

    def test_plain_formatter_sees_identity_attributes(self) -> None:
        """With the filter on a handler, %(pod)s works in an ordinary format string."""
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.addFilter(PodIdentityFilter(info=seed_info()))
        handler.setFormatter(logging.Formatter("%(pod)s %(namespace)s %(levelname)s %(message)s"))
        logger = logging.getLogger("app.plain")
        logger.addHandler(handler)
        logger.propagate = False
        try:
            logger.warning("disk low")
        finally:
            logger.removeHandler(handler)
        assert stream.getvalue() == "api-server-5d8c7f6b9-xk2jp production WARNING disk low\n"

    def test_python_json_logger_sees_identity(self) -> None:
        """python-json-logger picks up the filter's attributes as extras, not its marker."""
        pjl = pytest.importorskip("pythonjsonlogger.json")
        record = make_record(extra={"request_id": "abc-123"})
        PodIdentityFilter(info=seed_info()).filter(record)
        parsed = json.loads(pjl.JsonFormatter("{message}", style="{").format(record))
        assert parsed == {
            "message": "Request processed",
            "request_id": "abc-123",
            "pod": "api-server-5d8c7f6b9-xk2jp",
            "namespace": "production",
            "node": "node-3",
        }

    def test_filter_applied_twice_adds_once(self) -> None:
        """A record passing two identity filters keeps the first identity, unchanged."""
        record = make_record()
        PodIdentityFilter(info=seed_info()).filter(record)
        PodIdentityFilter(info=seed_info(name="other")).filter(record)
        parsed = render(JsonFormatter(), record)
        assert parsed["pod"] == "api-server-5d8c7f6b9-xk2jp"
        assert "podself.pod" not in parsed

    def test_filter_never_drops(self) -> None:
        """The filter returns True for every record."""
        assert PodIdentityFilter(info=seed_info()).filter(make_record()) is True

    def test_identity_is_read_only(self) -> None:
        """filter.identity cannot be changed in place."""
        with pytest.raises(TypeError):
            PodIdentityFilter(info=seed_info()).identity["pod"] = "x"  # type: ignore[index]


class TestNonAscii:
    def test_korean_message_and_labels(self) -> None:
        """Korean text is written as is (not \\u escapes), in messages, extras and labels."""
        info = seed_info(labels={"팀": "결제"}, annotations={"description": "결제 API 서버"})
        formatter = JsonFormatter(
            identity=PodIdentityFilter(info=info, labels=True, annotations=True)
        )
        line = formatter.format(make_record("요청 처리 완료", extra={"사용자": "홍길동"}))
        assert "요청 처리 완료" in line
        assert "\\u" not in line
        parsed = json.loads(line)
        assert parsed["labels"]["팀"] == "결제"
        assert parsed["annotations"] == {"description": "결제 API 서버"}
        assert parsed["사용자"] == "홍길동"

    def test_ensure_ascii_option(self) -> None:
        """ensure_ascii=True escapes non-ASCII for pipelines that need it."""
        line = JsonFormatter(ensure_ascii=True).format(make_record("요청"))
        assert line.isascii()
        assert json.loads(line)["message"] == "요청"

    def test_korean_through_configure(self) -> None:
        """A Korean message reaches the stream intact through configure()."""
        stream = io.StringIO()
        configure(info=seed_info(), stream=stream, live=False)
        logging.getLogger("app").info("한글 메시지 %s", "테스트")
        assert lines(stream)[0]["message"] == "한글 메시지 테스트"


class TestExceptions:
    def test_exception_fields(self) -> None:
        """logger.exception() writes type, message and the traceback as JSON fields."""
        stream = io.StringIO()
        configure(info=seed_info(), stream=stream, live=False)
        try:
            int("abc")
        except ValueError:
            logging.getLogger("app").exception("parse failed", extra={"input": "abc"})
        [line] = lines(stream)
        assert list(line)[-2:] == ["input", "exception"]
        exception = line["exception"]
        assert exception["type"] == "ValueError"
        assert exception["message"] == "invalid literal for int() with base 10: 'abc'"
        assert exception["traceback"].startswith("Traceback (most recent call last):")
        assert exception["traceback"].endswith(
            "ValueError: invalid literal for int() with base 10: 'abc'"
        )

    def test_qualified_type_name(self) -> None:
        """Exception types outside builtins carry their module."""
        try:
            json.loads("{")
        except json.JSONDecodeError:
            record = make_record(exc_info=sys.exc_info())
        assert (
            render(JsonFormatter(), record)["exception"]["type"] == "json.decoder.JSONDecodeError"
        )

    @pytest.mark.parametrize(
        ("preset", "keys"),
        [
            ("otel", ("exception.type", "exception.message", "exception.stacktrace")),
            ("ecs", ("error.type", "error.message", "error.stack_trace")),
        ],
    )
    def test_flat_exception_keys(self, preset: str, keys: tuple[str, str, str]) -> None:
        """otel and ecs use their own flat exception keys."""
        try:
            raise KeyError("missing")
        except KeyError:
            record = make_record(exc_info=sys.exc_info())
        parsed = render(JsonFormatter(preset=preset), record)
        assert parsed[keys[0]] == "KeyError"
        assert parsed[keys[1]] == "'missing'"
        assert "KeyError: 'missing'" in parsed[keys[2]]

    def test_stack_info(self) -> None:
        """stack_info=True adds the stack as a field."""
        stream = io.StringIO()
        configure(info=seed_info(), stream=stream, live=False)
        logging.getLogger("app").info("where am I", stack_info=True)
        [line] = lines(stream)
        assert line["stack"].startswith("Stack (most recent call last):")
        assert "test_stack_info" in line["stack"]

    def test_exc_info_without_exception(self) -> None:
        """exc_info=True outside an except block adds nothing and does not fail."""
        stream = io.StringIO()
        configure(info=seed_info(), stream=stream, live=False)
        logging.getLogger("app").error("no exception", exc_info=True)
        [line] = lines(stream)
        assert "exception" not in line

    def test_exc_text_only(self) -> None:
        """A record carrying only exc_text (e.g. from a socket handler) keeps the traceback."""
        record = make_record()
        record.exc_text = "Traceback (most recent call last):\nValueError: x"
        parsed = render(JsonFormatter(), record)
        assert parsed["exception"] == {"type": None, "message": None, "traceback": record.exc_text}


class TestValues:
    def test_json_types_and_fallbacks(self) -> None:
        """Extras of any type render: JSON types as is, sets as lists, bytes as text, else str."""

        class Thing:
            def __str__(self) -> str:
                return "thing!"

        extra = {
            "n": 1,
            "f": 1.5,
            "nan": float("nan"),
            "b": True,
            "none": None,
            "list": [1, "a"],
            "d": {"k": "v"},
            "s": {3},
            "raw": b"bytes",
            "obj": Thing(),
        }
        line = JsonFormatter().format(make_record(extra=extra))
        parsed = json.loads(line)
        assert parsed["n"] == 1
        assert parsed["f"] == 1.5
        assert parsed["b"] is True
        assert parsed["none"] is None
        assert parsed["list"] == [1, "a"]
        assert parsed["d"] == {"k": "v"}
        assert parsed["s"] == [3]
        assert parsed["raw"] == "bytes"
        assert parsed["obj"] == "thing!"
        assert parsed["nan"] == "nan"

    def test_non_finite_floats_stay_strict_json(self) -> None:
        """NaN and infinities, bare or nested, are written as strings: the line is strict JSON."""
        extra = {"nan": float("nan"), "inf": float("-inf"), "nested": {"v": float("inf")}}
        line = JsonFormatter().format(make_record(extra=extra))

        def refuse(constant: str) -> None:
            raise AssertionError(f"non-JSON constant {constant} in {line}")

        parsed = json.loads(line, parse_constant=refuse)
        assert parsed["nan"] == "nan"
        assert parsed["inf"] == "-inf"
        assert parsed["nested"] == "{'v': inf}"

    def test_lone_surrogates_are_escaped(self) -> None:
        """Undecodable file names (os.fsdecode surrogates) are escaped, so the line encodes."""
        name = os.fsdecode(b"caf\xe9.txt")
        record = make_record("open %s", extra={"path": name})
        record.args = (name,)
        line = JsonFormatter().format(record)
        line.encode("utf-8")  # would raise with a raw surrogate
        assert "\\udce9" in line
        parsed = json.loads(line)
        assert parsed["message"] == "open " + name
        assert parsed["path"] == name
        assert "한" in JsonFormatter().format(make_record("한 " + name))

    def test_unencodable_extra_does_not_lose_the_line(self) -> None:
        """A dict with tuple keys or a circular list is written as repr, not an error."""
        circular: list[object] = []
        circular.append(circular)
        parsed = render(JsonFormatter(), make_record(extra={"t": {(1, 2): 3}, "c": circular}))
        assert parsed["t"] == "{(1, 2): 3}"
        assert parsed["c"] == "[[...]]"

    def test_broken_str(self) -> None:
        """An extra whose __str__ raises still gives a line."""

        class Broken:
            def __str__(self) -> str:
                raise RuntimeError("no")

        assert render(JsonFormatter(), make_record(extra={"x": Broken()}))["x"] == (
            "<unprintable Broken>"
        )

    def test_fields_option(self) -> None:
        """fields= adds record attributes after the message, by name or renamed."""
        formatter = JsonFormatter(fields={"logger": "name", "line": "lineno"})
        parsed = render(formatter, make_record(extra={"a": 1}))
        assert list(parsed)[:6] == ["timestamp", "level", "message", "logger", "line", "a"]
        assert (parsed["logger"], parsed["line"]) == ("app", 1)
        assert list(render(JsonFormatter(fields=["name"]), make_record()))[3] == "name"

    def test_args_are_merged(self) -> None:
        """%-style arguments are merged into the message like logging does."""
        record = logging.getLogger("app").makeRecord(
            "app", logging.INFO, __file__, 1, "%d items in %s", (3, "cart"), None
        )
        assert render(JsonFormatter(), record)["message"] == "3 items in cart"

    def test_custom_record_layout(self) -> None:
        """A record class that sets attributes before LogRecord.__init__ keeps its extras."""

        class Early(logging.LogRecord):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                self.trace_id = "t-1"
                super().__init__(*args, **kwargs)

        record = Early("app", logging.INFO, __file__, 1, "m", (), None)
        assert render(JsonFormatter(), record)["trace_id"] == "t-1"

    def test_bad_identity_argument(self) -> None:
        """identity must be None, True or a PodIdentityFilter."""
        with pytest.raises(TypeError, match="identity 'yes'"):
            JsonFormatter(identity="yes")  # type: ignore[arg-type]

    def test_identity_true_builds_its_own(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """identity=True describes podself.current() with the formatter's preset."""
        monkeypatch.setattr(podself, "_current", seed_info())
        parsed = render(JsonFormatter(preset="otel", identity=True), make_record())
        assert parsed["k8s.pod.name"] == "api-server-5d8c7f6b9-xk2jp"

    def test_update_changes_the_embedded_identity(self) -> None:
        """filter.update() is seen by a formatter that embeds the filter."""
        filt = PodIdentityFilter(info=seed_info())
        formatter = JsonFormatter(identity=filt)
        assert render(formatter, make_record())["node"] == "node-3"
        filt.update(seed_info(node_name="node-4"))
        assert render(formatter, make_record())["node"] == "node-4"


class TestConfigure:
    def test_replaces_its_own_handler(self) -> None:
        """Calling configure() twice leaves one podself handler; other handlers stay."""
        other = logging.NullHandler()
        logging.getLogger().addHandler(other)
        first, second = io.StringIO(), io.StringIO()
        configure(info=seed_info(), stream=first, live=False)
        setup = configure(info=seed_info(), stream=second, live=False, preset="otel")
        logging.getLogger("app").info("once")
        assert first.getvalue() == ""
        assert lines(second)[0]["k8s.pod.name"] == "api-server-5d8c7f6b9-xk2jp"
        assert other in logging.getLogger().handlers
        assert setup.handler in logging.getLogger().handlers
        logging.getLogger().removeHandler(other)

    def test_force_removes_other_handlers(self) -> None:
        """force=True removes every other handler on the logger."""
        logger = logging.getLogger("app")
        other = logging.NullHandler()
        logger.addHandler(other)
        setup = configure(
            info=seed_info(), stream=io.StringIO(), logger="app", force=True, live=False
        )
        assert logger.handlers == [setup.handler]
        setup.close()
        assert logger.handlers == []

    def test_defaults_to_stdout(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Without stream= the lines go to stdout."""
        configure(info=seed_info(), live=False)
        logging.getLogger("app").info("to stdout")
        assert json.loads(capsys.readouterr().out)["message"] == "to stdout"

    def test_level_argument(self) -> None:
        """level= sets the level of the logger and of level_loggers."""
        setup = configure(
            "warning", info=seed_info(), stream=io.StringIO(), level_loggers=["uvicorn"], live=False
        )
        assert logging.getLogger().level == logging.WARNING
        assert logging.getLogger("uvicorn").level == logging.WARNING
        assert (setup.level, setup.level_source) == (logging.WARNING, "level argument")

    def test_log_level_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """$LOG_LEVEL sets the level when no argument does."""
        monkeypatch.setenv("LOG_LEVEL", "debug")
        setup = configure(info=seed_info(), stream=io.StringIO(), live=False)
        assert logging.getLogger().level == logging.DEBUG
        assert setup.level_source == "env LOG_LEVEL"

    def test_bad_log_level_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A bad $LOG_LEVEL is reported in the log and INFO is used."""
        monkeypatch.setenv("LOG_LEVEL", "loud")
        stream = io.StringIO()
        configure(info=seed_info(), stream=stream, live=False)
        assert logging.getLogger().level == logging.INFO
        [line] = lines(stream)
        assert line["level"] == "WARNING"
        assert line["message"].startswith("env LOG_LEVEL='loud': a level is a name")

    def test_bad_level_argument(self) -> None:
        """A bad level argument is a programming error and raises."""
        with pytest.raises(ValueError, match="log level 'loud': a level is a name"):
            configure("loud", info=seed_info(), stream=io.StringIO(), live=False)

    def test_label_overrides_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The pod's log-level label overrides $LOG_LEVEL at start."""
        monkeypatch.setenv("LOG_LEVEL", "warning")
        info = seed_info(labels={"log-level": "debug"})
        setup = configure(info=info, stream=io.StringIO(), live=False)
        assert logging.getLogger().level == logging.DEBUG
        assert setup.level_source == "label 'log-level' in labels"

    def test_annotation_overrides_label(self) -> None:
        """The log-level annotation wins over the label."""
        info = seed_info(labels={"log-level": "debug"}, annotations={"log-level": "error"})
        configure(info=info, stream=io.StringIO(), live=False)
        assert logging.getLogger().level == logging.ERROR

    def test_bad_label_value(self) -> None:
        """A bad log-level label is reported and the base level used."""
        stream = io.StringIO()
        configure(info=seed_info(labels={"log-level": "chatty"}), stream=stream, live=False)
        assert logging.getLogger().level == logging.INFO
        assert "log level 'chatty' from label 'log-level'" in lines(stream)[0]["message"]

    def test_live_true_without_volume_warns(self, tmp_path: Path) -> None:
        """live=True without a Downward API volume says the level will not follow."""
        stream = io.StringIO()
        setup = configure(info=outside_pod(tmp_path), stream=stream, live=True)
        assert setup.follower is None
        assert "will not follow" in lines(stream)[0]["message"]

    def test_close_undoes(self) -> None:
        """LogSetup.close() removes the handler; closing twice is harmless."""
        setup = configure(info=seed_info(), stream=io.StringIO(), live=False)
        setup.close()
        setup.close()
        assert setup.handler not in logging.getLogger().handlers


DOC = ROOT / "docs" / "logging.md"


def doc_blocks(language: str) -> list[str]:
    """Fenced code blocks of docs/logging.md in ``language`` that configure logging."""
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)
    return [b for b in blocks if "podself.logs." in b and ("dictConfig" in b or "version" in b)]


class TestDictConfig:
    @pytest.fixture(autouse=True)
    def _pod(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(podself, "_current", seed_info())

    def test_docs_have_snippets(self) -> None:
        """docs/logging.md holds dictConfig snippets in Python and YAML."""
        assert len(doc_blocks("python")) >= 2
        assert len(doc_blocks("yaml")) >= 1

    @pytest.mark.parametrize("index", [0, 1])
    def test_python_snippets_run(self, index: int, capsys: pytest.CaptureFixture[str]) -> None:
        """Each Python dictConfig snippet of the docs configures JSON lines with identity."""
        code = doc_blocks("python")[index]
        exec(compile(textwrap.dedent(code), f"docs/logging.md#dictconfig-{index}", "exec"), {})
        logging.getLogger("app").info("Request processed", extra={"request_id": "abc-123"})
        out = capsys.readouterr().out.splitlines()
        parsed = json.loads(out[-1])
        assert parsed["message"] == "Request processed"
        assert parsed["request_id"] == "abc-123"
        assert any(value == "api-server-5d8c7f6b9-xk2jp" for value in parsed.values())

    def test_yaml_snippet_runs(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The YAML dictConfig snippet (for uvicorn --log-config and friends) works."""
        yaml = pytest.importorskip("yaml")
        logging.config.dictConfig(yaml.safe_load(doc_blocks("yaml")[0]))
        logging.getLogger("app").warning("from yaml")
        parsed = json.loads(capsys.readouterr().out.splitlines()[-1])
        assert parsed["message"] == "from yaml"
        assert any(value == "api-server-5d8c7f6b9-xk2jp" for value in parsed.values())


class TestImports:
    def test_core_imports_no_optional_dependency(self) -> None:
        """import podself and podself.logs load neither structlog nor OpenTelemetry."""
        code = (
            "import sys, podself\n"
            "assert 'podself.logs' not in sys.modules, 'podself imported podself.logs'\n"
            "import podself.logs\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('structlog', 'opentelemetry', 'pythonjsonlogger'))\n"
            "print(','.join(bad))\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
        )
        assert result.stdout.strip() == ""


class TestFakePod:
    def test_identity_from_downward_volume(self, tmp_path: Path) -> None:
        """The fields come from a pod read through env and a Downward API volume."""
        pod = FakePod(
            tmp_path,
            name="api-server-5d8c7f6b9-xk2jp",
            namespace="production",
            node_name="node-3",
            labels={"app": "api", "pod-template-hash": "5d8c7f6b9"},
            extra_env={"K8S_CONTAINER_NAME": "api"},
        )
        fields = identity_fields(pod.read(), preset="otel", labels=["app"])
        assert fields["k8s.pod.name"] == "api-server-5d8c7f6b9-xk2jp"
        assert fields["k8s.container.name"] == "api"
        assert fields["k8s.deployment.name"] == "api-server"
        assert fields["k8s.pod.label.app"] == "api"
