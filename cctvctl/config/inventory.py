"""The site inventory: kecamatan, sites and cameras, and the loaded file as code reads it."""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Self

from pydantic import Field, SecretStr, model_validator

from cctvctl.config.fields import OnvifUrl, RtspUrl, Slug, StrictModel, relative_to, slugify
from cctvctl.config.settings import FleetConfig, ServerConfig, SimConfig, SimDeviceConfig
from cctvctl.models import SiteKind


class CameraConfig(StrictModel):
    id: Slug
    name: str = Field(min_length=1)
    rtsp: RtspUrl
    onvif: OnvifUrl | None = None
    username: str = Field(min_length=1)
    password_env: str | None = Field(default=None, min_length=1)
    enabled: bool = True
    fps: float | None = Field(default=None, gt=0, le=120)
    #: In a fleet: the node that records this camera, and the ones that take it over,
    #: in order, while that node is down. A single node ignores both.
    node: Slug | None = None
    failover: list[Slug] = Field(default_factory=list)
    #: What the simulator's device reports (identity, clock offset); real cameras ignore it.
    sim_device: SimDeviceConfig | None = None

    @model_validator(mode="after")
    def _failover_elsewhere(self) -> Self:
        if len(set(self.failover)) != len(self.failover):
            raise ValueError("failover names a node twice; list each node once, in order")
        if self.node is not None and self.node in self.failover:
            raise ValueError(
                f"failover names the camera's own node {self.node!r}; list other nodes"
            )
        return self


class SiteConfig(StrictModel):
    name: str = Field(min_length=1)
    kind: SiteKind = Field(strict=False)  # strict would want an enum member, not its text
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    camera: list[CameraConfig] = Field(default_factory=list)


class KecamatanConfig(StrictModel):
    name: str = Field(min_length=1)
    slug: Slug | None = None
    quota_gb: float | None = Field(default=None, gt=0)
    site: list[SiteConfig] = Field(default_factory=list)

    @property
    def key(self) -> str:
        return self.slug or slugify(self.name)


class InventoryFile(StrictModel):
    server: ServerConfig = Field(default_factory=ServerConfig)
    sim: SimConfig = Field(default_factory=SimConfig)
    fleet: FleetConfig | None = None
    kecamatan: list[KecamatanConfig] = Field(default_factory=list)


@dataclass(frozen=True)
class CameraEntry:
    """A camera with the place it belongs to, as most code wants to see it."""

    camera: CameraConfig
    site: SiteConfig
    kecamatan: KecamatanConfig


@dataclass(frozen=True)
class Inventory:
    path: Path
    data: InventoryFile
    passwords: Mapping[str, SecretStr]

    @property
    def server(self) -> ServerConfig:
        return self.data.server

    @property
    def sim(self) -> SimConfig:
        return self.data.sim

    @property
    def fleet(self) -> FleetConfig | None:
        return self.data.fleet

    def with_node(self, node: str) -> Inventory:
        """The same inventory run as fleet node ``node`` (``cctvctl server --node``)."""
        server = self.server.model_copy(update={"node": node})
        return replace(self, data=self.data.model_copy(update={"server": server}))

    def only(self, cameras: Collection[str]) -> Inventory:
        """The same inventory with only ``cameras`` (every kecamatan and site kept): what
        a fleet node records of the fleet's inventory."""
        kecamatan = [
            kec.model_copy(
                update={
                    "site": [
                        site.model_copy(
                            update={"camera": [c for c in site.camera if c.id in cameras]}
                        )
                        for site in kec.site
                    ]
                }
            )
            for kec in self.data.kecamatan
        ]
        return replace(self, data=self.data.model_copy(update={"kecamatan": kecamatan}))

    @property
    def kecamatan(self) -> list[KecamatanConfig]:
        return self.data.kecamatan

    def cameras(self) -> Iterator[CameraEntry]:
        for kec in self.data.kecamatan:
            for site in kec.site:
                for cam in site.camera:
                    yield CameraEntry(cam, site, kec)

    def camera(self, camera_id: str) -> CameraEntry | None:
        return next((e for e in self.cameras() if e.camera.id == camera_id), None)

    def password(self, camera_id: str) -> str:
        return self.passwords[camera_id].get_secret_value()

    @property
    def storage(self) -> Path:
        """The storage folder; a relative path is taken from the inventory file's folder."""
        return relative_to(self.path, self.server.storage)

    @property
    def secrets_path(self) -> Path | None:
        secrets = self.server.secrets
        return None if secrets is None else relative_to(self.path, secrets)

    def exposed_files(self) -> list[tuple[Path, int, str]]:
        """(file, mode, what it holds) for each secret-holding file others may read.

        The secrets file holds camera passwords; the inventory itself counts once it
        holds API token hashes.
        """
        holders = [(self.secrets_path, "camera passwords")]
        if self.server.token:
            holders.append((self.path, "API token hashes"))
        found: list[tuple[Path, int, str]] = []
        for path, what in holders:
            try:
                mode = path.stat().st_mode & 0o777 if path is not None else 0
            except OSError:
                continue
            if path is not None and mode & 0o077:
                found.append((path, mode, what))
        return found

    def storage_problem(self) -> str | None:
        """Why the server could not make or write its storage folder; None when it can.

        Tries for real (a temporary folder or file, removed again) rather than guessing
        from permission bits, which say nothing about read-only mounts or root.
        """
        storage = self.storage
        probe = storage
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        shown = json.dumps(str(storage), ensure_ascii=False)
        if not probe.is_dir():
            return f"server.storage: {shown} cannot be made: {probe} is not a folder"
        try:
            if probe == storage:
                fd, name = tempfile.mkstemp(prefix=".cctvctl-check-", dir=probe)
                os.close(fd)
                os.unlink(name)
            else:
                os.rmdir(tempfile.mkdtemp(prefix=".cctvctl-check-", dir=probe))
        except OSError as exc:
            verb = "written" if probe == storage else "made"
            return f"server.storage: {shown} cannot be {verb}: {exc.strerror or exc} in {probe}"
        return None

    def summary(self) -> dict[str, Any]:
        sites = [s for k in self.kecamatan for s in k.site]
        entries = list(self.cameras())
        per_kind = Counter(e.site.kind.value for e in entries)
        return {
            "kecamatan": len(self.kecamatan),
            "sites": len(sites),
            "cameras": len(entries),
            "enabled": sum(e.camera.enabled for e in entries),
            "with_onvif": sum(e.camera.onvif is not None for e in entries),
            "cameras_per_kind": {kind.value: per_kind.get(kind.value, 0) for kind in SiteKind},
            "tokens": len(self.server.token),
        }
