"""The top line: which node(s), whether we are connected, and how the host is doing.

With several nodes the current one comes first, in full; the others follow with their
name and connection state only. The line is cut with an ellipsis, the title going first.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from cctvctl.termsafe import escape_controls
from cctvctl.tui.data import Connection, NodeData
from cctvctl.tui.format import MARK, age_text
from cctvctl.tui.widgets.line import Line

__all__ = ["NodeHeader"]

_STATE_STYLE = {
    Connection.CONNECTING: "black on yellow",
    Connection.ONLINE: "black on green",
    Connection.RETRYING: "white on red",
    Connection.DENIED: "white on red",
}


def header_text(
    node: NodeData, title: str, readonly: bool = False, others: Sequence[NodeData] = ()
) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f" {node.target.name} ", "bold reverse")
    text.append(" ")
    text.append(f" {node.connection.value.upper()} ", _STATE_STYLE[node.connection])
    stale = node.is_stale()
    trouble = stale or node.connection is not Connection.ONLINE
    if readonly:
        text.append(" RO", "bold")
    elif node.identity is not None and not trouble:
        # In trouble the line is for the URL and the error; the role can wait.
        text.append(f" {node.identity.role.value}")
    health = node.health
    if health is not None and not stale:
        host = health.host
        disk = max(
            (v.used_bytes / v.total_bytes for v in health.volumes if v.total_bytes), default=0
        )
        text.append(f" cpu {host.cpu_percent:.0f}% mem {host.memory_percent:.0f}% disk {disk:.0%}")
    if trouble:
        _append_age(text, node, stale)
    for other in others:
        text.append("  | ", "dim")
        text.append(other.target.name)
        text.append(" ")
        text.append(f" {other.connection.value.upper()} ", _STATE_STYLE[other.connection])
    if trouble:
        # After the other nodes: a long error must not push their state off the line.
        _append_where(text, node, stale)
    # A grid's title is a kecamatan name or a camera id from the server.
    text.append(f"  {escape_controls(title)}", "bold")
    return text


def _append_age(text: Text, node: NodeData, stale: bool) -> None:
    """How old the figures are: an operator must never take a frozen screen for a quiet
    network."""
    if node.updated is not None:
        age = f"data {age_text(node.updated)} old"
        text.append(" ")
        text.append(f"{MARK}{age}" if stale else age, "bold reverse" if stale else "")
    elif stale:
        text.append(" ")
        text.append(f"{MARK}no data yet", "bold reverse")


def _append_where(text: Text, node: NodeData, stale: bool) -> None:
    """Which server we cannot reach, and why, so nobody has to guess which URL fails."""
    text.append(f" {escape_controls(node.target.url)}")
    if node.error:
        # The error already names the server; what matters after the URL is why.
        text.append(f" · {node.error}", "bold" if stale else "")


class NodeHeader(Line):
    DEFAULT_CSS = """
    NodeHeader { dock: top; height: 1; background: $panel; }
    """

    def show_node(
        self,
        node: NodeData,
        title: str,
        readonly: bool = False,
        others: Sequence[NodeData] = (),
    ) -> None:
        self.show(header_text(node, title, readonly, others))
