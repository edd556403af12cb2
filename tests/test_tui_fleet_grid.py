"""`cctvctl tui --fleet` over two real nodes that share a kecamatan: one grid of both
nodes' cameras, each from the node that records it, and export and reboot sent to that
node from a console started on the other. Then node-b is killed: its cameras read
unknown (node unreachable), never offline, until node-a takes them over, and the
console routes to node-a from then on.

The simulator (with ONVIF, so the reboot is real), a real PostgreSQL and two `cctvctl
server` processes with a 6 s lease and 2 s segments, as tests/test_fleet_failover.py.
One story in one test: the kill ends the fleet the earlier steps stand on.
"""

from __future__ import annotations

import os
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cli_process import NO_CONFIG
from fleet_sites import fleet_toml, node_site
from harness import RunningSim, ServerProcess, Site, SiteSpec, start_sim, wait_for, write_site
from pg_harness import PgDatabase
from textual.widgets import Input
from tui_fixture import FixedFleet, fleet_app
from tui_pilot import screen_text, shown, until

from cctvctl.client import UNKNOWN
from cctvctl.fleet.store import FleetStore
from cctvctl.models import Camera, CameraPlace, CameraStatus, FleetPlacement, SiteKind
from cctvctl.tui.app import CctvApp
from cctvctl.tui.data import ServerTarget
from cctvctl.tui.fleet_view import NOBODY, GridCamera, fleet_cameras
from cctvctl.tui.screens.camera import CameraScreen
from cctvctl.tui.screens.export_form import ExportForm
from cctvctl.tui.screens.exports import ExportsScreen
from cctvctl.tui.screens.fleet_grid import FleetGridScreen
from cctvctl.tui.screens.reboot_modal import RebootModal
from cctvctl.tui.widgets.thumb import Thumb
from cctvctl.tui.widgets.tile import Tile
from cctvctl.tui.widgets.timeline import Timeline

LEASE = 6
SEGMENT = 2
SLUG = "sangatta-utara"
SPEC = SiteSpec(
    cameras=4,
    kecamatan=("Sangatta Utara",),
    segment_seconds=SEGMENT,
    offline_after=3,
    onvif=True,
)


@dataclass
class SharedKecamatan:
    site: Site
    sim: RunningSim
    a: ServerProcess
    b: ServerProcess
    home: dict[str, str]  # camera -> node

    def homed(self, node: str) -> list[str]:
        return sorted(c for c, n in self.home.items() if n == node)


def listed(server: ServerProcess) -> set[str]:
    return {c["id"] for c in server.get("/api/v1/cameras").json()}


@pytest.fixture(scope="module")
def shared(
    tmp_path_factory: pytest.TempPathFactory, sim_cache: Path, pg: PgDatabase
) -> Iterator[SharedKecamatan]:
    site = write_site(tmp_path_factory.mktemp("fleet-grid"), SPEC)
    sim = start_sim(site, sim_cache)
    cams = site.camera_ids
    home = {cams[0]: "node-a", cams[1]: "node-a", cams[2]: "node-b", cams[3]: "node-b"}
    failover = {c: ["node-b" if n == "node-a" else "node-a"] for c, n in home.items()}
    a = ServerProcess(node_site(site, "node-a", pg.dsn, LEASE))
    b = ServerProcess(node_site(site, "node-b", pg.dsn, LEASE))
    store = FleetStore(pg.dsn)
    try:
        a.start()
        b.start()
        text = fleet_toml(site, home, failover)
        store.publish_inventory(text, tomllib.loads(text), author="test")
        shared = SharedKecamatan(site, sim, a, b, home)
        for server, node in ((a, "node-a"), (b, "node-b")):
            wait_for(
                lambda s=server, n=node: listed(s) == set(shared.homed(n)),
                30,
                what=f"{node} recording {shared.homed(node)}",
            )
        yield shared
    finally:
        for server in (a, b):
            if server.running:
                server.stop()
        store.close()
        sim.stop()


