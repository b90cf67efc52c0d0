"""SSE parsing, byte by byte, against WHATWG HTML 9.2.6 (and httpx-sse's known defects)."""

from __future__ import annotations

import tracemalloc

import pytest
from httpx_sse._decoders import SSEDecoder, SSELineDecoder
from hypothesis import given, settings
from hypothesis import strategies as st

from guildwatch.engine._sse import EventParser, LineSplitter, SSEEvent
from guildwatch.errors import EventTooLarge

CAP = 1024 * 1024


def parse(*chunks: bytes, cap: int = CAP) -> tuple[list[SSEEvent], EventParser]:
    parser = EventParser(cap)
    events: list[SSEEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return events, parser


def datas(*chunks: bytes) -> list[str]:
    return [event.data for event in parse(*chunks)[0]]


# -- line splitting --------------------------------------------------------------------


def test_cr_lf_and_crlf_all_end_lines() -> None:
    assert datas(b"data: a\r\rdata: b\n\ndata: c\r\n\r\n") == ["a", "b", "c"]


def test_cr_only_event_dispatches_without_waiting_for_the_next_read() -> None:
    # httpx-sse holds a trailing CR back until the next chunk (docs/upstream-defects.md): not here.
    parser = EventParser(CAP)
    assert [e.data for e in parser.feed(b"data: a\r\r")] == ["a"]


def test_crlf_split_across_reads_is_one_line_end() -> None:
    assert datas(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n") == ["a\nb"]


def test_cr_then_lf_in_next_read_is_not_an_extra_blank_line() -> None:
    # A CR at the end of one read and an LF at the start of the next are one CRLF; were they
    # two line ends, the blank line would dispatch "a" alone.
    events, _ = parse(b"data: a\r", b"\ndata: b\n\n")
    assert [e.data for e in events] == ["a\nb"]


def test_unicode_line_separators_are_data() -> None:
    text = "a\u2028b\u2029c\x85d\x0be\x0cf"
    assert datas(f"data: {text}\n\n".encode()) == [text]


def test_splitter_returns_lines_without_terminators() -> None:
    splitter = LineSplitter(100)
    assert splitter.feed(b"one\rtwo\nthree\r\nfour") == [b"one", b"two", b"three"]
    assert splitter.feed(b"\r") == [b"four"]
    assert splitter.feed(b"\nfive\n") == [b"five"]


# -- byte order mark and decoding ------------------------------------------------------


def test_leading_bom_is_stripped() -> None:
    assert datas(b"\xef\xbb\xbfdata: first\n\ndata: second\n\n") == ["first", "second"]


@pytest.mark.parametrize("split", [1, 2])
def test_leading_bom_split_across_reads_is_stripped(split: int) -> None:
    stream = b"\xef\xbb\xbfdata: first\n\n"
    assert datas(stream[:split], stream[split:]) == ["first"]


def test_bom_one_byte_per_read_is_stripped() -> None:
    stream = b"\xef\xbb\xbfdata: first\n\n"
    assert datas(*(stream[i : i + 1] for i in range(len(stream)))) == ["first"]


def test_only_one_leading_bom_is_stripped() -> None:
    # 9.2.6: a second BOM is part of the first field name, so that line is ignored.
    assert datas(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\ndata: y\n\n") == ["y"]


def test_bom_later_in_the_stream_is_data() -> None:
    assert datas(b"data: \xef\xbb\xbfx\n\n") == ["\ufeffx"]


def test_utf8_split_across_reads_decodes() -> None:
    stream = "data: café ✓\n\n".encode()
    cut = stream.index(b"\xc3") + 1
    assert datas(stream[:cut], stream[cut:]) == ["café ✓"]


def test_invalid_utf8_becomes_replacement_characters() -> None:
    assert datas(b"data: a\xffb\xe2\n\n") == ["a\ufffdb\ufffd"]


# -- fields ----------------------------------------------------------------------------


def test_multi_line_data_is_joined_with_lf_and_one_leading_space_stripped() -> None:
    assert datas(b"data:a\ndata:  b\ndata\ndata: \n\n") == ["a\n b\n\n"]


def test_comments_and_unknown_fields_are_ignored() -> None:
    events, _ = parse(b": heartbeat\nfoo: bar\ndata: x\nDATA: y\n\n")
    assert [e.data for e in events] == ["x"]


def test_event_type_is_reported_and_defaults_to_message() -> None:
    events, _ = parse(b"event: ping\ndata: 1\n\nevent:\ndata: 2\n\ndata: 3\n\n")
    assert [(e.event_type, e.data) for e in events] == [
        ("ping", "1"),
        ("message", "2"),
        ("message", "3"),
    ]


def test_event_type_does_not_leak_into_the_next_event() -> None:
    events, _ = parse(b"event: other\ndata: 1\n\ndata: 2\n\n")
    assert events[1].event_type == "message"


def test_id_is_sticky_across_events() -> None:
    events, parser = parse(b"id: 5\ndata: a\n\ndata: b\n\n")
    assert [e.last_event_id for e in events] == ["5", "5"]
    assert parser.last_event_id == "5"


def test_id_with_nul_is_ignored() -> None:
    events, parser = parse(b"id: 5\ndata: a\n\nid: 6\x007\ndata: b\n\n")
    assert [e.last_event_id for e in events] == ["5", "5"]
    assert parser.last_event_id == "5"


def test_common_events_keep_every_rule_of_the_slow_path() -> None:
    """The one-match path for ``id``/``data``/blank blocks agrees with the line-by-line one."""
    stream = (
        b"id:1\ndata:a\n\n"  # no space after the colons
        b"id:  2\ndata:  b\n\n"  # only one space is stripped
        b"event: ping\ndata: c\n\n"  # a pending type: not a common event
        b"data: d\n\n"  # the type did not leak
        b"id: 3\ndata: \xff\n\n"  # invalid UTF-8 becomes U+FFFD
        b"data:\n\n"  # an empty data line is a real event
    )
    events, parser = parse(stream)
    assert events == [
        SSEEvent("a", "message", "1"),
        SSEEvent(" b", "message", " 2"),
        SSEEvent("c", "ping", " 2"),
        SSEEvent("d", "message", " 2"),
        SSEEvent("\ufffd", "message", "3"),
        SSEEvent("", "message", "3"),
    ]
    assert events == reference_parse(stream)
    assert parser.last_event_id == "3"


def test_empty_id_clears_the_last_event_id() -> None:
    events, parser = parse(b"id: 5\ndata: a\n\nid\ndata: b\n\n")
    assert [e.last_event_id for e in events] == ["5", ""]
    assert parser.last_event_id == ""


def test_empty_id_alone_clears_the_last_event_id() -> None:
    # httpx-sse dispatches nothing for this block and so never reports the clearing.
    _, parser = parse(b"id: 5\ndata: a\n\nid:\n\n")
    assert parser.last_event_id == ""


def test_id_only_block_moves_the_last_event_id_without_an_event() -> None:
    events, parser = parse(b"id: 5\ndata: a\n\nid: 6\n\n")
    assert [e.data for e in events] == ["a"]
    assert parser.last_event_id == "6"


def test_resumed_parser_keeps_the_resume_id_until_the_server_sends_one() -> None:
    parser = EventParser(CAP, last_event_id="41")
    assert [e.last_event_id for e in parser.feed(b"data: x\n\n")] == ["41"]


def test_no_phantom_events_after_an_id() -> None:
    # httpx-sse#35: once an id was seen, every comment block dispatched an empty event.
    events, _ = parse(b"id: 1\ndata: a\n\n: ping\n\n: ping\n\nevent: x\n\nretry: 5\n\n")
    assert [e.data for e in events] == ["a"]


def test_an_explicit_empty_data_line_is_a_real_event() -> None:
    # 9.2.6: "data:" puts LF in the buffer, so the event fires with empty data.
    assert datas(b"data:\n\n") == [""]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"retry: 1500", 1500),
        (b"retry:1500", 1500),
        (b"retry: 0", 0),
        (b"retry: 007", 7),
        (b"retry: " + b"9" * 5000, 10**9),  # clamped, no int() digit-limit traceback
    ],
)
def test_retry_accepts_ascii_digits_only(line: bytes, expected: int) -> None:
    _, parser = parse(line + b"\n")
    assert parser.retry_ms == expected


