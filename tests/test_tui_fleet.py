"""The console over a fleet (``cctvctl tui --fleet``): the merged overview and the Nodes
screen, from the fixed three-node fleet of tests/tui_fixture.py (one node dead) at 80x24
and 100x30, with and without NO_COLOR.

sgu-1 records Sangatta Utara and one Bengalon camera; bgl-1 the other two Bengalon
cameras, Muara Wahau, Kaliorang and Telen; sgs-9, which refuses every connection, serves
Sangatta Selatan and (the store says) Kaliorang too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from test_tui_trial import assert_stands_out, line_text, line_with
from textual.pilot import Pilot
from textual.widgets import DataTable
from tui_fixture import NOW, FixedFleet, FixedSite, fixed_app, fleet_app
from tui_pilot import screen_text, shown, until

from cctvctl.client import fleet_members
from cctvctl.models import FleetNode, FleetNodes, KecamatanSummary
from cctvctl.tui import clock
from cctvctl.tui.app import CctvApp
from cctvctl.tui.commands import Scope, commands_for
from cctvctl.tui.data import Connection, NodeData, ServerTarget
from cctvctl.tui.fleet_view import UNKNOWN, Reach, merge_kecamatan, node_rows
from cctvctl.tui.screens.camera import CameraScreen
from cctvctl.tui.screens.command_line import resolve
from cctvctl.tui.screens.grid import GridScreen
from cctvctl.tui.screens.help import COLUMN_NOTES, HelpScreen
from cctvctl.tui.screens.nodes import COLUMNS as NODE_COLUMNS
from cctvctl.tui.screens.nodes import NodesScreen, node_cells
from cctvctl.tui.screens.overview import OverviewScreen, fleet_cells

pytestmark = pytest.mark.usefixtures("pinned_clock")

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((100, 30), id="100x30")]


def answered(app: CctvApp) -> bool:
    """Every node polled once (or failed), and the fleet's node list read."""
    return app.fleet is not None and all(
        n.data.health is not None or n.data.error is not None for n in app.nodes
    )


async def ready(pilot: Pilot[Any], app: CctvApp) -> None:
    await until(pilot, lambda: answered(app))
    await until(pilot, lambda: "Telen" in screen_text(app))
    await pilot.pause(0.2)  # the last repaint


def rows(app: CctvApp) -> dict[str, list[str]]:
    """The current table screen's rows as plain cells, by row key."""
    table = app.screen.query_one(DataTable)
    out = {}
    for i in range(table.row_count):
        key, _ = table.coordinate_to_cell_key((i, 0))
        out[str(key.value)] = [str(c) for c in table.get_row_at(i)]
    return out


def column(app: CctvApp, label: str) -> int:
    table = app.screen.query_one(DataTable)
    return [str(c.label) for c in table.columns.values()].index(label)


# --------------------------------------------------------------------------- overview


@pytest.mark.parametrize("size", SIZES)
async def test_overview_merges_every_node(size: tuple[int, int]) -> None:
    app = fleet_app()
    async with app.run_test(size=size) as pilot:
        await ready(pilot, app)
        shown_rows = rows(app)
        assert set(shown_rows) == {
            "sangatta-utara",
            "bengalon",
            "muara-wahau",
            "kaliorang",
            "telen",
            "sangatta-selatan",
        }
        on, off, nodes = column(app, "On/All"), column(app, "Off"), column(app, "Nodes")
        # Bengalon is recorded by two nodes: one row, its counts summed (1 + 1 of 1 + 2).
        assert shown_rows["bengalon"][on] == "!2/3"
        assert shown_rows["bengalon"][off] == "!1"
        assert shown_rows["bengalon"][nodes] == "sgu-1, bgl-1"
        # Only the dead node serves Sangatta Selatan: unknown, not offline.
        selatan = shown_rows["sangatta-selatan"]
        assert selatan[on] == f"!{UNKNOWN}"
        assert selatan[off] == "?"
        assert selatan[nodes] == "!sgs-9"
        # Kaliorang: bgl-1's figures, and the dead node's share unknown, not offline.
        assert shown_rows["kaliorang"][on] == "1/1 !+unknown"
        assert shown_rows["kaliorang"][off] == "0"
        assert shown_rows["kaliorang"][nodes] == "bgl-1, !sgs-9"
        # What cannot be seen comes first.
        assert list(shown_rows)[:2] == ["kaliorang", "sangatta-selatan"]
        for line in screen_text(app).splitlines():
            assert len(line) <= size[0]
        wide = size[0] >= 100
        assert ("kbps" in screen_text(app).splitlines()[1]) is wide
        if wide:
            kbps = column(app, "kbps")
            # The trend is the current node's history: only where it alone serves.
            assert shown_rows["sangatta-utara"][kbps].startswith("   █ ")
            assert shown_rows["bengalon"][kbps] == "846k"


