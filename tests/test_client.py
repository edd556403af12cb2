"""CctvClient and AsyncCctvClient against a real `cctvctl server` and a real simulator.

Each error class is reached by a real situation (a stopped server, a bad token, an
unknown camera, a bad time window). Where the real server cannot produce a situation
(a 403 needs a route above viewer; a 500 or a proxy's HTML page should never come from
it; a dropped event stream), a small HTTP server started by the test plays the other
end: it speaks real HTTP over a real socket to the unmodified client.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from harness import Live, free_port, wait_for

from cctvctl.cli import exit_codes
from cctvctl.client import (
    GAP_EVENT,
    AsyncCctvClient,
    AuthError,
    BadRequest,
    CctvClient,
    CctvError,
    Forbidden,
    MultiClient,
    NotFound,
    Refused,
    ServerError,
    SseParser,
    TimedOut,
    Unreachable,
    run_blocking,
)
from cctvctl.client import _routes as routes
from cctvctl.models import Camera, CameraStatus, Event, Health, KecamatanSummary, Recordings

WITA = timezone(timedelta(hours=8))


# --------------------------------------------------------------------------- helpers


class CountingTransport(httpx.HTTPTransport):
    """httpx's own transport, counting how many times the client tried to send."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return super().handle_request(request)


class AsyncCountingTransport(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return await super().handle_async_request(request)


Handler = Callable[[BaseHTTPRequestHandler], None]


@contextmanager
def tiny_server(handle: Handler) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A real HTTP/1.0 server on a free port; ``handle`` writes each response.

    Yields its URL and the headers of every request it got, in order.
    """
    seen: list[dict[str, str]] = []

    class _Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            request = {":path": self.path, ":method": self.command}
            seen.append({k.lower(): v for k, v in self.headers.items()} | request)
            handle(self)

        do_POST = do_DELETE = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def reply(status: int, body: bytes, ctype: str = "application/problem+json") -> Handler:
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return handle


def problem(status: int, detail: str) -> bytes:
    body = {"type": "about:blank", "title": "x", "status": status, "detail": detail}
    return json.dumps(body).encode()


@contextmanager
def slammer(*, listen_only: bool = False) -> Iterator[tuple[str, list[int]]]:
    """A TCP port that accepts and closes at once (or only listens and never answers)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    accepted = [0]
    stop = threading.Event()

    def run() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted[0] += 1
            conn.recv(65536)
            conn.close()

    thread = threading.Thread(target=run, daemon=True)
    if not listen_only:
        thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", accepted
    finally:
        stop.set()
        if not listen_only:
            thread.join(2)
        sock.close()


def one_line(err: CctvError, server: str) -> None:
    text = str(err)
    assert "\n" not in text
    assert text.startswith(f"{server}: ")


@pytest.fixture
def api(ready: Live) -> Iterator[CctvClient]:
    with CctvClient(ready.server.url, ready.site.tokens["viewer"], name="live") as client:
        yield client


# --------------------------------------------------------------------------- typed calls


def test_cameras_parse_and_filter(api: CctvClient, ready: Live) -> None:
    cameras = api.cameras()
    assert all(isinstance(c, Camera) for c in cameras)
    assert [c.id for c in cameras] == ready.site.camera_ids
    slug = ready.site.camera_kecamatan[ready.site.camera_ids[1]]
    only = api.cameras(kecamatan=slug)
    assert {c.id for c in only} == set(ready.site.cameras_in(slug))
    online = api.cameras(status=CameraStatus.ONLINE)
    assert all(c.status is CameraStatus.ONLINE for c in online)
    assert api.cameras(status="disabled") == []
    one = api.camera(ready.site.camera_ids[0])
    assert one.id == ready.site.camera_ids[0]
    assert one.kecamatan_slug == ready.site.camera_kecamatan[one.id]


def test_health_kecamatan_healthz_metrics(api: CctvClient, ready: Live) -> None:
    health = api.health()
    assert isinstance(health, Health)
    assert {k.slug for k in health.kecamatan} == set(ready.site.kecamatan)
    assert health.generated.tzinfo is not None
    summaries = api.kecamatan()
    assert all(isinstance(k, KecamatanSummary) for k in summaries)
    assert sum(k.cameras_total for k in summaries) == len(ready.site.camera_ids)
    slug = next(iter(ready.site.kecamatan))
    assert api.kecamatan_summary(slug).slug == slug
    assert api.healthz()["status"] == "ok"
    assert "# TYPE" in api.metrics()
    generic = api.get_json("/api/v1/cameras", {"kecamatan": slug, "status": None})
    assert {c["id"] for c in generic} == set(ready.site.cameras_in(slug))


def test_healthz_needs_no_token(ready: Live) -> None:
    with CctvClient(ready.server.url, None) as anonymous:
        assert anonymous.healthz()["status"] == "ok"
        with pytest.raises(AuthError):
            anonymous.cameras()


def test_recordings_window_in_local_time(api: CctvClient, ready: Live) -> None:
    end = datetime.now(WITA).replace(microsecond=0)
    start = end - timedelta(minutes=10)
    rec = api.recordings(ready.site.camera_ids[0], start, end)
    assert isinstance(rec, Recordings)
    assert rec.camera == ready.site.camera_ids[0]
    # Same instants, sent as UTC: nothing was shifted by the WITA offset.
    assert (rec.start, rec.end) == (start, end)
    assert rec.start.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="time zone"):
        api.recordings(ready.site.camera_ids[0], datetime(2026, 1, 1), None)


