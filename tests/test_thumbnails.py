"""Thumbnails from the recorder's latest keyframes, against the real simulator.

Each simulated camera paints its background in :func:`scene_colour`, so a thumbnail can be
traced to its camera by colour: that is what makes a wall of text thumbnails readable.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from harness import RunningSim, Site, SiteSpec, start_sim, wait_for, write_site
from PIL import Image

from cctvctl.config import load_inventory
from cctvctl.models import CameraStatus
from cctvctl.recorder.manager import Recorder
from cctvctl.recorder.thumbnails import (
    IDLE_SECONDS,
    MAX_HEIGHT,
    MAX_RESULT_BYTES,
    MAX_WIDTH,
    Thumbnail,
    ThumbnailService,
    fit_size,
)
from cctvctl.sim.scene import scene_colour
from cctvctl.storage.database import Database
from cctvctl.storage.event_store import EventStore
from cctvctl.storage.events import EventBus

WIDTH, HEIGHT = 320, 180


@dataclass
class Rig:
    site: Site
    sim: RunningSim
    recorder: Recorder
    index: Database


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, sim_cache: Path) -> Iterator[Rig]:
    spec = SiteSpec(cameras=2, offline_after=2, fps=10, gop_seconds=1.0, width=WIDTH, height=HEIGHT)
    site = write_site(tmp_path_factory.mktemp("thumbs"), spec)
    sim = start_sim(site, sim_cache)
    inventory = load_inventory(site.config)
    index = Database(inventory.storage)
    recorder = Recorder(inventory, index, EventBus(EventStore(index)))
    recorder.start()
    try:
        for cam in site.camera_ids:
            wait_for(
                lambda cam=cam: recorder.thumbnail(cam, 16, 9),
                20,
                interval=0.1,
                what=f"a keyframe from {cam}",
            )
        yield Rig(site, sim, recorder, index)
    finally:
        recorder.stop()
        sim.stop()
        index.close()


def _rgb(thumb: Thumbnail) -> np.ndarray:
    if thumb.format == "jpeg":
        return np.asarray(Image.open(io.BytesIO(thumb.data)).convert("RGB"))
    return np.frombuffer(thumb.data, np.uint8).reshape(thumb.height, thumb.width, 3)


def _dominant(pixels: np.ndarray) -> tuple[int, int, int]:
    """Mean of the most common colour bin (bins 16 levels wide per channel)."""
    flat = pixels.reshape(-1, 3).astype(np.int32)
    bins = flat // 16
    keys = bins[:, 0] * 256 + bins[:, 1] * 16 + bins[:, 2]
    top = np.bincount(keys).argmax()
    mean = flat[keys == top].mean(axis=0)
    return int(mean[0]), int(mean[1]), int(mean[2])


def _close(a: tuple[int, int, int], b: tuple[int, int, int], tol: int = 24) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


@pytest.mark.timeout(30)
def test_rgb_thumbnail_has_the_size_asked_and_the_cameras_colour(rig: Rig) -> None:
    a, b = rig.site.camera_ids
    assert not _close(scene_colour(a), scene_colour(b), 30), "scenes too alike to tell apart"
    for cam in (a, b):
        thumb = rig.recorder.thumbnail(cam, 160, 90, "rgb")
        assert thumb is not None
        assert (thumb.width, thumb.height, thumb.format) == (160, 90, "rgb")
        assert len(thumb.data) == 160 * 90 * 3
        colour = _dominant(_rgb(thumb))
        assert _close(colour, scene_colour(cam)), (cam, colour, scene_colour(cam))
        assert thumb.age_seconds() < 3


@pytest.mark.timeout(30)
def test_jpeg_decodes_and_keeps_the_aspect_ratio(rig: Rig) -> None:
    cam = rig.site.camera_ids[0]
    thumb = rig.recorder.thumbnail(cam, 200, None, "jpeg")
    assert thumb is not None and thumb.format == "jpeg"
    assert thumb.data[:2] == b"\xff\xd8"
    image = Image.open(io.BytesIO(thumb.data))
    image.load()
    assert image.format == "JPEG"
    assert image.size == (200, round(200 * HEIGHT / WIDTH)) == (thumb.width, thumb.height)
    assert _close(_dominant(_rgb(thumb)), scene_colour(cam), 32)
    tall = rig.recorder.thumbnail(cam, None, 90, "jpeg")
    assert tall is not None and (tall.width, tall.height) == (160, 90)
    native = rig.recorder.thumbnail(cam, None, None, "rgb")
    assert native is not None and (native.width, native.height) == (WIDTH, HEIGHT)


@pytest.mark.timeout(30)
def test_cache_serves_repeats_without_decoding(rig: Rig) -> None:
    cam = rig.site.camera_ids[0]
    service = rig.recorder.thumbnails
    first = rig.recorder.thumbnail(cam, 64, 36, "rgb")
    decodes = service.decodes
    again = rig.recorder.thumbnail(cam, 64, 36, "rgb")
    assert again is first and service.decodes == decodes
    # Another size of the same keyframe re-scales the decoded picture.
    other = rig.recorder.thumbnail(cam, 48, 27, "rgb")
    assert other is not None and len(other.data) == 48 * 27 * 3
    assert service.decodes == decodes
    # Once the cache time is over and a newer keyframe arrived (1 s GOP), it decodes anew.
    time.sleep(service.cache_seconds + 1.2)
    fresh = rig.recorder.thumbnail(cam, 64, 36, "rgb")
    assert fresh is not None and first is not None
    assert service.decodes == decodes + 1
    assert fresh.frame_time > first.frame_time


@pytest.mark.timeout(40)
def test_offline_camera_still_shows_its_last_frame(rig: Rig) -> None:
    cam = rig.site.camera_ids[1]
    recorder = rig.recorder
    rig.sim.fault(cam, "offline")
    try:
        wait_for(
            lambda: (c := recorder.camera(cam)) is not None and c.status is CameraStatus.OFFLINE,
            15,
            interval=0.1,
            what=f"{cam} offline",
        )
        thumb = recorder.thumbnail(cam, 80, 45, "rgb")
        assert thumb is not None and len(thumb.data) == 80 * 45 * 3
        assert thumb.age_seconds() >= 2  # older than offline_after: the last frame it had
        assert _close(_dominant(_rgb(thumb)), scene_colour(cam))
        service = recorder.thumbnails
        decodes = service.decodes
        time.sleep(service.cache_seconds + 0.2)
        later = recorder.thumbnail(cam, 80, 45, "rgb")
        # Nothing newer exists, so nothing is decoded and the frame time stays.
        assert later is not None and later.frame_time == thumb.frame_time
        assert service.decodes == decodes
    finally:
        rig.sim.fault(cam, "recover")


@pytest.mark.timeout(10)
def test_bad_requests(rig: Rig) -> None:
    cam = rig.site.camera_ids[0]
    with pytest.raises(ValueError):
        rig.recorder.thumbnail(cam, 0, 10)
    with pytest.raises(ValueError):
        rig.recorder.thumbnail(cam, 10, 10, "png")
    assert rig.recorder.thumbnail("no-such-camera", 10, 10) is None
    huge = rig.recorder.thumbnail(cam, 100_000, None, "jpeg")
    assert huge is not None and huge.width <= MAX_WIDTH and huge.height <= MAX_HEIGHT


def test_many_distinct_sizes_do_not_grow_the_cache_beyond_its_bound(rig: Rig) -> None:
    service = rig.recorder.thumbnails
    # Two cameras, 150 widths each, RGB: about 30 MB of results if all were kept.
    asked = 0
    for width in range(170, 320):
        for cam in rig.site.camera_ids:
            thumb = rig.recorder.thumbnail(cam, width, None, "rgb")
            assert thumb is not None
            asked += len(thumb.data)
    count, size, frames = service.cache_size()
    assert asked > 1.5 * MAX_RESULT_BYTES
    assert MAX_RESULT_BYTES // 2 < size <= MAX_RESULT_BYTES
    assert count < 2 * 150
    assert frames <= len(rig.site.camera_ids)


def test_cache_evicts_the_least_recently_used_and_keeps_no_oversized_result(rig: Rig) -> None:
    cam = rig.site.camera_ids[0]
    clock = [0.0]
    service = ThumbnailService(
        lambda c: rig.recorder._keyframe(c),
        cache_seconds=60.0,  # long enough that only eviction can drop an entry
        clock=lambda: clock[0],
        max_results=3,
        max_result_bytes=WIDTH * HEIGHT * 3 - 1,
        max_frames=1,
    )
    for width in (16, 32, 48, 64):
        assert service.get(cam, width, None, "rgb") is not None
    assert service.cache_size()[0] == 3
    decodes = service.decodes
    assert service.get(cam, 64, None, "rgb") is not None  # newest: still cached
    assert service.decodes == decodes
    # Not 16: evicted (a newer keyframe has surely arrived, so it is decoded again).
    assert all(key[1] != 16 for key in service._results)
    # A result bigger than the whole budget is served but not kept.
    full = service.get(cam, WIDTH, HEIGHT, "rgb")
    assert full is not None and len(full.data) > service.max_result_bytes
    assert all(key[1] != WIDTH for key in service._results)
    other = rig.site.camera_ids[1]
    assert service.get(other, 16, None, "rgb") is not None
    assert service.cache_size()[2] == 1  # one decoded picture kept, as configured


def test_idle_service_drops_decoded_pictures_once(rig: Rig) -> None:
    clock = [100.0]
    service = ThumbnailService(lambda c: rig.recorder._keyframe(c), clock=lambda: clock[0])
    for cam in rig.site.camera_ids:
        assert service.get(cam, 32, None, "jpeg") is not None
    assert service.cache_size()[2] == len(rig.site.camera_ids)
    clock[0] += IDLE_SECONDS / 2
    assert not service.release_if_idle()  # requests stopped only just now
    assert service.cache_size()[2] == len(rig.site.camera_ids)
    clock[0] += IDLE_SECONDS
    assert service.release_if_idle()
    assert service.cache_size()[2] == 0
    assert service.cache_size()[0] == len(rig.site.camera_ids)  # small results stay
    assert not service.release_if_idle()  # once per idle period
    assert service.get(rig.site.camera_ids[0], 48, None, "rgb") is not None
    clock[0] += IDLE_SECONDS
    assert service.release_if_idle()


def test_fit_size() -> None:
    assert fit_size(1920, 1080, 320, None) == (320, 180)
    assert fit_size(1920, 1080, None, 90) == (160, 90)
    assert fit_size(1920, 1080, 100, 100) == (100, 100)  # both given: exactly that
    assert fit_size(640, 360, None, None) == (640, 360)
    assert fit_size(3840, 2160, None, None) == (1920, 1080)
    assert fit_size(1920, 1080, 8000, None) == (1920, 1080)  # clamped, aspect kept
    assert fit_size(1920, 1080, 1, None) == (2, 2)
    with pytest.raises(ValueError):
        fit_size(1920, 1080, -5, None)
