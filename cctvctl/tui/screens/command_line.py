"""`:` — a k9s-style command line: ``kec sangatta``, ``cam sgu-camat-01``, ``offline``…

:func:`resolve` is pure (text and the node's data in, an :class:`Outcome` out) so every
spelling can be tested without a terminal; :class:`CommandLine` is the one-line prompt.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label

from cctvctl.tui.data import NodeData

__all__ = ["ACCEPTED", "CommandLine", "Outcome", "resolve"]

# Words that only switch screens, and the app action each one runs.
_SCREENS: dict[str, str] = {
    "offline": "offline",
    "exports": "exports",
    "audit": "events",
    "events": "events",
    "nodes": "nodes",
    "home": "home",
    "overview": "home",
    "help": "help",
    "quit": "quit",
    "q": "quit",
}
ACCEPTED = "kec NAME, cam ID, offline, exports, audit, events, nodes, home, help, quit"
NODE_VERBS = ("node",)


@dataclass(frozen=True)
class Outcome:
    kecamatan: tuple[str, ...] = ()  # slugs; a prefix such as "sangatta" may match several
    camera: str | None = None
    action: str | None = None
    node: str | None = None  # the name of the node to make current
    error: str | None = None
    #: A camera id the node's own list does not hold: another node of a fleet may.
    missing_camera: str | None = None


def _match(needle: str, choices: Iterable[tuple[str, str]]) -> list[str]:
    """Keys whose key or label equals ``needle``; failing that, start with it; then contain it."""
    rows = list(choices)
    n = needle.lower()
    for test in (
        lambda key, label: n in (key.lower(), label.lower()),
        lambda key, label: key.lower().startswith(n) or label.lower().startswith(n),
        lambda key, label: n in key.lower() or n in label.lower(),
    ):
        found = [key for key, label in rows if test(key, label)]
        if found:
            return found
    return []


def _listed(keys: Sequence[str], limit: int = 5) -> str:
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def _resolve_node(arg: str, names: Sequence[str]) -> Outcome:
    known = f"nodes: {_listed(list(names), 8)}"
    if not arg:
        return Outcome(error=f"node needs a name; {known}")
    if len(names) < 2:
        return Outcome(error=f"only one node is watched; {known}")
    found = _match(arg, ((n, n) for n in names))
    exact = [n for n in found if n.lower() == arg.lower()]
    if exact:
        return Outcome(node=exact[0])
    if not found:
        return Outcome(error=f"no node {arg!r}; {known}")
    if len(found) > 1:
        return Outcome(error=f"{arg!r} matches {len(found)} nodes: {_listed(found)}")
    return Outcome(node=found[0])


def resolve(text: str, node: NodeData, nodes: Sequence[str] = ()) -> Outcome:
    """``nodes``: the names of every watched node (for ``node NAME``)."""
    words = text.strip().removeprefix(":").split(None, 1)
    if not words:
        return Outcome(error=f"empty command; accepted: {ACCEPTED}")
    verb, arg = words[0].lower(), (words[1].strip() if len(words) > 1 else "")
    if verb in ("kec", "kecamatan", "k"):
        if not arg:
            return Outcome(error="kec needs a name, e.g. ':kec sangatta'")
        slugs = _match(arg.replace(" ", "-"), ((k.slug, k.name) for k in node.kecamatan))
        if not slugs:
            slugs = _match(arg, ((k.slug, k.name) for k in node.kecamatan))
        if not slugs:
            return Outcome(error=f"no kecamatan matches {arg!r}; try a name such as 'sangatta'")
        return Outcome(kecamatan=tuple(slugs))
    if verb in ("cam", "camera", "c"):
        if not arg:
            return Outcome(error="cam needs a camera id, e.g. ':cam sgu-camat-01'")
        ids = _match(arg, ((c.id, c.name) for c in node.cameras))
        if not ids:
            return Outcome(
                error=f"no camera matches {arg!r}; ids look like 'sgu-camat-01'",
                missing_camera=arg,
            )
        if len(ids) > 1 and arg.lower() not in (i.lower() for i in ids):
            return Outcome(error=f"{arg!r} matches {len(ids)} cameras: {_listed(ids)}")
        exact = [i for i in ids if i.lower() == arg.lower()]
        return Outcome(camera=(exact or ids)[0])
    if verb in NODE_VERBS:
        return _resolve_node(arg, nodes or [node.target.name])
    if verb in _SCREENS:
        if arg:
            return Outcome(error=f"{verb} takes no argument (got {arg!r})")
        return Outcome(action=_SCREENS[verb])
    accepted = f"{ACCEPTED}, node NAME" if len(nodes) > 1 else ACCEPTED
    return Outcome(error=f"unknown command {verb!r}; accepted: {accepted}")


def _suggestions(node: NodeData, nodes: Sequence[str] = ()) -> list[str]:
    words = [f"{word} " if word in ("kec", "cam") else word for word in ("kec", "cam", *_SCREENS)]
    words += [f"node {name}" for name in nodes]
    words += [f"kec {k.slug}" for k in node.kecamatan]
    words += [f"cam {c.id}" for c in node.cameras]
    return words


class CommandLine(ModalScreen[str | None]):
    """A one-line prompt at the bottom; Enter runs it, Esc drops it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_empty", "cancel")]
    DEFAULT_CSS = """
    CommandLine { align: left bottom; background: $background 40%; }
    CommandLine > Horizontal { height: 1; width: 100%; background: $panel; }
    CommandLine Label { width: 1; }
    CommandLine Input, CommandLine Input:focus { border: none; height: 1; padding: 0; width: 1fr; }
    """

    def __init__(self, node: NodeData, nodes: Sequence[str] = ()) -> None:
        super().__init__()
        self._suggester = SuggestFromList(_suggestions(node, nodes), case_sensitive=False)

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(":")
            yield Input(placeholder=ACCEPTED, suggester=self._suggester, id="command")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_dismiss_empty(self) -> None:
        self.dismiss(None)
