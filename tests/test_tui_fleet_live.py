"""`cctvctl tui --fleet` against real nodes: two `cctvctl server` processes on the test
PostgreSQL, and a third node row pointing at a port where nothing listens (a node that
died), seeded with `FleetStore.heartbeat` as tests/test_fleet_api.py does.

No simulator runs, so every camera of the live nodes goes offline: the dead node's
kecamatan must read unknown beside them, never offline, and never add to their count.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cli_process import NO_CONFIG
from harness import ServerProcess, SiteSpec, free_port
from pg_harness import PgDatabase
from test_fleet_api import _fleet_site
from textual.widgets import DataTable
from tui_pilot import screen_text, shown, until

from cctvctl.cli.tui_cmd import chosen_targets
from cctvctl.fleet.store import FleetStore
from cctvctl.tui.app import CctvApp
from cctvctl.tui.data import ServerTarget
from cctvctl.tui.fleet_view import UNKNOWN
from cctvctl.tui.screens.nodes import NodesScreen

DEAD = "sgs-9"
SPEC_A = SiteSpec(cameras=2, kecamatan=("Sangatta Utara", "Bengalon"))  # san-cam-01 ben-cam-02
SPEC_B = SiteSpec(cameras=4, kecamatan=("Bengalon", "Sangatta Utara"))  # ben-cam-01 san-cam-02 …


@dataclass
class TwoNodes:
    a: ServerProcess  # sgu-1
    b: ServerProcess  # bgl-1, the same kecamatan as sgu-1 (two nodes, one row)
    dead_url: str


@pytest.fixture(scope="module")
def two_nodes(pg: PgDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoNodes]:
    root = tmp_path_factory.mktemp("fleet-tui")
    # Camera ids come from the kecamatan and the position, so these two files share two
    # kecamatan and no camera: a fleet places each camera on one node only.
    site_a = _fleet_site(root / "a", pg.dsn, spec=SPEC_A)
    a = ServerProcess(site_a, args=("--node", "sgu-1"))
    site_b = _fleet_site(root / "b", pg.dsn, tokens_of=site_a, spec=SPEC_B)
    b = ServerProcess(site_b, args=("--node", "bgl-1"))
    dead_url = f"http://127.0.0.1:{free_port()}"
    store = FleetStore.open(pg.dsn)
    try:
        a.start()
        b.start()
        for name, url, kec in (
            ("sgu-1", a.url, ["sangatta-utara"]),
            ("bgl-1", b.url, ["sangatta-utara"]),
            (DEAD, dead_url, ["sangatta-selatan"]),
        ):
            store.heartbeat(name, url=url, version="0.1.0", kecamatan=kec, capacity=8)
        yield TwoNodes(a, b, dead_url)
    finally:
        for server in (a, b):
            if server.running:
                server.stop()
        store.close()


def cells(app: CctvApp, key: str) -> list[str]:
    table = app.screen.query_one(DataTable)
    if key not in table.rows:
        return []
    return [str(c) for c in table.get_row(key)]


async def test_fleet_console_over_live_nodes_and_a_dead_one(
    two_nodes: TwoNodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [k for k in os.environ if k.startswith("CCTVCTL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CCTVCTL_CONFIG", NO_CONFIG)
    token = two_nodes.a.site.tokens["viewer"]
    # What `cctvctl tui --url A --fleet` does: ask A for the fleet, A first.
    targets = chosen_targets(None, two_nodes.a.url, token, False, fleet=True)
    assert [t.name for t in targets] == ["sgu-1", "bgl-1", DEAD]
    assert [t.url for t in targets] == [two_nodes.a.url, two_nodes.b.url, two_nodes.dead_url]
    assert {t.token for t in targets} == {token}
    first, *rest = targets
    app = CctvApp(
        first.url,
        first.token,
        first.name,
        refresh=0.5,
        health_seconds=0.5,
        more=[ServerTarget(t.url, t.token, t.name) for t in rest],
        fleet=True,
    )
    async with app.run_test(size=(80, 24)) as pilot:
        # Both live nodes' cameras of a kecamatan in one row, offline (no simulator), both named.
        await until(
            pilot, lambda: cells(app, "sangatta-utara")[1:5] == ["!0/3", "0", "!3", "sgu-1, bgl-1"]
        )
        selatan = cells(app, "sangatta-selatan")
        assert selatan[:5] == ["Sangatta Selatan", f"!{UNKNOWN}", "?", "?", f"!{DEAD}"]
        assert all(len(line) <= 80 for line in screen_text(app).splitlines())

        await pilot.press("N")
        await shown(pilot, NodesScreen)
        await until(pilot, lambda: cells(app, DEAD)[1:2] == ["!unreachable"])
        await until(pilot, lambda: cells(app, "bgl-1")[1:2] == ["alive"])
        live = cells(app, "sgu-1")
        # Node, State, Beat, Cams, Taken, Lease, CPU, Free, Days, Version
        assert live[1] == "alive" and live[6].endswith("%") and live[7].endswith("%")
        assert live[4] == "0"  # it records its own cameras, nobody else's
        assert cells(app, DEAD)[6:9] == ["?", "?", "?"]
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index("bgl-1"))
        await pilot.press("enter")
        await until(pilot, lambda: app.target.name == "bgl-1")
        assert app.client is app.nodes[1].client


@dataclass
class TableSpy:
    """What a screen's table was asked to do: rebuilds (``clear``) and whole-table repaints
    (``refresh`` of no region), counted on the real widget."""

    clears: int = 0
    whole: int = 0

    def watch(self, table: DataTable[Any], monkeypatch: pytest.MonkeyPatch) -> None:
        clear, refresh = table.clear, table.refresh

        def counted_clear(*args: Any, **kwargs: Any) -> Any:
            self.clears += 1
            return clear(*args, **kwargs)

        def counted_refresh(*regions: Any, **kwargs: Any) -> Any:
            if not regions:
                self.whole += 1
            return refresh(*regions, **kwargs)

        monkeypatch.setattr(table, "clear", counted_clear)
        monkeypatch.setattr(table, "refresh", counted_refresh)


async def test_a_node_answer_repaints_only_the_cells_it_changed(
    two_nodes: TwoNodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every node's answer re-draws the overview; the table must not be rebuilt and
    repainted whole for it (with 18 nodes that was the whole table on the wire 18 times
    per poll interval), while what changed still reaches the screen."""
    for name in [k for k in os.environ if k.startswith("CCTVCTL_")]:
        monkeypatch.delenv(name)
    token = two_nodes.a.site.tokens["viewer"]
    app = CctvApp(
        two_nodes.a.url,
        token,
        "sgu-1",
        refresh=1.0,
        health_seconds=1.0,
        more=[ServerTarget(two_nodes.b.url, token, "bgl-1")],
        fleet=True,
    )
    async with app.run_test(size=(100, 24)) as pilot:
        await until(pilot, lambda: cells(app, "sangatta-utara")[4:5] == ["sgu-1, bgl-1"])
        await until(pilot, lambda: len(app.nodes) == 3)  # the dead one, from the fleet list
        await until(pilot, lambda: cells(app, "sangatta-selatan")[4:5] == [f"!{DEAD}"])
        overview = app.screen
        redraws = 0
        draw = overview.redraw

        def counted_redraw() -> None:
            nonlocal redraws
            redraws += 1
            draw()

        monkeypatch.setattr(overview, "redraw", counted_redraw)
        spy = TableSpy()
        spy.watch(overview.query_one(DataTable), monkeypatch)
        await pilot.pause(4.0)
        # Both nodes' stats and health polls, the fleet list: each answer a re-draw.
        assert redraws >= 6
        assert (spy.clears, spy.whole) == (0, 0)
        assert cells(app, "sangatta-utara")[1:5] == ["!0/3", "0", "!3", "sgu-1, bgl-1"]

        await pilot.press("N")
        nodes = await shown(pilot, NodesScreen)
        await until(pilot, lambda: cells(app, "sgu-1")[1:2] == ["alive"])
        spy = TableSpy()
        spy.watch(nodes.query_one(DataTable), monkeypatch)
        beats: set[str] = set()
        for _ in range(40):
            beats.add(cells(app, DEAD)[2])
            await pilot.pause(0.1)
        # The dead node's heartbeat age counts on from the fleet list on every answer: the
        # changed cell is shown, and nothing is rebuilt for it.
        assert len(beats) >= 2, beats
        assert spy.clears == 0
