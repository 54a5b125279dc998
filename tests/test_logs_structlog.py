"""Tests for the structlog integration of podself.logs (skipped without structlog)."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

import podself
from podself.logs import PodIdentityProcessor, add_pod_identity, configure, structlog_processors
from podself.logs import _structlog as processors_module
from podself.pod import PodInfo, Workload

structlog = pytest.importorskip("structlog")

# structlog's own TimeStamper writes microseconds (the stdlib formatter milliseconds).
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
SEED_KEYS = [
    "timestamp",
    "level",
    "message",
    "pod",
    "namespace",
    "node",
    "request_id",
    "duration_ms",
]


def seed_info(**changes: Any) -> PodInfo:
    """The pod of the seed's example line."""
    values: dict[str, Any] = {
        "name": "api-server-5d8c7f6b9-xk2jp",
        "namespace": "production",
        "node_name": "node-3",
        "container": "api",
        "labels": {"app": "api-server", "pod-template-hash": "5d8c7f6b9"},
        "workload": Workload(kind="Deployment", name="api-server"),
    }
    values.update(changes)
    return PodInfo(**values)


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    for handler in list(root.handlers):
        if handler not in handlers:
            setup = getattr(handler, "setup", None)
            if setup is not None:
                setup.close()
            root.removeHandler(handler)
    root.setLevel(level)


def printed(stream: io.StringIO) -> list[dict[str, Any]]:
    """Every JSON line structlog printed."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def configure_print(stream: io.StringIO, **options: Any) -> None:
    """structlog printing podself's processor chain to ``stream``."""
    structlog.configure(
        processors=structlog_processors(**options),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )


