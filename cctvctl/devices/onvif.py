"""ONVIF device control: read a camera's identity, and reboot it.

Every failure comes out as one :class:`OnvifError` whose ``code`` a NOC engineer can act
on without reading a SOAP trace:

``no_onvif``        the inventory gives the camera no ONVIF URL (nothing was sent)
``unreachable``     no TCP connection: powered off, wrong address, firewall
``not_authorized``  the device refused our credentials (fix the secrets file)
``timeout``         connected, but no answer in time (a hung device does this)
``error``           anything else the device or the library reported

The client library (onvif-zeep-async) and zeep are imported inside the calls: they take a
noticeable time to import, and the API server must not pay it until someone reboots.

The device service address is always ``{scheme}://host:port/onvif/device_service``, so the
calls below skip capability discovery: a reboot is a single SOAP request, which keeps it
quick on a poor link and leaves nothing half-done when the link drops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_TIMEOUT",
    "ERROR",
    "NOT_AUTHORIZED",
    "NO_ONVIF",
    "TIMEOUT",
    "UNREACHABLE",
    "DeviceInfo",
    "OnvifError",
    "OnvifTarget",
    "device_info",
    "reboot",
]

log = logging.getLogger(__name__)

UNREACHABLE: Final = "unreachable"
NOT_AUTHORIZED: Final = "not_authorized"
NO_ONVIF: Final = "no_onvif"
TIMEOUT: Final = "timeout"
ERROR: Final = "error"

#: Seconds for one whole ONVIF exchange. The library's own limits (30 s to connect, 90 s
#: to read) are far too patient for a console where someone waits for the answer.
DEFAULT_TIMEOUT: Final = 10.0
# Closing only releases local sockets; it must never hold up reporting the result.
_CLOSE_TIMEOUT: Final = 2.0

T = TypeVar("T")


class OnvifError(Exception):
    """A device operation failed; ``code`` is one of the module's error codes."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True)
class OnvifTarget:
    """Where and as whom to talk to one camera's ONVIF device service."""

    camera_id: str
    url: str | None
    username: str
    password: str = field(repr=False)

    def endpoint(self) -> tuple[str, int]:
        """(host as the client library wants it, port); raises ``no_onvif`` without a URL."""
        if not self.url:
            raise OnvifError(
                NO_ONVIF,
                f"camera {self.camera_id!r} has no ONVIF URL in the inventory; add "
                'onvif = "http://host[:port]/onvif/device_service" to reboot it remotely',
            )
        parts = urlsplit(self.url)
        https = parts.scheme == "https"
        host = parts.hostname or ""
        port = parts.port or (443 if https else 80)
        # The library builds http://host:port itself; a scheme on the host makes it keep it.
        return (f"https://{host}" if https else host), port


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    camera_id: str
    manufacturer: str | None
    model: str | None
    firmware: str | None
    serial: str | None
    hardware_id: str | None


def _field(response: Any, name: str) -> str | None:
    value = getattr(response, name, None)
    if value is None and isinstance(response, dict):
        value = response.get(name)
    return None if value is None else str(value)


def _classify(exc: BaseException, target: OnvifTarget, doing: str) -> OnvifError:
    """Map whatever the transport, zeep or the library raised to one of our codes."""
    import aiohttp
    import zeep.exceptions
    from onvif.exceptions import ONVIFAuthError, ONVIFError, ONVIFTimeoutError
    from onvif.util import is_auth_error

    where = f"camera {target.camera_id!r} ({target.url})"
    if isinstance(exc, OnvifError):
        return exc
    if isinstance(exc, TimeoutError | ONVIFTimeoutError | aiohttp.ServerTimeoutError):
        return OnvifError(TIMEOUT, f"{where} did not answer {doing} in time")
    if isinstance(exc, ONVIFAuthError) or (
        isinstance(exc, zeep.exceptions.Fault) and is_auth_error(exc)
    ):
        return OnvifError(
            NOT_AUTHORIZED,
            f"{where} refused the credentials of user {target.username!r} for {doing}; "
            "check the camera's password in the secrets file",
        )
    if isinstance(exc, zeep.exceptions.TransportError) and exc.status_code in (401, 403):
        # Some firmware answers with HTTP auth instead of a SOAP fault.
        return OnvifError(
            NOT_AUTHORIZED,
            f"{where} answered HTTP {exc.status_code} to {doing}; "
            "check the camera's user name and password",
        )
    if isinstance(exc, aiohttp.ClientConnectorError | ConnectionError):
        return OnvifError(UNREACHABLE, f"{where} is unreachable: no connection for {doing}")
    if isinstance(exc, aiohttp.ClientConnectionError | OSError):
        return OnvifError(UNREACHABLE, f"{where}: the connection failed during {doing}")
    if isinstance(exc, zeep.exceptions.Fault):
        return OnvifError(ERROR, f"{where} rejected {doing}: {exc.message}")
    if isinstance(exc, ONVIFError | zeep.exceptions.Error):
        return OnvifError(ERROR, f"{where}: {doing} failed: {exc}")
    return OnvifError(ERROR, f"{where}: {doing} failed: {type(exc).__name__}: {exc}")


async def _call(
    target: OnvifTarget,
    doing: str,
    timeout: float,
    operation: Callable[[Any], Awaitable[T]],
) -> T:
    """Run ``operation(devicemgmt_service)`` against the device under one deadline."""
    host, port = target.endpoint()
    from onvif import ONVIFCamera

    # no_cache: the WSDLs are local files; the library's cache would write an SQLite
    # file under the home directory of whoever runs the server.
    camera = ONVIFCamera(host, port, target.username, target.password, no_cache=True)
    try:
        async with asyncio.timeout(timeout):
            service = await camera.create_devicemgmt_service()
            return await operation(service)
    except Exception as exc:
        raise _classify(exc, target, doing) from None
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await camera.close()


async def device_info(target: OnvifTarget, *, timeout: float = DEFAULT_TIMEOUT) -> DeviceInfo:
    """Manufacturer, model, firmware and serial number (GetDeviceInformation)."""

    async def ask(service: Any) -> DeviceInfo:
        answer = await service.GetDeviceInformation()
        return DeviceInfo(
            camera_id=target.camera_id,
            manufacturer=_field(answer, "Manufacturer"),
            model=_field(answer, "Model"),
            firmware=_field(answer, "FirmwareVersion"),
            serial=_field(answer, "SerialNumber"),
            hardware_id=_field(answer, "HardwareId"),
        )

    return await _call(target, "GetDeviceInformation", timeout, ask)


async def reboot(target: OnvifTarget, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Send SystemReboot; returns the device's message ("Rebooting in 30 s", ...).

    Returning means the device accepted the command, not that it went down: watching the
    stream is the caller's job.
    """

    async def ask(service: Any) -> str:
        answer = await service.SystemReboot()
        return str(answer if isinstance(answer, str) else (_field(answer, "Message") or ""))

    message = await _call(target, "SystemReboot", timeout, ask)
    log.info("camera %s: SystemReboot accepted: %s", target.camera_id, message or "(no message)")
    return message
