"""Byte counts and bit rates as people read them, written once for both front ends.

Decimal units (1 kB = 1000 B), as disk vendors and the inventory's ``quota_gb`` count.
Two widths of the same figure: words for the CLI's tables and lines (``212.4 MB``,
``1.2 Mbit/s``), and ``compact`` cells of a few columns for the TUI at 80x24 (``212M``,
``1.2M``). Durations live in :mod:`cctvctl.timeparse` (``format_duration``).

The standard library only: the CLI formats before anything heavy loads.
"""

from __future__ import annotations

from typing import Final

__all__ = ["bytes_text", "counted", "kbps_text", "rate_text"]

_WORDS: Final = ("B", "kB", "MB", "GB", "TB")
_COMPACT: Final = ("B", "K", "M", "G", "T")


def bytes_text(n: float, *, compact: bool = False) -> str:
    """``212.4 MB`` (compact: ``212M``; a tenth is kept under 100 of a unit: ``1.5K``)."""
    units = _COMPACT if compact else _WORDS
    value = float(n)
    for unit in units:
        if abs(value) < 1000 or unit == units[-1]:
            break
        value /= 1000
    if compact:
        return f"{value:.0f}{unit}" if unit == "B" or value >= 100 else f"{value:.1f}{unit}"
    return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"


def rate_text(bytes_per_second: float) -> str:
    """A write rate: ``3.2 MB/s``."""
    return f"{bytes_text(bytes_per_second)}/s"


def kbps_text(kbps: float, *, compact: bool = False) -> str:
    """A bit rate given in kbit/s: ``512 kbit/s``, ``1.2 Mbit/s`` (compact: ``512k``, and
    megabits only from 10 M on, ``12.0M``, so a cell stays within five columns)."""
    if compact:
        return f"{kbps / 1000:.1f}M" if kbps >= 10_000 else f"{kbps:.0f}k"
    return f"{kbps / 1000:.1f} Mbit/s" if kbps >= 1000 else f"{kbps:.0f} kbit/s"


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``1 camera``, ``2 cameras``; ``plural`` for nouns that do not take an s (``kecamatan``)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
