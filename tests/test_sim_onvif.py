"""The simulator's ONVIF service against a client this project did not write (onvif-zeep-async).

Every test runs the real service on loopback with free ports; nothing is mocked.
"""

from __future__ import annotations

import asyncio
import calendar
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import httpx
import pytest
import zeep.exceptions
from onvif import ONVIFCamera
from onvif.util import is_auth_error

from cctvctl.sim.model import SimCamera, SimSettings
from cctvctl.sim.onvif import DEVICE_PATH, SNAPSHOT_PATH, OnvifService
from cctvctl.sim.state import CameraState

HOST = "127.0.0.1"
REBOOT_SECONDS = 2.0
STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def make_camera(cam_id: str = "sgu-camat-01", onvif: bool = True) -> SimCamera:
    return SimCamera(
        id=cam_id,
        name=f"Kantor Camat {cam_id}",
        kecamatan="Sangatta Utara",
        site="Kantor Camat",
        rtsp_port=8554,
        path=f"/{cam_id}",
        username="operator",
        password="s3cret-pw",
        onvif_port=free_port() if onvif else None,
    )


class Sim:
    def __init__(self, service: OnvifService, camera: SimCamera, state: CameraState) -> None:
        self.service = service
        self.camera = camera
        self.state = state

    @property
    def port(self) -> int:
        assert self.camera.onvif_port is not None
        return self.camera.onvif_port

    def client(self, password: str | None = None, **kwargs: bool) -> ONVIFCamera:
        return ONVIFCamera(
            HOST,
            self.port,
            self.camera.username,
            self.camera.password if password is None else password,
            **kwargs,
        )


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    camera = make_camera()
    state = CameraState(camera)
    service = OnvifService([camera], {camera.id: state}, SimSettings(reboot_seconds=REBOOT_SECONDS))
    await service.start()
    try:
        yield Sim(service, camera, state)
    finally:
        await service.stop()


@pytest.fixture
async def clients() -> AsyncIterator[list[ONVIFCamera]]:
    """Clients appended here are closed after the test, whatever happened."""
    opened: list[ONVIFCamera] = []
    yield opened
    for cam in opened:
        await cam.close()


async def connected(sim: Sim, clients: list[ONVIFCamera], **login: bool) -> ONVIFCamera:
    """A client of the simulated camera (closed after the test) that has its service URLs."""
    cam = sim.client(**login)
    clients.append(cam)
    await cam.update_xaddrs()
    return cam


async def refused(port: int) -> bool:
    try:
        _reader, writer = await asyncio.open_connection(HOST, port)
    except ConnectionRefusedError:
        return True
    writer.close()
    await writer.wait_closed()
    return False


async def wait_for(predicate: Callable[[], Awaitable[bool]], timeout: float) -> float:
    """Seconds until ``predicate`` held; fails the test after ``timeout``."""
    start = time.monotonic()
    while not await predicate():
        if time.monotonic() - start > timeout:
            pytest.fail(f"condition not met within {timeout} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def soap(operation: str, ns: str = "http://www.onvif.org/ver10/device/wsdl") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
        f'<s:Body><op:{operation} xmlns:op="{ns}"/></s:Body></s:Envelope>'
    ).encode()


async def post_soap(port: int, body: bytes) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as http:
        return await http.post(
            f"http://{HOST}:{port}{DEVICE_PATH}",
            content=body,
            headers={"Content-Type": "application/soap+xml; charset=utf-8"},
        )


async def test_device_information_and_discovery(sim: Sim, clients: list[ONVIFCamera]) -> None:
    cam = await connected(sim, clients)
    base = f"http://{HOST}:{sim.port}"
    assert cam.xaddrs["http://www.onvif.org/ver10/device/wsdl"] == f"{base}/onvif/device_service"
    assert cam.xaddrs["http://www.onvif.org/ver10/media/wsdl"] == f"{base}/onvif/media_service"

    devicemgmt = await cam.create_devicemgmt_service()
    info = await devicemgmt.GetDeviceInformation()
    assert info.Manufacturer == "cctvctl-sim"
    assert info.Model
    assert info.FirmwareVersion
    assert info.HardwareId
    assert sim.camera.id not in info.SerialNumber  # derived from the id, not the id itself
    assert info.SerialNumber.startswith("SIM-")

    capabilities = await cam.get_capabilities()
    assert capabilities is not None
    assert capabilities["Media"]["XAddr"] == f"{base}/onvif/media_service"
    assert capabilities["Media"]["StreamingCapabilities"]["RTP_RTSP_TCP"] is True

    clock = await devicemgmt.GetSystemDateAndTime()
    utc = clock.UTCDateTime
    date, clock_time = utc.Date, utc.Time
    reported = calendar.timegm(
        (date.Year, date.Month, date.Day, clock_time.Hour, clock_time.Minute, clock_time.Second)
    )
    assert abs(reported - time.time()) < 5

    assert sim.state.onvif_calls["GetServices"] == 1
    assert sim.state.onvif_calls["GetDeviceInformation"] == 1
    assert sim.state.onvif_calls["GetCapabilities"] == 1


