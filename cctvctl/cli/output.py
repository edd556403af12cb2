"""Consoles for people and for scripts, and the one way a command prints a table.

Human output goes through rich, which drops styling when stdout is not a terminal;
``NO_COLOR`` (set and non-empty, per no-color.org) and ``--no-color`` do the same.
JSON goes to stdout unstyled. Text that came from a server or a camera reaches a
terminal only through :mod:`cctvctl.termsafe`: error lines here, JSON here (C1 escaped),
tables and prints by each command's human path (``for_terminal`` on the results).

Tables (:func:`print_table`) never break a word: a row is one line per cell only when
every identity and status cell fits whole and every other column is at least as wide as
its longest word. Otherwise, and always under :data:`STACK_BELOW` columns (a phone over
SSH), each row is a block of ``HEADER: value`` lines. ``--json`` is for scripts; the
layouts are for people, so one may turn into the other with the terminal's width.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from cctvctl.columns import ColumnSpec, Priority, fit_columns
from cctvctl.termsafe import escape_controls, json_c1_safe

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

__all__ = [
    "STACK_BELOW",
    "Column",
    "Priority",
    "console",
    "error",
    "no_color_env",
    "print_json",
    "print_table",
]

#: Under this many columns every table is stacked, one "HEADER: value" line per cell.
STACK_BELOW: Final = 60
_GAP: Final = 2  # cells between two columns of a rich table without box or edge padding


@dataclass(frozen=True)
class Column:
    """A table column: its header, how much it matters (:mod:`cctvctl.columns`), and
    which side its text sits on; a right-aligned column holds figures, which never wrap."""

    header: str
    priority: Priority = Priority.OTHER
    justify: Literal["left", "right"] = "left"


def no_color_env() -> bool:
    """``NO_COLOR`` asks for no colour only when set and non-empty (no-color.org)."""
    return os.environ.get("NO_COLOR", "") != ""


def console(no_color: bool = False, stderr: bool = False) -> Console:
    from rich.console import Console  # not at the top: `--json` output needs no rich

    plain = no_color or no_color_env()
    return Console(stderr=stderr, no_color=plain, highlight=False, soft_wrap=False)


def error(message: str) -> None:
    """One line on stderr, the way every command reports what went wrong.

    A message often quotes the server (a problem's detail, a camera's last error), so
    control characters are shown escaped, and a newline cannot make it two lines.
    """
    print(f"cctvctl: error: {escape_controls(message)}", file=sys.stderr)


def print_json(payload: Any) -> None:
    # ensure_ascii=False keeps Indonesian names readable, but leaves C1 codes raw.
    text = json.dumps(payload, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write(json_c1_safe(text) + "\n")


def print_table(
    out: Console, columns: Sequence[Column], rows: Iterable[Sequence[Text | str]]
) -> None:
    """``rows`` under ``columns`` as a table when it fits ``out`` whole, else stacked."""
    from rich.table import Table
    from rich.text import Text

    cells = [[c if isinstance(c, Text) else Text(c) for c in row] for row in rows]
    widths = _table_widths(columns, cells, out.width)
    if widths is None:
        _print_trimmed(out, _stacked(columns, cells))
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column, width in zip(columns, widths, strict=True):
        # No column is narrower than its longest word, so "fold" only ever wraps at spaces.
        table.add_column(column.header, justify=column.justify, width=width, overflow="fold")
    for row in cells:
        table.add_row(*row)
    _print_trimmed(out, table)


def _print_trimmed(out: Console, renderable: Any) -> None:
    """Print without the spaces rich pads every line's last cell with, when the text is
    plain (a pipe, NO_COLOR): they trail each line of a cron mail, a diff or a paste."""
    if out.color_system is not None or out.is_terminal:
        out.print(renderable)
        return
    with out.capture() as captured:
        out.print(renderable)
    out.file.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def _table_widths(
    columns: Sequence[Column], cells: Sequence[Sequence[Text]], room: int
) -> list[int] | None:
    """Each column's width, or None when the rows must be stacked."""
    if room < STACK_BELOW:
        return None
    natural = [
        max([len(c.header), *(row[i].cell_len for row in cells)]) for i, c in enumerate(columns)
    ]
    # A header may wrap at its spaces ("FULL" over "IN"); a figure never does: "0 min"
    # over two lines reads as two values.
    longest_word = [
        max(
            [
                _longest_word(c.header),
                *(
                    row[i].cell_len if c.justify == "right" else _longest_word(row[i].plain)
                    for row in cells
                ),
            ]
        )
        for i, c in enumerate(columns)
    ]
    specs = [
        ColumnSpec(c.header, c.priority, min_width=word)
        for c, word in zip(columns, longest_word, strict=True)
    ]
    # fit_columns counts a gap after every column; a table has one between columns.
    fit = fit_columns(specs, natural, room + _GAP, gap=_GAP)
    widths = [w for w in fit.widths if w is not None]
    if not fit.everything_shown or sum(widths) + _GAP * (len(widths) - 1) > room:
        return None
    return widths


def _longest_word(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(word) for word in text.split()), default=0)


def _stacked(columns: Sequence[Column], cells: Sequence[Sequence[Text]]) -> Any:
    """One block per row, ``HEADER: value`` a line, a blank line between rows."""
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True, style="bold")
    grid.add_column(overflow="fold")
    for n, row in enumerate(cells):
        if n:
            grid.add_row("", "")
        for column, cell in zip(columns, row, strict=True):
            grid.add_row(Text(f"{column.header}:"), cell)
    return grid