@pytest.mark.parametrize(("width", "height"), [(32, 18), (17, 9)])
def test_thumbnail_rgb(api: CctvClient, ready: Live, width: int, height: int) -> None:
    thumb = api.thumbnail(ready.site.camera_ids[0], width, height)
    assert (thumb.width, thumb.height, thumb.format) == (width, height, "rgb")
    assert len(thumb.data) == width * height * 3
    assert thumb.age >= 0
    assert thumb.frame_time.tzinfo is not None
    assert abs((datetime.now(UTC) - thumb.frame_time).total_seconds()) < 60
    assert len(set(thumb.data)) > 1  # a picture, not a blank buffer


def test_thumbnail_jpeg(api: CctvClient, ready: Live) -> None:
    thumb = api.thumbnail(ready.site.camera_ids[1], 64, 36, "jpeg")
    assert thumb.format == "jpeg"
    assert thumb.data[:2] == b"\xff\xd8"


async def test_async_client_same_answers(ready: Live) -> None:
    token = ready.site.tokens["viewer"]
    async with AsyncCctvClient(ready.server.url, token) as api:
        cameras, health, summaries = await asyncio.gather(
            api.cameras(), api.health(), api.kecamatan()
        )
        assert [c.id for c in cameras] == ready.site.camera_ids
        assert isinstance(health, Health)
        assert len(summaries) == len(ready.site.kecamatan)
        thumb = await api.thumbnail(ready.site.camera_ids[0], 16, 9)
        assert len(thumb.data) == 16 * 9 * 3
        with pytest.raises(NotFound):
            await api.camera("no-such-cam")


# --------------------------------------------------------------------------- errors, real


def test_unknown_camera_is_not_found(api: CctvClient) -> None:
    with pytest.raises(NotFound) as caught:
        api.camera("no-such-cam")
    err = caught.value
    assert err.status == 404
    assert err.exit_code == exit_codes.USAGE
    assert "no camera 'no-such-cam'" in str(err)  # the server's problem detail
    assert err.problem is not None and err.problem["status"] == 404
    one_line(err, "live")


def test_unknown_kecamatan_and_odd_ids_are_not_found(api: CctvClient) -> None:
    with pytest.raises(NotFound, match="atlantis"):
        api.cameras(kecamatan="atlantis")
    # Quoted as one path segment: unquoted, "../health" would resolve to /api/v1/health,
    # answer 200, and fail to parse as a Camera (a ServerError).
    with pytest.raises(NotFound):
        api.camera("../health")


def test_bad_token_is_auth_error(ready: Live) -> None:
    bad = CctvClient(ready.server.url, "not-a-real-token", name="sangatta")
    with bad, pytest.raises(AuthError) as caught:
        bad.cameras()
    err = caught.value
    assert (err.status, err.exit_code) == (401, exit_codes.AUTH)
    assert "not valid" in str(err)
    assert "not-a-real-token" not in str(err) + repr(bad)
    one_line(err, "sangatta")