@pytest.mark.parametrize(
    "value",
    ["+5", " 5", "5 ", "-5", "5_0", "1.5", "", "٥", "５", "²"],  # noqa: RUF001
)
def test_retry_ignores_anything_but_ascii_digits(value: str) -> None:
    # httpx-sse uses int(), which accepts "+5", " 5", "5_0" and non-ASCII digits.
    _, parser = parse(b"retry: 250\n\n", f"retry: {value}\n\n".encode())
    assert parser.retry_ms == 250


def test_retry_counts_at_once_even_in_an_incomplete_event() -> None:
    _, parser = parse(b"retry: 900\ndata: never finished")
    assert parser.retry_ms == 900


def test_incomplete_trailing_event_is_discarded() -> None:
    events, parser = parse(b"id: 1\ndata: done\n\nid: 2\ndata: half")
    assert [e.data for e in events] == ["done"]
    assert parser.last_event_id == "1"


def test_incomplete_event_missing_only_the_blank_line_is_discarded() -> None:
    assert datas(b"data: a\n\ndata: b\n") == ["a"]


# -- size cap --------------------------------------------------------------------------


def test_line_over_the_cap_raises() -> None:
    parser = EventParser(100)
    parser.feed(b"data: " + b"x" * 90)
    with pytest.raises(EventTooLarge):
        parser.feed(b"x" * 20)


