"""``/api/v1/events``: live changes as server-sent events, with replay after a disconnect.

Each event is sent as ``id: <n>``, ``event: <type>``, ``data: <Event JSON>``. A client that
reconnects with ``Last-Event-ID`` (browsers' EventSource does this by itself) or asks for
``?since=<id>`` first gets the stored events after that id. A client too slow to keep up
gets an ``events.gap`` event naming what it missed instead of holding up the recorder.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Annotated, Final

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from cctvctl.models import Problem
from cctvctl.server.routes._shared import RT, VIEWER, invalid
from cctvctl.server.runtime import Runtime
from cctvctl.storage.events import EventGap, SubscriptionClosed
from cctvctl.untrusted import quoted

__all__ = ["GAP_EVENT", "KEEPALIVE_SECONDS", "MAX_EVENT_ID", "router"]

KEEPALIVE_SECONDS: Final = 15.0
GAP_EVENT: Final = "events.gap"
# How often a quiet stream checks whether the server is shutting down: uvicorn waits for
# open responses before it runs the shutdown that closes the recorder.
_POLL_SECONDS: Final = 1.0
_RETRY_MS: Final = 3000
#: Event ids are SQLite integers: a larger one cannot even be compared with them.
MAX_EVENT_ID: Final = 2**63 - 1
_EVENT_ID: Final = re.compile(r"[0-9]{1,19}")


def _at_most(limit: int) -> str:
    """A regex for whole numbers from 0 to ``limit``, as digits (leading zeros allowed).

    Digit strings of one length sort as their numbers do, so a number of ``limit``'s
    length is at most ``limit`` when it is below it at its first differing digit.
    """
    digits = str(limit)
    parts = [f"[0-9]{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for at, digit in enumerate(digits):
        if digit != "0":
            rest = len(digits) - at - 1
            parts.append(f"{digits[:at]}[0-{int(digit) - 1}][0-9]{{{rest}}}")
    parts.append(digits)
    return "(" + "|".join(parts) + ")"


#: What ``_since`` accepts in Last-Event-ID (blank: no id), for the OpenAPI document.
EVENT_ID_PATTERN: Final = rf"^\s*({_at_most(MAX_EVENT_ID)}\s*)?$"

router = APIRouter(
    prefix="/api/v1",
    tags=["events"],
    dependencies=[VIEWER],
    responses={401: {"model": Problem}, 422: {"model": Problem}},
)


def _since(last_event_id: str | None, since: int | None) -> int | None:
    # The header wins: EventSource keeps the original URL (and its ?since=) on reconnect
    # but sends the id it actually got to.
    if last_event_id is not None and last_event_id.strip():
        value = last_event_id.strip()
        # ASCII digits only (str.isdigit() takes '²' too), and no more than SQLite's
        # integers hold. An id this server never issued is refused rather than read as
        # "from the start": replaying everything kept to a client that believes it is
        # resuming would hand it a flood of events it thinks it has already seen.
        if not _EVENT_ID.fullmatch(value) or int(value) > MAX_EVENT_ID:
            raise invalid(
                "Last-Event-ID",
                f"header 'Last-Event-ID': {quoted(value)} is not an event id; accepted: a whole "
                f"number from 0 to {MAX_EVENT_ID}, from an earlier event's 'id:' line",
                where="header",
            )
        return int(value)
    return since


def _frame(event_type: str, data: str, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event_type}\ndata: {data}\n\n"


async def _stream(rt: Runtime, since: int | None, types: set[str] | None) -> AsyncIterator[str]:
    # Subscribing here rather than in the route: a generator that never starts (the
    # client left before the response began) then holds no subscription to leak.
    sub = rt.events.subscribe(since_id=since)
    try:
        yield f"retry: {_RETRY_MS}\n: connected\n\n"
        last_sent = time.monotonic()
        while not rt.stopping.is_set():
            try:
                item = await asyncio.wait_for(sub.get(), timeout=_POLL_SECONDS)
            except TimeoutError:
                if time.monotonic() - last_sent >= KEEPALIVE_SECONDS:
                    last_sent = time.monotonic()
                    yield ": keep-alive\n\n"
                continue
            except SubscriptionClosed:
                return
            if isinstance(item, EventGap):
                payload = {
                    "after_id": item.after_id,
                    "before_id": item.before_id,
                    "missed": item.missed,
                }
                yield _frame(GAP_EVENT, json.dumps(payload))
            elif types is None or item.type in types:
                yield _frame(item.type, item.model_dump_json(), item.id)
            else:
                continue
            last_sent = time.monotonic()
    finally:
        sub.close()


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An SSE stream"}},
)
async def events(
    rt: RT,
    since: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_EVENT_ID,
            description="Replay stored events after this id (0: all kept ones).",
        ),
    ] = None,
    last: Annotated[
        int | None,
        Query(
            ge=1,
            le=1000,
            description="Replay the latest this many stored events first (ignored with since).",
        ),
    ] = None,
    types: Annotated[
        str | None,
        Query(
            description="Only these event types, comma-separated.",
            examples=["camera.status,storage.deleted"],
        ),
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="Resume after this event id (SSE); empty: from now.",
            json_schema_extra={"pattern": EVENT_ID_PATTERN},
        ),
    ] = None,
) -> StreamingResponse:
    """Server-sent events: ``camera.status``, ``storage.deleted``, ``job.progress``, …"""
    start = _since(last_event_id, since)
    if start is None and last is not None:
        latest = await asyncio.to_thread(rt.events.recent, None, last)
        start = latest[0].id - 1 if latest else None
    wanted = {t.strip() for t in types.split(",") if t.strip()} if types else None
    return StreamingResponse(
        _stream(rt, start, wanted),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
