"""The HTTP API against a real simulator and a real `cctvctl server` subprocess.

One server (4 cameras in 2 kecamatan, 3 s segments) is shared by the module. Tests that
break a camera mend it before they return, so the order of tests does not matter.
"""

from __future__ import annotations

import json
import random
import string
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import av
import httpx
import pytest
from cli_process import clean_env, run_cctvctl
from harness import ROLES, Live, wait_for

from cctvctl.client import CctvClient
from cctvctl.config import hash_token

PROBLEM = "application/problem+json"
WITA = timezone(timedelta(hours=8))


# --------------------------------------------------------------------------- the route table


@dataclass(frozen=True)
class Route:
    """One API route and the least role that may use it.

    Every route the server documents must be in :data:`ROUTES` (see
    ``test_route_table_covers_openapi``): when an operator or admin route is added, add it
    here and the auth matrix covers it.
    """

    method: str
    path: str  # {camera} and {kecamatan} are filled in from the live site
    role: str  # least role that is let through
    ok: int = 200
    stream: bool = False  # server-sent events: only the status line is checked
    json: dict[str, Any] | None = None  # request body for writes


ROUTES: list[Route] = [
    Route("GET", "/api/v1/cameras", "viewer"),
    Route("GET", "/api/v1/cameras/{camera}", "viewer"),
    Route("GET", "/api/v1/cameras/{camera}/recordings", "viewer"),
    Route("GET", "/api/v1/cameras/{camera}/thumbnail?width=32&height=18", "viewer"),
    Route("GET", "/api/v1/health", "viewer"),
    Route("GET", "/api/v1/whoami", "viewer"),
    Route("GET", "/api/v1/kecamatan", "viewer"),
    Route("GET", "/api/v1/kecamatan/{kecamatan}", "viewer"),
    Route("GET", "/api/v1/events", "viewer", stream=True),
    Route("GET", "/metrics", "viewer"),
    Route("GET", "/openapi.json", "viewer"),
    # Export and audit routes. A made-up job id: auth is checked before the look-up, so
    # a role that is let through gets 404 (and no export is started by the matrix).
    Route(
        "POST",
        "/api/v1/exports",
        "operator",
        ok=404,
        json={
            "camera": "no-such-camera",
            "start": "2024-05-01T08:00:00Z",
            "end": "2024-05-01T08:01:00Z",
        },
    ),
    Route("GET", "/api/v1/exports", "operator"),
    Route("GET", "/api/v1/exports/{job_id}", "operator", ok=404),
    Route("DELETE", "/api/v1/exports/{job_id}", "operator", ok=404),
    Route("GET", "/api/v1/exports/{job_id}/file", "operator", ok=404),
    Route("GET", "/api/v1/exports/{job_id}/manifest", "operator", ok=404),
    Route("GET", "/api/v1/audit", "admin"),
    # The evidence vault: this server has none, so a caller let through learns that (404).
    Route("POST", "/api/v1/exports/{job_id}/verify", "operator", ok=404),
    Route("GET", "/api/v1/cases/hold?case_id=LP/1/2026", "operator", ok=404),
    Route("POST", "/api/v1/cases/hold", "admin", ok=404, json={"case_id": "LP/1/2026"}),
    Route("POST", "/api/v1/cases/release", "admin", ok=404, json={"case_id": "LP/1/2026"}),
    # Reboots. The live site has no ONVIF URLs, so an admin's single reboot is refused
    # (422 no_onvif) and the bulk one is a dry run that selects nothing: no device is touched.
    Route("POST", "/api/v1/cameras/{camera}/reboot", "admin", ok=422, json={"reason": "matrix"}),
    Route(
        "POST",
        "/api/v1/reboots",
        "admin",
        json={"offline_for": "1000d", "dry_run": True, "reason": "auth matrix"},
    ),
    Route("GET", "/api/v1/reboots", "admin"),
    Route("GET", "/api/v1/reboots/{job_id}", "admin", ok=404),
    # Time sync of a camera that exists nowhere: a caller let through learns that (404),
    # and a dry run would touch nothing anyway.
    Route(
        "POST",
        "/api/v1/time/sync",
        "admin",
        ok=404,
        json={"cameras": ["no-such-camera"], "ntp": "10.0.0.1", "dry_run": True},
    ),
    # The site's file is unchanged: a reload that changes nothing.
    Route("POST", "/api/v1/server/reload", "admin"),
    # The fleet: this server is a single node, so a caller let through learns that (404).
    Route("GET", "/api/v1/fleet/nodes", "viewer", ok=404),
    Route("GET", "/api/v1/fleet/where/{camera}", "viewer", ok=404),
    Route("GET", "/api/v1/fleet/placement", "viewer", ok=404),
    Route("GET", "/api/v1/fleet/catalogue?camera={camera}", "viewer", ok=404),
    Route("GET", "/api/v1/fleet/audit", "admin", ok=404),
    Route("POST", "/api/v1/fleet/inventory", "admin", ok=404, json={"toml": "[server]"}),
    Route(
        "POST",
        "/api/v1/fleet/tokens",
        "admin",
        ok=404,
        json={"name": "matrix", "role": "viewer", "hash": "sha256:" + "0" * 64},
    ),
    Route("DELETE", "/api/v1/fleet/tokens/{name}", "admin", ok=404),
]
PUBLIC = {"/healthz"}


