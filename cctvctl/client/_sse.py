"""Server-sent events: the line parser and how a message becomes an :class:`Event`.

:meth:`~cctvctl.client.AsyncCctvClient.events` holds the connection and reconnects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from pydantic import ValidationError

from cctvctl.client._errors import ServerError
from cctvctl.models import Event

#: The server sends this (with no ``id:``) when a subscriber fell behind and missed events;
#: :meth:`AsyncCctvClient.events` turns it into an :class:`Event` of this type.
GAP_EVENT: Final = "events.gap"

#: Read time-out of an event stream: the server sends a keep-alive every 15 s, so three
#: missed ones mean the connection is dead even if TCP has not noticed.
EVENTS_READ_TIMEOUT: Final = 45.0
EVENTS_MAX_DELAY: Final = 30.0


@dataclass(frozen=True)
class SseMessage:
    event: str
    data: str
    id: str | None


class SseParser:
    """Line-fed server-sent-events parser (the WHATWG rules that a server of ours uses).

    Feed it lines without their end-of-line; it returns a message on the blank line that
    ends one. Comments (``:``-lines, the keep-alives) are dropped; ``retry:`` is kept in
    :attr:`retry_ms` for the reconnect delay.
    """

    def __init__(self) -> None:
        self.retry_ms: int | None = None
        self.last_id: str | None = None
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> SseMessage | None:
        if not line:
            if not self._data:
                self._event = ""
                return None
            message = SseMessage(self._event or "message", "\n".join(self._data), self.last_id)
            self._event, self._data = "", []
            return message
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self.last_id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None


def _event_of(server: str, message: SseMessage) -> Event | None:
    try:
        payload = json.loads(message.data)
    except ValueError:
        raise ServerError(server, f"an {message.event!r} event's data is not JSON") from None
    if message.event == GAP_EVENT and isinstance(payload, dict):
        before = payload.get("before_id")
        if not isinstance(before, int):
            return None
        # The id is the last one the gap covers, so a reconnect after it asks for the
        # events after the gap rather than for the ones already lost.
        return Event(id=before - 1, time=datetime.now(UTC), type=GAP_EVENT, data=payload)
    try:
        return Event.model_validate(payload)
    except ValidationError as exc:
        raise ServerError(
            server, f"an {message.event!r} event is not a valid Event: {exc.errors()[0]['msg']}"
        ) from None