async def test_media_profiles_stream_and_snapshot_uris(
    sim: Sim, clients: list[ONVIFCamera]
) -> None:
    cam = await connected(sim, clients)
    media = await cam.create_media_service()

    profiles = await media.GetProfiles()
    assert [p.token for p in profiles] == ["main"]
    encoder = profiles[0].VideoEncoderConfiguration
    settings = SimSettings()
    assert encoder.Encoding == "H264"
    assert (encoder.Resolution.Width, encoder.Resolution.Height) == (
        settings.width,
        settings.height,
    )
    assert encoder.RateControl.FrameRateLimit == settings.fps

    stream = await media.GetStreamUri({"StreamSetup": STREAM_SETUP, "ProfileToken": "main"})
    assert stream.Uri == f"rtsp://{HOST}:{sim.camera.rtsp_port}{sim.camera.path}"

    snapshot_uri = await cam.get_snapshot_uri("main")
    assert snapshot_uri == f"http://{HOST}:{sim.port}{SNAPSHOT_PATH}"

    with pytest.raises(zeep.exceptions.Fault) as info:
        await media.GetStreamUri({"StreamSetup": STREAM_SETUP, "ProfileToken": "sub"})
    assert [code.localname for code in info.value.subcodes] == ["InvalidArgVal", "NoProfile"]


async def test_snapshot_needs_digest_and_is_a_jpeg(sim: Sim, clients: list[ONVIFCamera]) -> None:
    cam = await connected(sim, clients)
    # The client's own snapshot path: GetSnapshotUri, then a GET with HTTP digest.
    image = await cam.get_snapshot("main")
    assert image is not None
    assert image[:2] == b"\xff\xd8"

    url = f"http://{HOST}:{sim.port}{SNAPSHOT_PATH}"
    async with httpx.AsyncClient(timeout=5) as http:
        anonymous = await http.get(url)
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Digest ")
        wrong = await http.get(url, auth=httpx.DigestAuth(sim.camera.username, "nope"))
        assert wrong.status_code == 401
        right = await http.get(url, auth=httpx.DigestAuth(sim.camera.username, sim.camera.password))
        assert right.status_code == 200
        assert right.headers["content-type"] == "image/jpeg"
        assert right.content[:2] == b"\xff\xd8"
    # A snapshot is plain HTTP, not an ONVIF operation.
    assert "snapshot.jpg" not in sim.state.onvif_calls


async def test_snapshot_source_is_pluggable() -> None:
    camera = make_camera()
    asked: list[str] = []

    def render(camera_id: str) -> bytes:
        asked.append(camera_id)
        return b"\xff\xd8fake\xff\xd9"

    service = OnvifService([camera], {camera.id: CameraState(camera)}, SimSettings(), render)
    await service.start()
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            response = await http.get(
                f"http://{HOST}:{camera.onvif_port}{SNAPSHOT_PATH}",
                auth=httpx.DigestAuth(camera.username, camera.password),
            )
    finally:
        await service.stop()
    assert response.content == b"\xff\xd8fake\xff\xd9"
    assert asked == [camera.id]


async def test_each_camera_has_its_own_device(clients: list[ONVIFCamera]) -> None:
    cameras = [make_camera("sgu-camat-01"), make_camera("sgu-desa-02")]
    service = OnvifService(cameras, {c.id: CameraState(c) for c in cameras}, SimSettings())
    await service.start()
    try:
        serials = []
        for camera in cameras:
            cam = ONVIFCamera(HOST, camera.onvif_port, camera.username, camera.password)
            clients.append(cam)
            devicemgmt = await cam.create_devicemgmt_service()
            serials.append((await devicemgmt.GetDeviceInformation()).SerialNumber)
    finally:
        await service.stop()
    assert len(set(serials)) == 2


async def test_wrong_password_is_not_authorized(sim: Sim, clients: list[ONVIFCamera]) -> None:
    cam = sim.client(password="not-the-password")
    clients.append(cam)
    with pytest.raises(zeep.exceptions.Fault) as info:
        await cam.update_xaddrs()
    assert "NotAuthorized" in str(info.value)
    assert is_auth_error(info.value)
    # update_xaddrs tries GetServices and falls back to GetCapabilities; both were refused.
    assert sim.state.onvif_calls["GetServices"] == 1
    assert sim.state.onvif_calls["GetCapabilities"] == 1

    # The clock is open to anyone, so a client can measure skew before it authenticates.
    skewed = sim.client(password="not-the-password", adjust_time=True)
    clients.append(skewed)
    with pytest.raises(zeep.exceptions.Fault, match="NotAuthorized"):
        await skewed.update_xaddrs()
    assert skewed.dt_diff is not None
    assert sim.state.onvif_calls["GetSystemDateAndTime"] == 1