class TestProcessor:
    def test_adds_identity(self) -> None:
        """The processor adds pod, namespace and node to the event dict."""
        processor = PodIdentityProcessor(seed_info())
        event = processor(None, "info", {"event": "hi"})
        assert event == {
            "event": "hi",
            "pod": "api-server-5d8c7f6b9-xk2jp",
            "namespace": "production",
            "node": "node-3",
        }

    def test_event_keys_win(self) -> None:
        """An event key named like an identity field keeps its value; identity is renamed."""
        processor = PodIdentityProcessor(seed_info())
        event = processor(None, "info", {"event": "scaled", "pod": "worker-7"})
        assert event["pod"] == "worker-7"
        assert event["podself.pod"] == "api-server-5d8c7f6b9-xk2jp"

    def test_presets_and_labels(self) -> None:
        """Presets and label selection work as for the stdlib filter."""
        processor = PodIdentityProcessor(seed_info(), preset="otel", labels=["app"])
        event = processor(None, "info", {"event": "x"})
        assert event["k8s.deployment.name"] == "api-server"
        assert event["k8s.pod.label.app"] == "api-server"
        assert "k8s.pod.label.pod-template-hash" not in event

    def test_update(self) -> None:
        """update() replaces the fields."""
        processor = PodIdentityProcessor(seed_info())
        processor.update(seed_info(node_name="node-9"))
        assert processor(None, "info", {})["node"] == "node-9"

    def test_module_level_processor(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """add_pod_identity describes podself.current(), computed on first use."""
        monkeypatch.setattr(podself, "_current", seed_info())
        monkeypatch.setattr(processors_module, "_DEFAULT", None)
        event = add_pod_identity(None, "info", {"event": "x"})
        assert event["pod"] == "api-server-5d8c7f6b9-xk2jp"


class TestChain:
    def test_seed_line_key_for_key(self) -> None:
        """structlog with podself's chain prints the seed's line, keys in order."""
        stream = io.StringIO()
        configure_print(stream, info=seed_info())
        structlog.get_logger().info("Request processed", request_id="abc-123", duration_ms=45)
        [line] = printed(stream)
        assert list(line) == SEED_KEYS
        assert TIMESTAMP.match(line["timestamp"])
        assert line["level"] == "INFO"
        assert line["message"] == "Request processed"
        assert (line["pod"], line["namespace"], line["node"]) == (
            "api-server-5d8c7f6b9-xk2jp",
            "production",
            "node-3",
        )
        assert (line["request_id"], line["duration_ms"]) == ("abc-123", 45)

    def test_bound_and_context_values(self) -> None:
        """Bound values and contextvars come after the identity."""
        stream = io.StringIO()
        configure_print(stream, info=seed_info())
        structlog.contextvars.bind_contextvars(trace_id="t-1")
        structlog.get_logger().bind(user="u-1").warning("careful")
        [line] = printed(stream)
        assert list(line)[3:6] == ["pod", "namespace", "node"]
        assert set(list(line)[6:]) == {"trace_id", "user"}
        assert line["level"] == "WARNING"

    def test_korean_text(self) -> None:
        """Korean text is printed as is."""
        stream = io.StringIO()
        configure_print(stream, info=seed_info(annotations={"설명": "결제"}), annotations=True)
        structlog.get_logger().info("요청 처리 완료", 사용자="홍길동")
        assert "\\u" not in stream.getvalue()
        [line] = printed(stream)
        assert line["message"] == "요청 처리 완료"
        assert line["annotations"] == {"설명": "결제"}
        assert line["사용자"] == "홍길동"

    def test_exception(self) -> None:
        """log.exception() gives the same exception object as the stdlib formatter."""
        stream = io.StringIO()
        configure_print(stream, info=seed_info())
        try:
            int("abc")
        except ValueError:
            structlog.get_logger().exception("parse failed")
        [line] = printed(stream)
        assert line["level"] == "ERROR"
        assert line["exception"]["type"] == "ValueError"
        assert line["exception"]["traceback"].startswith("Traceback (most recent call last):")

    def test_exc_info_instance_and_stack(self) -> None:
        """exc_info=<exception> and stack_info=True are rendered as fields."""
        stream = io.StringIO()
        configure_print(stream, info=seed_info(), preset="otel")
        error = KeyError("k")
        structlog.get_logger().error("boom", exc_info=error, stack_info=True)
        [line] = printed(stream)
        assert line["exception.type"] == "KeyError"
        assert line["exception.message"] == "'k'"
        assert "code.stacktrace" in line

    def test_ecs_shape(self) -> None:
        """The ecs preset renames the timestamp and level keys and lowers the level."""
        stream = io.StringIO()
        configure_print(stream, info=seed_info(), preset="ecs")
        structlog.get_logger().warning("w", level_hint="x")
        [line] = printed(stream)
        assert list(line)[:3] == ["@timestamp", "log.level", "message"]
        assert line["log.level"] == "warning"
        assert line["kubernetes.pod.name"] == "api-server-5d8c7f6b9-xk2jp"

    def test_event_key_named_like_formatter_key(self) -> None:
        """An event key called timestamp is kept as extra.timestamp."""
        stream = io.StringIO()
        configure_print(stream, info=seed_info())
        structlog.get_logger().info("x", timestamp=1)
        [line] = printed(stream)
        assert line["extra.timestamp"] == 1
        assert TIMESTAMP.match(line["timestamp"])

    def test_without_renderer(self) -> None:
        """renderer=False leaves the dict for your own renderer; the identity is reachable."""
        chain = structlog_processors(seed_info(), renderer=False)
        assert isinstance(chain[-1].identity, PodIdentityProcessor)
        assert isinstance(structlog_processors(seed_info())[-2].identity, PodIdentityProcessor)

    def test_built_from_structlogs_processors(self) -> None:
        """The chain uses structlog's own level, time, event and exception processors."""
        chain = structlog_processors(seed_info(), preset="ecs")
        kinds = {type(p) for p in chain}
        assert structlog.processors.add_log_level in chain
        assert {
            structlog.processors.TimeStamper,
            structlog.processors.EventRenamer,
            structlog.processors.StackInfoRenderer,
            structlog.processors.ExceptionRenderer,
        } <= kinds

    def test_level_event_key_is_kept(self) -> None:
        """An event key called level (add_log_level writes one) is kept as extra.level."""
        stream = io.StringIO()
        configure_print(stream, info=seed_info(), preset="ecs")
        structlog.get_logger().info("x", level=3, **{"ecs.version": "mine"})
        [line] = printed(stream)
        assert (line["log.level"], line["extra.level"]) == ("info", 3)
        assert (line["ecs.version"], line["extra.ecs.version"]) == ("1.6.0", "mine")

    def test_dict_tracebacks(self) -> None:
        """tracebacks="dict" puts structlog's structured traceback under the preset's key."""
        stream = io.StringIO()
        structlog.configure(
            processors=structlog_processors(info=seed_info(), preset="otel", tracebacks="dict"),
            logger_factory=structlog.PrintLoggerFactory(stream),
            cache_logger_on_first_use=False,
        )
        try:
            int("abc")
        except ValueError:
            structlog.get_logger().exception("parse failed")
        [line] = printed(stream)
        assert line["exception.type"] == "ValueError"
        assert line["exception.message"].startswith("invalid literal")
        assert line["exception.stacktrace"][0]["frames"][-1]["name"] == "test_dict_tracebacks"

    def test_gcp_shape(self) -> None:
        """The gcp preset: time, severity, message, identity inside the labels object."""
        stream = io.StringIO()
        configure_print(stream, info=seed_info(), preset="gcp", labels=["app"])
        structlog.get_logger().warning("w")
        [line] = printed(stream)
        assert list(line)[:3] == ["time", "severity", "message"]
        assert line["severity"] == "WARNING"
        assert line["logging.googleapis.com/labels"]["pod_name"] == "api-server-5d8c7f6b9-xk2jp"
        assert line["logging.googleapis.com/labels"]["k8s-pod/app"] == "api-server"

    def test_gcp_trace(self) -> None:
        """The gcp preset: inside an OpenTelemetry span (the real SDK), the trace, span ID
        and sampling flag, as the stdlib formatter writes them."""
        sdk = pytest.importorskip("opentelemetry.sdk.trace")
        stream = io.StringIO()
        configure_print(stream, info=seed_info(), preset="gcp")
        with sdk.TracerProvider().get_tracer("t").start_as_current_span("job") as span:
            structlog.get_logger().info("i")
        structlog.get_logger().info("after")
        inside, after = printed(stream)
        context = span.get_span_context()
        assert inside["logging.googleapis.com/trace"] == f"{context.trace_id:032x}"
        assert inside["logging.googleapis.com/spanId"] == f"{context.span_id:016x}"
        assert inside["logging.googleapis.com/trace_sampled"] is True
        assert "logging.googleapis.com/trace" not in after

    def test_bad_tracebacks_option(self) -> None:
        """tracebacks must be text or dict."""
        with pytest.raises(ValueError, match='tracebacks "rich": must be "text" or "dict"'):
            structlog_processors(seed_info(), tracebacks="rich")


class TestThroughStdlib:
    def test_structlog_into_configure(self) -> None:
        """structlog routed into stdlib logging gets the identity from configure()."""
        stream = io.StringIO()
        configure(info=seed_info(), stream=stream, live=False)
        structlog.configure(
            processors=[
                structlog.stdlib.filter_by_level,
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.render_to_log_kwargs,
            ],
            logger_factory=structlog.stdlib.LoggerFactory(),
            wrapper_class=structlog.stdlib.BoundLogger,
            cache_logger_on_first_use=False,
        )
        log = structlog.get_logger("app")
        log.info("Request processed", request_id="abc-123", duration_ms=45)
        log.debug("filtered by the stdlib level")
        [line] = [json.loads(x) for x in stream.getvalue().splitlines()]
        assert list(line) == SEED_KEYS