async def test_overview_no_color_marks_the_unreachable_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")  # Textual reads it when the app is built
    app = fleet_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        selatan = line_with(app, "Sangatta Selatan")
        assert f"!{UNKNOWN}" in line_text(selatan)
        assert_stands_out(selatan, "Sangatta Selatan")
        assert_stands_out(line_with(app, "Kaliorang"), "Kaliorang")
        # A healthy row of a live node carries no marker.
        assert "!" not in line_text(line_with(app, "Muara Wahau"))
        assert app.no_color


async def test_single_node_overview_has_no_nodes_column() -> None:
    app = fixed_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: bool(app.node.kecamatan))
        await pilot.pause(0.2)
        table = app.screen.query_one(DataTable)
        assert "Nodes" not in [str(c.label) for c in table.columns.values()]
        assert app.fleet is None


async def test_opening_a_kecamatan_goes_to_the_node_recording_it() -> None:
    app = fleet_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await ready(pilot, app)
        app.open_kecamatan("muara-wahau")
        await shown(pilot, GridScreen)
        assert app.target.name == "bgl-1"
        await until(pilot, lambda: "SMP 1 Muara Wahau" in screen_text(app))
        # Bengalon is served by sgu-1 too, but bgl-1 (current now) serves it: no switch,
        # and the console says where the rest of its cameras are.
        app.action_home()
        app.open_kecamatan("bengalon")
        await shown(pilot, GridScreen)
        assert app.target.name == "bgl-1"
        await until(pilot, lambda: any("also on sgu-1" in n.message for n in app._notifications))
        await until(pilot, lambda: "bgl-pkm-01" in screen_text(app))
        assert "bgl-camat-01" not in screen_text(app)  # sgu-1's camera of Bengalon
        # Every node serving Sangatta Selatan is out of reach: it says so and stays.
        app.action_home()
        await shown(pilot, OverviewScreen)
        app.open_kecamatan("sangatta-selatan")
        await until(pilot, lambda: any(UNKNOWN in n.message for n in app._notifications))
        message = next(n.message for n in app._notifications if UNKNOWN in n.message)
        assert "sgs-9" in message and "Sangatta Selatan" in message
        assert isinstance(app.screen, OverviewScreen)


async def test_a_node_polled_lightly_is_not_unreachable_between_its_polls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [NOW]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    # The current node every 0.5 s, the others every hour: a minute on, bgl-1's answer
    # is a minute old, which is still within two of its own polls.
    app = fleet_app(refresh=0.5)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        now[0] = NOW + timedelta(seconds=60)
        await until(pilot, lambda: app.node.updated == now[0])
        await pilot.pause(0.2)
        nodes = column(app, "Nodes")
        assert rows(app)["telen"][nodes] == "bgl-1"
        assert rows(app)["sangatta-utara"][nodes] == "sgu-1"


async def test_a_camera_of_another_node_opens_on_the_node_recording_it() -> None:
    app = fleet_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await ready(pilot, app)
        # bgl-1 holds mwh-camat-01's lease: it becomes current, then the camera opens.
        await pilot.press("colon", *"cam mwh-camat-01", "enter")
        camera = await shown(pilot, CameraScreen)
        assert camera.camera_id == "mwh-camat-01"
        assert app.target.name == "bgl-1"
        await until(pilot, lambda: "kecamatan   Muara Wahau" in screen_text(app))

        # The dead node holds sgs-camat-01: unknown, and the console stays where it was.
        await pilot.press("escape")
        await shown(pilot, OverviewScreen)
        await pilot.press("colon", *"cam sgs-camat-01", "enter")
        await until(pilot, lambda: any(UNKNOWN in n.message for n in app._notifications))
        message = next(n.message for n in app._notifications if UNKNOWN in n.message)
        assert message == f"sgs-camat-01: {UNKNOWN}: sgs-9"
        assert isinstance(app.screen, OverviewScreen) and app.target.name == "bgl-1"

        # No node has it: the node's own refusal, as without a fleet.
        await pilot.press("colon", *"cam nope-01", "enter")
        await until(
            pilot, lambda: any("no camera matches" in n.message for n in app._notifications)
        )