async def test_plain_text_password_is_accepted(sim: Sim, clients: list[ONVIFCamera]) -> None:
    cam = await connected(sim, clients, encrypt=False)
    devicemgmt = await cam.create_devicemgmt_service()
    assert (await devicemgmt.GetDeviceInformation()).Manufacturer == "cctvctl-sim"


async def test_every_parsed_request_is_counted(sim: Sim) -> None:
    unauthenticated = await post_soap(sim.port, soap("GetDeviceInformation"))
    assert unauthenticated.status_code == 400
    assert "NotAuthorized" in unauthenticated.text
    assert unauthenticated.headers["content-type"].startswith("application/soap+xml")

    unknown = await post_soap(sim.port, soap("SetHostname"))
    assert unknown.status_code == 500
    assert "ter:ActionNotSupported" in unknown.text

    garbage = await post_soap(sim.port, b"<not-closed")
    assert garbage.status_code == 400
    assert "ter:WellFormed" in garbage.text

    assert dict(sim.state.onvif_calls) == {"GetDeviceInformation": 1, "SetHostname": 1}


async def test_system_reboot_closes_the_port_for_reboot_seconds(
    sim: Sim, clients: list[ONVIFCamera]
) -> None:
    cam = await connected(sim, clients)
    devicemgmt = await cam.create_devicemgmt_service()

    message = await devicemgmt.SystemReboot()
    assert "reboot" in message.lower()
    went_dark = await wait_for(lambda: refused(sim.port), timeout=1.0)
    assert sim.state.reboots == 1
    assert sim.state.onvif_calls["SystemReboot"] == 1

    # What a client sees of a rebooting camera: a refused connection.
    with pytest.raises(aiohttp.ClientConnectorError):
        await devicemgmt.GetDeviceInformation()

    async def accepting() -> bool:
        return not await refused(sim.port)

    dark_for = await wait_for(accepting, timeout=REBOOT_SECONDS + 1.5)
    assert dark_for + went_dark >= REBOOT_SECONDS - 0.5
    # The same client carries on once the camera is back.
    assert (await devicemgmt.GetDeviceInformation()).Manufacturer == "cctvctl-sim"


async def test_offline_fault_refuses_and_recovers(sim: Sim) -> None:
    sim.state.apply("offline")
    await wait_for(lambda: refused(sim.port), timeout=1.0)
    sim.state.apply("recover")

    async def accepting() -> bool:
        return not await refused(sim.port)

    await wait_for(accepting, timeout=1.0)
    assert (await post_soap(sim.port, soap("GetSystemDateAndTime"))).status_code == 200


async def test_stall_accepts_but_never_answers(sim: Sim) -> None:
    sim.state.apply("stall")
    reader, writer = await asyncio.open_connection(HOST, sim.port)
    body = soap("GetSystemDateAndTime")
    writer.write(
        f"POST {DEVICE_PATH} HTTP/1.1\r\nHost: {HOST}\r\n"
        f"Content-Type: application/soap+xml\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.read(1), timeout=0.6)
        sim.state.apply("recover")
        # The wedged request is lost, not answered late: the connection just closes.
        assert await asyncio.wait_for(reader.read(), timeout=2.0) == b""
    finally:
        writer.close()
        await writer.wait_closed()
    assert sim.state.onvif_calls["GetSystemDateAndTime"] == 1
    assert (await post_soap(sim.port, soap("GetSystemDateAndTime"))).status_code == 200


async def test_start_and_stop_leave_nothing_behind() -> None:
    with_port, without_port = make_camera("a"), make_camera("b", onvif=False)
    states = {c.id: CameraState(c) for c in (with_port, without_port)}
    service = OnvifService([with_port, without_port], states, SimSettings())
    assert service.ports == {"a": with_port.onvif_port}
    before = asyncio.all_tasks()
    await service.start()
    assert with_port.onvif_port is not None
    _reader, writer = await asyncio.open_connection(HOST, with_port.onvif_port)
    await asyncio.sleep(0.05)
    await service.stop()
    assert await asyncio.wait_for(_reader.read(), timeout=1.0) == b""
    writer.close()
    assert asyncio.all_tasks() == before
    assert await refused(with_port.onvif_port)


def test_duplicate_ports_are_rejected() -> None:
    first = make_camera("a")
    second = SimCamera(**{**first.__dict__, "id": "b"})
    states = {c.id: CameraState(c) for c in (first, second)}
    with pytest.raises(ValueError, match="both use ONVIF port"):
        OnvifService([first, second], states, SimSettings())
