"""The simulated camera's clock and identity against clients this project did not write
(onvif-zeep-async for the calls with credentials, plain SOAP for the clock read), and the
recorder's own ONVIF clock calls (``devices/clock.py``) against the simulator.

Every test runs the real ONVIF service and fault control on loopback with free ports.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest
from cli_process import clean_env, last_error, run_cctvctl
from onvif import ONVIFCamera
from test_sim_onvif import HOST, make_camera

from cctvctl.devices.clock import WITA_TZ, push_ntp, read_clock
from cctvctl.devices.onvif import OnvifTarget
from cctvctl.sim.control import FaultControl
from cctvctl.sim.device_clock import DeviceIdentity, posix_tz_offset
from cctvctl.sim.model import SimSettings
from cctvctl.sim.onvif import OnvifService
from cctvctl.sim.state import CameraState


class Device:
    def __init__(self, service: OnvifService, state: CameraState, control: FaultControl) -> None:
        self.service = service
        self.state = state
        self.control = control
        self.camera = state.camera

    @property
    def target(self) -> OnvifTarget:
        url = f"http://{HOST}:{self.camera.onvif_port}/onvif/device_service"
        return OnvifTarget(self.camera.id, url, self.camera.username, self.camera.password)

    @asynccontextmanager
    async def management(self) -> AsyncIterator[Any]:
        """The camera's device management service through onvif-zeep-async, closed after."""
        assert self.camera.onvif_port is not None
        cam = ONVIFCamera(HOST, self.camera.onvif_port, self.camera.username, self.camera.password)
        try:
            await cam.update_xaddrs()
            yield await cam.create_devicemgmt_service()
        finally:
            await cam.close()


@pytest.fixture
async def device() -> AsyncIterator[Device]:
    identity = DeviceIdentity(
        manufacturer="Hikvision", model="DS-2CD2143G2-I", firmware="V5.7.3", serial="K12345678"
    )
    camera = replace(make_camera(), clock_offset=-42.0, device=identity)
    state = CameraState(camera)
    service = OnvifService([camera], {camera.id: state}, SimSettings(clock_offset=7.0))
    control = FaultControl({camera.id: state}, HOST, 0)
    await service.start()
    await control.start()
    try:
        yield Device(service, state, control)
    finally:
        await control.stop()
        await service.stop()


async def test_clock_reads_the_cameras_offset_without_credentials(device: Device) -> None:
    # No credentials at all: the target's password is wrong, and the read still works.
    anonymous = replace(device.target, username="nobody", password="wrong")
    reading = await read_clock(anonymous)
    # ONVIF gives whole seconds: the offset is right to a second plus half the round trip.
    assert -43.5 < reading.offset < -40.5
    assert reading.date_time_type == "Manual"
    assert reading.tz == "UTC0"
    assert abs((reading.at - dt.datetime.now(dt.UTC)).total_seconds()) < 5


async def test_sim_default_offset_applies_where_the_camera_names_none() -> None:
    camera = make_camera()
    state = CameraState(camera)
    service = OnvifService([camera], {camera.id: state}, SimSettings(clock_offset=3600.0))
    await service.start()
    try:
        url = f"http://{HOST}:{camera.onvif_port}/onvif/device_service"
        reading = await read_clock(OnvifTarget(camera.id, url, "", ""))
    finally:
        await service.stop()
    assert 3598.5 < reading.offset < 3601.5


async def test_zeep_client_sees_the_offset_clock(device: Device) -> None:
    async with device.management() as mgmt:
        answer = await mgmt.GetSystemDateAndTime()
    utc = answer.UTCDateTime
    camera_time = dt.datetime(
        utc.Date.Year,
        utc.Date.Month,
        utc.Date.Day,
        utc.Time.Hour,
        utc.Time.Minute,
        utc.Time.Second,
        tzinfo=dt.UTC,
    )
    assert -44 < (camera_time - dt.datetime.now(dt.UTC)).total_seconds() < -40


async def test_device_information_is_the_cameras_own(device: Device) -> None:
    async with device.management() as mgmt:
        info = await mgmt.GetDeviceInformation()
    assert (info.Manufacturer, info.Model, info.FirmwareVersion) == (
        "Hikvision",
        "DS-2CD2143G2-I",
        "V5.7.3",
    )
    assert info.SerialNumber == "K12345678"
    assert info.HardwareId == "sim-hw-1"


