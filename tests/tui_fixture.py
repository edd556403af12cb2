"""Fixed data for the console's snapshot tests: a small Kutai Timur at 10:30 WITA.

:class:`FixedFleet` splits it over three nodes, one of which cannot be reached.

The real client and app run unchanged; only the network under them is an
``httpx.MockTransport`` answering from the data below, and the console's clock
(:mod:`cctvctl.tui.clock`) is pinned to :data:`NOW`. So a snapshot changes only when
what the console draws changes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
from pydantic import BaseModel

from cctvctl.client import _routes as routes
from cctvctl.models import (
    AuditEntry,
    Camera,
    CameraStatus,
    CameraWhere,
    Event,
    ExportJob,
    ExportState,
    FleetLease,
    FleetNode,
    FleetNodes,
    Gap,
    Health,
    Host,
    Identity,
    KecamatanSummary,
    Nic,
    OfflineCause,
    Recordings,
    Role,
    Segment,
    SiteKind,
    Volume,
)
from cctvctl.tui.app import CctvApp
from cctvctl.tui.data import ServerTarget

__all__ = ["FLAPPING", "NOW", "FixedFleet", "FixedSite", "fixed_app", "fleet_app"]

NOW = datetime(2026, 11, 28, 2, 30, tzinfo=UTC)  # 10:30 WITA
FLAPPING = "sgu-pkm-01"  # up and down 8 times in the last 10 minutes

_KECAMATAN = {
    "sangatta-utara": "Sangatta Utara",
    "bengalon": "Bengalon",
    "muara-wahau": "Muara Wahau",
    "kaliorang": "Kaliorang",
    "telen": "Telen",
}
# id, name, kecamatan, site, kind, status, minutes in that status
_CAMERAS: list[tuple[str, str, str, str, SiteKind, CameraStatus, float]] = [
    ("sgu-camat-01", "Kantor Camat gerbang", "sangatta-utara", "Kantor Camat Sangatta Utara",
     SiteKind.KANTOR_KECAMATAN, CameraStatus.ONLINE, 300),
    ("sgu-camat-02", "Kantor Camat parkir", "sangatta-utara", "Kantor Camat Sangatta Utara",
     SiteKind.KANTOR_KECAMATAN, CameraStatus.ONLINE, 300),
    ("sgu-pkm-01", "Puskesmas Sangatta Utara IGD", "sangatta-utara", "Puskesmas Sangatta Utara",
     SiteKind.PUSKESMAS, CameraStatus.DEGRADED, 12),
    ("sgu-desa-01", "Kantor Desa Singa Gembara", "sangatta-utara", "Desa Singa Gembara",
     SiteKind.KANTOR_DESA, CameraStatus.OFFLINE, 47),
    ("sgu-sd-01", "SD 001 halaman", "sangatta-utara", "SD Negeri 001 Sangatta Utara",
     SiteKind.SEKOLAH, CameraStatus.ONLINE, 900),
    ("sgu-fu-01", "Taman Bersemi", "sangatta-utara", "Taman Bersemi",
     SiteKind.FASILITAS_UMUM, CameraStatus.ONLINE, 900),
    ("bgl-camat-01", "Kantor Camat Bengalon", "bengalon", "Kantor Camat Bengalon",
     SiteKind.KANTOR_KECAMATAN, CameraStatus.ONLINE, 600),
    ("bgl-pkm-01", "Puskesmas Bengalon", "bengalon", "Puskesmas Bengalon",
     SiteKind.PUSKESMAS, CameraStatus.OFFLINE, 180),
    ("bgl-desa-01", "Kantor Desa Sepaso", "bengalon", "Desa Sepaso",
     SiteKind.KANTOR_DESA, CameraStatus.ONLINE, 600),
    ("mwh-camat-01", "Kantor Camat Muara Wahau", "muara-wahau", "Kantor Camat Muara Wahau",
     SiteKind.KANTOR_KECAMATAN, CameraStatus.ONLINE, 800),
    ("mwh-sd-01", "SMP 1 Muara Wahau", "muara-wahau", "SMP Negeri 1 Muara Wahau",
     SiteKind.SEKOLAH, CameraStatus.ONLINE, 800),
    ("krg-camat-01", "Kantor Camat Kaliorang", "kaliorang", "Kantor Camat Kaliorang",
     SiteKind.KANTOR_KECAMATAN, CameraStatus.ONLINE, 800),
    ("krg-pkm-01", "Puskesmas Kaliorang", "kaliorang", "Puskesmas Kaliorang",
     SiteKind.PUSKESMAS, CameraStatus.DISABLED, 5000),
    ("tln-camat-01", "Kantor Camat Telen", "telen", "Kantor Camat Telen",
     SiteKind.KANTOR_KECAMATAN, CameraStatus.ONLINE, 800),
    ("tln-desa-01", "Kantor Desa Juk Ayaq", "telen", "Desa Juk Ayaq",
     SiteKind.KANTOR_DESA, CameraStatus.ONLINE, 800),
]  # fmt: skip


def _camera(row: tuple[str, str, str, str, SiteKind, CameraStatus, float]) -> Camera:
    cid, name, slug, site, kind, status, minutes = row
    up = status in (CameraStatus.ONLINE, CameraStatus.DEGRADED)
    seed = int(hashlib.sha256(cid.encode()).hexdigest()[:6], 16)
    flapping = cid == FLAPPING
    return Camera(
        id=cid,
        name=name,
        kecamatan=_KECAMATAN[slug],
        kecamatan_slug=slug,
        site=site,
        site_kind=kind,
        enabled=status is not CameraStatus.DISABLED,
        has_onvif=cid != "sgu-fu-01",
        status=status,
        status_since=NOW - timedelta(minutes=minutes),
        last_packet=NOW - timedelta(seconds=1) if up else NOW - timedelta(minutes=minutes),
        fps=(7.5 if status is CameraStatus.DEGRADED else 10.0) if up else 0.0,
        expected_fps=10.0,
        kbps=(300 + seed % 400) if up else 0.0,
        reconnects_1h=9 if flapping else 3 if status is CameraStatus.DEGRADED else 0,
        rtt_ms=(20 + seed % 90) if up else None,
        recording=up,
        missing_seconds_24h=minutes * 60 if status is CameraStatus.OFFLINE else 120.0,
        last_error="ConnectionRefusedError: Connection refused"
        if status is CameraStatus.OFFLINE
        else None,
        cause=OfflineCause.REFUSED if status is CameraStatus.OFFLINE else None,
        changes_10m=8 if flapping else 0,
        flapping=flapping,
    )


def _summaries(cameras: list[Camera]) -> list[KecamatanSummary]:
    out = []
    for i, (slug, name) in enumerate(_KECAMATAN.items()):
        mine = [c for c in cameras if c.kecamatan_slug == slug]
        if not mine:
            continue  # a node of a fleet serves only some kecamatan

        def count(status: CameraStatus, mine: list[Camera] = mine) -> int:
            return sum(c.status is status for c in mine)

        out.append(
            KecamatanSummary(
                slug=slug,
                name=name,
                cameras_total=len(mine),
                online=count(CameraStatus.ONLINE),
                degraded=count(CameraStatus.DEGRADED),
                offline=count(CameraStatus.OFFLINE),
                disabled=count(CameraStatus.DISABLED),
                inbound_kbps=sum(c.kbps for c in mine),
                bytes_stored=(40 - 6 * i) * 1_000_000_000,
                quota_bytes=200_000_000_000 if slug == "sangatta-utara" else None,
                write_bps=sum(c.kbps for c in mine) * 125,
                days_to_full=38.0 if slug == "sangatta-utara" else None,
                missing_minutes_24h=sum(c.missing_seconds_24h for c in mine) / 60,
                worst_missing_seconds_24h=max((c.missing_seconds_24h for c in mine), default=0),
                worst_rtt_ms=max((c.rtt_ms for c in mine if c.rtt_ms is not None), default=None),
            )
        )
    return out


def _events() -> list[Event]:
    rows = [
        (1, 180, "bgl-pkm-01", "bengalon", "online", "offline", "no packet for 3 s"),
        (2, 47, "sgu-desa-01", "sangatta-utara", "online", "offline", "connection refused"),
        (3, 12, "sgu-pkm-01", "sangatta-utara", "online", "degraded", "7.5 of 10 fps"),
    ]
    events = [
        Event(
            id=i,
            time=NOW - timedelta(minutes=minutes),
            type="camera.status",
            camera=camera,
            kecamatan=kec,
            data={"status": status, "previous": previous, "reason": reason},
        )
        for i, minutes, camera, kec, previous, status, reason in rows
    ]
    events.append(
        Event(
            id=4,
            time=NOW - timedelta(minutes=5),
            type="storage.deleted",
            camera="sgu-sd-01",
            kecamatan="sangatta-utara",
            # As cctvctl.storage.retention publishes it.
            data={
                "reason": "quota",
                "count": 12,
                "bytes": 36_000_000,
                "start": (NOW - timedelta(days=30)).isoformat(),
                "end": (NOW - timedelta(days=30) + timedelta(minutes=12)).isoformat(),
            },
        )
    )
    return sorted(events, key=lambda e: e.id)


def _recordings(camera: Camera, start: datetime, end: datetime) -> Recordings:
    gaps = [
        Gap(start=NOW - timedelta(hours=9), end=NOW - timedelta(hours=8, minutes=20), seconds=2400),
        Gap(start=NOW - timedelta(hours=3), end=NOW - timedelta(hours=2, minutes=50), seconds=600),
    ]
    if camera.status is CameraStatus.OFFLINE and camera.status_since is not None:
        since = camera.status_since
        gaps.append(Gap(start=since, end=NOW, seconds=(NOW - since).total_seconds()))
    segments = []
    t = start
    while t < end:
        step = min(end, t + timedelta(hours=1))
        if not any(g.start < step and g.end > t for g in gaps):
            segments.append(Segment(start=t, end=step, bytes=90_000_000, frames=36_000))
        t = step
    missing = sum(g.seconds for g in gaps)
    return Recordings(
        camera=camera.id,
        start=start,
        end=end,
        segments=segments,
        gaps=gaps,
        recorded_seconds=(end - start).total_seconds() - missing,
        missing_seconds=missing,
    )


def _exports() -> list[ExportJob]:
    base = NOW - timedelta(minutes=30)
    return [
        ExportJob(
            id="ex-7f3a91c2",
            camera="sgu-camat-01",
            start=base - timedelta(hours=2),
            end=base - timedelta(hours=1, minutes=45),
            case_id="LP/117/XI/2026",
            requester="noc-admin",
            state=ExportState.DONE,
            created=base,
            started=base,
            finished=base + timedelta(seconds=40),
            percent=100.0,
            bytes_done=22_000_000,
            bytes_total=22_000_000,
            size=21_400_000,
            sha256="ab" * 32,
        ),
        ExportJob(
            id="ex-91d0e4b7",
            camera="bgl-pkm-01",
            start=base - timedelta(hours=5),
            end=base - timedelta(hours=4),
            case_id="LP/118/XI/2026",
            requester="noc-admin",
            state=ExportState.RUNNING,
            created=NOW - timedelta(minutes=2),
            started=NOW - timedelta(minutes=1),
            percent=42.0,
            bytes_done=37_800_000,
            bytes_total=90_000_000,
            eta_seconds=80.0,
        ),
    ]


def _audit() -> list[AuditEntry]:
    return [
        AuditEntry(
            id=1,
            time=NOW - timedelta(minutes=30),
            actor="noc-admin",
            role="admin",
            action="export.request",
            target="sgu-camat-01",
            case_id="LP/117/XI/2026",
            result="accepted",
        ),
        AuditEntry(
            id=2,
            time=NOW - timedelta(minutes=20),
            actor="noc-admin",
            role="admin",
            action="reboot",
            target="bgl-pkm-01",
            reason="no picture since 07:30",
            result="failed",
            detail="camera did not answer ONVIF within 10 s",
        ),
    ]


def _picture(camera_id: str, width: int, height: int) -> bytes:
    """A still per camera: its own colour, a sky gradient and a diagonal stripe."""
    seed = hashlib.sha256(camera_id.encode()).digest()
    base = np.array(list(seed[:3]), dtype=np.float32)
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
    img = base * (0.4 + 0.6 * y) + 60 * x
    stripe = (np.abs((x * width - y * height * 1.5) % 24) < 4)[..., 0]
    img[stripe] = (230, 230, 230)
    return np.clip(img, 0, 255).astype(np.uint8).tobytes()


def _json(payload: BaseModel | Iterable[BaseModel]) -> httpx.Response:
    if isinstance(payload, BaseModel):
        body = payload.model_dump_json()
    else:
        body = "[" + ",".join(p.model_dump_json() for p in payload) + "]"
    return httpx.Response(200, content=body, headers={"content-type": "application/json"})


def _problem(status: int, detail: str) -> httpx.Response:
    body = {"type": "about:blank", "title": "error", "status": status, "detail": detail}
    return httpx.Response(
        status, content=json.dumps(body), headers={"content-type": "application/problem+json"}
    )


class FixedSite:
    """The answers of one recording server, frozen at :data:`NOW`."""

    def __init__(
        self,
        role: Role = Role.ADMIN,
        camera_ids: Iterable[str] | None = None,
        fleet: FleetNodes | None = None,
    ) -> None:
        """``camera_ids``: only these of the fixed cameras (a fleet node's share);
        ``fleet``: what ``/fleet/nodes`` answers (None: 404 not-in-fleet, a single node)."""
        self.role = role
        self.fleet = fleet
        self.leases: dict[str, str] = {}  # camera -> the node recording it (a fleet's)
        self.store_down = False  # the fleet routes answer 503, as when PostgreSQL is down
        wanted = None if camera_ids is None else set(camera_ids)
        self.cameras = [_camera(row) for row in _CAMERAS if wanted is None or row[0] in wanted]
        self.kecamatan = _summaries(self.cameras)
        self.events = _events()
        self.health = Health(
            generated=NOW,
            server_version="0.1.0",
            volumes=[
                Volume(
                    path="/srv/cctv",
                    total_bytes=4_000_000_000_000,
                    used_bytes=1_640_000_000_000,
                    free_bytes=2_360_000_000_000,
                    reserve_bytes=40_000_000_000,
                    write_bps=700_000,
                    days_to_full=38.0,
                )
            ],
            host=Host(
                hostname="rec-sangatta-1",
                cpu_percent=23.0,
                memory_percent=41.0,
                load=(0.8, 0.7, 0.6),
                uptime_seconds=864_000,
                nics=[Nic(name="eth0", rx_bps=700_000, tx_bps=20_000)],
            ),
            kecamatan=self.kecamatan,
        )

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._answer)

    async def _answer(self, request: httpx.Request) -> httpx.Response:
        # The client's own route table says which endpoint a request is for, so the
        # fixture cannot drift from the paths (and the id quoting) the client sends.
        found = routes.match(request.method, request.url.raw_path.decode().partition("?")[0])
        handler = None if found is None else self._handlers().get(found[0])
        if found is None or handler is None:
            return _problem(404, f"no route {request.method} {request.url.path} in the fixture")
        return handler(request, **found[1])

    def _handlers(self) -> dict[routes.Route[Any], Callable[..., httpx.Response]]:
        return {
            routes.EVENTS: lambda _request: httpx.Response(
                200, headers={"content-type": "text/event-stream"}, stream=_Sse(self.events)
            ),
            routes.WHOAMI: lambda _request: _json(
                Identity(name=f"noc-{self.role.value}", role=self.role)
            ),
            routes.CAMERAS: lambda _request: _json(self.cameras),
            routes.KECAMATAN_LIST: lambda _request: _json(self.kecamatan),
            routes.HEALTH: lambda _request: _json(self.health),
            routes.FLEET_NODES: lambda _request: (
                _problem(404, "this server is a single node, not in a fleet")
                if self.fleet is None
                else _json(self.fleet)
            ),
            routes.EXPORTS: self._exports,
            routes.AUDIT: self._audit,
            routes.FLEET_WHERE: lambda _request, camera_id: self._where(camera_id),
            routes.CAMERA: lambda _request, camera_id: self._on_camera(camera_id, _json),
            routes.THUMBNAIL: lambda request, camera_id: self._on_camera(
                camera_id, lambda camera: self._thumbnail(camera, request)
            ),
            routes.RECORDINGS: lambda request, camera_id: self._on_camera(
                camera_id, lambda camera: self._recordings(camera, request)
            ),
        }

    def _on_camera(
        self, camera_id: str, answer: Callable[[Camera], httpx.Response]
    ) -> httpx.Response:
        camera = next((c for c in self.cameras if c.id == camera_id), None)
        if camera is None:
            return _problem(404, f"no camera {camera_id!r}")
        return answer(camera)

    def _where(self, camera_id: str) -> httpx.Response:
        if self.fleet is None:
            return _problem(404, "this server is a single node, not in a fleet")
        if self.store_down:
            return _problem(503, "fleet store unreachable at 127.0.0.1:5432")
        node = self.leases.get(camera_id)
        if node is None:
            return _problem(404, f"no camera {camera_id!r} in the fleet inventory")
        lease = FleetLease(
            camera=camera_id,
            node=node,
            acquired=NOW - timedelta(hours=1),
            expires=NOW + timedelta(seconds=30),
            live=True,
        )
        return _json(CameraWhere(camera=camera_id, at=NOW, lease=lease, runs=[]))

    def _exports(self, _request: httpx.Request) -> httpx.Response:
        if self.role is Role.VIEWER:
            return _problem(403, "token 'noc-viewer' has role 'viewer'; this needs 'operator'")
        return _json(_exports())

    def _audit(self, _request: httpx.Request) -> httpx.Response:
        if self.role is not Role.ADMIN:
            return _problem(403, f"token has role {self.role.value!r}; this needs 'admin'")
        return _json(_audit())

    def _recordings(self, camera: Camera, request: httpx.Request) -> httpx.Response:
        start = datetime.fromisoformat(request.url.params["start"])
        end = datetime.fromisoformat(request.url.params["end"])
        return _json(_recordings(camera, start, end))

    def _thumbnail(self, camera: Camera, request: httpx.Request) -> httpx.Response:
        if camera.status not in (CameraStatus.ONLINE, CameraStatus.DEGRADED):
            return _problem(404, f"no picture from {camera.id} yet")
        width = int(request.url.params.get("width", 160))
        height = int(request.url.params.get("height", 90))
        headers = {
            "content-type": "application/octet-stream",
            "X-Frame-Width": str(width),
            "X-Frame-Height": str(height),
            "X-Frame-Time": (NOW - timedelta(seconds=1)).isoformat(),
            "X-Frame-Age": "1.0",
        }
        return httpx.Response(200, content=_picture(camera.id, width, height), headers=headers)


# name, kecamatan served, cameras it records (the fleet splits Bengalon over two nodes and
# Kaliorang over a live node and a dead one).
_FLEET: list[tuple[str, list[str], list[str]]] = [
    ("sgu-1", ["sangatta-utara", "bengalon"],
     ["sgu-camat-01", "sgu-camat-02", "sgu-pkm-01", "sgu-desa-01", "sgu-sd-01", "sgu-fu-01",
      "bgl-camat-01"]),
    ("bgl-1", ["bengalon", "muara-wahau", "kaliorang", "telen"],
     ["bgl-pkm-01", "bgl-desa-01", "mwh-camat-01", "mwh-sd-01", "krg-camat-01", "krg-pkm-01",
      "tln-camat-01", "tln-desa-01"]),
    ("sgs-9", ["sangatta-selatan", "kaliorang"], ["sgs-camat-01"]),
]  # fmt: skip
DEAD_NODE = "sgs-9"


class FixedFleet:
    """Three nodes of one fleet: ``sgu-1`` and ``bgl-1`` answer, ``sgs-9`` refuses every
    connection (a node that died). Each node answers ``/fleet/nodes`` with the same list;
    the dead one's heartbeat is an hour old."""

    def __init__(self, role: Role = Role.ADMIN, dead: str | None = DEAD_NODE) -> None:
        self.dead = dead
        listed = FleetNodes(
            generated=NOW,
            node="sgu-1",
            lease_seconds=30.0,
            nodes=[
                FleetNode(
                    name=name,
                    url=self.url(name),
                    version="0.1.0",
                    kecamatan=kecamatan,
                    capacity=16,
                    heartbeat=NOW - timedelta(seconds=3600 if name == dead else 4),
                    heartbeat_age=3600.0 if name == dead else 4.0,
                    alive=name != dead,
                    leases=0 if name == dead else len(cameras),
                    # bgl-1 stands in for the dead node's second Kaliorang camera.
                    taken_over=["krg-pkm-01"] if name == "bgl-1" and dead else [],
                    lease_age=3600.0 if name == dead else 3.0,
                )
                for name, kecamatan, cameras in _FLEET
            ],
        )
        self.sites = {
            name: FixedSite(role, camera_ids=cameras, fleet=listed)
            for name, _kecamatan, cameras in _FLEET
        }
        leases = {camera: name for name, _kecamatan, cameras in _FLEET for camera in cameras}
        for site in self.sites.values():
            site.leases = leases

    @staticmethod
    def url(name: str) -> str:
        return f"http://{name}.invalid"

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._answer)

    async def _answer(self, request: httpx.Request) -> httpx.Response:
        name = request.url.host.removesuffix(".invalid")
        if name == self.dead:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return await self.sites[name]._answer(request)


