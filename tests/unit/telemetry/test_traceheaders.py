"""Each trace header format, checked against its own spec (service/telemetry/traceheaders.py)."""

from __future__ import annotations

import pytest

from service.telemetry import traceheaders
from tests.support.constants import PARENT_SPAN_ID, TRACE_ID, TRACEPARENT

# --- traceparent ---------------------------------------------------------------------------


def test_a_valid_traceparent_is_split_into_its_fields() -> None:
    parsed = traceheaders.traceparent(TRACEPARENT)
    assert parsed == {
        "value": TRACEPARENT,
        "valid": True,
        "error": None,
        "version": "00",
        "trace_id": TRACE_ID,
        "span_id": PARENT_SPAN_ID,
        "flags": "01",
        "sampled": True,
    }


def test_sampled_is_the_low_bit_of_the_flags() -> None:
    assert traceheaders.traceparent(f"00-{TRACE_ID}-{PARENT_SPAN_ID}-02")["sampled"] is False
    assert traceheaders.traceparent(f"00-{TRACE_ID}-{PARENT_SPAN_ID}-03")["sampled"] is True


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (f"00-{TRACE_ID.upper()}-{PARENT_SPAN_ID}-01", "trace id must be lowercase hex digits"),
        (f"00-{'0' * 32}-{PARENT_SPAN_ID}-01", "trace id is all zeros"),
        (f"00-{TRACE_ID}-{'0' * 16}-01", "parent id is all zeros"),
        (f"00-{TRACE_ID[:-1]}-{PARENT_SPAN_ID}-01", "trace id must be 32 hex digits, got 31"),
        (f"00-{TRACE_ID}-{PARENT_SPAN_ID}0-01", "parent id must be 16 hex digits, got 17"),
        (f"ff-{TRACE_ID}-{PARENT_SPAN_ID}-01", "version ff is forbidden"),
        (f"0x-{TRACE_ID}-{PARENT_SPAN_ID}-01", "version must be hex digits"),
        (f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01-extra", "version 00 has exactly four fields"),
        (f"00-{TRACE_ID}-{PARENT_SPAN_ID}-0g", "flags must be hex digits"),
        (f"{TRACEPARENT}, {TRACEPARENT}", "version 00 has exactly four fields"),  # two joined
        ("garbage", "expected version-traceid-parentid-flags"),
    ],
)
def test_invalid_traceparents_say_why(value: str, error: str) -> None:
    parsed = traceheaders.traceparent(value)
    assert parsed == {"value": value, "valid": False, "error": error}


def test_a_future_version_may_carry_more_fields() -> None:
    parsed = traceheaders.traceparent(f"01-{TRACE_ID}-{PARENT_SPAN_ID}-01-what-ever")
    assert parsed["valid"] is True
    assert parsed["version"] == "01"


# --- tracestate ----------------------------------------------------------------------------


def test_tracestate_members_in_order() -> None:
    parsed = traceheaders.tracestate("congo=t61rcWkgMzE, rojo=00f067aa0ba902b7,,tenant@sys=x")
    assert parsed["valid"] is True
    assert parsed["members"] == [
        {"key": "congo", "value": "t61rcWkgMzE"},
        {"key": "rojo", "value": "00f067aa0ba902b7"},
        {"key": "tenant@sys", "value": "x"},
    ]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("Congo=1", "bad key in member 'Congo=1'"),
        ("congo", "bad key in member 'congo'"),
        ("a=1,a=2", "key 'a' repeats"),
        ("a=x,y", "bad key in member 'y'"),
        ("a=va=lue", "bad value for key 'a'"),
        (",".join(f"k{i}=v" for i in range(33)), "33 members: at most 32"),
    ],
)
def test_invalid_tracestates_say_why(value: str, error: str) -> None:
    assert traceheaders.tracestate(value)["error"] == error


# --- X-Cloud-Trace-Context -----------------------------------------------------------------


def test_cloud_trace_span_id_is_decimal_and_shown_as_hex() -> None:
    parsed = traceheaders.cloud_trace(f"{TRACE_ID}/{int(PARENT_SPAN_ID, 16)};o=1")
    assert parsed["valid"] is True
    assert (parsed["trace_id"], parsed["span_id"], parsed["sampled"]) == (
        TRACE_ID,
        PARENT_SPAN_ID,
        True,
    )


