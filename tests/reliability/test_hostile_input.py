"""Hostile input: fuzz the SSE parser, payload validation and display text with hypothesis.

What ``tests/engine/test_sse.py`` and ``test_payload.py`` already cover (well-formed streams in
any split, the reference reading of 9.2.6, a fixed list of bad payloads, one 8 MiB line) is not
repeated. Here the input is arbitrary: random bytes, invalid UTF-8, huge fields, deep JSON,
escape sequences. The properties:

- only :class:`~guildwatch.errors.EventTooLarge` (parser) or
  :class:`~guildwatch.errors.PayloadError` (validation) ever escape, never anything else;
- the parser's memory stays bounded by the cap, whatever arrives;
- whatever reaches the store has the validated types; whatever reaches the screen's words
  (``guildwatch.display``) has no control or bidi characters.
"""

from __future__ import annotations

import contextlib
import json
import tracemalloc
import unicodedata
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guildwatch.display import hint, last_seen, safe, status_word
from guildwatch.engine import parse_status
from guildwatch.engine._sse import EventParser
from guildwatch.engine._stream import request_headers
from guildwatch.errors import EventTooLarge, PayloadError
from guildwatch.store import BotStatus, StatusStore

NOW = datetime(2026, 11, 22, 14, 3, tzinfo=UTC)
CAP = 512
GUILD = "1"

BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

hostile_text = st.lists(
    st.one_of(
        st.characters(),  # any code point, surrogates aside
        st.sampled_from(["\x1b[31m", "\x1b]8;;http://x\x07", "\u202e", "\r", "\x00", "[/]"]),
    ),
    max_size=60,
).map("".join)

# Byte soup biased towards what SSE cares about, so fields and events actually form.
sse_atoms = st.one_of(
    st.binary(max_size=40),
    st.sampled_from(
        [
            b"data:",
            b"data: ",
            b"id:",
            b"event:",
            b"retry:",
            b":",
            b"\n",
            b"\r",
            b"\r\n",
            b"\n\n",
            b"\xef\xbb\xbf",
            b"\xff\xfe",
            b"\xc3",
            b"\x00",
            b"\x1b[2J",
            b'{"healthy": true}',
            b'{"healthy": false, "version": "\\u001b[31m"}',
        ]
    ),
)


def feed_all(parser: EventParser, chunks: list[bytes]) -> list[Any]:
    """Feed every chunk; stop at the first EventTooLarge (the engine drops the connection)."""
    events: list[Any] = []
    for chunk in chunks:
        try:
            events += parser.feed(chunk)
        except EventTooLarge:
            break
    return events


def assert_store_holds_only_valid_types(store: StatusStore) -> None:
    status = store.get(GUILD).status
    if status is not None:
        assert isinstance(status.healthy, bool)
        assert status.version is None or isinstance(status.version, str)
        beat = status.last_heartbeat
        assert beat is None or (isinstance(beat, datetime) and beat.utcoffset() is not None)


def assert_displayable(text: str) -> None:
    for char in text:
        assert unicodedata.category(char) != "Cc", repr(text)
        assert char not in BIDI, repr(text)


def apply_like_the_engine(store: StatusStore, data: str) -> None:
    """What the engine does with one event: validate whole, apply or keep the last status."""
    try:
        status, warning = parse_status(data, now=NOW)
    except PayloadError:
        return  # rejected whole: the store keeps the last valid status
    store.apply_status(GUILD, status, source="stream", warning=warning)


@given(chunks=st.lists(st.lists(sse_atoms, max_size=30).map(b"".join), max_size=30))
@settings(max_examples=200, deadline=None)
def test_random_bytes_yield_validated_status_or_nothing(chunks: list[bytes]) -> None:
    parser = EventParser(CAP)
    store = StatusStore(clock=lambda: NOW)
    store.add_guild(GUILD)
    for event in feed_all(parser, chunks):
        assert isinstance(event.data, str)
        assert len(event.data.encode("utf-8")) <= CAP * 3  # U+FFFD may triple invalid bytes
        apply_like_the_engine(store, event.data)
    assert_store_holds_only_valid_types(store)
    assert_displayable(status_word(store.get(GUILD), NOW))
    assert_displayable(last_seen(store.get(GUILD), NOW))