async def test_with_the_store_down_a_camera_is_found_by_asking_the_nodes() -> None:
    fleet = FixedFleet()
    for site in fleet.sites.values():
        site.store_down = True
    app = fleet_app(fleet)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        await pilot.press("colon", *"cam tln-camat-01", "enter")
        camera = await shown(pilot, CameraScreen)
        assert camera.camera_id == "tln-camat-01"
        assert app.target.name == "bgl-1"


async def test_one_node_given_watches_the_fleet_it_names() -> None:
    fleet = FixedFleet()
    app = CctvApp(
        fleet.url("sgu-1"), "token", "sgu-1", refresh=3600, health_seconds=3600,
        transport=fleet.transport(), fleet=True,
    )  # fmt: skip
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(app.nodes) == 3)
        assert [n.name for n in app.nodes] == ["sgu-1", "bgl-1", "sgs-9"]
        assert all(n.target.token == "token" for n in app.nodes)
        await until(pilot, lambda: app.nodes[2].data.error is not None)
        await until(pilot, lambda: UNKNOWN in screen_text(app))


# --------------------------------------------------------------------------- nodes


@pytest.mark.parametrize("size", SIZES)
async def test_nodes_screen(size: tuple[int, int]) -> None:
    app = fleet_app()
    async with app.run_test(size=size) as pilot:
        await ready(pilot, app)
        await pilot.press("N")
        await shown(pilot, NodesScreen)
        await until(pilot, lambda: "sgs-9" in screen_text(app))
        await pilot.pause(0.2)
        shown_rows = rows(app)
        # The dead node first, then the store's order.
        assert list(shown_rows) == ["sgs-9", "sgu-1", "bgl-1"]
        # Every column fits at 80: name, state, heartbeat age, cameras (leases held),
        # cameras taken over, lease age, CPU, free space on the fullest disk, days to
        # full, version.
        assert [spec.label for spec in NODE_COLUMNS] == [
            "Node", "State", "Beat", "Cams", "Taken", "Lease", "CPU", "Free", "Days", "Version"
        ]  # fmt: skip
        assert shown_rows["sgu-1"] == [
            "sgu-1", "alive", "4s", "7", "0", "3s", "23%", "59%", "38", "0.1.0"
        ]  # fmt: skip
        assert shown_rows["bgl-1"][1:6] == ["alive", "4s", "8", "!1", "3s"]
        dead = shown_rows["sgs-9"]
        assert dead[1] == "!unreachable"
        assert dead[2] == "60m"  # the store's last heartbeat
        assert dead[5] == "!60m"  # its leases were last renewed an hour ago
        assert dead[6:9] == ["?", "?", "?"]  # its host is unknown, not zero
        for line in screen_text(app).splitlines():
            assert len(line) <= size[0]


async def test_nodes_screen_no_color_and_enter_makes_a_node_current(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = fleet_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        await pilot.press("colon", *"nodes", "enter")
        await shown(pilot, NodesScreen)
        await until(pilot, lambda: "sgs-9" in screen_text(app))
        await pilot.pause(0.2)
        assert_stands_out(line_with(app, "unreachable "), "sgs-9")
        await pilot.press("j", "j", "enter")
        await shown(pilot, OverviewScreen)
        assert app.target.name == "bgl-1"
        assert app.client is app.nodes[1].client


async def test_nodes_screen_of_contexts_without_a_fleet() -> None:
    # Several contexts, no fleet: the nodes' own health, no heartbeat column figures.
    site = FixedSite()
    app = fixed_app(site, more=[ServerTarget("http://other.invalid", "token", "other")])
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.nodes[1].data.health is not None)
        app.action_nodes()
        await shown(pilot, NodesScreen)
        await until(pilot, lambda: "other" in screen_text(app))
        await pilot.pause(0.2)
        shown_rows = rows(app)
        assert list(shown_rows) == ["rec-sangatta-1", "other"]
        assert shown_rows["other"][1:4] == ["online", "-", "14"]


async def test_help_lists_the_nodes_key_and_columns() -> None:
    app = fleet_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot, app)
        await pilot.press("question_mark")
        await shown(pilot, HelpScreen)
        assert "Nodes: heartbeat, version, CPU, disks" in screen_text(app)
        await pilot.press("escape", "N", "question_mark")
        await shown(pilot, HelpScreen)
        text = screen_text(app)
        assert "keys: nodes" in text and "Make the node the current one" in text