@pytest.mark.parametrize(
    ("start", "end", "mentions"),
    [
        (datetime(2026, 5, 2, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC), "after"),
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC), "31 days"),
        ("yesterday", None, "not a time"),
    ],
)
def test_bad_window_is_bad_request(
    api: CctvClient, ready: Live, start: Any, end: Any, mentions: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        api.recordings(ready.site.camera_ids[0], start, end)
    err = caught.value
    assert (err.status, err.exit_code) == (422, exit_codes.USAGE)
    assert mentions in str(err)
    one_line(err, "live")


def test_forbidden_from_real_server(api: CctvClient) -> None:
    spec = api.get_json("/openapi.json")
    writes = [path for path, ops in spec["paths"].items() if set(ops) - {"get"}]
    if not writes:
        pytest.skip("every route is open to viewers so far; exports and reboots come later")
    # Role checks run before the body is read, so an empty body still meets the 403.
    with pytest.raises(Forbidden) as caught:
        api.post_json(writes[0].replace("{camera_id}", "x"))
    assert caught.value.exit_code == exit_codes.AUTH
    one_line(caught.value, "live")


def test_stopped_server_is_unreachable_after_bounded_retries(stopped: str) -> None:
    transport = CountingTransport()
    client = CctvClient(stopped, "t", name="down", transport=transport, backoff=0.01)
    with client, pytest.raises(Unreachable) as caught:
        client.health()
    assert transport.calls == 3  # one try and two retries, then it gives up
    err = caught.value
    assert err.exit_code == exit_codes.UNREACHABLE
    assert "after 3 attempts" in str(err)
    one_line(err, "down")

    transport = CountingTransport()
    client = CctvClient(stopped, transport=transport, retries=0)
    with client, pytest.raises(Unreachable) as caught:
        client.healthz()
    assert transport.calls == 1
    one_line(caught.value, stopped)


async def test_async_unreachable_is_bounded_too(stopped: str) -> None:
    transport = AsyncCountingTransport()
    async with AsyncCctvClient(stopped, transport=transport, retries=4, backoff=0.01) as client:
        with pytest.raises(Unreachable):
            await client.cameras()
    assert transport.calls == 5


def test_dropped_connection_retries_get_but_not_post() -> None:
    with slammer() as (url, accepted):
        with CctvClient(url, backoff=0.01) as client:
            with pytest.raises(Unreachable):
                client.get_json("/api/v1/cameras")
            gets = accepted[0]
            with pytest.raises(Unreachable):
                client.post_json("/api/v1/exports", {"camera": "x"})
        # A GET is repeated; a POST the server may have acted on is not.
        assert gets == 3
        assert accepted[0] - gets == 1


def test_silent_server_times_out_without_retry() -> None:
    with slammer(listen_only=True) as (url, _):
        transport = CountingTransport()
        client = CctvClient(url, timeout=0.3, transport=transport, name="mute")
        with client, pytest.raises(TimedOut) as caught:
            client.health()
    assert transport.calls == 1
    assert caught.value.exit_code == exit_codes.UNREACHABLE
    assert "no answer within 0.3 s" in str(caught.value)
    one_line(caught.value, "mute")


# --------------------------------------------------------------------------- errors, tiny


@pytest.mark.parametrize(
    ("status", "body", "ctype", "kind", "mentions"),
    [
        (403, problem(403, "token 'v' has role 'viewer'"), None, Forbidden, "role 'viewer'"),
        (400, problem(400, "bad body\nsecond line"), None, BadRequest, "bad body second line"),
        (409, problem(409, "an export is running"), None, Refused, "refused (409): an export"),
        (410, problem(410, "gone"), None, NotFound, "gone"),
        (500, problem(500, "see the log"), None, ServerError, "see the log"),
        (502, b"<html><h1>Bad Gateway</h1></html>", "text/html", ServerError, "Bad Gateway"),
        (503, b"maintenance until 14:00", "text/plain", ServerError, "maintenance until"),
        (401, b'{"detail":"Not authenticated"}', "application/json", AuthError, "Not auth"),
        (302, b"", "text/plain", ServerError, "redirected"),
    ],
)
def test_status_maps_to_error(
    status: int, body: bytes, ctype: str | None, kind: type[CctvError], mentions: str
) -> None:
    handler = reply(status, body, ctype or "application/problem+json")
    with (
        tiny_server(handler) as (url, _),
        CctvClient(url, "t", name="node-x") as client,
        pytest.raises(CctvError) as caught,
    ):
        client.health()
    err = caught.value
    assert type(err) is kind
    assert err.status == status
    assert mentions in str(err)
    one_line(err, "node-x")


def test_answer_that_is_not_the_model_is_server_error() -> None:
    body = json.dumps([{"id": "cam", "unexpected": True}]).encode()
    with (
        tiny_server(reply(200, body, "application/json")) as (url, _),
        CctvClient(url) as client,
        pytest.raises(ServerError, match="same cctvctl version"),
    ):
        client.cameras()


def test_error_exit_codes_match_the_cli() -> None:
    assert Unreachable.exit_code == TimedOut.exit_code == exit_codes.UNREACHABLE
    assert AuthError.exit_code == Forbidden.exit_code == exit_codes.AUTH
    assert BadRequest.exit_code == NotFound.exit_code == exit_codes.USAGE
    assert ServerError.exit_code == CctvError.exit_code == exit_codes.FAILURE


def test_request_shape(ready: Live) -> None:
    """What goes on the wire: bearer token, a User-Agent, a proxy prefix kept."""
    with (
        tiny_server(reply(200, b"[]", "application/json")) as (url, seen),
        CctvClient(url + "/node-a/", "sekret") as client,
    ):
        assert client.cameras(kecamatan="sangatta-utara") == []
        client.post_json("/api/v1/cameras/x/reboot")
    assert seen[0][":path"] == "/node-a/api/v1/cameras?kecamatan=sangatta-utara"
    assert seen[0]["authorization"] == "Bearer sekret"
    assert seen[0]["user-agent"].startswith("cctvctl/")
    assert seen[1][":path"] == "/node-a/api/v1/cameras/x/reboot"


#: An id as a person might type it: every character that would split or end a path.
ODD_ID = "a/b?c#d e%"
ODD_SEGMENT = "a%2Fb%3Fc%23d%20e%25"

#: Every client method that puts an id in the path.
ID_CALLS: list[Callable[[CctvClient], object]] = [
    lambda c: c.camera(ODD_ID),
    lambda c: c.recordings(ODD_ID),
    lambda c: c.thumbnail(ODD_ID),
    lambda c: c.reboot_camera(ODD_ID, "test"),
    lambda c: c.kecamatan_summary(ODD_ID),
    lambda c: c.export(ODD_ID),
    lambda c: c.cancel_export(ODD_ID),
    lambda c: c.export_manifest(ODD_ID),
    lambda c: c.verify_export(ODD_ID),
    lambda c: c.download_export(ODD_ID, io.BytesIO()),
    lambda c: c.reboot_job(ODD_ID),
    lambda c: c.fleet_where(ODD_ID),
    lambda c: c.fleet_token_remove(ODD_ID),
]


def test_every_id_reaches_the_server_as_one_quoted_segment() -> None:
    with (
        tiny_server(reply(404, problem(404, "no such thing"))) as (url, seen),
        CctvClient(url, retries=0) as client,
    ):
        for call in ID_CALLS:
            with pytest.raises(NotFound):
                call(client)
    assert len(seen) == len(ID_CALLS)
    reached = set()
    for request in seen:
        path = request[":path"].partition("?")[0]
        assert ODD_SEGMENT in path.split("/"), path
        found = routes.match(request[":method"], path)
        assert found is not None, path
        assert list(found[1].values()) == [ODD_ID]
        reached.add(found[0])
    # Every route with an id in its path was reached: none is missing from ID_CALLS.
    assert reached == {r for r in routes.ROUTES if "{" in r.template}


def test_blocking_client_offers_every_call_of_the_async_one() -> None:
    calls = {
        name
        for name, method in vars(AsyncCctvClient).items()
        if inspect.iscoroutinefunction(method) and not name.startswith("_")
    }
    # The control; events() is an async generator, left out: a blocking call cannot
    # stream for as long as the caller listens.
    assert "camera" in calls and "download_export" in calls and "events" not in calls
    missing = calls - {"aclose", "gather"} - set(dir(CctvClient))
    assert missing == set()
    assert inspect.signature(CctvClient.recordings).parameters.keys() == (
        inspect.signature(AsyncCctvClient.recordings).parameters.keys()
    )


def test_bad_url_is_refused_up_front() -> None:
    for url in ("ftp://x", "127.0.0.1:8470", "http://"):
        with pytest.raises(ValueError):
            CctvClient(url)


# --------------------------------------------------------------------------- events


async def test_events_replay_from_real_server(ready: Live) -> None:
    token = ready.site.tokens["viewer"]
    got: list[Event] = []
    async with AsyncCctvClient(ready.server.url, token) as api:
        async with asyncio.timeout(20):
            async for event in api.events(since=0):
                got.append(event)
                if len({e.camera for e in got if e.type == "camera.status"}) == len(
                    ready.site.camera_ids
                ):
                    break
        assert all(isinstance(e, Event) for e in got)
        ids = [e.id for e in got]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        # Resuming after the first event starts right after it: no repeat, no loss.
        async with asyncio.timeout(20):
            resumed = await anext(aiter(api.events(since=got[0].id)))
        assert resumed.id == got[1].id
        assert resumed == got[1]


async def test_events_stream_a_live_fault(ready: Live) -> None:
    camera = ready.site.camera_ids[2]
    token = ready.site.tokens["viewer"]
    async with AsyncCctvClient(ready.server.url, token) as api:
        stream = api.events(types=["camera.status"])
        first = asyncio.ensure_future(anext(aiter(stream)))
        await asyncio.sleep(0.5)  # subscribed before the fault
        ready.sim.fault(camera, "offline")
        try:
            async with asyncio.timeout(30):
                event = await first
                while not (event.camera == camera and event.data.get("status") == "offline"):
                    event = await anext(aiter(stream))
        finally:
            ready.sim.fault(camera, "recover")
        assert event.type == "camera.status"
        assert event.kecamatan == ready.site.camera_kecamatan[camera]
        await stream.aclose()
    wait_for(
        lambda: ready.server.get(f"/api/v1/cameras/{camera}").json()["status"] == "online",
        30,
        what=f"{camera} back online",
    )


async def test_events_bad_token_raises_at_once(ready: Live) -> None:
    async with AsyncCctvClient(ready.server.url, "wrong", retries=0) as api:
        with pytest.raises(AuthError):
            async with asyncio.timeout(10):
                await anext(aiter(api.events()))


def _sse(frames: list[str], close: bool = True) -> Handler:
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        h.wfile.write("".join(frames).encode())
        h.wfile.flush()

    return handle


def _event_frame(n: int, kind: str = "camera.status") -> str:
    body = {"id": n, "time": "2026-11-28T06:00:00Z", "type": kind, "camera": f"c{n}"}
    return f"id: {n}\nevent: {kind}\ndata: {json.dumps(body)}\n\n"


async def test_events_reconnect_with_last_event_id() -> None:
    """A dropped stream is reopened with the last id seen; gaps come through as events."""
    calls = [0]
    gap = json.dumps({"after_id": 2, "before_id": 7, "missed": 4})

    def handle(h: BaseHTTPRequestHandler) -> None:
        calls[0] += 1
        if calls[0] == 1:
            frames = ["retry: 10\n: hello\n\n", _event_frame(1), _event_frame(2)]
        else:
            frames = [f"event: {GAP_EVENT}\ndata: {gap}\n\n", _event_frame(7)]
        _sse(frames)(h)

    with tiny_server(handle) as (url, seen):
        async with AsyncCctvClient(url, "t", backoff=0.01) as api:
            got: list[Event] = []
            async with asyncio.timeout(10):
                async for event in api.events(since=0):
                    got.append(event)
                    if len(got) == 4:
                        break
    assert [e.id for e in got] == [1, 2, 6, 7]
    assert got[2].type == GAP_EVENT and got[2].data["missed"] == 4
    assert seen[0]["last-event-id"] == "0"
    assert seen[1]["last-event-id"] == "2"
    assert seen[1]["authorization"] == "Bearer t"


async def test_events_give_up_after_max_retries() -> None:
    with tiny_server(_sse([": nothing\n\n"])) as (url, seen):
        async with AsyncCctvClient(url, backoff=0.01) as api:
            with pytest.raises(Unreachable, match="kept closing"):
                async with asyncio.timeout(10):
                    await anext(aiter(api.events(max_retries=2)))
    assert len(seen) == 3


def test_sse_parser_rules() -> None:
    parser = SseParser()
    lines = ["retry: 2500", ": comment", "event: x", "data: a", "data:b", "id: 9", "", "", "data"]
    out = [m for m in (parser.feed(line) for line in [*lines, ""]) if m is not None]
    assert [(m.event, m.data, m.id) for m in out] == [("x", "a\nb", "9"), ("message", "", "9")]
    assert parser.retry_ms == 2500


# --------------------------------------------------------------------------- several nodes


def test_multi_client_reports_each_node(ready: Live, stopped: str) -> None:
    from cctvctl.cli.contexts import Target

    token = ready.site.tokens["viewer"]
    targets = [
        Target("up", ready.server.url, token),
        Target("down", stopped, token),
        Target("wrong-token", ready.server.url, "nope"),
    ]
    results = MultiClient(targets, backoff=0.01).run(lambda c: c.kecamatan())
    assert [r.name for r in results] == ["up", "down", "wrong-token"]
    up, down, wrong = results
    assert up.ok and up.value is not None and len(up.value) == len(ready.site.kecamatan)
    assert not down.ok and isinstance(down.error, Unreachable)
    assert str(down.error).startswith("down: ")
    assert isinstance(wrong.error, AuthError)


def test_run_blocking_answers_like_multi_client(ready: Live, stopped: str) -> None:
    from cctvctl.cli.contexts import Target

    token = ready.site.tokens["viewer"]

    async def question(c: AsyncCctvClient) -> tuple[Health, list[Camera]]:
        return await c.gather(c.health(), c.cameras())

    up = run_blocking(Target("up", ready.server.url, token), question)
    assert up.ok and up.value is not None
    health, cams = up.value
    assert isinstance(health, Health) and len(cams) == len(ready.site.camera_ids)
    assert isinstance(up.value, tuple)
    down = run_blocking(Target("down", stopped, token), question, backoff=0.01)
    assert not down.ok and isinstance(down.error, Unreachable)
    assert str(down.error).startswith("down: ")


def test_run_blocking_refuses_a_question_that_needs_a_loop(ready: Live) -> None:
    from cctvctl.cli.contexts import Target

    class Suspend:
        def __await__(self) -> Generator[None, None, None]:
            yield None  # what any real wait (a sleep, asyncio.gather) does

    async def question(c: AsyncCctvClient) -> None:
        await Suspend()

    with pytest.raises(RuntimeError, match=r"client\.gather\(\)"):
        run_blocking(Target("up", ready.server.url, None), question)


def test_run_blocking_refuses_events(ready: Live) -> None:
    """A stream that waits for news has no place on the blocking path: it would hold the
    thread for as long as the server stays up."""
    from cctvctl.cli.contexts import Target

    async def question(c: AsyncCctvClient) -> Event:
        return await anext(aiter(c.events(since=0)))

    with pytest.raises(TypeError, match="event loop"):
        run_blocking(Target("up", ready.server.url, ready.site.tokens["viewer"]), question)


# --------------------------------------------------------------------------- start-up cost


def test_client_import_stays_light() -> None:
    code = (
        "import sys, cctvctl.client; "
        "heavy = [m for m in ('fastapi', 'av', 'textual', 'zeep', 'onvif', 'numpy', "
        "'uvicorn', 'cctvctl.cli', 'cctvctl.server', 'cctvctl.config') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""


def test_unused_port_is_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with CctvClient(url, retries=0) as client, pytest.raises(Unreachable) as caught:
        client.camera("x")
    assert caught.value.url is not None and caught.value.url.startswith(url)


def test_a_servers_times_in_an_error_read_wita_or_utc() -> None:
    raw = "camera 'a' has no footage between 2026-12-04T14:40:00Z and 2026-12-04T14:45:00Z"
    exc = BadRequest("http://node", raw, status=422)
    assert exc.raw_detail == raw  # as the server sent it, for scripts
    assert exc.detail.endswith("between 2026-12-04 22:40:00 WITA and 2026-12-04 22:45:00 WITA")
    assert str(exc) == f"http://node: bad request (422): {exc.detail}"
    assert "2026-12-04 14:40:00 UTC" in exc.text(utc=True)
    assert "T14:40:00Z" not in str(exc)