@given(chunks=st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=40))
@settings(max_examples=300, deadline=None)
def test_parser_buffer_never_exceeds_the_cap(chunks: list[bytes]) -> None:
    parser = EventParser(CAP)
    for chunk in chunks:
        try:
            parser.feed(chunk)
        except EventTooLarge:
            return
        # The only thing the parser keeps between reads is the unfinished line.
        assert len(parser._splitter._buffer) <= CAP


def test_endless_random_bytes_keep_memory_bounded() -> None:
    """16 MiB of pseudo-random bytes with no line end: refused early, memory near one cap."""
    cap = 64 * 1024
    parser = EventParser(cap)
    noise = (
        bytes((i * 131 + 7) % 256 for i in range(8192)).replace(b"\n", b"x").replace(b"\r", b"y")
    )
    fed = 0

    def feed_sixteen_mib() -> None:
        nonlocal fed
        while fed < 16 * 1024 * 1024:
            parser.feed(noise)
            fed += len(noise)

    tracemalloc.start()
    try:
        with pytest.raises(EventTooLarge):
            feed_sixteen_mib()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fed <= cap + len(noise)
    assert peak < 4 * cap


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), hostile_text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(
    healthy=json_values,
    version=json_values,
    beat=st.one_of(json_values, st.datetimes().map(lambda d: d.isoformat())),
    extra=st.dictionaries(st.text(max_size=8), json_values, max_size=2),
)
@settings(max_examples=200, deadline=None)
def test_any_json_object_is_accepted_exactly_when_valid(
    healthy: object, version: object, beat: object, extra: dict[str, object]
) -> None:
    document = {**extra, "healthy": healthy, "version": version, "lastHeartbeat": beat}
    data = json.dumps(document)
    try:
        status, _ = parse_status(data, now=NOW)
    except PayloadError:
        valid_types = isinstance(healthy, bool) and (version is None or isinstance(version, str))
        assert not valid_types or beat is not None  # only a bad timestamp may reject it then
        return
    assert isinstance(healthy, bool)
    assert status == BotStatus(healthy, status.last_heartbeat, version)  # type: ignore[arg-type]
    assert status.last_heartbeat is None or status.last_heartbeat.tzinfo is not None


@given(text=st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_any_text_as_payload_raises_only_payload_error(text: str) -> None:
    with contextlib.suppress(PayloadError):  # anything else fails the test
        parse_status(text, now=NOW)


@pytest.mark.parametrize("depth", [100, 10_000, 200_000])
def test_deep_nesting_in_an_unknown_field_is_rejected_not_a_crash(depth: int) -> None:
    data = '{"healthy": true, "x": ' + "[" * depth + "]" * depth + "}"
    try:
        status, _ = parse_status(data, now=NOW)
    except PayloadError:
        assert depth > 100  # only nesting past the decoder's stack is refused
    else:
        assert status.healthy is True


def test_huge_version_is_kept_raw_but_shown_bounded() -> None:
    version = "\x1b[31m" + "9" * 900_000 + "\u202e"
    status, _ = parse_status(json.dumps({"healthy": True, "version": version}), now=NOW)
    assert status.version == version
    store = StatusStore(clock=lambda: NOW)
    store.add_guild(GUILD)
    store.apply_status(GUILD, status, source="stream")
    shown = last_seen(store.get(GUILD), NOW)
    assert len(shown) < 200
    assert_displayable(shown)


@given(version=hostile_text)
@settings(max_examples=150, deadline=None)
def test_no_server_text_reaches_the_screen_unsanitised(version: str) -> None:
    store = StatusStore(clock=lambda: NOW)
    store.add_guild(GUILD)
    status, _ = parse_status(json.dumps({"healthy": False, "version": version}), now=NOW)
    store.apply_status(GUILD, status, source="stream")
    store.set_connection(GUILD, "connected")
    snapshot = store.get(GUILD)
    for text in (last_seen(snapshot, NOW), status_word(snapshot, NOW), hint(snapshot)):
        assert_displayable(text)
    assert_displayable(safe(version))


@given(last_event_id=hostile_text)
@settings(max_examples=150, deadline=None)
def test_a_hostile_event_id_never_breaks_the_next_request(last_event_id: str) -> None:
    headers = request_headers("tok", accept="text/event-stream", last_event_id=last_event_id)
    for value in headers.values():
        assert value.isascii()
        assert value.isprintable()
