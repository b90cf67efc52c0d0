"""Bearer-token checks for clients and bots.

Every candidate token is compared with :func:`hmac.compare_digest` and the loop never stops
early, so the time taken does not tell an attacker how much of a guess was right, nor which
token matched. Tokens are never logged or echoed: errors name the header, not its value.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from guildwatch.server._config import TokenGrants


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid client token may do."""

    key: int
    """Stable per-token key for stream accounting (an index, so the token is not kept twice)."""
    guilds: frozenset[str] | None
    """Guild ids this token may see, or None for all."""
    tag: str = ""
    """The same per token on every replica (a hash prefix, not the token): the key of the
    stream count shared through Redis."""

    def allows(self, guild_id: str) -> bool:
        """Whether this token may see ``guild_id``."""
        return self.guilds is None or guild_id in self.guilds


def bearer_token(authorization: str | None) -> str | None:
    """The token from an ``Authorization: Bearer <token>`` header, or None if absent/malformed."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def _match(candidate: str, tokens: Iterable[str]) -> int | None:
    wanted = candidate.encode("utf-8", "surrogateescape")
    found: int | None = None
    for index, token in enumerate(tokens):
        # No early exit: every token is compared, whatever matched.
        if hmac.compare_digest(wanted, token.encode("utf-8")) and found is None:
            found = index
    return found


class Authenticator:
    """Checks client and bot tokens against the configured sets.

    Args:
        client_tokens: Client token -> allowed guilds (None: all guilds).
        bot_tokens: Tokens a bot uses to post heartbeats (and to drive faults in tests).
    """

    def __init__(self, client_tokens: TokenGrants, bot_tokens: Iterable[str]) -> None:
        self._clients = list(client_tokens.items())
        self._client_tokens = [token for token, _ in self._clients]
        self._tags = [hashlib.sha256(t.encode()).hexdigest()[:24] for t in self._client_tokens]
        self._bot_tokens = list(bot_tokens)

    def client(self, authorization: str | None) -> Grant | None:
        """The grant for a client's ``Authorization`` header, or None if it is not valid."""
        token = bearer_token(authorization)
        if token is None:
            return None
        index = _match(token, self._client_tokens)
        if index is None:
            return None
        return Grant(key=index, guilds=self._clients[index][1], tag=self._tags[index])

    def bot(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header carries a valid bot token."""
        token = bearer_token(authorization)
        return token is not None and _match(token, self._bot_tokens) is not None
