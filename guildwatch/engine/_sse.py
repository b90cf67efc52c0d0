"""Server-Sent Events parsing, pure (no I/O): bytes in, events out.

Two layers, like httpx-sse: :class:`LineSplitter` turns byte chunks into lines and
:class:`EventParser` turns lines into :class:`SSEEvent` values, following WHATWG HTML 9.2.6
("Parsing an event stream") to the letter.

Why not httpx-sse's decoders: 0.4.3 gets these rules wrong (see docs/upstream-defects.md), and
wrapping it to fix them cost more than the parse itself; the engine must beat
plain httpx-sse + ``json.loads`` while spec-exact, which a wrapper around it cannot. Its
defects, each handled here and pinned in ``tests/engine/test_sse.py`` (which also checks this
parser against httpx-sse on the streams where httpx-sse is right):

- no cap on a line or event (``SSELineDecoder.buffer`` grows without bound): we split bytes
  ourselves and count them;
- a leading BOM is kept, which silently drops the first event: stripped here, even split over
  reads;
- a trailing CR is held back until the next chunk, so CR-only streams lag one event: here a CR
  ends the line at once, and a following LF is skipped even if it arrives in the next read;
- text is decoded with the response charset: here always UTF-8 with replacement (9.2.6);
- ``retry:`` goes through ``int()``, which accepts ``+5``, `` 5``, ``5_0`` and Arabic-Indic
  digits: here only ASCII digits;
- once an id was seen, every comment or id-only block dispatches a phantom event with empty
  data (florimondmanca/httpx-sse#35): here a block dispatches only if it had a ``data`` line;
- an empty ``id:`` followed by a blank line is not reported at all: here the last event id is
  tracked per the dispatch steps, so it clears.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from guildwatch.errors import EventTooLarge

BOM = b"\xef\xbb\xbf"
_MAX_RETRY_DIGITS = 9
"""``retry:`` values longer than this are clamped: int() refuses > 4300 digits (a traceback)."""


_COMMON_RUN = re.compile(rb"(?:(?:id: ?[^\n\0]*\n)?data: ?[^\n]*\n\n)*+")
"""As many common events back to back as start here (possibly none): each an optional ``id:``
(no NUL: the spec ignores such an id), one ``data:`` line, a blank line. One data line is never
over the event cap: lines are capped at the same size. Each event is one line structure (an
``id:`` line cannot be read as a ``data:`` line), so a run splits into events one way only, and
:data:`_COMMON_TEXT` finds exactly those in its text."""

_COMMON_TEXT = re.compile(r"(id: ?([^\n\0]*)\n)?data: ?([^\n]*)\n\n")
"""One common event in decoded text; the first group tells ``id:`` (even empty) from none."""


class SSEEvent(NamedTuple):
    """One dispatched event (a tuple: built for every event, at half a dataclass's cost)."""

    data: str
    """The data buffer, lines joined with LF."""
    event_type: str
    """``message`` unless the block had a non-empty ``event:`` field."""
    last_event_id: str
    """The stream's last event id at dispatch (empty when none or cleared)."""


_new_event = tuple.__new__
"""Builds an :class:`SSEEvent` from a tuple without the named tuple's Python-level ``__new__``."""


class LineSplitter:
    """Splits a byte stream into lines on CR, LF or CRLF only, with a size cap.

    Args:
        max_line_bytes: A line longer than this raises :class:`EventTooLarge` as soon as it is
            known to be too long, so memory stays bounded however long the line is.
    """

    def __init__(self, max_line_bytes: int) -> None:
        self._max_line_bytes = max_line_bytes
        self._buffer = bytearray()
        self._head: bytes | None = b""
        """Bytes seen before we know whether the stream starts with a BOM; None once decided."""
        self._skip_lf = False
        """The last read ended with CR: an LF at the start of the next one ends nothing."""

    def feed(self, chunk: bytes) -> list[bytes]:
        """Take the next read and return the lines it completes (without terminators)."""
        block = self.feed_block(chunk)
        return block.split(b"\n")[:-1] if block else []

    def feed_block(self, chunk: bytes) -> bytes:
        """Take the next read and return the lines it completes as one block of bytes.

        Every line of the block ends with LF (CR and CRLF were turned into LF), so a parser
        can match several lines at once instead of looping over them one by one.
        """
        if self._head is not None:
            # 9.2.6: one leading U+FEFF is ignored; it may arrive split over reads.
            head = self._head + chunk
            if len(head) < len(BOM) and BOM.startswith(head):
                self._head = head
                return b""
            self._head = None
            chunk = head[len(BOM) :] if head.startswith(BOM) else head
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if b"\r" in chunk:
            # CRLF first, then a lone CR: each is one line end. A CR that ends the read ends
            # its line now (no waiting for the next read); an LF starting the next read is
            # then the rest of a CRLF, skipped above.
            self._skip_lf = chunk.endswith(b"\r")
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        cut = chunk.rfind(b"\n") + 1
        if not cut:
            self._check(len(self._buffer) + len(chunk))
            self._buffer += chunk
            return b""
        block, rest = chunk[:cut], chunk[cut:]
        if self._buffer:
            block = bytes(self._buffer) + block
            self._buffer.clear()
        if len(block) > self._max_line_bytes + 1:  # else no line in it can be too long
            self._check(max(map(len, block.split(b"\n"))))
        self._check(len(rest))
        self._buffer += rest
        return block

    def _check(self, size: int) -> None:
        if size > self._max_line_bytes:
            self._buffer.clear()
            raise EventTooLarge(
                f"The server sent a line longer than {self._max_line_bytes} bytes; "
                "the connection was dropped."
            )


class EventParser:
    """Turns a byte stream into events (WHATWG HTML 9.2.6), one instance per connection.

    Args:
        max_event_bytes: Cap on one line and on one event's data; past it
            :class:`EventTooLarge` is raised and the connection should be dropped.
        last_event_id: The id the connection resumed from; an event without ``id:`` keeps it.
    """

    def __init__(self, max_event_bytes: int, *, last_event_id: str = "") -> None:
        self._splitter = LineSplitter(max_event_bytes)
        self._max_event_bytes = max_event_bytes
        self._data: list[str] = []
        """The data buffer as its lines; non-empty once a ``data`` line came, even ``data:``."""
        self._data_bytes = 0
        self._event_type = ""
        self._id_buffer = last_event_id
        self.last_event_id = last_event_id
        """The last event ID string: what ``Last-Event-ID`` carries on the next connection."""
        self.retry_ms: int | None = None
        """The latest valid ``retry:`` value (milliseconds), set as soon as it is parsed."""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Take the next read and return the events it completes.

        An event still incomplete when the connection ends is simply never returned (9.2.6:
        "incomplete events are discarded").
        """
        block = self._splitter.feed_block(chunk)
        events: list[SSEEvent] = []
        pos, end = 0, len(block)
        run_match = _COMMON_RUN.match
        while pos < end:
            # The engine's hot path (bench/throughput.py): from a clean state, a run of common
            # events (id:, data:, blank) is decoded in one piece and split by one findall, not
            # line by line. Line ends are ASCII and UTF-8 self-synchronises, so decoding the
            # run whole equals decoding each field. Anything else (another field, a comment,
            # a NUL in the id, CR-split data) takes the line-by-line path, the spec's wording.
            if not self._data and not self._event_type:
                run_end = run_match(block, pos).end()  # type: ignore[union-attr]  # matches ""
                if run_end > pos:
                    last_id = self._id_buffer
                    text = block[pos:run_end].decode("utf-8", "replace")
                    for id_line, event_id, data in _COMMON_TEXT.findall(text):
                        if id_line:
                            last_id = event_id
                        events.append(_new_event(SSEEvent, (data, "message", last_id)))
                    self._id_buffer = self.last_event_id = last_id
                    pos = run_end
                    if pos >= end:
                        break
            line_end = block.index(b"\n", pos)
            event = self._line(block[pos:line_end])
            if event is not None:
                events.append(event)
            pos = line_end + 1
        return events

    def _line(self, raw: bytes) -> SSEEvent | None:
        """One line, by the letter of 9.2.6; returns the event a blank line dispatches."""
        if raw[:1] == b":":
            return None  # a comment
        if raw:
            self._field(raw)
            return None
        # Dispatch. Step 1 runs even when nothing fires: an id-only block moves the id.
        self.last_event_id = self._id_buffer
        event_type, self._event_type = self._event_type, ""
        if not self._data:  # step 2: an empty data buffer dispatches nothing (httpx-sse#35)
            return None
        joined = "\n".join(self._data)
        self._data.clear()
        self._data_bytes = 0
        return SSEEvent(joined, event_type or "message", self.last_event_id)

    def _field(self, raw: bytes) -> None:
        """9.2.6 "process the field"; a line without a colon is a field with an empty value."""
        # Line ends are ASCII and UTF-8 self-synchronises, so decoding line by line equals
        # decoding the stream first; any charset parameter is ignored (9.2.6: always UTF-8).
        name, _, value = raw.decode("utf-8", "replace").partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data_bytes += len(raw)
            if self._data_bytes > self._max_event_bytes:
                raise EventTooLarge(
                    f"The server sent an event larger than {self._max_event_bytes} bytes; "
                    "the connection was dropped."
                )
            self._data.append(value)
        elif name == "event":
            self._event_type = value
        elif name == "id":
            if "\0" not in value:
                self._id_buffer = value
        elif name == "retry" and value.isascii() and value.isdigit():
            # Only ASCII digits (9.2.6); int() alone would take "+5", " 5", "5_0" and
            # Arabic-Indic digits, and refuses > 4300 digits with a traceback.
            digits = value.lstrip("0") or "0"
            self.retry_ms = int(digits) if len(digits) <= _MAX_RETRY_DIGITS else 10**9
        # Any other field is ignored.
