"""FileModes: exact modes whatever the umask, and only on what the server owns."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from cctvctl.storage.modes import FileModes


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o000, 0o077], ids=["umask-000", "umask-077"])
def any_umask(request: pytest.FixtureRequest) -> Iterator[None]:
    old = os.umask(request.param)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("any_umask")
def test_made_folders_and_files_have_exact_modes(tmp_path: Path) -> None:
    modes = FileModes.for_file_mode(0o660)
    assert (modes.file, modes.folder) == (0o660, 0o770)
    os.chmod(tmp_path, 0o711)
    modes.make_dirs(tmp_path / "a" / "b")
    assert [mode(tmp_path / "a"), mode(tmp_path / "a" / "b")] == [0o770, 0o770]
    assert mode(tmp_path) == 0o711  # existed before: not ours to change
    modes.create_empty(tmp_path / "a" / "seg.mp4")
    modes.write_text(tmp_path / "a" / "m.json", "{}")
    assert mode(tmp_path / "a" / "seg.mp4") == mode(tmp_path / "a" / "m.json") == 0o660
    with pytest.raises(FileExistsError):
        modes.create_empty(tmp_path / "a" / "seg.mp4")


def test_root_is_set_only_when_not_a_shared_sticky_folder(tmp_path: Path) -> None:
    modes = FileModes()
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    assert modes.apply_root(shared) is False
    assert mode(shared) == 0o1777
    own = tmp_path / "own"
    own.mkdir()
    os.chmod(own, 0o755)
    assert modes.apply_root(own) is True
    assert mode(own) == 0o750


def test_apply_walk_sets_a_whole_tree_and_skips_links(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    os.chmod(outside, 0o644)
    top = tmp_path / ".quarantine"
    (top / "k" / "c").mkdir(parents=True)
    (top / "k" / "c" / "x.mp4").write_bytes(b"x")
    (top / "link").symlink_to(outside)
    os.chmod(top / "k" / "c" / "x.mp4", 0o644)
    assert FileModes().apply_walk(top) == 4  # three folders and one file; not the link
    assert mode(top / "k" / "c" / "x.mp4") == 0o640
    assert mode(top / "k") == 0o750
    assert mode(outside) == 0o644