# --------------------------------------------------------------------------- pure


def summary(slug: str, online: int, offline: int, kbps: float = 100.0) -> KecamatanSummary:
    return KecamatanSummary(
        slug=slug,
        name=slug.title(),
        cameras_total=online + offline,
        online=online,
        degraded=0,
        offline=offline,
        disabled=0,
        inbound_kbps=kbps,
        bytes_stored=1000,
        quota_bytes=None,
        write_bps=1.0,
        days_to_full=None,
        missing_minutes_24h=0,
        worst_missing_seconds_24h=0,
        worst_rtt_ms=None,
    )


def node(name: str, *kec: KecamatanSummary, error: str | None = None) -> NodeData:
    data = NodeData(ServerTarget(f"http://{name}", None, name), stale_after=10.0)
    data.kecamatan = list(kec)
    if error is None:
        data.connection, data.updated = Connection.ONLINE, NOW
    else:
        data.connection, data.error, data.updated = Connection.RETRYING, error, NOW
    return data


def listing(*rows: tuple[str, list[str], bool]) -> FleetNodes:
    return FleetNodes(
        generated=NOW,
        node=rows[0][0],
        lease_seconds=30,
        nodes=[
            FleetNode(
                name=name,
                url=f"http://{name}",
                version="0.1.0",
                kecamatan=kec,
                capacity=8,
                heartbeat=NOW - timedelta(seconds=5),
                heartbeat_age=5.0,
                alive=alive,
                leases=2,
            )
            for name, kec, alive in rows
        ],
    )


def test_merge_sums_a_shared_kecamatan_and_never_counts_unknown_as_offline() -> None:
    a = node("a", summary("x", 2, 1, 100), summary("y", 1, 0))
    b = node("b", summary("x", 3, 0, 50))
    # c answered once (x: 4 offline), then stopped answering: its figures are not used.
    c = node("c", summary("x", 0, 4), error="unreachable: connection refused")
    merged = {k.slug: k for k in merge_kecamatan([a, b, c], listing(("a", ["x", "z"], True)))}
    x = merged["x"].summary
    assert x is not None
    assert (x.online, x.offline, x.cameras_total, x.inbound_kbps) == (5, 1, 6, 150)
    assert merged["x"].answering == ("a", "b") and merged["x"].unreachable == ("c",)
    # z: the store says a serves it, and a has no figures for it.
    assert merged["z"].summary is None and merged["z"].name == "Z"
    assert not merged["z"].unreachable


def test_stale_node_is_unreachable_and_one_never_polled_is_waiting() -> None:
    stale = node("s", summary("x", 1, 0))
    stale.updated = NOW - timedelta(seconds=60)
    fresh = NodeData(ServerTarget("http://f", None, "f"))
    merged = merge_kecamatan([stale, fresh], listing(("f", ["x"], True)))
    assert merged[0].unreachable == ("s",) and merged[0].waiting == ("f",)
    assert merged[0].summary is None


def test_node_rows_count_heartbeat_age_on_from_when_the_list_arrived() -> None:
    a = node("a")
    rows_now = node_rows([a], listing(("a", [], True), ("gone", [], False)), NOW, NOW)
    later = node_rows(
        [a], listing(("a", [], True), ("gone", [], False)), NOW, NOW + timedelta(seconds=7)
    )
    assert [r.heartbeat_age for r in rows_now] == [5.0, 5.0]
    assert [r.heartbeat_age for r in later] == [12.0, 12.0]
    gone = rows_now[1]
    assert not gone.watched and gone.reach is Reach.UNREACHABLE and gone.alive is False


def test_fleet_members_put_the_answering_node_first_and_leave_out_bad_urls() -> None:
    fleet = listing(("b", [], True), ("a", [], True), ("c", [], True))
    fleet.nodes[2].url = "ftp://c"
    fleet = fleet.model_copy(update={"node": "a"})
    members = fleet_members(fleet, answered_first=True)
    assert [n.name for n in members.nodes] == ["a", "b"]
    assert len(members.left_out) == 1 and members.left_out[0].startswith("c: ")
    assert [n.name for n in fleet_members(fleet).nodes] == ["b", "a"]


