"""Server text never runs as terminal commands in the console (issue 9, item 1).

A real server (no simulator: its cameras are simply offline) whose database holds a
viewer's refused export with a hostile case id and target, and an export job with a
hostile case and note, put there through the storage layer. The console opens the
Events and Exports screens as an admin; what it paints holds no control character and no
markup made from the data, but the escapes as visible text.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from harness import ServerProcess, Site, SiteSpec, wait_for, write_site
from hostile_rows import store_hostile_rows
from textual.screen import Screen
from textual.widgets import DataTable
from tui_pilot import opened_by, screen_text, until

from cctvctl.tui.app import CctvApp
from cctvctl.tui.data import NodeData, ServerTarget
from cctvctl.tui.screens.events import EventsScreen
from cctvctl.tui.screens.exports import ExportsScreen
from cctvctl.tui.widgets.header import header_text

CASE = "LP/9\x1b[2J\x1b]0;owned\x07\x1b]52;c;cm0=\x07\x9b5m"
TARGET = "cam[link=http://x]y[/link]\x1b[8m"
NOTE = "see \x1b[31mred"
JOB = "f00dfeed0badc0de"
SIZE = (220, 40)


def assert_inert(text: str) -> None:
    bad = [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0]
    assert not bad, bad


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, ServerProcess]]:
    site = write_site(tmp_path_factory.mktemp("tui-termsafe"), SiteSpec(cameras=1))
    server = ServerProcess(site).start()
    try:
        store_hostile_rows(site, target=TARGET, case=CASE, note=NOTE, job=JOB)
        # The worker fails the job at once, which adds a newer row to the Events screen; wait
        # for it, so no test's screen changes under it.
        wait_for(
            lambda: server.get(f"/api/v1/exports/{JOB}", role="admin").json()["state"] == "failed",
            30,
            what="the hostile export job to fail",
        )
        yield site, server
    finally:
        server.stop()


def app_for(site: Site, server: ServerProcess) -> CctvApp:
    return CctvApp(server.url, site.tokens["admin"], "admin-node", refresh=0.5, ascii=False)


def row_text(table: DataTable[Any], index: int) -> str:
    return " ".join(map(str, table.get_row_at(index)))


def rows(app: CctvApp) -> str:
    table = app.screen.query_one(DataTable)
    return "\n".join(row_text(table, i) for i in range(table.row_count))


async def shown_on(
    server: tuple[Site, ServerProcess], key: str, screen: type[Screen[Any]], row: str
) -> str:
    """The whole screen once ``key`` has opened ``screen`` and the row holding ``row`` is
    highlighted."""
    app = app_for(*server)
    async with app.run_test(size=SIZE) as pilot:
        await opened_by(pilot, key, screen)
        await until(pilot, lambda: row in rows(app))
        # The table clips long cells; the detail line under it shows the highlighted row whole.
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=next(i for i in range(table.row_count) if row in row_text(table, i)))
        await pilot.pause()
        return screen_text(app)


async def test_events_screen_shows_a_hostile_audit_row_inert(
    server: tuple[Site, ServerProcess],
) -> None:
    text = await shown_on(server, "a", EventsScreen, "viewer-desk")
    assert_inert(text)
    # The target is a plain cell: its markup stays brackets, its ESC a visible escape.
    assert "cam[link=http://x]y[/link]\\x1b[8m" in text
    assert "LP/9\\x1b[2J\\x1b]0;owned\\x07" in text
    assert "see \\x1b[31mred" in text


async def test_exports_screen_shows_a_hostile_case_inert(
    server: tuple[Site, ServerProcess],
) -> None:
    text = await shown_on(server, "x", ExportsScreen, JOB[:8])
    assert_inert(text)
    assert "LP/9\\x1b[2J" in text


async def test_a_toast_quoting_the_server_is_inert_and_not_markup(
    server: tuple[Site, ServerProcess],
) -> None:
    app = app_for(*server)
    async with app.run_test(size=SIZE) as pilot:
        # What the export form's toast says after the server accepted a case id.
        app.screen.notify(f"export queued: case {CASE} [b]{TARGET}", title="export\x1b]0;t\x07")
        await pilot.pause()
        (toast,) = list(app._notifications)
        assert_inert(toast.message + toast.title)
        assert "case LP/9\\x1b[2J" in toast.message and "[b]cam[link=" in toast.message
        assert toast.title == "export\\x1b]0;t\\x07"
        assert toast.markup is False


def test_the_header_shows_a_grid_title_from_the_server_inert() -> None:
    node = NodeData(ServerTarget("http://127.0.0.1:1", None, "sangatta"))
    text = header_text(node, "Sangatta\x1b]0;t\x07 Utara").plain
    assert_inert(text)
    assert "Sangatta\\x1b]0;t\\x07 Utara" in text
