"""Reboot jobs: deliberate, limited and recorded ONVIF reboots, singly or in bulk.

:mod:`~cctvctl.reboots.plan` (selection and guards, dry runs), :mod:`~cctvctl.reboots.run`
(the ONVIF call, watching until the camera is back) and :mod:`~cctvctl.reboots.service`
(the :class:`RebootManager` the server runs) over the device layer in
:mod:`cctvctl.devices.onvif`. The names below are what the server uses.
"""

from cctvctl.reboots.plan import BULK_LIMIT, GUARD, Actor, RebootRefused
from cctvctl.reboots.run import POLL_SECONDS, REBOOT_RESULT
from cctvctl.reboots.service import (
    REBOOT,
    REBOOT_BULK,
    REBOOT_DRY_RUN,
    RebootManager,
    StreamWatch,
)

__all__ = [
    "BULK_LIMIT",
    "GUARD",
    "POLL_SECONDS",
    "REBOOT",
    "REBOOT_BULK",
    "REBOOT_DRY_RUN",
    "REBOOT_RESULT",
    "Actor",
    "RebootManager",
    "RebootRefused",
    "StreamWatch",
]