def _fill(live: Live, path: str) -> str:
    camera = live.site.camera_ids[0]
    ids = _MadeUpIds(camera=camera, kecamatan=live.site.camera_kecamatan[camera])
    return path.format_map(ids)


class _MadeUpIds(dict[str, str]):
    """Any other placeholder ({job_id}, ...) gets an id that exists nowhere."""

    def __missing__(self, key: str) -> str:
        return "no-such-id"


def _call(live: Live, route: Route, token: str | None) -> httpx.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    url = live.server.url + _fill(live, route.path)
    with httpx.Client(timeout=10) as client:
        if route.stream:
            with client.stream(route.method, url, headers=headers) as resp:
                if resp.status_code >= 400:
                    resp.read()
                return resp
        return client.request(route.method, url, headers=headers, json=route.json)


def _assert_problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM), resp.headers
    body: dict[str, Any] = resp.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail", "instance"} <= body.keys()
    assert isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in resp.text
    return body


@pytest.fixture(scope="module")
def ready(live: Live) -> Live:
    """The live site once every camera has delivered a frame and closed a segment."""
    server = live.server
    wait_for(
        lambda: all(
            server.get(f"/api/v1/cameras/{c}/thumbnail").status_code == 200
            for c in live.site.camera_ids
        ),
        30,
        what="a thumbnail of every camera",
    )
    wait_for(
        lambda: all(
            server.get(f"/api/v1/cameras/{c}/recordings").json()["segments"]
            for c in live.site.camera_ids
        ),
        30,
        what="a closed segment of every camera",
    )
    return live


# --------------------------------------------------------------------------- auth matrix


def test_route_table_covers_openapi(ready: Live) -> None:
    spec = ready.server.get("/openapi.json").json()
    documented = {
        (method.upper(), path) for path, ops in spec["paths"].items() for method in ops
    } - {("GET", p) for p in PUBLIC}
    table = {(r.method, r.path.split("?")[0].replace("{camera}", "{camera_id}")) for r in ROUTES}
    assert documented <= table, f"routes missing from ROUTES: {sorted(documented - table)}"


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_auth_matrix(ready: Live, route: Route) -> None:
    resp = _call(ready, route, None)
    body = _assert_problem(resp, 401)
    assert resp.headers["www-authenticate"].startswith("Bearer")
    assert "token" in body["detail"]

    resp = _call(ready, route, "not-a-token-" + "x" * 20)
    _assert_problem(resp, 401)
    assert resp.headers["www-authenticate"].startswith("Bearer")

    for role in ROLES:
        resp = _call(ready, route, ready.site.tokens[role])
        if ROLES.index(role) < ROLES.index(route.role):
            _assert_problem(resp, 403)
        else:
            assert resp.status_code == route.ok, (role, resp.text)


