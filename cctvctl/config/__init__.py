"""Site inventory and server settings, read from TOML into validated models.

Every problem is reported with the file, the key path (``kecamatan[3].site[0].camera[2].rtsp``)
and what would have been accepted, and all problems are reported at once: a NOC engineer
editing a 60-camera file should not have to fix it one error per run.

The modules, each over the one before it: ``fields`` (value types, ``show_value``),
``settings`` (``[server]``, ``[sim]``), ``inventory`` (kecamatan, sites, cameras, the loaded
:class:`Inventory`), ``loading`` (:func:`load_inventory`, :class:`ConfigError`), ``diff``
(what a running server must do to move from one inventory to another). The rest of
cctvctl imports from here.
"""

from cctvctl.config.diff import InventoryDiff, diff_inventories, running_settings_kept
from cctvctl.config.fields import (
    DEFAULT_FILE_MODE,
    DEFAULT_LISTEN,
    FILE_MODES,
    SLUG_RE,
    TOKEN_HASH_RE,
    hash_token,
    show_value,
    slugify,
)
from cctvctl.config.inventory import (
    CameraConfig,
    CameraEntry,
    Inventory,
    InventoryFile,
    KecamatanConfig,
    SiteConfig,
)
from cctvctl.config.loading import (
    ConfigError,
    fleet_inventory,
    format_loc,
    load_inventory,
    load_inventory_text,
    load_server_inventory,
)
from cctvctl.config.settings import (
    FleetConfig,
    ServerConfig,
    SimConfig,
    SimDeviceConfig,
    TokenConfig,
)

__all__ = [
    "DEFAULT_FILE_MODE",
    "DEFAULT_LISTEN",
    "FILE_MODES",
    "SLUG_RE",
    "TOKEN_HASH_RE",
    "CameraConfig",
    "CameraEntry",
    "ConfigError",
    "FleetConfig",
    "Inventory",
    "InventoryDiff",
    "InventoryFile",
    "KecamatanConfig",
    "ServerConfig",
    "SimConfig",
    "SimDeviceConfig",
    "SiteConfig",
    "TokenConfig",
    "diff_inventories",
    "fleet_inventory",
    "format_loc",
    "hash_token",
    "load_inventory",
    "load_inventory_text",
    "load_server_inventory",
    "running_settings_kept",
    "show_value",
    "slugify",
]
