"""Retention in the running server: a tiny kecamatan quota deletes the oldest footage first.

Sangatta Utara gets a 200 kB quota (two cameras at about 30 kB/s fill it within seconds);
Bengalon has none and must keep everything. Deletions must be announced as
``storage.deleted`` events, and recording must carry on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from harness import Live, ServerProcess, SiteSpec, SseEvent, wait_for

QUOTA_GB = 0.0002
SPEC = SiteSpec(
    cameras=3,
    kecamatan=("Sangatta Utara", "Bengalon"),
    segment_seconds=2,
    quota_gb={"Sangatta Utara": QUOTA_GB},
)


def _segments(server: ServerProcess, camera: str) -> list[dict[str, Any]]:
    segs: list[dict[str, Any]] = server.get(f"/api/v1/cameras/{camera}/recordings").json()[
        "segments"
    ]
    return segs


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_quota_deletes_oldest_first_and_recording_goes_on(
    live_factory: Callable[..., Live],
) -> None:
    live = live_factory(SPEC)
    site, server = live.site, live.server
    capped, free = "sangatta-utara", "bengalon"
    capped_cams = site.cameras_in(capped)
    [free_cam] = site.cameras_in(free)

    deletions: list[SseEvent] = []
    with server.events("types=storage.deleted") as stream:
        first = stream.wait_for(lambda e: e.event == "storage.deleted", 45)
        deletions.append(first)
        first_seen = datetime.now(UTC)
        summary = next(k for k in server.get("/api/v1/kecamatan").json() if k["slug"] == capped)
        # A pass announces one event per camera it deleted from: collect the rest of it.
        while (more := stream.next(1.0)) is not None:
            deletions.append(more)

    # Right after a pass the kecamatan is back within its quota (give or take the
    # segments that closed since).
    biggest = max(s["bytes"] for cam in capped_cams for s in _segments(server, cam))
    assert summary["quota_bytes"] == int(QUOTA_GB * 1e9)
    assert summary["bytes_stored"] <= summary["quota_bytes"] + 2 * biggest

    deleted_until: dict[str, datetime] = {}
    for event in deletions:
        body = event.json()
        assert body["type"] == "storage.deleted"
        assert body["kecamatan"] == capped
        assert body["camera"] in capped_cams
        assert body["data"]["reason"] == "quota"
        assert body["data"]["count"] >= 1
        assert body["data"]["bytes"] > 0
        end = _t(body["data"]["end"])
        deleted_until[body["camera"]] = max(end, deleted_until.get(body["camera"], end))

    # Oldest first: every segment a camera still has starts after all it lost.
    for camera, until in deleted_until.items():
        remaining = _segments(server, camera)
        assert remaining, f"{camera} lost everything"
        assert min(_t(s["start"]) for s in remaining) >= until

    # The files went too: on disk there is at most the open segment beyond the index.
    for camera in capped_cams:
        on_disk = list((site.storage / capped / camera).rglob("*.mp4"))
        assert len(on_disk) <= len(_segments(server, camera)) + 1

    # The kecamatan without a quota kept all of its footage, from the very first segment.
    kept = _segments(server, free_cam)
    files = sorted((site.storage / free / free_cam).rglob("*.mp4"))
    assert len(kept) >= len(files) - 1
    assert files[0].name == f"{_t(kept[0]['start']):%H%M%S}.mp4"

    # Recording carries on in the capped kecamatan after the deletions began.
    wait_for(
        lambda: all(
            any(_t(s["start"]) > first_seen for s in _segments(server, c)) for c in capped_cams
        ),
        20,
        what="a new segment of each capped camera after the deletions",
    )
    # Degraded counts as recording: on a loaded machine (CI, 3 workers on 2 cores) the
    # measured frame rate can dip under 80 % of the camera's for a moment.
    for camera in capped_cams:
        status = server.get(f"/api/v1/cameras/{camera}").json()["status"]
        assert status in ("online", "degraded"), f"{camera} is {status}"