def test_malformed_authorization_header_is_401(ready: Live) -> None:
    with httpx.Client(base_url=ready.server.url) as client:
        for header in ("Basic YWRtaW46YWRtaW4=", "Bearer", "token abc", ""):
            resp = client.get("/api/v1/cameras", headers={"Authorization": header})
            _assert_problem(resp, 401)


def test_whoami_names_each_tokens_role(ready: Live) -> None:
    for role in ROLES:
        with CctvClient(ready.server.url, ready.site.tokens[role]) as client:
            me = client.whoami()
        assert me.role.value == role
        assert me.name  # the configured token name, for the header and the audit log


def test_healthz_needs_no_token(ready: Live) -> None:
    resp = ready.server.get("/healthz", role=None)
    assert resp.status_code == 200
    assert resp.json()["status"] == "ok"


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("path", "status", "mentions"),
    [
        ("/api/v1/cameras/no-such-cam", 404, "no-such-cam"),
        ("/api/v1/cameras/no-such-cam/recordings", 404, "no-such-cam"),
        ("/api/v1/cameras/no-such-cam/thumbnail", 404, "no-such-cam"),
        ("/api/v1/cameras?kecamatan=atlantis", 404, "atlantis"),
        ("/api/v1/kecamatan/atlantis", 404, "atlantis"),
        ("/api/v1/cameras?status=sleeping", 422, "status"),
        ("/api/v1/no/such/route", 404, "/api/v1/no/such/route"),
        ("/nothing-here", 404, "/nothing-here"),
        ("/api/v1/cameras/{camera}/thumbnail?width=0", 422, "width"),
        ("/api/v1/cameras/{camera}/thumbnail?width=100000", 422, "width"),
        ("/api/v1/cameras/{camera}/thumbnail?height=abc", 422, "height"),
        ("/api/v1/cameras/{camera}/thumbnail?format=png", 422, "format"),
        ("/api/v1/cameras/{camera}/recordings?start=yesterday", 422, "start"),
        ("/api/v1/cameras/{camera}/recordings?start=2024-05-01T08:00:00", 422, "offset"),
        (
            "/api/v1/cameras/{camera}/recordings?start=2024-05-02T00:00:00Z"
            "&end=2024-05-01T00:00:00Z",
            422,
            "after",
        ),
        (
            "/api/v1/cameras/{camera}/recordings?start=2024-01-01T00:00:00Z"
            "&end=2024-03-01T00:00:00Z",
            422,
            "31 days",
        ),
        ("/api/v1/cameras/{camera}/recordings?end=0001-01-01T00:00:00Z", 422, "end"),
        ("/api/v1/events?since=-1", 422, "since"),
    ],
)
def test_bad_input_is_a_problem(ready: Live, path: str, status: int, mentions: str) -> None:
    body = _assert_problem(ready.server.get(_fill(ready, path)), status)
    assert mentions in body["detail"]


def test_bad_status_filter_says_what_is_accepted(ready: Live) -> None:
    body = _assert_problem(ready.server.get("/api/v1/cameras?status=sleeping"), 422)
    for status in ("online", "degraded", "offline", "disabled"):
        assert status in body["detail"]
    assert body["errors"][0]["parameter"] == "status"


def test_wrong_method_is_405_problem(ready: Live) -> None:
    with ready.server.client("admin") as api:
        resp = api.post("/api/v1/cameras", json={})
    body = _assert_problem(resp, 405)
    assert "GET" in body["detail"]


def test_bad_last_event_id_is_422(ready: Live) -> None:
    resp = ready.server.get("/api/v1/events", headers={"Last-Event-ID": "abc"})
    body = _assert_problem(resp, 422)
    assert "Last-Event-ID" in body["detail"]