async def test_push_ntp_makes_the_clock_right_in_wita(device: Device) -> None:
    await push_ntp(device.target, "pool.ntp.example")
    assert device.state.clock.ntp_servers == ["pool.ntp.example"]
    assert device.state.clock.tz == WITA_TZ
    reading = await read_clock(device.target)
    assert abs(reading.offset) < 1.5
    assert (reading.tz, reading.date_time_type) == (WITA_TZ, "NTP")
    async with device.management() as mgmt:
        answer = await mgmt.GetSystemDateAndTime()
        ntp = await mgmt.GetNTP()
    # WITA is UTC+8: the local hour is eight past the UTC hour.
    assert (answer.LocalDateTime.Time.Hour - answer.UTCDateTime.Time.Hour) % 24 == 8
    assert ntp.NTPManual[0].DNSname == "pool.ntp.example"


async def test_push_ntp_with_the_wrong_password_changes_nothing(device: Device) -> None:
    from cctvctl.devices.onvif import NOT_AUTHORIZED, OnvifError

    with pytest.raises(OnvifError) as caught:
        await push_ntp(replace(device.target, password="wrong"), "10.0.0.1")
    assert caught.value.code == NOT_AUTHORIZED
    assert device.state.clock.offset == -42.0
    assert device.state.clock.sets == 0


async def test_manual_set_system_date_and_time(device: Device) -> None:
    wanted = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    async with device.management() as mgmt:
        await mgmt.SetSystemDateAndTime(
            {
                "DateTimeType": "Manual",
                "DaylightSavings": False,
                "UTCDateTime": {
                    "Date": {"Year": wanted.year, "Month": wanted.month, "Day": wanted.day},
                    "Time": {
                        "Hour": wanted.hour,
                        "Minute": wanted.minute,
                        "Second": wanted.second,
                    },
                },
            }
        )
    reading = await read_clock(device.target)
    assert 7198 < reading.offset < 7201.5


async def test_clock_fault_sets_the_offset(device: Device) -> None:
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{device.control.port}") as http:
        answer = await http.post(
            f"/cameras/{device.camera.id}/fault", json={"mode": "clock", "by": 90}
        )
        refused = await http.post(
            f"/cameras/{device.camera.id}/fault", json={"mode": "clock", "by": "soon"}
        )
    assert answer.status_code == 200
    assert answer.json()["clock_offset"] == 90
    assert refused.status_code == 422
    assert "seconds the camera's clock is ahead" in refused.json()["detail"]
    reading = await read_clock(device.target)
    assert 88.5 < reading.offset < 91.5


def test_posix_time_zones() -> None:
    assert posix_tz_offset("WITA-8") == dt.timedelta(hours=8)
    assert posix_tz_offset("UTC0") == dt.timedelta(0)
    assert posix_tz_offset("EST5EDT") == dt.timedelta(hours=-5)
    assert posix_tz_offset("IST-5:30") == dt.timedelta(hours=5, minutes=30)
    assert posix_tz_offset("8") is None


async def test_sim_fault_clock_from_the_cli(device: Device) -> None:
    control = f"{HOST}:{device.control.port}"
    env = clean_env()
    behind = await asyncio.to_thread(
        run_cctvctl,
        "sim",
        "fault",
        device.camera.id,
        "clock",
        "--by",
        "-2m",
        "--control",
        control,
        env=env,
    )
    assert behind.returncode == 0, behind.stderr
    assert "clock_offset=-120s" in behind.stdout
    assert device.state.clock.offset == -120
    wrong = await asyncio.to_thread(
        run_cctvctl,
        "sim",
        "fault",
        device.camera.id,
        "clock",
        "--by",
        "soon",
        "--control",
        control,
        env=env,
    )
    assert wrong.returncode == 2
    assert "--by" in last_error(wrong) and "'soon'" in last_error(wrong)
    missing = await asyncio.to_thread(
        run_cctvctl, "sim", "fault", device.camera.id, "clock", "--control", control, env=env
    )
    assert missing.returncode == 2
    assert "clock needs --by" in last_error(missing)
    assert device.state.clock.offset == -120