def test_cloud_trace_without_options_leaves_sampled_unknown() -> None:
    assert traceheaders.cloud_trace(f"{TRACE_ID}/1")["sampled"] is None


@pytest.mark.parametrize(
    ("value", "span_id", "sampled", "note"),
    [
        (TRACE_ID, None, None, "no usable span id: continued under a stand-in parent"),
        (f"{TRACE_ID};o=1", None, True, "no usable span id: continued under a stand-in parent"),
        (f"{TRACE_ID}/0;o=1", None, True, "no usable span id: continued under a stand-in parent"),
        (f"{TRACE_ID}/{1 << 64};o=0", None, False, "no usable span id"),
        (f"{TRACE_ID.upper()}/1;o=2", "0000000000000001", False, "uppercase hex"),
    ],
)
def test_cloud_trace_forms_googles_libraries_continue(
    value: str, span_id: str | None, sampled: bool | None, note: str
) -> None:
    parsed = traceheaders.cloud_trace(value)
    assert parsed["valid"] is True
    assert (parsed["trace_id"], parsed["span_id"], parsed["sampled"]) == (
        TRACE_ID,
        span_id,
        sampled,
    )
    assert parsed["note"].startswith(note)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (f"{TRACE_ID}/abc;o=1", "span id must be a decimal number"),
        (f"{TRACE_ID}/{'9' * 21};o=1", "span id must be a decimal number"),
        (f"{TRACE_ID}/1;o=x", "o= must be a number (1: sampled)"),
        (f"{TRACE_ID[:-1]}/1;o=1", f"trace id must be 32 hex digits, got {TRACE_ID[:-1]!r}"),
        (f"{'0' * 32}/1;o=1", "trace id is all zeros"),
    ],
)
def test_invalid_cloud_trace_headers_say_why(value: str, error: str) -> None:
    assert traceheaders.cloud_trace(value)["error"] == error


# --- baggage and B3 ------------------------------------------------------------------------


def test_baggage_entries_are_decoded_and_properties_dropped() -> None:
    parsed = traceheaders.baggage("userId=al%20ice, tier=gold;ttl=60")
    assert parsed["entries"] == {"userId": "al ice", "tier": "gold"}


def test_baggage_without_a_key_is_invalid() -> None:
    assert traceheaders.baggage("=x")["valid"] is False


def test_b3_single_with_a_64_bit_trace_id_is_left_padded() -> None:
    parsed = traceheaders.b3_single(f"{TRACE_ID[16:]}-{PARENT_SPAN_ID}-1")
    assert parsed["trace_id"] == "0" * 16 + TRACE_ID[16:]
    assert parsed["sampled"] is True


def test_b3_single_may_be_a_lone_sampling_decision() -> None:
    assert traceheaders.b3_single("0") == {
        "value": "0",
        "valid": True,
        "error": None,
        "trace_id": None,
        "span_id": None,
        "sampled": False,
    }


def test_b3_single_rejects_an_unknown_sampling_state() -> None:
    assert traceheaders.b3_single(f"{TRACE_ID}-{PARENT_SPAN_ID}-x")["valid"] is False


def test_b3_multi_headers_are_read_together() -> None:
    parsed = traceheaders.b3_multi(
        {"x-b3-traceid": TRACE_ID, "x-b3-spanid": PARENT_SPAN_ID, "x-b3-sampled": "1"}
    )
    assert (parsed["trace_id"], parsed["span_id"], parsed["sampled"]) == (
        TRACE_ID,
        PARENT_SPAN_ID,
        True,
    )


def test_b3_multi_needs_trace_and_span_together() -> None:
    parsed = traceheaders.b3_multi({"x-b3-traceid": TRACE_ID})
    assert parsed["error"] == "X-B3-TraceId and X-B3-SpanId come together"


def test_b3_debug_flag_means_sampled() -> None:
    parsed = traceheaders.b3_multi(
        {"x-b3-traceid": TRACE_ID, "x-b3-spanid": PARENT_SPAN_ID, "x-b3-flags": "1"}
    )
    assert parsed["sampled"] is True