_NASTY = [
    "",
    " ",
    "-1",
    "0",
    "1e309",
    "NaN",
    "null",
    "%00",
    "%FF%FE",
    "../../etc/passwd",
    "'; DROP TABLE segments; --",
    "9" * 40,
    "2024-13-45T25:61:61Z",
    "2024-05-01T08:00:00+99:99",
    "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z",
    "\u0000",
    "Sangatta Utara",
    "ونس",
    "{}",
    "[]",
]
_FUZZ_PATHS = [
    ("/api/v1/cameras", ["kecamatan", "status"]),
    ("/api/v1/cameras/{camera}", []),
    ("/api/v1/cameras/{camera}/recordings", ["start", "end"]),
    ("/api/v1/cameras/{camera}/thumbnail", ["width", "height", "format", "at"]),
    ("/api/v1/kecamatan/{x}", []),
    ("/api/v1/health", ["verbose"]),
    ("/api/v1/cameras/{x}/recordings", ["start"]),
]


def test_fuzzed_query_parameters_never_500(ready: Live) -> None:
    rng = random.Random(20240501)
    alphabet = string.printable + "éü€😀"
    seen: set[int] = set()
    with ready.server.client("viewer") as api:
        for n in range(300):
            template, params = rng.choice(_FUZZ_PATHS)
            value = (
                rng.choice(_NASTY)
                if n % 2
                else "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
            )
            path = template.format(camera=ready.site.camera_ids[0], x=quote(value, safe="") or "x")
            query = {p: rng.choice([value, *_NASTY]) for p in params if rng.random() < 0.8}
            resp = api.get(path, params=query)
            seen.add(resp.status_code)
            assert resp.status_code < 500, (path, query, resp.text)
            if resp.status_code >= 400:
                _assert_problem(resp, resp.status_code)
    assert {200, 404, 422} <= seen  # the fuzz reached the handlers, not just the router


# --------------------------------------------------------------------------- reads


def test_camera_list_and_filters(ready: Live) -> None:
    site = ready.site
    cams = ready.server.get("/api/v1/cameras").json()
    assert [c["id"] for c in cams] == site.camera_ids
    slug = site.camera_kecamatan[site.camera_ids[0]]
    name = site.kecamatan[slug]
    by_slug = ready.server.get("/api/v1/cameras", params={"kecamatan": slug}).json()
    by_name = ready.server.get("/api/v1/cameras", params={"kecamatan": name.upper()}).json()
    assert [c["id"] for c in by_slug] == site.cameras_in(slug) == [c["id"] for c in by_name]
    online = ready.server.get("/api/v1/cameras", params={"status": "online"}).json()
    assert {c["id"] for c in online} == set(site.camera_ids)
    assert ready.server.get("/api/v1/cameras", params={"status": "disabled"}).json() == []
    one = ready.server.get(f"/api/v1/cameras/{site.camera_ids[1]}").json()
    assert one["id"] == site.camera_ids[1]
    assert one["kecamatan_slug"] == site.camera_kecamatan[site.camera_ids[1]]
    assert one["recording"] is True
    assert one["fps"] > 0
    # The list is sent as JSON made in one call, the detail through the response model:
    # the same fields either way, and the same values for what does not move.
    listed = next(c for c in cams if c["id"] == one["id"])
    assert set(listed) == set(one)
    steady = ("name", "kecamatan", "kecamatan_slug", "site", "site_kind", "enabled", "media")
    assert {k: listed[k] for k in steady} == {k: one[k] for k in steady}


