"""The console watching several recording nodes at once.

Two small live sites (2 cameras each, one kecamatan each, so a switch is plain to see),
shared by the module; every test starts its own app at 80x24 with a viewer token.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_process import clean_env, run_cctvctl
from harness import Live, SiteSpec, live_site
from rich.console import Console
from textual.widgets import DataTable
from tui_pilot import until

from cctvctl.cli import exit_codes
from cctvctl.cli.contexts import Context, ContextFile
from cctvctl.cli.tui_cmd import chosen_targets
from cctvctl.tui.app import CctvApp
from cctvctl.tui.commands import Scope, commands_for
from cctvctl.tui.data import Connection, NodeData, ServerTarget
from cctvctl.tui.screens.command_line import resolve
from cctvctl.tui.screens.grid import GridScreen
from cctvctl.tui.screens.overview import OverviewScreen
from cctvctl.tui.widgets.header import header_text

SIZE = (80, 24)
REPO = Path(__file__).resolve().parent.parent
UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, sim_cache: Path) -> Iterator[tuple[Live, Live]]:
    """node-a records Sangatta Utara, node-b Bengalon; two cameras each."""
    a_spec = SiteSpec(cameras=2, kecamatan=("Sangatta Utara",))
    b_spec = SiteSpec(cameras=2, kecamatan=("Bengalon",))
    with (
        live_site(tmp_path_factory.mktemp("node-a"), sim_cache, a_spec) as a,
        live_site(tmp_path_factory.mktemp("node-b"), sim_cache, b_spec) as b,
    ):
        yield a, b


def node_b(live: Live) -> ServerTarget:
    return ServerTarget(live.server.url, live.site.tokens["viewer"], "node-b")


def make_app(a: Live, *more: ServerTarget) -> CctvApp:
    return CctvApp(
        a.server.url,
        a.site.tokens["viewer"],
        "node-a",
        refresh=0.5,
        more=more,
        health_seconds=0.5,
    )


def overview_rows(app: CctvApp) -> list[str]:
    if not isinstance(app.screen, OverviewScreen):
        return []
    table = app.screen.query_one(DataTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


def header_line(app: CctvApp) -> str:
    return app.screen._compositor.render_strips()[0].text


def toasts(app: CctvApp) -> list[str]:
    return [n.message for n in app._notifications]


# --------------------------------------------------------------------------- live


async def test_header_shows_every_node_with_its_state(pair: tuple[Live, Live]) -> None:
    a, b = pair
    app = make_app(a, node_b(b))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: overview_rows(app) == ["Sangatta Utara"])
        await until(pilot, lambda: app.nodes[1].data.connection is Connection.ONLINE)
        await until(pilot, lambda: "node-b  ONLINE" in header_line(app))
        line = header_line(app)
        # The current node first, in full; the other one by name and state.
        assert line.index("node-a") < line.index("ONLINE") < line.index("node-b")
        assert "cpu" in line.split("|")[0]
        assert len(line) <= SIZE[0]
        # Only the current node gets the full polls.
        assert app.nodes[1].data.kecamatan == []
        assert app.nodes[1].data.health is not None


async def test_unreachable_node_retries_while_the_first_works(pair: tuple[Live, Live]) -> None:
    a, _ = pair
    app = make_app(a, ServerTarget(UNREACHABLE, "nope", "gone"))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: overview_rows(app) == ["Sangatta Utara"])
        await until(pilot, lambda: "gone  RETRYING" in header_line(app))
        assert app.node.connection is Connection.ONLINE
        assert app.nodes[1].data.error is not None
        assert header_line(app).startswith(" node-a")


async def test_keys_and_command_line_switch_the_node(pair: tuple[Live, Live]) -> None:
    a, b = pair
    app = make_app(a, node_b(b))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: overview_rows(app) == ["Sangatta Utara"])
        # From a grid: the switch goes home, to the other node's kecamatan.
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, GridScreen))
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: overview_rows(app) == ["Bengalon"])
        assert app.target.name == "node-b"
        assert app.client is app.nodes[1].client
        await until(pilot, lambda: header_line(app).startswith(" node-b"))
        await until(pilot, lambda: "node-a  ONLINE" in header_line(app))
        assert app.role is not None and app.role.name == "VIEWER"

        await pilot.press("colon", *"node node-a", "enter")
        await until(pilot, lambda: overview_rows(app) == ["Sangatta Utara"])
        assert app.target.name == "node-a"

        await pilot.press("left_square_bracket")
        await until(pilot, lambda: overview_rows(app) == ["Bengalon"])

        await pilot.press("colon", *"node nope", "enter")
        await until(pilot, lambda: any("no node 'nope'" in t for t in toasts(app)))
        error = next(t for t in toasts(app) if "no node 'nope'" in t)
        assert "\n" not in error
        assert "node-a" in error and "node-b" in error
        assert app.target.name == "node-b"


async def test_switching_away_from_an_unreachable_node_never_crashes(
    pair: tuple[Live, Live],
) -> None:
    _, b = pair
    app = CctvApp(UNREACHABLE, "nope", "gone", refresh=0.2, more=[node_b(b)], health_seconds=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "RETRYING" in header_line(app))
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: overview_rows(app) == ["Bengalon"])
        await until(pilot, lambda: "gone  RETRYING" in header_line(app))
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: header_line(app).startswith(" gone"))
        await until(pilot, lambda: "node-b  ONLINE" in header_line(app))
        assert isinstance(app.screen, OverviewScreen)


# --------------------------------------------------------------------------- pure


def rendered(text: Any, width: int = 80) -> list[str]:
    """Lines as a one-line widget of ``width`` cells draws them."""
    console = Console(width=width, color_system=None)
    lines = console.render_lines(text, console.options.update_width(width), new_lines=False)
    return ["".join(segment.text for segment in line) for line in lines]


def test_header_fits_80_columns_current_node_first() -> None:
    current = NodeData(ServerTarget("http://a", None, "node-a"), connection=Connection.ONLINE)
    others = [
        NodeData(ServerTarget(f"http://{n}", None, f"node-{n}"), connection=state)
        for n, state in (("b", Connection.RETRYING), ("c", Connection.ONLINE))
    ]
    others += [NodeData(ServerTarget("http://d", None, "node-d-with-a-long-name"))]
    lines = rendered(header_text(current, "kecamatan", others=others))
    assert len(lines) == 1
    assert lines[0].startswith(" node-a   ONLINE")
    assert lines[0].endswith("…")
    assert "node-b  RETRYING" in lines[0]
    # One node: the header is exactly what it always was.
    assert header_text(current, "kecamatan") == header_text(current, "kecamatan", others=())


def test_resolve_node() -> None:
    node = NodeData(ServerTarget("http://a", None, "node-a"))
    names = ["node-a", "node-b", "other"]
    assert resolve(":node node-b", node, names).node == "node-b"
    assert resolve("node oth", node, names).node == "other"
    ambiguous = resolve("node node", node, names).error
    assert ambiguous is not None and "2 nodes" in ambiguous
    unknown = resolve("node nope", node, names).error
    assert unknown is not None and "node-a, node-b, other" in unknown
    alone = resolve("node x", node).error
    assert alone is not None and "only one node" in alone


def test_node_keys_only_offered_with_several_nodes() -> None:
    single = {c.name for c in commands_for(Scope.OVERVIEW)}
    several = {c.name for c in commands_for(Scope.OVERVIEW, several_nodes=True)}
    assert several - single == {"next node", "previous node"}


# --------------------------------------------------------------------------- CLI


def run_tui(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = clean_env() | {"CCTVCTL_CONFIG": str(cfg), "HOME": str(cfg.parent)}
    return run_cctvctl("tui", *args, env=env, stdin=subprocess.DEVNULL)


def test_all_contexts_without_contexts_is_a_one_line_usage_error(tmp_path: Path) -> None:
    result = run_tui(tmp_path / "absent" / "config.toml", "--all-contexts")
    assert result.returncode == exit_codes.USAGE == 2
    assert "no contexts" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_several_contexts_with_url_is_a_usage_error(tmp_path: Path) -> None:
    result = run_tui(
        tmp_path / "config.toml", "--context", "a", "--context", "b", "--url", "http://x"
    )
    assert result.returncode == exit_codes.USAGE
    assert len(result.stderr.strip().splitlines()) == 1


def test_chosen_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.toml"
    contexts = ContextFile(path)
    contexts.add(Context("alpha", "http://10.0.0.1:8470", "cctv_alpha-0123456789abcdef"))
    contexts.add(Context("bravo", "http://10.0.0.2:8470", "cctv_bravo-0123456789abcdef"))
    contexts.use("alpha")
    contexts.save()
    for name in [k for k in os.environ if k.startswith("CCTVCTL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CCTVCTL_CONFIG", str(path))
    assert [t.name for t in chosen_targets(None, None, None, False)] == ["alpha"]
    assert [t.name for t in chosen_targets(["bravo"], None, None, False)] == ["bravo"]
    both = chosen_targets(["bravo", "alpha", "bravo"], None, None, False)
    assert [(t.name, t.token) for t in both] == [
        ("bravo", "cctv_bravo-0123456789abcdef"),
        ("alpha", "cctv_alpha-0123456789abcdef"),
    ]
    assert [t.name for t in chosen_targets(None, None, None, True)] == ["alpha", "bravo"]


def test_fleet_with_several_contexts_is_a_one_line_usage_error(tmp_path: Path) -> None:
    result = run_tui(tmp_path / "config.toml", "--fleet", "--context", "a", "--context", "b")
    assert result.returncode == exit_codes.USAGE
    assert "--fleet asks one node" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_fleet_on_a_single_node_says_it_is_not_in_a_fleet(
    pair: tuple[Live, Live], tmp_path: Path
) -> None:
    a, _ = pair
    token = a.site.tokens["viewer"]
    result = run_tui(tmp_path / "config.toml", "--url", a.server.url, "--token", token, "--fleet")
    assert result.returncode == exit_codes.USAGE
    assert "fleet" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
