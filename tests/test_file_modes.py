"""File and folder modes of everything a real server writes: footage is personal data.

A real simulator and a real `cctvctl server` record and export; every file and folder
under the storage root is then read back with ``stat``. The server is started with a
umask of 0, so a mode left to the umask (0666 files, 0777 folders) cannot pass.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from harness import RunningSim, ServerProcess, Site, SiteSpec, wait_for

SPEC = SiteSpec(cameras=1, kecamatan=("Bengalon",), segment_seconds=2)


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def start(server_factory: Callable[..., ServerProcess], site: Site) -> ServerProcess:
    with umask(0):  # inherited by the server process
        server: ServerProcess = server_factory(site)
    return server


def set_file_mode(site: Site, mode: str) -> None:
    text = site.config.read_text().replace("[server]\n", f'[server]\nfile_mode = "{mode}"\n', 1)
    site.config.write_text(text)


def modes_under(root: Path) -> dict[str, tuple[bool, int]]:
    """root-relative path -> (is a folder, permission bits), the root itself as '.'."""
    found = {".": (True, stat.S_IMODE(root.stat().st_mode))}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            rel = path.relative_to(root).as_posix()
            found[rel] = (name in dirs, stat.S_IMODE(path.lstat().st_mode))
    return found


def wrong_modes(root: Path, file_bits: int, dir_bits: int) -> dict[str, str]:
    return {
        rel: f"{bits:04o}"
        for rel, (is_dir, bits) in modes_under(root).items()
        if bits != (dir_bits if is_dir else file_bits)
    }


def segments(server: ServerProcess, camera: str) -> list[dict[str, Any]] | None:
    rows: list[dict[str, Any]] = server.get(f"/api/v1/cameras/{camera}/recordings").json()[
        "segments"
    ]
    return rows or None


def export_first_second(server: ServerProcess, camera: str) -> str:
    first = wait_for(lambda: segments(server, camera), 40, what="a closed segment")[0]
    start = datetime.fromisoformat(first["start"].replace("Z", "+00:00"))
    end = datetime.fromtimestamp(start.timestamp() + 1, UTC)
    with server.client("operator") as api:
        resp = api.post(
            "/api/v1/exports",
            json={"camera": camera, "start": start.isoformat(), "end": end.isoformat()},
        )
        assert resp.status_code == 202, resp.text
        job_id: str = resp.json()["id"]

        def done() -> bool:
            state = api.get(f"/api/v1/exports/{job_id}").json()["state"]
            assert state in ("queued", "running", "done"), state
            return state == "done"

        wait_for(done, 40, what="the export to finish")
    return job_id


@pytest.mark.parametrize(
    ("file_mode", "file_bits", "dir_bits"),
    [(None, 0o640, 0o750), ("0660", 0o660, 0o770), ("0600", 0o600, 0o700)],
)
def test_recording_and_export_obey_file_mode(
    site_factory: Callable[..., Site],
    sim_factory: Callable[[Site], RunningSim],
    server_factory: Callable[..., ServerProcess],
    file_mode: str | None,
    file_bits: int,
    dir_bits: int,
) -> None:
    site = site_factory(SPEC)
    if file_mode is not None:
        set_file_mode(site, file_mode)
    sim_factory(site)
    server = start(server_factory, site)
    camera = site.camera_ids[0]
    job_id = export_first_second(server, camera)

    found = modes_under(site.storage)
    names = {rel.rsplit("/", 1)[-1] for rel in found}
    # Everything that must be there to be checked: index with WAL and SHM, the layout's
    # folders, segments, the export's folder, clip and manifest.
    assert {"index.sqlite3", "index.sqlite3-wal", "index.sqlite3-shm"} <= names, found
    assert any(rel.endswith(".mp4") and rel.startswith("bengalon/") for rel in found), found
    exported = [rel for rel in found if rel.startswith(f".exports/{job_id}/")]
    assert any(rel.endswith(".mp4") for rel in exported), found
    assert any(rel.endswith(".json") for rel in exported), found
    assert wrong_modes(site.storage, file_bits, dir_bits) == {}
    assert server.stop() == 0
    assert wrong_modes(site.storage, file_bits, dir_bits) == {}


def test_files_of_an_older_version_are_set_at_start(
    site_factory: Callable[..., Site],
    sim_factory: Callable[[Site], RunningSim],
    server_factory: Callable[..., ServerProcess],
) -> None:
    site = site_factory(SPEC)
    sim_factory(site)
    server = start(server_factory, site)
    camera = site.camera_ids[0]
    wait_for(lambda: segments(server, camera), 40, what="a closed segment")
    assert server.stop() == 0
    # What an older version left: folders 0755, segments and index 0644, and a damaged
    # segment that start-up will move to the quarantine.
    day = next(p.parent for p in site.storage.rglob("*.mp4"))
    (day / "000001.mp4").write_bytes(b"not a segment" * 100)
    for folder, _dirs, files in os.walk(site.storage):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(Path(folder, name), 0o644)
    assert wrong_modes(site.storage, 0o640, 0o750)

    server.start()
    wait_for(lambda: segments(server, camera), 20, what="the index after restart")
    assert (site.storage / ".quarantine").is_dir()
    assert wrong_modes(site.storage, 0o640, 0o750) == {}
    assert "files and folders set to the configured mode" in server.log_text(-1)


def test_secret_files_readable_by_others_are_named_once_at_start(
    site_factory: Callable[..., Site],
    server_factory: Callable[..., ServerProcess],
) -> None:
    site = site_factory(SPEC)
    secrets = site.dir / "secrets.toml"
    os.chmod(secrets, 0o644)
    os.chmod(site.config, 0o640)  # holds token hashes; group-readable is "others" too
    server = start(server_factory, site)
    assert server.stop() == 0
    lines = [line for line in server.log_text(-1).splitlines() if "readable by others" in line]
    assert len(lines) == 2, lines
    assert lines[0].endswith(
        f"{secrets} is readable by others (mode 0644) and holds camera passwords; "
        f"fix it with `chmod 600 {secrets}`"
    )
    assert lines[1].endswith(
        f"{site.config} is readable by others (mode 0640) and holds API token hashes; "
        f"fix it with `chmod 600 {site.config}`"
    )
    os.chmod(secrets, 0o600)
    os.chmod(site.config, 0o600)
    server.start()
    assert server.stop() == 0
    assert "readable by others" not in server.log_text(-1)