def test_placement_names_each_cameras_node_from_any_node(shared: SharedKecamatan) -> None:
    # The names write_site gives, in camera order: what the inventory says, not a node.
    names = {c: f"Kamera {n + 1}" for n, c in enumerate(shared.site.camera_ids)}
    for server in (shared.a, shared.b):
        body = server.get("/api/v1/fleet/placement", params={"kecamatan": SLUG}).json()
        assert body["kecamatan"] == SLUG
        places = {p["camera"]: p for p in body["cameras"]}
        assert {c: p["node"] for c, p in places.items()} == shared.home
        assert {c: p["home"] for c, p in places.items()} == shared.home
        assert all(
            p["live"] and p["node_alive"] and p["kecamatan"] == SLUG for p in places.values()
        )
        assert {c: p["name"] for c, p in places.items()} == names
    everything = shared.a.get("/api/v1/fleet/placement").json()
    assert {p["camera"] for p in everything["cameras"]} == set(shared.home)
    assert everything["kecamatan"] is None
    other = shared.a.get("/api/v1/fleet/placement", params={"kecamatan": "bengalon"}).json()
    assert other["cameras"] == []
    too_long = shared.a.get("/api/v1/fleet/placement", params={"kecamatan": "x" * 201})
    assert too_long.status_code == 422
    assert too_long.headers["content-type"].startswith("application/problem+json")
    assert shared.a.get("/api/v1/fleet/placement", role=None).status_code == 401


def tiles(app: CctvApp) -> dict[str, Tile]:
    return {t.camera_id: t for t in app.screen.query(Tile)}


def entries(app: CctvApp) -> dict[str, GridCamera]:
    screen = app.screen
    assert isinstance(screen, FleetGridScreen)
    return {e.id: e for e in screen.entries()}


