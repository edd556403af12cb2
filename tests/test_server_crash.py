"""`kill -9` the recording server, restart it, and check nothing recorded was lost.

Closed segments must be byte-for-byte untouched, the segment each camera was writing
must be playable up to its last whole fragment and indexed, and after a clean stop the
index must list exactly the files on disk.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import av
from harness import Live, Site, SiteSpec, wait_for

from cctvctl.storage import fmp4

SPEC = SiteSpec(cameras=2, kecamatan=("Sangatta Utara", "Bengalon"), segment_seconds=3)


def _indexed(site: Site) -> dict[str, int]:
    """Rows of the server's index, read-only (the server may be running): path -> bytes."""
    db = site.storage / "index.sqlite3"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {p: b for p, b in conn.execute("SELECT path, bytes FROM segments")}


def _files(site: Site) -> dict[str, Path]:
    return {p.relative_to(site.storage).as_posix(): p for p in site.storage.glob("*/*/*/*.mp4")}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _decode_all(path: Path) -> int:
    """Frames decoded from the whole file; raises if anything in it is broken."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def _open_files_with_fragments(site: Site) -> dict[str, Path] | None:
    """Each camera's unindexed (open) file, once every one holds a whole fragment."""
    indexed = _indexed(site)
    open_files: dict[str, Path] = {}
    for rel, path in _files(site).items():
        if rel in indexed:
            continue
        camera = rel.split("/")[1]
        if camera not in open_files or path.name > open_files[camera].name:
            open_files[camera] = path
    if set(open_files) != set(site.camera_ids):
        return None
    if all(fmp4.scan(p).fragments for p in open_files.values()):
        return open_files
    return None


def test_kill_9_then_restart(
    live_factory: Callable[..., Live],
) -> None:
    live = live_factory(SPEC)
    site, server = live.site, live.server

    # Two closed segments per camera, then the moment each camera's open segment has a
    # whole fragment on disk.
    wait_for(
        lambda: all(sum(f"/{cam}/" in p for p in _indexed(site)) >= 2 for cam in site.camera_ids),
        40,
        what="two closed segments per camera",
    )
    wait_for(lambda: _open_files_with_fragments(site), 20, what="open segments with fragments")
    closed = _indexed(site)
    server.kill()
    killed_at = datetime.now(UTC)

    files = _files(site)
    assert set(closed) <= set(files)
    sums = {rel: _sha(files[rel]) for rel in closed}
    cut = {rel: path for rel, path in files.items() if rel not in closed}
    playable = {rel for rel, path in cut.items() if fmp4.scan(path).fragments}
    assert {rel.split("/")[1] for rel in playable} == set(site.camera_ids)

    server.start()

    # Closed segments: untouched and fully decodable.
    for rel, digest in sums.items():
        path = site.storage / rel
        assert _sha(path) == digest, f"{rel} changed on restart"
        assert _decode_all(path) > 0

    # The cut segments: kept up to their last whole fragment, indexed, and playable.
    after = _indexed(site)
    for rel in playable:
        path = site.storage / rel
        assert rel in after, f"{rel} was not indexed by the restart"
        scan = fmp4.scan(path)
        assert scan.usable and not scan.truncated, scan.error
        assert after[rel] == path.stat().st_size
        assert _decode_all(path) == scan.samples > 0
    # Anything cut before its first fragment is not indexed as footage.
    for rel in set(cut) - playable:
        assert rel not in after

    # The API lists the recovered segment, and recording resumed after the restart.
    camera = site.camera_ids[0]
    wait_for(
        lambda: any(
            datetime.fromisoformat(s["start"]) > killed_at
            for s in server.get(f"/api/v1/cameras/{camera}/recordings").json()["segments"]
        ),
        30,
        what="a segment recorded after the restart",
    )
    segments = server.get(f"/api/v1/cameras/{camera}/recordings").json()["segments"]
    assert len(segments) >= len([r for r in after if f"/{camera}/" in r])

    # Start-up reconciliation indexed what the crash left unindexed.
    found = re.search(r"reconciled \d+ segment files .*?(\d+) added", server.log_text(-1))
    assert found is not None
    assert int(found[1]) >= len(playable)

    # A clean stop closes and indexes the open segments: files and rows now agree.
    assert server.stop() == 0
    files = _files(site)
    rows = _indexed(site)
    assert set(files) == set(rows)
    for rel, size in rows.items():
        assert files[rel].stat().st_size == size
    assert "every open segment is closed and indexed" in server.log_text(-1)
