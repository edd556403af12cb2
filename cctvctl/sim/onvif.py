"""The simulator's ONVIF device and media services, one listener per camera.

ONVIF clients (onvif-zeep-async among them) derive the device service address from the host
and port they were given, always ``http://host:port/onvif/device_service``, so every camera
gets a port of its own. SOAP 1.2 over the shared minimal HTTP server; envelopes are parsed with
``xml.etree`` and answers are written as text, which keeps the namespace prefixes readable in
a packet capture.

Fault behaviour follows :class:`~cctvctl.sim.state.CameraState`: while a camera is DARK its
listening socket is closed (connections are refused, as with a powered-off device) and open
connections are dropped; while STALLED requests are read and never answered.

``state.onvif_calls`` counts every SOAP request whose operation could be read from the
envelope, authorised or not and answered or not, so a test can assert that something made no
ONVIF call at all. Snapshot downloads are plain HTTP, not ONVIF operations, and are not counted.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
import hmac
import io
import logging
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

from cctvctl.sim.device_clock import posix_tz_offset
from cctvctl.sim.digest import DigestAuth
from cctvctl.sim.http import Request, Response, serve_connection
from cctvctl.sim.model import SimCamera, SimSettings
from cctvctl.sim.state import Availability, CameraState

log = logging.getLogger(__name__)

DEVICE_PATH = "/onvif/device_service"
MEDIA_PATH = "/onvif/media_service"
SNAPSHOT_PATH = "/onvif/snapshot.jpg"
PROFILE_TOKEN = "main"  # noqa: S105 - a media profile name, not a secret

NS_ENV = "http://www.w3.org/2003/05/soap-envelope"
NS_SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
NS_TDS = "http://www.onvif.org/ver10/device/wsdl"
NS_TRT = "http://www.onvif.org/ver10/media/wsdl"
NS_TT = "http://www.onvif.org/ver10/schema"
NS_TER = "http://www.onvif.org/ver10/error"
NS_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
NS_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"

SOAP_CONTENT_TYPE = "application/soap+xml; charset=utf-8"

# How often fault state is polled. Reboot and offline are seen within this period.
WATCH_PERIOD = 0.2
# SystemReboot answers first and goes dark afterwards, so the answer leaves the socket.
REBOOT_DELAY = 0.3

_ENVELOPE_OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<env:Envelope xmlns:env="{NS_ENV}" xmlns:tds="{NS_TDS}" xmlns:trt="{NS_TRT}" '
    f'xmlns:tt="{NS_TT}" xmlns:ter="{NS_TER}"><env:Body>'
)
_ENVELOPE_CLOSE = "</env:Body></env:Envelope>"


class SoapFault(Exception):
    """An ONVIF fault: SOAP 1.2 code, ONVIF subcodes (outermost first) and reason."""

    def __init__(self, code: str, subcodes: tuple[str, ...], reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.subcodes = subcodes
        self.reason = reason

    @property
    def http_status(self) -> int:
        # SOAP 1.2 HTTP binding: the sender's mistake is 400, everything else 500.
        return 400 if self.code == "env:Sender" else 500

    def to_xml(self) -> str:
        subcode = ""
        for name in reversed(self.subcodes):
            subcode = f"<env:Subcode><env:Value>{name}</env:Value>{subcode}</env:Subcode>"
        return (
            _ENVELOPE_OPEN + "<env:Fault>"
            f"<env:Code><env:Value>{self.code}</env:Value>{subcode}</env:Code>"
            f'<env:Reason><env:Text xml:lang="en">{escape(self.reason)}</env:Text></env:Reason>'
            "</env:Fault>" + _ENVELOPE_CLOSE
        )


def not_authorized() -> SoapFault:
    # The subcode is what a careful client checks; the reason text repeats it because
    # zeep's Fault stringifies to the reason alone, and that string is what people see.
    return SoapFault(
        "env:Sender",
        ("ter:NotAuthorized",),
        "NotAuthorized: the WS-Security UsernameToken is missing or does not match "
        "this device's credentials",
    )


def _el(tag: str, *children: str, attrs: dict[str, str] | None = None) -> str:
    """An element whose children are already serialised XML."""
    attr_text = "".join(f" {k}={quoteattr(v)}" for k, v in (attrs or {}).items())
    return f"<{tag}{attr_text}>{''.join(children)}</{tag}>"


def _text(tag: str, value: object) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{tag}>{escape(str(value))}</{tag}>"


def _onvif_datetime(tag: str, when: dt.datetime) -> str:
    return _el(
        tag,
        _el(
            "tt:Time",
            _text("tt:Hour", when.hour),
            _text("tt:Minute", when.minute),
            _text("tt:Second", when.second),
        ),
        _el(
            "tt:Date",
            _text("tt:Year", when.year),
            _text("tt:Month", when.month),
            _text("tt:Day", when.day),
        ),
    )


def _read_onvif_datetime(element: ET.Element | None) -> dt.datetime:
    """A tt:DateTime (Date and Time children) as UTC; SoapFault when missing or wrong."""

    def part(path: str) -> int:
        text = "" if element is None else (element.findtext(path) or "").strip()
        if not text.isdigit():
            raise SoapFault(
                "env:Sender",
                ("ter:InvalidArgVal", "ter:InvalidDateTime"),
                "a Manual SetSystemDateAndTime needs UTCDateTime with Date and Time",
            )
        return int(text)

    date, time_ = f"{{{NS_TT}}}Date/{{{NS_TT}}}", f"{{{NS_TT}}}Time/{{{NS_TT}}}"
    try:
        return dt.datetime(
            part(date + "Year"),
            part(date + "Month"),
            part(date + "Day"),
            part(time_ + "Hour"),
            part(time_ + "Minute"),
            part(time_ + "Second"),
            tzinfo=dt.UTC,
        )
    except ValueError as exc:
        raise SoapFault(
            "env:Sender", ("ter:InvalidArgVal", "ter:InvalidDateTime"), f"UTCDateTime: {exc}"
        ) from None


def plain_snapshot(camera: SimCamera, width: int, height: int) -> bytes:
    """A JPEG that names the camera, for when no scene renderer is supplied."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (width, height), (32, 40, 48))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=max(12, height // 14))
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [camera.name, camera.id, f"{camera.kecamatan} / {camera.site}", now]
    step = max(14, height // 10)
    for i, line in enumerate(lines):
        draw.text((width // 16, height // 8 + i * step), line, fill=(230, 230, 230), font=font)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """WS-Security UsernameToken digest: Base64(SHA-1(nonce + created + password))."""
    raw = nonce + created.encode("utf-8") + password.encode("utf-8")
    return base64.b64encode(hashlib.sha1(raw).digest()).decode("ascii")  # noqa: S324 - the profile mandates SHA-1


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def check_username_token(header: ET.Element | None, username: str, password: str) -> bool:
    """True if the SOAP header carries a UsernameToken for these credentials.

    The token's Created time is not held against the device clock: the simulator is for
    demos and tests, and a skewed laptop clock should not be what breaks one.
    """
    if header is None:
        return False
    token = header.find(f"{{{NS_WSSE}}}Security/{{{NS_WSSE}}}UsernameToken")
    if token is None:
        return False
    given_user = token.findtext(f"{{{NS_WSSE}}}Username") or ""
    password_el = token.find(f"{{{NS_WSSE}}}Password")
    if password_el is None:
        return False
    given = (password_el.text or "").strip()
    kind = password_el.get("Type", "")
    if kind.endswith("#PasswordDigest"):
        try:
            nonce = base64.b64decode(token.findtext(f"{{{NS_WSSE}}}Nonce") or "", validate=True)
        except (binascii.Error, ValueError):
            return False
        created = token.findtext(f"{{{NS_WSU}}}Created") or ""
        expected = password_digest(nonce, created, password)
    elif not kind or kind.endswith("#PasswordText"):
        # The profile makes PasswordText the default type when Type is absent.
        expected = password
    else:
        return False
    return _same(given_user, username) & _same(given, expected)


def parse_envelope(body: bytes) -> tuple[ET.Element | None, ET.Element]:
    """Split a SOAP 1.2 request into its header and the operation element in its body."""
    # SOAP 1.2 forbids a DTD in a message; refusing one up front also keeps entity tricks out.
    if b"<!DOCTYPE" in body.upper():
        raise SoapFault("env:Sender", ("ter:WellFormed",), "a SOAP message must not carry a DTD")
    try:
        # Expat >= 2.4 bounds entity amplification and ElementTree never fetches external
        # entities; with DTDs refused above, this parser is safe for untrusted input.
        root = ET.fromstring(body)  # noqa: S314
    except ET.ParseError as exc:
        raise SoapFault("env:Sender", ("ter:WellFormed",), f"malformed XML: {exc}") from exc
    if root.tag == f"{{{NS_SOAP11_ENV}}}Envelope":
        raise SoapFault("env:VersionMismatch", (), "this device speaks SOAP 1.2 only")
    if root.tag != f"{{{NS_ENV}}}Envelope":
        raise SoapFault("env:Sender", ("ter:WellFormed",), "the document is not a SOAP envelope")
    soap_body = root.find(f"{{{NS_ENV}}}Body")
    operation = None if soap_body is None else next(iter(soap_body), None)
    if operation is None:
        raise SoapFault("env:Sender", ("ter:InvalidArgs",), "the SOAP body names no operation")
    return root.find(f"{{{NS_ENV}}}Header"), operation


def _local(tag: str) -> tuple[str, str]:
    ns, _, name = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    return ns, name


SnapshotSource = Callable[[str], bytes]
_Operation = Callable[["_Endpoint", Request, ET.Element], Awaitable[str]]


@dataclass(eq=False)
class _Endpoint:
    """One camera's listener and what it needs to answer."""

    camera: SimCamera
    state: CameraState
    port: int
    digest: DigestAuth
    server: asyncio.Server | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    connections: set[asyncio.Task[None]] = field(default_factory=set)


class OnvifService:
    """ONVIF device + media service for every camera that has an ``onvif_port``."""

    def __init__(
        self,
        cameras: list[SimCamera],
        states: dict[str, CameraState],
        settings: SimSettings,
        snapshot: SnapshotSource | None = None,
    ) -> None:
        self._settings = settings
        self._cameras = {c.id: c for c in cameras}
        self._snapshot: SnapshotSource = snapshot or self._plain_snapshot
        self._endpoints: list[_Endpoint] = []
        seen: dict[int, str] = {}
        for camera in cameras:
            if camera.onvif_port is None:
                continue
            if camera.onvif_port in seen:
                raise ValueError(
                    f"cameras {seen[camera.onvif_port]!r} and {camera.id!r} both use "
                    f"ONVIF port {camera.onvif_port}"
                )
            seen[camera.onvif_port] = camera.id
            offset = camera.clock_offset
            states[camera.id].clock.offset = settings.clock_offset if offset is None else offset
            self._endpoints.append(
                _Endpoint(
                    camera=camera,
                    state=states[camera.id],
                    port=camera.onvif_port,
                    digest=DigestAuth(f"cctvctl-sim {camera.id}", camera.username, camera.password),
                )
            )
        self._watcher: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._operations: dict[tuple[str, str], _Operation] = {
            (NS_TDS, "GetSystemDateAndTime"): self._get_system_date_and_time,
            (NS_TDS, "GetDeviceInformation"): self._get_device_information,
            (NS_TDS, "GetCapabilities"): self._get_capabilities,
            (NS_TDS, "GetServices"): self._get_services,
            (NS_TDS, "GetServiceCapabilities"): self._get_device_service_capabilities,
            (NS_TDS, "SystemReboot"): self._system_reboot,
            (NS_TDS, "SetSystemDateAndTime"): self._set_system_date_and_time,
            (NS_TDS, "GetNTP"): self._get_ntp,
            (NS_TDS, "SetNTP"): self._set_ntp,
            (NS_TRT, "GetProfiles"): self._get_profiles,
            (NS_TRT, "GetStreamUri"): self._get_stream_uri,
            (NS_TRT, "GetSnapshotUri"): self._get_snapshot_uri,
            (NS_TRT, "GetServiceCapabilities"): self._get_media_service_capabilities,
        }

    @property
    def ports(self) -> dict[str, int]:
        """ONVIF port by camera id, for the cameras that have a service."""
        return {ep.camera.id: ep.port for ep in self._endpoints}

    async def start(self) -> None:
        """Open a listener for every camera that is not dark, then follow fault state."""
        self._stopping = False
        try:
            for ep in self._endpoints:
                if ep.state.availability() is not Availability.DARK:
                    await self._open(ep)
        except OSError:
            await self.stop()
            raise
        self._watcher = asyncio.create_task(self._watch(), name="onvif-sim-watcher")

    async def stop(self) -> None:
        """Close every listener and connection and wait for all tasks of this service."""
        self._stopping = True
        tasks: list[asyncio.Task[None]] = []
        if self._watcher is not None:
            tasks.append(self._watcher)
            self._watcher = None
        tasks.extend(self._background)
        for ep in self._endpoints:
            self._close(ep)
        # A connection accepted just before the close has not run yet; one step lets it see
        # the stop and hang up, so no task of this service outlives stop().
        await asyncio.sleep(0)
        for ep in self._endpoints:
            tasks.extend(ep.connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._background.clear()

    # -- listener life cycle -------------------------------------------------------------

    async def _open(self, ep: _Endpoint) -> None:
        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve(ep, reader, writer)

        try:
            ep.server = await asyncio.start_server(
                on_connect, self._settings.host, ep.port, reuse_address=True
            )
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"camera {ep.camera.id}: cannot listen for ONVIF on "
                f"{self._settings.host}:{ep.port}: {exc.strerror}",
            ) from exc

    def _close(self, ep: _Endpoint) -> None:
        if ep.server is not None:
            # close() drops the listening socket at once; waiting for the server would also
            # wait for the connections, which are cancelled below instead.
            ep.server.close()
            ep.server = None
        for task in ep.connections:
            task.cancel()

    async def _sync(self, ep: _Endpoint) -> None:
        """Make the listener match the camera's availability."""
        async with ep.lock:
            if self._stopping:
                return
            dark = ep.state.availability() is Availability.DARK
            if dark and ep.server is not None:
                log.debug("camera %s dark: closing ONVIF port %d", ep.camera.id, ep.port)
                self._close(ep)
            elif not dark and ep.server is None:
                try:
                    await self._open(ep)
                except OSError as exc:
                    # e.g. the port is briefly taken by someone else; try again next tick.
                    log.warning("%s", exc)
                else:
                    log.debug("camera %s up: ONVIF port %d open", ep.camera.id, ep.port)

    async def _watch(self) -> None:
        while True:
            for ep in self._endpoints:
                await self._sync(ep)
            await asyncio.sleep(WATCH_PERIOD)

    async def _serve(
        self, ep: _Endpoint, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task: asyncio.Task[None] | None = asyncio.current_task()
        if self._stopping or ep.server is None or task is None:
            writer.close()
            return

        async def handler(req: Request) -> Response | None:
            return await self._handle(ep, req)

        ep.connections.add(task)
        try:
            await serve_connection(reader, writer, handler)
        except asyncio.CancelledError:
            # Cancelling is how a connection is dropped when the camera goes dark or the
            # service stops; serve_connection has closed the socket. Ending quietly keeps
            # asyncio's stream callback from logging every dropped connection as an error.
            pass
        finally:
            ep.connections.discard(task)

    # -- requests ------------------------------------------------------------------------

    async def _hang_while_stalled(self, ep: _Endpoint) -> bool:
        """Wait out a stall; True if the request must go unanswered."""
        if ep.state.availability() is not Availability.STALLED:
            return False
        while ep.state.availability() is Availability.STALLED:
            await asyncio.sleep(WATCH_PERIOD)
        # The device was wedged while this request was in flight: it is lost, not late.
        return True

    async def _handle(self, ep: _Endpoint, req: Request) -> Response | None:
        if ep.state.availability() is Availability.DARK:
            return None
        if req.path in (DEVICE_PATH, MEDIA_PATH):
            if req.method != "POST":
                return Response(
                    405, b"SOAP endpoints accept POST only\n", headers={"Allow": "POST"}
                )
            return await self._handle_soap(ep, req)
        if req.path == SNAPSHOT_PATH:
            if req.method != "GET":
                return Response(405, b"GET only\n", headers={"Allow": "GET"})
            return await self._handle_snapshot(ep, req)
        if await self._hang_while_stalled(ep):
            return None
        return Response(404, b"not found\n")

    async def _handle_soap(self, ep: _Endpoint, req: Request) -> Response | None:
        try:
            header, operation = parse_envelope(req.body)
        except SoapFault as fault:
            if await self._hang_while_stalled(ep):
                return None
            return self._fault(fault)
        ns, name = _local(operation.tag)
        ep.state.onvif_calls[name] += 1
        if await self._hang_while_stalled(ep):
            return None
        impl = self._operations.get((ns, name))
        try:
            if impl is None:
                raise SoapFault(
                    "env:Receiver",
                    ("ter:ActionNotSupported",),
                    f"operation {name} ({ns or 'no namespace'}) is not implemented "
                    "by this simulated device",
                )
            # GetSystemDateAndTime is open so that clients can measure clock skew before
            # they sign anything with a timestamp.
            if name != "GetSystemDateAndTime" and not check_username_token(
                header, ep.camera.username, ep.camera.password
            ):
                raise not_authorized()
            payload = await impl(ep, req, operation)
        except SoapFault as fault:
            return self._fault(fault)
        except Exception as exc:
            log.exception("camera %s: ONVIF %s failed", ep.camera.id, name)
            return self._fault(SoapFault("env:Receiver", (), f"internal error: {exc}"))
        body = (_ENVELOPE_OPEN + payload + _ENVELOPE_CLOSE).encode("utf-8")
        return Response(200, body, SOAP_CONTENT_TYPE)

    @staticmethod
    def _fault(fault: SoapFault) -> Response:
        return Response(fault.http_status, fault.to_xml().encode("utf-8"), SOAP_CONTENT_TYPE)

    async def _handle_snapshot(self, ep: _Endpoint, req: Request) -> Response | None:
        if await self._hang_while_stalled(ep):
            return None
        if not ep.digest.check(req.method, req.headers.get("authorization")):
            return Response(
                401,
                b"authentication required\n",
                headers={"WWW-Authenticate": ep.digest.challenge()},
            )
        # A scene renderer may take a while; keep the other cameras answering meanwhile.
        jpeg = await asyncio.to_thread(self._snapshot, ep.camera.id)
        return Response(
            200,
            jpeg,
            "image/jpeg",
            headers={"Cache-Control": "no-store"},
        )

    def _plain_snapshot(self, camera_id: str) -> bytes:
        return plain_snapshot(self._cameras[camera_id], self._settings.width, self._settings.height)

    def _url_host(self, req: Request) -> str:
        """The host name to put in URLs handed to the client."""
        host = self._settings.host
        if host in ("", "0.0.0.0", "::"):  # noqa: S104 - comparing, not binding
            # Listening on every address: answer with the one the client used.
            host = urlsplit("//" + req.headers.get("host", "")).hostname or "127.0.0.1"
        return f"[{host}]" if ":" in host else host

    def _base_url(self, ep: _Endpoint, req: Request) -> str:
        return f"http://{self._url_host(req)}:{ep.port}"

    # -- device service ------------------------------------------------------------------

    async def _get_system_date_and_time(self, ep: _Endpoint, req: Request, op: ET.Element) -> str:
        clock = ep.state.clock
        return _el(
            "tds:GetSystemDateAndTimeResponse",
            _el(
                "tds:SystemDateAndTime",
                _text("tt:DateTimeType", clock.date_time_type),
                _text("tt:DaylightSavings", False),
                _el("tt:TimeZone", _text("tt:TZ", clock.tz)),
                _onvif_datetime("tt:UTCDateTime", clock.now()),
                _onvif_datetime("tt:LocalDateTime", clock.local_now()),
            ),
        )

    async def _set_system_date_and_time(self, ep: _Endpoint, req: Request, op: ET.Element) -> str:
        kind = (op.findtext(f"{{{NS_TDS}}}DateTimeType") or "").strip()
        if kind not in ("Manual", "NTP"):
            raise SoapFault(
                "env:Sender",
                ("ter:InvalidArgVal", "ter:InvalidDateTime"),
                f"DateTimeType {kind!r} is not Manual or NTP",
            )
        tz = op.findtext(f"{{{NS_TDS}}}TimeZone/{{{NS_TT}}}TZ")
        if tz is not None:
            tz = tz.strip()
            if posix_tz_offset(tz) is None:
                raise SoapFault(
                    "env:Sender",
                    ("ter:InvalidArgVal", "ter:InvalidTimeZone"),
                    f"time zone {tz!r} is not a POSIX TZ such as WITA-8",
                )
        when = None
        if kind == "Manual":
            when = _read_onvif_datetime(op.find(f"{{{NS_TDS}}}UTCDateTime"))
        clock = ep.state.clock
        if tz is not None:
            clock.tz = tz
        if when is not None:
            clock.set_utc(when)
        else:
            # NTP: the device synchronises with the servers SetNTP gave it.
            clock.date_time_type = kind
            clock.sets += 1
            if kind == "NTP" and clock.ntp_servers:
                clock.offset = 0.0
        return _el("tds:SetSystemDateAndTimeResponse")

    async def _get_ntp(self, ep: _Endpoint, req: Request, op: ET.Element) -> str:
        manual = [
            _el("tt:NTPManual", _text("tt:Type", "DNS"), _text("tt:DNSname", host))
            for host in ep.state.clock.ntp_servers
        ]
        return _el(
            "tds:GetNTPResponse", _el("tds:NTPInformation", _text("tt:FromDHCP", False), *manual)
        )

    async def _set_ntp(self, ep: _Endpoint, req: Request, op: ET.Element) -> str:
        servers = []
        for entry in op.findall(f"{{{NS_TDS}}}NTPManual"):
            for tag in ("DNSname", "IPv4Address", "IPv6Address"):
                host = (entry.findtext(f"{{{NS_TT}}}{tag}") or "").strip()
                if host:
                    servers.append(host)
                    break
        from_dhcp = (op.findtext(f"{{{NS_TDS}}}FromDHCP") or "").strip() in ("true", "1")
        if not servers and not from_dhcp:
            raise SoapFault(
                "env:Sender",
                ("ter:InvalidArgVal", "ter:InvalidNtpServer"),
                "SetNTP names no NTP server (NTPManual) and FromDHCP is false",
            )
        ep.state.clock.use_ntp(servers)
        return _el("tds:SetNTPResponse")

    async def _get_device_information(self, ep: _Endpoint, req: Request, op: ET.Element) -> str:
        device = ep.camera.device
        return _el(
            "tds:GetDeviceInformationResponse",
            _text("tds:Manufacturer", device.manufacturer),
            _text("tds:Model", device.model),
            _text("tds:FirmwareVersion", device.firmware),
            _text("tds:SerialNumber", device.serial_for(ep.camera.id)),
            _text("tds:HardwareId", device.hardware_id),
        )

    async def _get_capabilities(self, ep: _Endpoint, req: Request, op: ET.Element) -> str:
        wanted = {(c.text or "").strip() for c in op.findall(f"{{{NS_TDS}}}Category")}
        every = not wanted or "All" in wanted
        base = self._base_url(ep, req)
        parts = []
        if every or "Device" in wanted:
            parts.append(_el("tt:Device", _text("tt:XAddr", base + DEVICE_PATH)))
        if every or "Media" in wanted:
            parts.append(
                _el(
                    "tt:Media",
                    _text("tt:XAddr", base + MEDIA_PATH),
                    _el(
                        "tt:StreamingCapabilities",
                        _text("tt:RTPMulticast", False),
                        _text("tt:RTP_TCP", True),
                        _text("tt:RTP_RTSP_TCP", True),
                    ),
                )
            )
        if not parts:
            raise SoapFault(
                "env:Receiver",
                ("ter:ActionNotSupported", "ter:NoSuchService"),
                f"this device offers no {', '.join(sorted(wanted))} service",
            )
        return _el("tds:GetCapabilitiesResponse", _el("tds:Capabilities", *parts))

    @staticmethod
    def _device_capabilities(tag: str) -> str:
        return _el(
            tag,
            _el("tds:Network", attrs={"IPFilter": "false", "ZeroConfiguration": "false"}),
            _el("tds:Security", attrs={"UsernameToken": "true", "HttpDigest": "true"}),
            _el("tds:System", attrs={"DiscoveryResolve": "false", "SystemLogging": "false"}),
        )

    @staticmethod
    def _media_capabilities(tag: str) -> str:
        return _el(
            tag,
            _el("trt:ProfileCapabilities", attrs={"MaximumNumberOfProfiles": "1"}),
            _el(
                "trt:StreamingCapabilities",
                attrs={"RTPMulticast": "false", "RTP_TCP": "true", "RTP_RTSP_TCP": "true"},
            ),
            attrs={"SnapshotUri": "true", "Rotation": "false"},
        )

    async def _get_services(self, ep: _Endpoint, req: Request, op: ET.Element) -> str:
        include = (op.findtext(f"{{{NS_TDS}}}IncludeCapability") or "").strip() in ("true", "1")
        base = self._base_url(ep, req)
        services = [
            (NS_TDS, DEVICE_PATH, self._device_capabilities("tds:Capabilities"), (2, 5)),
            (NS_TRT, MEDIA_PATH, self._media_capabilities("trt:Capabilities"), (2, 5)),
        ]
        entries = [
            _el(
                "tds:Service",
                _text("tds:Namespace", ns),
                _text("tds:XAddr", base + path),
                _el("tds:Capabilities", capabilities) if include else "",
                _el("tds:Version", _text("tt:Major", major), _text("tt:Minor", minor)),
            )
            for ns, path, capabilities, (major, minor) in services
        ]
        return _el("tds:GetServicesResponse", *entries)

    async def _get_device_service_capabilities(
        self, ep: _Endpoint, req: Request, op: ET.Element
    ) -> str:
        return _el(
            "tds:GetServiceCapabilitiesResponse", self._device_capabilities("tds:Capabilities")
        )

    async def _system_reboot(self, ep: _Endpoint, req: Request, op: ET.Element) -> str:
        task = asyncio.create_task(self._reboot_later(ep), name=f"onvif-reboot-{ep.camera.id}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return _el(
            "tds:SystemRebootResponse",
            _text(
                "tds:Message",
                f"Rebooting; back in about {self._settings.reboot_seconds:g} seconds",
            ),
        )

    async def _reboot_later(self, ep: _Endpoint) -> None:
        await asyncio.sleep(REBOOT_DELAY)
        ep.state.reboot(self._settings.reboot_seconds)
        # Go dark now rather than at the watcher's next tick.
        await self._sync(ep)

    # -- media service -------------------------------------------------------------------

    @staticmethod
    def _require_profile(op: ET.Element) -> None:
        token = (op.findtext(f"{{{NS_TRT}}}ProfileToken") or "").strip()
        if token != PROFILE_TOKEN:
            raise SoapFault(
                "env:Sender",
                ("ter:InvalidArgVal", "ter:NoProfile"),
                f"no media profile {token!r}; this device has {PROFILE_TOKEN!r}",
            )

    async def _get_profiles(self, ep: _Endpoint, req: Request, op: ET.Element) -> str:
        s = self._settings
        width, height = str(s.width), str(s.height)
        source = _el(
            "tt:VideoSourceConfiguration",
            _text("tt:Name", "video source"),
            _text("tt:UseCount", 1),
            _text("tt:SourceToken", "video0"),
            _el("tt:Bounds", attrs={"x": "0", "y": "0", "width": width, "height": height}),
            attrs={"token": "vsc0"},
        )
        encoder = _el(
            "tt:VideoEncoderConfiguration",
            _text("tt:Name", "H.264 main stream"),
            _text("tt:UseCount", 1),
            _text("tt:Encoding", "H264"),
            _el("tt:Resolution", _text("tt:Width", s.width), _text("tt:Height", s.height)),
            _text("tt:Quality", 5),
            _el(
                "tt:RateControl",
                _text("tt:FrameRateLimit", s.fps),
                _text("tt:EncodingInterval", 1),
                _text("tt:BitrateLimit", 1024),
            ),
            _el(
                "tt:H264",
                _text("tt:GovLength", max(1, round(s.gop_seconds * s.fps))),
                _text("tt:H264Profile", "High"),
            ),
            _el(
                "tt:Multicast",
                # Multicast is off; the unspecified address says "no group".
                _el(
                    "tt:Address",
                    _text("tt:Type", "IPv4"),
                    _text("tt:IPv4Address", "0.0.0.0"),  # noqa: S104
                ),
                _text("tt:Port", 0),
                _text("tt:TTL", 1),
                _text("tt:AutoStart", False),
            ),
            _text("tt:SessionTimeout", "PT60S"),
            attrs={"token": "vec0"},
        )
        profile = _el(
            "trt:Profiles",
            _text("tt:Name", PROFILE_TOKEN),
            source,
            encoder,
            attrs={"token": PROFILE_TOKEN, "fixed": "true"},
        )
        return _el("trt:GetProfilesResponse", profile)

    @staticmethod
    def _media_uri(tag: str, uri: str) -> str:
        return _el(
            tag,
            _el(
                "trt:MediaUri",
                _text("tt:Uri", uri),
                _text("tt:InvalidAfterConnect", False),
                _text("tt:InvalidAfterReboot", False),
                _text("tt:Timeout", "PT0S"),
            ),
        )

    async def _get_stream_uri(self, ep: _Endpoint, req: Request, op: ET.Element) -> str:
        self._require_profile(op)
        cam = ep.camera
        uri = f"rtsp://{self._url_host(req)}:{cam.rtsp_port}{cam.path}"
        return self._media_uri("trt:GetStreamUriResponse", uri)

    async def _get_snapshot_uri(self, ep: _Endpoint, req: Request, op: ET.Element) -> str:
        self._require_profile(op)
        return self._media_uri(
            "trt:GetSnapshotUriResponse", self._base_url(ep, req) + SNAPSHOT_PATH
        )

    async def _get_media_service_capabilities(
        self, ep: _Endpoint, req: Request, op: ET.Element
    ) -> str:
        return _el(
            "trt:GetServiceCapabilitiesResponse", self._media_capabilities("trt:Capabilities")
        )


__all__ = [
    "DEVICE_PATH",
    "MEDIA_PATH",
    "PROFILE_TOKEN",
    "SNAPSHOT_PATH",
    "OnvifService",
    "SnapshotSource",
    "SoapFault",
    "check_username_token",
    "parse_envelope",
    "password_digest",
    "plain_snapshot",
]