class _Sse(httpx.AsyncByteStream):
    """The stored events, then silence until the console hangs up."""

    def __init__(self, events: list[Event]) -> None:
        self._events = events

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"retry: 3000\n\n"
        for e in self._events:
            yield f"id: {e.id}\nevent: {e.type}\ndata: {e.model_dump_json()}\n\n".encode()
        await asyncio.Event().wait()


def fixed_app(site: FixedSite | None = None, **options: Any) -> CctvApp:
    """The console on ``site`` (the admin's by default), polled once in the whole test,
    so sparklines have exactly one sample."""
    site = site or FixedSite()
    return CctvApp(
        "http://fixed.invalid", "token", "rec-sangatta-1", refresh=3600,
        transport=site.transport(), **options,
    )  # fmt: skip


def fleet_app(fleet: FixedFleet | None = None, **options: Any) -> CctvApp:
    """The console as ``cctvctl tui --fleet`` starts it on ``sgu-1`` of ``fleet``."""
    fleet = fleet or FixedFleet()
    more = [ServerTarget(fleet.url(n), "token", n) for n in fleet.sites if n != "sgu-1"]
    options = {"refresh": 3600, "health_seconds": 3600} | options
    return CctvApp(
        fleet.url("sgu-1"), "token", "sgu-1",
        transport=fleet.transport(), more=more, fleet=True, **options,
    )  # fmt: skip
