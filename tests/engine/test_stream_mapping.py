"""The one place where httpx errors become guildwatch errors, and the request headers."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from guildwatch.engine import EngineSettings
from guildwatch.engine._stream import (
    guild_url,
    parse_retry_after,
    redact,
    request_headers,
    translate_errors,
)
from guildwatch.errors import ConfigError, ConnectionFailed, GuildwatchError, WatchdogTimeout

SETTINGS = EngineSettings(api_url="http://127.0.0.1:1", token="t0ken")
URL = "http://user:pw@127.0.0.1:1/api/v1/guilds/1/status/stream?key=secret"
NOW = datetime(2026, 11, 22, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raised", "expected", "kind"),
    [
        (httpx.ConnectTimeout("x"), ConnectionFailed, "timeout"),
        (httpx.ReadTimeout("x"), WatchdogTimeout, "timeout"),
        (httpx.PoolTimeout("x"), ConnectionFailed, "timeout"),
        (httpx.ConnectError("refused"), ConnectionFailed, "network"),
        (httpx.ReadError("reset"), ConnectionFailed, "network"),
        (httpx.RemoteProtocolError("peer closed"), ConnectionFailed, "network"),
        (httpx.TooManyRedirects("x"), ConnectionFailed, "redirect"),
        (httpx.UnsupportedProtocol("ftp"), ConnectionFailed, "redirect"),
        (httpx.DecodingError("gzip"), ConnectionFailed, "network"),
        (httpx.InvalidURL("x"), ConfigError, "config"),
    ],
)
def test_httpx_errors_map_to_one_guildwatch_class_each(
    raised: Exception, expected: type[GuildwatchError], kind: str
) -> None:
    with pytest.raises(expected) as caught, translate_errors(URL, SETTINGS):
        raise raised
    assert caught.value.kind == kind
    assert caught.value.__cause__ is raised
    assert "secret" not in caught.value.user_message
    assert "pw" not in caught.value.user_message


def test_other_exceptions_pass_through_untouched() -> None:
    with pytest.raises(KeyError), translate_errors(URL, SETTINGS):
        raise KeyError("bug")


def test_redact_drops_user_info_and_query() -> None:
    assert redact(URL) == "http://127.0.0.1:1/api/v1/guilds/1/status/stream"


def test_guild_ids_are_percent_encoded_into_the_path() -> None:
    assert (
        guild_url("http://h:1/", "a/b c", "status") == "http://h:1/api/v1/guilds/a%2Fb%20c/status"
    )


def test_each_call_builds_a_fresh_headers_dict() -> None:
    first = request_headers("tok", accept="text/event-stream", last_event_id="5")
    first["Accept"] = "mutated"  # what httpx_sse.aconnect_sse does to the dict it is given
    second = request_headers("tok", accept="text/event-stream", last_event_id="6")
    assert second == {
        "Authorization": "Bearer tok",
        "Accept": "text/event-stream",
        "Cache-Control": "no-cache",
        "Accept-Encoding": "identity",
        "Last-Event-ID": "6",
    }


@pytest.mark.parametrize("last_event_id", ["", "a\x01b", "tab\there", "caf\u00e9"])
def test_last_event_id_omitted_when_empty_or_not_header_safe(last_event_id: str) -> None:
    headers = request_headers("tok", accept="text/event-stream", last_event_id=last_event_id)
    assert "Last-Event-ID" not in headers


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2", 2.0),
        (" 120 ", 120.0),
        ("99999999999999999999", 1e20),  # unclamped: the reconnect policy clamps
        ("Sun, 22 Nov 2026 14:01:30 GMT", 90.0),
        ("Sun, 22 Nov 2026 13:00:00 GMT", 0.0),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        (None, None),
    ],
)
def test_retry_after_seconds_or_http_date(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds
