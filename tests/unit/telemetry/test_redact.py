"""Redaction: headers (through the log line's rules), mappings, query strings and URLs."""

from __future__ import annotations

import dataclasses

import pytest

from service.settings import Settings
from service.telemetry import logparts, redact

NAMES = frozenset({"authorization", "x-api-key"})
QUERY = frozenset({"token", "sig"})


def _rules(names: frozenset[str]) -> logparts.HeaderRules:
    """The log line's header rules redacting `names` (the one header redaction there is)."""
    return logparts.HeaderRules(dataclasses.replace(Settings.from_env({}), redact_headers=names))


def test_headers_redacts_named_headers_whatever_their_case() -> None:
    result = _rules(NAMES).response(
        {"Authorization": "a", "X-API-KEY": "b", "x-api-key": "c", "Accept": "d"}
    )
    assert result == {
        "Authorization": "[REDACTED]",
        "X-API-KEY": "[REDACTED]",
        "x-api-key": "[REDACTED]",
        "Accept": "d",
    }


def test_headers_returns_a_copy() -> None:
    original = {"Authorization": "a"}
    _rules(NAMES).response(original)
    assert original == {"Authorization": "a"}


def test_headers_with_no_names_is_unchanged() -> None:
    assert _rules(frozenset()).response({"Authorization": "a"}) == {"Authorization": "a"}


def test_mapping_without_names_redacts_every_value() -> None:
    assert redact.mapping({"a": "1", "b": ["2", "3"]}) == {"a": "[REDACTED]", "b": "[REDACTED]"}


def test_mapping_with_names_redacts_those_only() -> None:
    result = redact.mapping({"Token": "1", "keep": "2", "sig": ["3", "4"]}, QUERY)
    assert result == {"Token": "[REDACTED]", "keep": "2", "sig": "[REDACTED]"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("token=abc", "token=[REDACTED]"),
        ("a=1&token=abc&b=2", "a=1&token=[REDACTED]&b=2"),
        ("TOKEN=abc", "TOKEN=[REDACTED]"),
        ("token=abc&token=def", "token=[REDACTED]&token=[REDACTED]"),
        ("%74oken=abc", "%74oken=[REDACTED]"),
        ("sig=a%3Db=c", "sig=[REDACTED]"),
        ("token", "token=[REDACTED]"),
        ("token=", "token=[REDACTED]"),
        ("tokens=abc", "tokens=abc"),
        ("x=token", "x=token"),
        ("a=%20+&b=%zz", "a=%20+&b=%zz"),
        ("", ""),
    ],
)
def test_query_string(query: str, expected: str) -> None:
    assert redact.query_string(query, QUERY) == expected


def test_query_string_keeps_unredacted_parts_byte_for_byte() -> None:
    query = "a=%2F%2f&b=x+y&c&&d=é"
    assert redact.query_string(query, QUERY) == query


def test_query_string_with_no_names_is_unchanged() -> None:
    assert redact.query_string("token=abc", frozenset()) == "token=abc"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://h/p?token=abc&x=1", "http://h/p?token=[REDACTED]&x=1"),
        ("http://h/p", "http://h/p"),
        ("http://h/p?", "http://h/p?"),
        ("https://h:8443/a/b?x=1", "https://h:8443/a/b?x=1"),
        ("http://h/p?x=1&sig=zz", "http://h/p?x=1&sig=[REDACTED]"),
    ],
)
def test_url(url: str, expected: str) -> None:
    assert redact.url(url, QUERY) == expected


@pytest.mark.parametrize(
    ("secret", "text"),
    [
        ("abcdef-123", "x: abcdef-123"),  # plain, as it is
        ('quo"ted-secret', 'quo\\"ted-secret'),  # JSON-escaped: assumed, `occurs` decides
        ("back\\slash", "nothing alike"),
        ("tab\tsecret", "nothing alike"),
    ],
)
def test_could_occur_never_misses_a_form_the_body_redactor_finds(secret: str, text: str) -> None:
    assert redact.could_occur([secret], text)


def test_could_occur_is_false_when_no_plain_secret_occurs() -> None:
    assert not redact.could_occur(["abcdef-123", "zyxwvu"], "Content-Type: application/json")
    assert not redact.could_occur([], "abcdef-123")


def test_body_redactor_redacts_both_forms_where_they_stand_alone() -> None:
    redact_body = redact.body_redactor(['quo"ted-secret', "abcdef-123"])
    body = b'{"a": "quo\\"ted-secret", "b": "abcdef-123", "c": "xabcdef-123"}'
    assert redact_body(body) == b'{"a": "[REDACTED]", "b": "[REDACTED]", "c": "xabcdef-123"}'
    assert redact_body(b"none here") == b"none here"