@pytest.mark.parametrize(("width", "height"), [(32, 18), (160, 90), (7 * 8, 9)])
def test_thumbnail_rgb(ready: Live, width: int, height: int) -> None:
    camera = ready.site.camera_ids[0]
    resp = ready.server.get(
        f"/api/v1/cameras/{camera}/thumbnail", params={"width": width, "height": height}
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/octet-stream"
    assert resp.headers["cache-control"] == "no-store"
    w, h = int(resp.headers["x-frame-width"]), int(resp.headers["x-frame-height"])
    assert (w, h) == (width, height)
    assert len(resp.content) == w * h * 3
    frame_time = datetime.fromisoformat(resp.headers["x-frame-time"])
    assert frame_time.tzinfo is not None
    age = float(resp.headers["x-frame-age"])
    assert 0 <= age < 30
    # A real picture, not a blank buffer.
    assert len(set(resp.content)) > 8


def test_thumbnail_jpeg(ready: Live) -> None:
    camera = ready.site.camera_ids[1]
    resp = ready.server.get(
        f"/api/v1/cameras/{camera}/thumbnail", params={"format": "jpeg", "width": 64, "height": 36}
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "image/jpeg"
    assert resp.content[:2] == b"\xff\xd8"


def test_thumbnail_sizes_default_to_small_rgb_and_native_jpeg(ready: Live) -> None:
    camera = ready.site.camera_ids[1]
    url = f"/api/v1/cameras/{camera}/thumbnail"
    jpeg = ready.server.get(url, params={"format": "jpeg"})
    assert jpeg.status_code == 200
    native = (ready.site.spec.width, ready.site.spec.height)
    assert (int(jpeg.headers["X-Frame-Width"]), int(jpeg.headers["X-Frame-Height"])) == native
    rgb = ready.server.get(url, params={"format": "rgb"})
    assert int(rgb.headers["X-Frame-Width"]) == 160
    assert len(rgb.content) == 160 * int(rgb.headers["X-Frame-Height"]) * 3


def test_recordings_window(ready: Live) -> None:
    camera = ready.site.camera_ids[0]
    rec = ready.server.get(f"/api/v1/cameras/{camera}/recordings").json()
    assert rec["camera"] == camera
    end = datetime.fromisoformat(rec["end"])
    start = datetime.fromisoformat(rec["start"])
    assert end - start == timedelta(hours=24)
    assert abs((datetime.now(UTC) - end).total_seconds()) < 10
    segs = rec["segments"]
    assert segs
    starts = [datetime.fromisoformat(s["start"]) for s in segs]
    assert starts == sorted(starts)
    for s in segs:
        assert datetime.fromisoformat(s["end"]) > datetime.fromisoformat(s["start"])
        assert s["bytes"] > 0
    assert rec["recorded_seconds"] > 0

    # People think in WITA (UTC+8); a '+' sent unencoded arrives as a space and still works.
    given = (datetime.now(UTC) - timedelta(hours=1)).astimezone(WITA).replace(microsecond=0)
    resp = ready.server.get(f"/api/v1/cameras/{camera}/recordings?start={given.isoformat()}")
    assert resp.status_code == 200, resp.text
    assert datetime.fromisoformat(resp.json()["start"]) == given
    assert resp.json()["segments"]


def test_health_lists_every_kecamatan(ready: Live) -> None:
    health = ready.server.get("/api/v1/health").json()
    kec = {k["slug"]: k for k in health["kecamatan"]}
    assert list(kec) == list(ready.site.kecamatan)
    assert {k["name"] for k in kec.values()} == set(ready.site.kecamatan.values())
    for slug, summary in kec.items():
        assert summary["cameras_total"] == len(ready.site.cameras_in(slug))
        assert summary["online"] == summary["cameras_total"]
        assert summary["bytes_stored"] > 0
    [vol] = health["volumes"]
    assert vol["total_bytes"] >= vol["free_bytes"] > 0
    assert vol["reserve_bytes"] > 0
    host = health["host"]
    assert 0 <= host["memory_percent"] <= 100
    assert host["uptime_seconds"] > 0
    assert host["nics"]


def test_metrics(ready: Live) -> None:
    resp = ready.server.get("/metrics")
    assert resp.headers["content-type"].startswith("text/plain")
    text = resp.text
    for camera in ready.site.camera_ids:
        slug = ready.site.camera_kecamatan[camera]
        labels = f'camera="{camera}",kecamatan="{slug}"'
        assert f"cctv_camera_up{{{labels}}} 1.0" in text
        assert f"cctv_camera_fps{{{labels}}}" in text
        assert f"cctv_camera_kbps{{{labels}}}" in text
        assert f"cctv_camera_reconnects_1h{{{labels}}}" in text
        assert f"cctv_segments_written_total{{{labels}}}" in text
    for slug in ready.site.kecamatan:
        assert f'cctv_kecamatan_bytes_stored{{kecamatan="{slug}"}}' in text


# --------------------------------------------------------------------------- live events


def test_offline_fault_streams_status_events(ready: Live) -> None:
    site, sim, server = ready.site, ready.sim, ready.server
    camera = site.camera_ids[2]
    slug = site.camera_kecamatan[camera]

    def status_of(event_status: str) -> Any:
        return lambda e: (
            e.event == "camera.status"
            and e.json()["camera"] == camera
            and e.json()["data"].get("status") == event_status
        )

    with server.events() as stream:
        assert stream.status == 200
        assert stream.content_type is not None
        assert stream.content_type.startswith("text/event-stream")
        sim.fault(camera, "offline")
        try:
            event = stream.wait_for(status_of("offline"), 15)
            body = event.json()
            assert event.id == str(body["id"])
            assert body["kecamatan"] == slug
            assert server.get(f"/api/v1/cameras/{camera}").json()["status"] == "offline"
            worst = server.get("/api/v1/kecamatan").json()[0]
            assert worst["slug"] == slug
            assert worst["offline"] == 1
            # The last frame stays available, with its age.
            thumb = server.get(f"/api/v1/cameras/{camera}/thumbnail")
            assert thumb.status_code == 200
            assert float(thumb.headers["x-frame-age"]) >= 3
        finally:
            sim.fault(camera, "recover")
        stream.wait_for(status_of("online"), 45)
    assert server.get(f"/api/v1/cameras/{camera}").json()["status"] == "online"

    # Replay: a client that reconnects after the offline event gets the online one again.
    last_offline = int(event.id or 0)
    with server.events(f"since={last_offline}") as replay:
        replay.wait_for(status_of("online"), 5)


def _subscribers(live: Live) -> float:
    text = live.server.get("/metrics").text
    line = next(ln for ln in text.splitlines() if ln.startswith("cctv_event_subscribers "))
    return float(line.split()[1])


def test_events_type_filter_and_no_leaked_subscriptions(ready: Live) -> None:
    with ready.server.events("since=0&types=no.such.type") as stream:
        assert stream.next(2) is None
        assert stream.status == 200
        assert _subscribers(ready) >= 1
    # A client that went away leaves nothing behind on the server.
    wait_for(lambda: _subscribers(ready) == 0, 10, what="the subscription to be dropped")


def _drain(live: Live, query: str) -> list[int]:
    ids: list[int] = []
    with live.server.events(query) as stream:
        while (event := stream.next(1.5)) is not None:
            if event.id is not None:
                ids.append(int(event.id))
    return ids


def test_events_last_replays_only_the_latest(ready: Live) -> None:
    everything = _drain(ready, "since=0")
    assert len(everything) >= 3, "the live site should have stored a few status events"
    latest = _drain(ready, "last=2")
    # Events may arrive meanwhile; the replay starts at the second-newest stored one.
    assert latest[:2] == everything[-2:] or latest[0] > everything[-2]
    assert len(latest) >= 2 and latest == sorted(latest)
    resp = _call(
        ready, Route("GET", "/api/v1/events?last=0", "viewer"), ready.site.tokens["viewer"]
    )
    body = _assert_problem(resp, 422)
    assert "last" in body["detail"]


# --------------------------------------------------------------------------- secrets


def _all_bodies(live: Live) -> list[str]:
    bodies: list[str] = []
    with live.server.client("admin") as api:
        for route in ROUTES:
            if route.stream or "thumbnail" in route.path:
                continue
            bodies.append(api.get(_fill(live, route.path)).text)
        for camera in live.site.camera_ids:
            bodies.append(api.get(f"/api/v1/cameras/{camera}").text)
        bodies.append(api.get("/api/v1/cameras/nope").text)
    with live.server.events("since=0") as stream:
        while (event := stream.next(1.5)) is not None:
            bodies.append(event.data)
    return bodies


def test_no_password_in_responses_or_logs(ready: Live) -> None:
    site = ready.site
    bodies = _all_bodies(ready)
    assert len(bodies) > len(ROUTES)
    log = ready.server.log_text()
    assert "recording" in log  # the log really is the server's
    for camera, password in site.passwords.items():
        for body in bodies:
            assert password not in body, f"{camera}'s password in a response"
        assert password not in log, f"{camera}'s password in the server log"
    for body in bodies:
        assert "rtsp://admin:" not in body


def test_camera_state_changes_are_logged(ready: Live) -> None:
    log = ready.server.log_text()
    for camera in ready.site.camera_ids:
        assert camera in log


def test_segments_decode(ready: Live) -> None:
    camera = ready.site.camera_ids[3]
    files = sorted(
        (ready.site.storage / ready.site.camera_kecamatan[camera] / camera).rglob("*.mp4")
    )
    assert files
    closed = files[:-1] or files
    with av.open(str(closed[0])) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames > 0


# --------------------------------------------------------------------------- pieces


async def test_unexpected_error_is_a_bare_500_problem() -> None:
    from fastapi import FastAPI

    from cctvctl.server import problems

    app = FastAPI()
    problems.install(app)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("rtsp://admin:hunter2@10.0.0.1/ failed in /srv/cctv/secret.py")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        resp = await client.get("/boom")
    body = _assert_problem(resp, 500)
    assert "hunter2" not in resp.text
    assert "secret.py" not in resp.text
    assert body["instance"] == "/boom"


def test_redactor_masks_passwords_and_url_credentials() -> None:
    import logging

    from cctvctl.server.credentials import RedactingFilter, Redactor

    redact = Redactor(["s3cret-pass", "ab"])
    assert redact("open rtsp://admin:s3cret-pass@10.0.0.5:554/x failed") == (
        "open rtsp://***:***@10.0.0.5:554/x failed"
    )
    assert redact("password was s3cret-pass") == "password was ***"
    assert redact("tab and cab stay") == "tab and cab stay"  # too short to be masked

    record = logging.LogRecord(
        "t", logging.ERROR, __file__, 1, "cam %s: %s", ("c1", "s3cret-pass"), None
    )
    try:
        raise ValueError("s3cret-pass in a traceback")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactingFilter(redact).filter(record)
    text = logging.Formatter().format(record)
    assert "s3cret-pass" not in text
    assert "cam c1: ***" in text


def cctvctl_ok(*args: str) -> str:
    proc = run_cctvctl(*args, env=clean_env())
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_token_create_prints_pasteable_config() -> None:
    out = cctvctl_ok("token", "create", "--name", "noc oncall", "--role", "operator")
    token = next(line.strip() for line in out.splitlines() if line.strip().startswith("cctv_"))
    toml_text = out[out.index("[[server.token]]") :]
    entry = tomllib.loads(toml_text)["server"]["token"][0]
    assert entry == {"name": "noc oncall", "role": "operator", "hash": hash_token(token)}
    assert out.count(token) == 1

    as_json = json.loads(cctvctl_ok("token", "create", "--name", "x", "--role", "admin", "--json"))
    assert as_json["hash"] == hash_token(as_json["token"])
    assert tomllib.loads(as_json["toml"])["server"]["token"][0]["role"] == "admin"

    bad = run_cctvctl("token", "create", "--name", "x", "--role", "root", env=clean_env())
    assert bad.returncode == 2


def test_second_server_on_a_busy_port_fails_cleanly(ready: Live) -> None:
    config = str(ready.site.config)
    busy = f"127.0.0.1:{ready.server.port}"
    result = run_cctvctl("server", "--config", config, "--listen", busy, env=clean_env())
    assert result.returncode == 1
    assert "cannot listen" in result.stderr
    assert "Traceback" not in result.stderr
    bad = run_cctvctl("server", "--config", config, "--listen", "nowhere", env=clean_env())
    assert bad.returncode == 2
    assert "host:port" in bad.stderr


def test_server_log_lines_carry_a_wita_offset(ready: Live) -> None:
    # A log shipper or an operator reading the log at 02:00 must not guess the zone.
    stamped = [
        line.split(" ", 1)[0]
        for line in ready.server.log_text().splitlines()
        if line[:4].isdigit() and " " in line
    ]
    assert stamped, ready.server.log_text()
    now = datetime.now(UTC)
    for stamp in stamped:
        when = datetime.fromisoformat(stamp)
        assert when.utcoffset() == timedelta(hours=8), stamp
        assert abs(now - when) < timedelta(hours=1), stamp