def test_nodes_command_and_key() -> None:
    assert resolve(":nodes", node("a")).action == "nodes"
    keys = {c.key: c.name for c in commands_for(Scope.OVERVIEW)}
    assert keys["N"] == "nodes"
    explained = {name for name, _ in COLUMN_NOTES[Scope.NODES]}
    assert {"State", "Beat", "Cams", "Taken", "Lease", "CPU", "Free", "Days"} <= explained


def test_node_names_from_the_store_reach_the_terminal_inert() -> None:
    # A store row is not ours to trust: its name is shown with its escapes visible.
    evil = "sgu-1\x1b[2J"
    fleet = listing((evil, ["x\x1b]0;pwned\x07"], True))
    merged = merge_kecamatan([node(evil, summary("x", 1, 0))], fleet)
    cells = [str(c) for k in merged for c in fleet_cells(k)]
    assert "\x1b" not in "".join(cells) and "\x07" not in "".join(cells)
    assert any("sgu-1\\x1b[2J" in c for c in cells)
    row = node_rows([node(evil)], fleet, NOW, NOW)[0]
    shown = [str(c) for c in node_cells(row)]
    assert shown[0] == "sgu-1\\x1b[2J"


def test_a_fleet_node_serves_only_what_it_records_or_the_store_homes_on_it() -> None:
    # Every fleet node's roll-up lists every kecamatan of the inventory, most with no
    # camera of its own: only those it records, or is home to, name it.
    a = node("a", summary("x", 2, 0), summary("y", 0, 0), summary("w", 0, 0))
    b = node("b", summary("x", 0, 0), summary("y", 1, 1), summary("w", 0, 0))
    merged = {k.slug: k for k in merge_kecamatan([a, b], listing(("a", ["z"], True)))}
    assert merged["x"].nodes == ("a",) and merged["y"].nodes == ("b",)
    assert merged["z"].nodes == ("a",)  # home to it, says the store; nothing recorded yet
    y = merged["y"].summary
    assert y is not None and (y.online, y.offline) == (1, 1)
    # Recorded by nobody: still a row (every kecamatan is shown), served by no node.
    assert merged["w"].nodes == () and merged["w"].summary is None
    assert [str(c) for c in fleet_cells(merged["w"])][1:5] == ["no cameras", "-", "-", ""]
    # Without a fleet each node lists its own file's kecamatan, cameras or not.
    plain = {k.slug: k for k in merge_kecamatan([a, b], None)}
    assert plain["w"].nodes == ("a", "b")


def test_a_stopped_node_serves_nothing_and_is_shown_stopped_not_dead() -> None:
    gone = node("s", summary("x", 0, 2), error="unreachable: connection refused")
    fleet = listing(("a", ["y"], True), ("s", ["x"], False))
    fleet.nodes[1] = fleet.nodes[1].model_copy(update={"stopped": NOW, "leases": 0})
    standing_in = node("a", summary("x", 2, 0), summary("y", 1, 0))
    merged = {k.slug: k for k in merge_kecamatan([standing_in, gone], fleet)}
    # Its home kecamatan is recorded by the failover node, and nothing there is unknown.
    assert merged["x"].nodes == ("a",) and merged["x"].unreachable == ()
    row = {r.name: r for r in node_rows([standing_in, gone], fleet, NOW, NOW)}["s"]
    assert row.stopped and row.reach is Reach.UNREACHABLE
    cells = [str(c) for c in node_cells(row)]
    assert cells[1] == "stopped" and cells[6:9] == ["-", "-", "-"]
    # The control: the same node without the stop is dead, its figures unknown.
    dead = node_rows([gone], listing(("s", ["x"], False)), NOW, NOW)[0]
    dead_cells = [str(c) for c in node_cells(dead)]
    assert dead_cells[1] == "!unreachable" and dead_cells[6:9] == ["?", "?", "?"]
    again = {k.slug: k for k in merge_kecamatan([gone], listing(("s", ["x"], False)))}
    assert again["x"].unreachable == ("s",)


def test_fleet_members_leave_out_a_stopped_node_and_name_it() -> None:
    fleet = listing(("a", [], True), ("s", [], False), ("d", [], False))
    fleet.nodes[1] = fleet.nodes[1].model_copy(update={"stopped": NOW})
    members = fleet_members(fleet)
    # The dead one is still asked (and shown unreachable); the stopped one is not.
    assert [n.name for n in members.nodes] == ["a", "d"]
    assert members.stopped == ["s"] and members.left_out == []
