"""Bytes and bit rates, as the CLI writes them and as the TUI's narrow cells show them."""

from __future__ import annotations

import pytest

from cctvctl.units import bytes_text, counted, kbps_text, rate_text


@pytest.mark.parametrize(
    ("n", "words", "compact"),
    [
        (0, "0 B", "0B"),
        (999, "999 B", "999B"),
        (1_500, "1.5 kB", "1.5K"),
        (99_900, "99.9 kB", "99.9K"),
        (212_391_114, "212.4 MB", "212M"),  # a 15-minute clip
        (4_000_000_000_000, "4.0 TB", "4.0T"),
        (2_500_000_000_000_000, "2500.0 TB", "2500T"),  # no unit past TB
    ],
)
def test_bytes_in_words_and_in_cells(n: int, words: str, compact: str) -> None:
    assert bytes_text(n) == words
    assert bytes_text(n, compact=True) == compact


def test_a_write_rate_is_bytes_a_second() -> None:
    assert rate_text(3_200_000) == "3.2 MB/s"


@pytest.mark.parametrize(
    ("kbps", "words", "compact"),
    [
        (512, "512 kbit/s", "512k"),
        (1_500, "1.5 Mbit/s", "1500k"),  # a cell keeps kilobits up to 10 M
        (12_000, "12.0 Mbit/s", "12.0M"),
    ],
)
def test_bit_rates_in_words_and_in_cells(kbps: float, words: str, compact: str) -> None:
    assert kbps_text(kbps) == words
    assert kbps_text(kbps, compact=True) == compact


def test_counts_agree_with_their_noun() -> None:
    assert counted(1, "camera") == "1 camera"
    assert [counted(n, "camera") for n in (0, 2)] == ["0 cameras", "2 cameras"]
    assert counted(1, "API token") == "1 API token"
    assert counted(3, "kecamatan", "kecamatan") == "3 kecamatan"