def test_line_at_the_cap_is_fine() -> None:
    line = b"data: " + b"x" * 94
    assert datas_with_cap(line + b"\n\n", cap=100) == ["x" * 94]


def test_event_over_the_cap_in_many_small_lines_raises() -> None:
    parser = EventParser(100)
    with pytest.raises(EventTooLarge):
        parser.feed(b"data: 0123456789\n" * 20)


def test_comments_do_not_count_towards_the_event_cap() -> None:
    assert datas_with_cap(b": padding padding\n" * 50 + b"data: x\n\n", cap=100) == ["x"]


def datas_with_cap(stream: bytes, *, cap: int) -> list[str]:
    return [event.data for event in parse(stream, cap=cap)[0]]


def test_eight_mib_line_is_refused_with_bounded_memory() -> None:
    chunk = b"x" * 65536  # the largest read httpcore asks for
    parser = EventParser(CAP)
    fed = 0

    def feed_eight_mib() -> None:
        nonlocal fed
        parser.feed(b"data: ")
        while fed < 8 * CAP:
            parser.feed(chunk)
            fed += len(chunk)

    tracemalloc.start()
    try:
        with pytest.raises(EventTooLarge):
            feed_eight_mib()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fed < 2 * CAP  # refused as soon as the line passed the cap, not at its end
    assert peak < 3 * CAP  # the buffer never held much more than one cap's worth


# -- any split of a stream yields the same events ---------------------------------------

field_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=12
)
line_end = st.sampled_from([b"\n", b"\r", b"\r\n"])


@st.composite
def sse_streams(draw: st.DrawFn) -> bytes:
    """A valid event stream mixing every line ending, comments, ids, retry and types."""
    parts: list[bytes] = []
    if draw(st.booleans()):
        parts.append(b"\xef\xbb\xbf")
    for _ in range(draw(st.integers(0, 6))):
        for _ in range(draw(st.integers(0, 4))):
            kind = draw(st.sampled_from(["data", "data", "id", "event", "comment", "retry"]))
            if kind == "comment":
                value = ":" + draw(field_text)
            elif kind == "retry":
                value = f"retry: {draw(st.integers(0, 10**6))}"
            else:
                value = f"{kind}: {draw(field_text)}"
            parts.append(value.encode() + draw(line_end))
        parts.append(draw(line_end))
    return b"".join(parts)