async def test_grid_export_reboot_and_failover_over_two_real_nodes(
    shared: SharedKecamatan, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [k for k in os.environ if k.startswith("CCTVCTL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CCTVCTL_CONFIG", NO_CONFIG)
    token = shared.site.tokens["admin"]
    a, b = shared.a, shared.b
    app = CctvApp(
        a.url, token, "node-a", refresh=0.5, health_seconds=0.5,
        more=[ServerTarget(b.url, token, "node-b")], fleet=True,
    )  # fmt: skip
    on_b = shared.homed("node-b")[0]
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await until(pilot, lambda: app.fleet is not None)
        # 1. One grid of the kecamatan both nodes record, each camera from its node.
        app.open_kecamatan(SLUG)
        grid = await shown(pilot, FleetGridScreen)
        await until(pilot, lambda: {k: t.entry.node for k, t in tiles(app).items()} == shared.home)
        assert app.target.name == "node-a"
        # Pictures of node-b's cameras, fetched from node-b (node-a does not list them).
        await until(
            pilot,
            lambda: all(tiles(app)[c].thumb.grid is not None for c in shared.homed("node-b")),
            timeout=30,
        )
        assert on_b not in listed(a)
        assert "4 cameras" in screen_text(app)

        # 2. Its camera screen, export and reboot go to node-b, from a console on node-a.
        grid.set_focus(tiles(app)[on_b])
        await pilot.press("enter")
        camera = await shown(pilot, CameraScreen)
        assert camera.camera_id == on_b and app.target.name == "node-b"
        await until(pilot, lambda: camera.query_one(Timeline).recordings is not None)
        await pilot.press("e")
        form = await shown(pilot, ExportForm)
        assert form.client is app.client_named("node-b")
        form.query_one("#case", Input).value = "KUTIM-GRID-1"
        await pilot.press("enter")
        await shown(pilot, ExportsScreen)
        jobs_b = b.get("/api/v1/exports", role="operator").json()
        assert [(j["camera"], j["case_id"]) for j in jobs_b] == [(on_b, "KUTIM-GRID-1")]
        assert a.get("/api/v1/exports", role="operator").json() == []

        await pilot.press("escape")
        await shown(pilot, CameraScreen)
        await pilot.press("b")
        modal = await shown(pilot, RebootModal)
        assert modal.client is app.client_named("node-b")
        modal.query_one("#reason", Input).value = "grid routing test"
        await pilot.press("enter")
        await shown(pilot, CameraScreen)

        def reboots(server: ServerProcess) -> list[tuple[str | None, str]]:
            rows = server.get("/api/v1/audit", role="admin").json()
            return [(r["target"], r["reason"]) for r in rows if r["action"] == "reboot"]

        assert reboots(b) == [(on_b, "grid routing test")]
        assert reboots(a) == []

        # 3. node-b dies: its cameras are unknown, never offline, until node-a has them.
        await pilot.press("escape")
        assert await shown(pilot, FleetGridScreen) is grid
        b.kill()
        killed = time.monotonic()
        seen: dict[str, list[tuple[str | None, str | None, CameraStatus | None]]] = {
            cam: [] for cam in shared.homed("node-b")
        }

        def moved() -> bool:
            now = entries(app)
            for cam, states in seen.items():
                e = now.get(cam)
                if e is not None:
                    states.append((e.node, e.unknown, e.camera.status if e.camera else None))
            return all(
                cam in now and now[cam].node == "node-a" and now[cam].camera is not None
                for cam in seen
            )

        def unknown_all() -> bool:
            moved()
            return all(states and states[-1][1] == UNKNOWN for states in seen.values())

        await until(pilot, unknown_all, timeout=5)
        await until(pilot, lambda: UNKNOWN in screen_text(app), timeout=3)
        await until(pilot, lambda: "node-b unreachable" in screen_text(app), timeout=3)
        await until(pilot, moved, timeout=LEASE + 20)
        print(f"node-b's cameras unknown, then on node-a {time.monotonic() - killed:.1f} s on")
        for cam, states in seen.items():
            # From the first "unknown" on, while node-b holds it: never a status, so never
            # offline; then node-a's word.
            after = states[[u for _, u, _ in states].index(UNKNOWN) :]
            out = [status for node, _, status in after if node == "node-b"]
            assert out and set(out) == {None}, (cam, states)
            assert CameraStatus.OFFLINE not in out
            assert after[-1][0] == "node-a" and after[-1][2] is not None

        # 4. The camera now routes to node-a.
        grid.set_focus(tiles(app)[on_b])
        await pilot.press("enter")
        camera = await shown(pilot, CameraScreen)
        assert camera.camera_id == on_b and app.target.name == "node-a"
        await pilot.press("e")
        form = await shown(pilot, ExportForm)
        assert form.client is app.client_named("node-a")
        await pilot.press("escape")
        await shown(pilot, CameraScreen)

        # 5. node-b returns and takes its cameras back at a segment boundary: the camera
        # screen left open on node-a follows the camera there, and so does the grid.
        b.start()
        await until(pilot, lambda: app.target.name == "node-b", timeout=45)
        assert app.screen is camera and camera.camera_id == on_b
        await until(pilot, lambda: "Kamera" in screen_text(app))  # node-b's figures shown
        await pilot.press("escape")
        assert await shown(pilot, FleetGridScreen) is grid
        await until(pilot, lambda: {k: t.entry.node for k, t in tiles(app).items()} == shared.home)

        # 6. node-b dies again under an open camera screen: it says unknown (node
        # unreachable), naming node-b, then follows the camera to node-a.
        grid.set_focus(tiles(app)[on_b])
        await pilot.press("enter")
        camera = await shown(pilot, CameraScreen)
        assert app.target.name == "node-b"
        await until(pilot, lambda: "Kamera" in screen_text(app))
        b.kill()
        await until(pilot, lambda: UNKNOWN in screen_text(app), timeout=LEASE + 10)
        assert "node-b" in screen_text(app) and "offline" not in screen_text(app)
        # No frozen last frame, which would pass for a working camera.
        await until(pilot, lambda: camera.query_one(Thumb).grid is None, timeout=3)
        await until(pilot, lambda: app.target.name == "node-a", timeout=LEASE + 20)
        assert app.screen is camera
        await until(pilot, lambda: "Kamera" in screen_text(app))


# --------------------------------------------------------------------------- pure merge


def _cam(camera_id: str, slug: str = SLUG, status: CameraStatus = CameraStatus.ONLINE) -> Camera:
    return Camera(
        id=camera_id, name=f"name {camera_id}", kecamatan="K", kecamatan_slug=slug,
        site="S", site_kind=SiteKind.KANTOR_KECAMATAN, enabled=True, has_onvif=False,
        status=status,
    )  # fmt: skip


def _placed(*rows: tuple[str, str | None, bool]) -> FleetPlacement:
    return FleetPlacement(
        generated=datetime(2026, 12, 6, tzinfo=UTC),
        node="a",
        kecamatan=SLUG,
        cameras=[
            CameraPlace(
                camera=cam,
                name=f"inv {cam}",
                kecamatan=SLUG,
                home="a",
                node=node,
                live=live,
                node_alive=live,
            )
            for cam, node, live in rows
        ],
    )


def test_fleet_cameras_take_each_camera_from_the_node_the_store_places_it_on() -> None:
    placement = _placed(
        ("c1", "a", True), ("c2", "b", True), ("c3", "b", False), ("c4", None, False)
    )
    # c2 in a handback: both nodes list it for a segment; the lease holder's word counts.
    answers: dict[str, list[Camera] | None] = {
        "a": [_cam("c1"), _cam("c2", status=CameraStatus.OFFLINE), _cam("x9", slug="other")],
        "b": [_cam("c2"), _cam("c5")],  # c5: recorded from b's own file, in no placement
    }
    got = {e.id: e for e in fleet_cameras(SLUG, placement, answers)}
    assert set(got) == {"c1", "c2", "c3", "c4", "c5"}  # x9 is another kecamatan's
    assert (got["c1"].node, got["c2"].node, got["c5"].node) == ("a", "b", "b")
    c2 = got["c2"].camera
    assert c2 is not None and c2.status is CameraStatus.ONLINE
    # b answers and lacks c3 (its lease ran out and nobody took it): unknown, not offline.
    assert (got["c3"].camera, got["c3"].unknown, got["c3"].name) == (None, UNKNOWN, "inv c3")
    assert (got["c4"].camera, got["c4"].unknown) == (None, NOBODY)


def test_a_camera_whose_node_does_not_answer_is_unknown_and_the_store_down_still_shows() -> None:
    placement = _placed(("c1", "a", True), ("c2", "b", True))
    got = {e.id: e for e in fleet_cameras(SLUG, placement, {"a": [_cam("c1")], "b": None})}
    assert got["c2"].camera is None and got["c2"].unknown == UNKNOWN and got["c2"].node == "b"
    # The store down: no placement, the nodes' own lists are the grid.
    alone = fleet_cameras(SLUG, None, {"a": [_cam("c1")], "b": None})
    assert [(e.id, e.node, e.unknown) for e in alone] == [("c1", "a", None)]


async def test_with_the_store_down_the_grid_shows_what_the_nodes_record() -> None:
    fleet = FixedFleet()
    for site in fleet.sites.values():
        site.store_down = True
    app = fleet_app(fleet)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.nodes[1].data.health is not None)
        await until(pilot, lambda: "Bengalon" in screen_text(app))
        app.open_kecamatan("bengalon")
        await shown(pilot, FleetGridScreen)
        want = {"bgl-camat-01": "sgu-1", "bgl-pkm-01": "bgl-1", "bgl-desa-01": "bgl-1"}
        await until(pilot, lambda: {k: t.entry.node for k, t in tiles(app).items()} == want)
        await until(pilot, lambda: "fleet store: no answer" in screen_text(app))
