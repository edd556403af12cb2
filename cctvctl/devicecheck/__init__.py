"""Camera time and identity over ONVIF: read on a schedule, judged, stored; time sync.

Stands on the recorder (a camera's status) and the devices layer (the ONVIF calls), beside
the job services: ``server/`` builds a :class:`DeviceChecker` and calls ``sync_cameras``.
"""

from __future__ import annotations

from cctvctl.devicecheck.readings import clock_problem, clock_wire, device_wire
from cctvctl.devicecheck.service import DeviceChecker
from cctvctl.devicecheck.time_sync import sync_cameras

__all__ = ["DeviceChecker", "clock_problem", "clock_wire", "device_wire", "sync_cameras"]
