"""Offline units: bucketing vectors (REFERENCE §4), the SSE parser, the filter/test/global lists
the local environment exposes, content hashes of fallback-style content, and OpenTelemetry."""

from __future__ import annotations

import minijinja
import pytest

from opm.bucketing import Split, murmur3_x86_32, normalized_hash, variant_index
from opm.canonical import _float
from opm.template import SERVER_FILTERS, SERVER_GLOBALS, SERVER_TESTS, _environment
from opm.watch import parse_sse


def test_murmur3_and_unleash_vectors() -> None:
    assert murmur3_x86_32(b"", 0) == 0
    assert murmur3_x86_32(b"", 1) == 0x514E28B7
    assert murmur3_x86_32(b"hello", 0) == 0x248BFA47
    assert murmur3_x86_32(b"", 0xFFFFFFFF) == 0x81F16F39
    assert murmur3_x86_32(bytes([0xFF] * 4), 0) == 0x76293B50
    assert murmur3_x86_32(bytes([0x21, 0x43, 0x65, 0x87]), 0x5082EDEE) == 0x2362F9DE
    assert murmur3_x86_32(bytes([0x21, 0x43, 0x65]), 0) == 0x7E4A8634
    assert murmur3_x86_32(bytes([0x21, 0x43]), 0) == 0xA0F7B07A
    assert murmur3_x86_32(bytes([0x21]), 0) == 0x72661CF4
    assert murmur3_x86_32(b"The quick brown fox jumps over the lazy dog", 0x9747B28C) == 0x2FA826CD
    assert normalized_hash("Feature.flexibleRollout.10", "174", 100, 0) == 10
    assert normalized_hash("Feature.flexibleRollout.10", "499", 100, 0) == 32
    assert normalized_hash("Feature.flexibleRollout.userId.55", "25", 100, 0) == 55
    assert normalized_hash("gr1", "123", 100, 0) == 73
    assert [variant_index("Feature.Variants.C", u, [33, 33, 33]) for u in ("232", "607", "656")] == [0, 1, 2]
    assert [variant_index("Feature.Variants.D", u, [1, 49, 50]) for u in ("712", "525", "537")] == [0, 1, 2]


def test_split_edges() -> None:
    split = Split(((7, 90), (8, 10)), "default/welcome/production", "unleash-murmur3-x86_32", 1)
    assert split.assign(None, lambda: 95) == (1, 8, False)  # random 95 → bucket 96 → the last 10 %
    assert split.assign("", lambda: 0) == (0, 7, False)  # an empty key counts as no key
    first = split.assign("user-42")
    assert first[2] and split.assign("user-42") == first
    all_base = Split(((1, 100), (2, 0)), "g", "unleash-murmur3-x86_32", 1)
    assert {all_base.assign(f"k{i}")[1] for i in range(200)} == {1}


def test_serde_json_float_format() -> None:
    cases = {0.3: "0.3", 1.0: "1.0", 100.0: "100.0", 1e15: "1000000000000000.0", 1e16: "1e+16",
             1.5e300: "1.5e+300", 1e-5: "0.00001", 1.5e-5: "0.000015", 1e-6: "1e-6", 2.5e-7: "2.5e-7",
             -2.5: "-2.5", 123456.789: "123456.789"}
    for value, expected in [*cases.items(), (-0.0, "-0.0"), (0.0, "0.0")]:
        assert _float(value) == expected, value


def test_sse_parser() -> None:
    lines = ["id: 7", "event: label.set", 'data: {"prompt": "a"}', "", ": keep-alive", "",
             "data: one", "data:two", "", "id: 9", "data: last"]
    assert list(parse_sse(iter(lines))) == [("7", "label.set", '{"prompt": "a"}'), ("7", "message", "one\ntwo"),
                                            ("9", "message", "last")]


def test_the_local_environment_has_exactly_the_servers_filters_tests_and_globals() -> None:
    env = _environment()
    python_defaults = minijinja.Environment()
    candidates = set(SERVER_FILTERS) | {"urlencode", "truncate", "wordwrap", "striptags", "pluralize",
                                        "filesizeformat", "wordcount", "random"}
    for name in candidates:
        assert (env.eval_expr(f"{name!r} is filter") is True) == (name in SERVER_FILTERS), name
    assert python_defaults.eval_expr("'urlencode' is filter") is True  # the package has it, we removed it
    for name in SERVER_TESTS:
        assert env.eval_expr(f"{name!r} is test") is True, name
    for name in SERVER_GLOBALS:
        assert env.eval_expr(f"{name} is defined") is True, name
    for name in ("cycler", "joiner"):
        with pytest.raises(minijinja.TemplateError):
            env.render_str("{{ " + name + "() }}")


def test_opentelemetry_attributes_on_the_current_span() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from opm.includes import Resolution
    from opm.prompt import Arm, Prompt

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    prompt = Prompt(name="welcome", version=8, label="production",
                    arm=Arm(8, 1, 10, True, "unleash-murmur3-x86_32", 1), content_hash="sha256:x",
                    content={"type": "text", "template": "hi", "variables": {}}, resolution=Resolution())
    with tracer.start_as_current_span("llm call"):
        assert prompt.render() == "hi"
    prompt.render()  # no current span: nothing to set, no error
    (span,) = exporter.get_finished_spans()
    assert dict(span.attributes or {}) == {"gen_ai.prompt.name": "welcome", "gen_ai.prompt.version": "8",
                                           "opm.prompt.label": "production", "opm.rollout.arm": "8"}
    assert trace.get_current_span().is_recording() is False