@given(stream=sse_streams(), cuts=st.lists(st.integers(0, 10_000), max_size=20))
@settings(max_examples=150, deadline=None)
def test_any_split_into_reads_yields_the_same_events(stream: bytes, cuts: list[int]) -> None:
    whole_events, whole = parse(stream)
    points = sorted({cut % (len(stream) + 1) for cut in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    split_events, split = parse(*chunks)
    assert split_events == whole_events
    assert (split.last_event_id, split.retry_ms) == (whole.last_event_id, whole.retry_ms)


@given(stream=sse_streams())
@settings(max_examples=100, deadline=None)
def test_one_byte_reads_yield_the_same_events(stream: bytes) -> None:
    one_by_one = parse(*(stream[i : i + 1] for i in range(len(stream))))[0]
    assert one_by_one == parse(stream)[0]


@given(stream=sse_streams())
@settings(max_examples=100, deadline=None)
def test_events_match_a_reference_reading_of_the_spec(stream: bytes) -> None:
    assert parse(stream)[0] == reference_parse(stream)


def reference_parse(stream: bytes) -> list[SSEEvent]:
    """A direct, unbuffered transcription of 9.2.6, to compare the incremental parser with."""
    text = stream.decode("utf-8", "replace").removeprefix("\ufeff")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines.pop()  # what follows the last line end is incomplete
    events: list[SSEEvent] = []
    data, event_type, id_buffer, last_id = "", "", "", ""
    for line in lines:
        if not line:
            last_id = id_buffer
            if data:
                events.append(SSEEvent(data.removesuffix("\n"), event_type or "message", last_id))
            data, event_type = "", ""
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data += value + "\n"
        elif name == "event":
            event_type = value
        elif name == "id" and "\0" not in value:
            id_buffer = value
    return events


@st.composite
def plain_streams(draw: st.DrawFn) -> bytes:
    """Streams on which httpx-sse 0.4.3 is right: LF only, no BOM, data in every block."""
    blocks: list[bytes] = []
    for _ in range(draw(st.integers(0, 6))):
        lines = [f"data: {draw(field_text)}"]
        for _ in range(draw(st.integers(0, 3))):
            kind = draw(st.sampled_from(["data", "id", "event", "comment"]))
            lines.append(
                ":" + draw(field_text) if kind == "comment" else f"{kind}:{draw(field_text)}"
            )
        draw(st.randoms()).shuffle(lines)
        blocks.append("".join(f"{line}\n" for line in lines).encode() + b"\n")
    return b"".join(blocks)


@given(stream=plain_streams())
@settings(max_examples=150, deadline=None)
def test_events_match_httpx_sse_where_it_is_right(stream: bytes) -> None:
    """httpx-sse as a second, independent oracle (our parser replaced its decoder for speed)."""
    lines, decoder = SSELineDecoder(), SSEDecoder()
    theirs = []
    for line in lines.decode(stream.decode()):
        sse = decoder.decode(line)
        if sse is not None:
            theirs.append(SSEEvent(sse.data, sse.event, sse.id))
    assert parse(stream)[0] == theirs


raw_value = st.binary(max_size=10).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b""))


@st.composite
def common_streams(draw: st.DrawFn) -> bytes:
    """Runs of id:/data:/blank events with any bytes in the values (bad UTF-8, NUL in an id),
    now and then broken by another line: the parser's fast path and its way back out."""
    parts: list[bytes] = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["event", "event", "event", "other", "blank"]))
        if kind == "event":
            if draw(st.booleans()):
                parts.append(draw(st.sampled_from([b"id:", b"id: "])) + draw(raw_value) + b"\n")
            parts.append(draw(st.sampled_from([b"data:", b"data: "])) + draw(raw_value) + b"\n\n")
        elif kind == "other":
            parts.append(draw(st.sampled_from([b"event: x", b": c", b"data", b"id"])) + b"\n")
        else:
            parts.append(b"\n")
    return b"".join(parts)


@given(stream=common_streams(), cuts=st.lists(st.integers(0, 10_000), max_size=6))
@settings(max_examples=300, deadline=None)
def test_runs_of_common_events_match_the_spec_in_any_reads(stream: bytes, cuts: list[int]) -> None:
    points = sorted({cut % (len(stream) + 1) for cut in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    tail = b"\ndata: z\n\n"  # ends any open block: its event carries the stream's last id
    assert parse(*chunks, tail)[0] == reference_parse(stream + tail)
