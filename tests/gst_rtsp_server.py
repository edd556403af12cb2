"""GStreamer's RTSP server (gst-rtsp-server, Debian's packages), for the interop tests.

Run with the system Python that has PyGObject (``/usr/bin/python3``), not the project's
virtualenv: ``python3 gst_rtsp_server.py PORT USER PASSWORD``. Serves, on 127.0.0.1:

- ``/h265-pcma``: H.265 (x265enc) with G.711 A-law sound;
- ``/h265-pcmu``: H.265 with G.711 µ-law sound;

both live test patterns at 320x180, 10 fps, a keyframe a second, behind Basic auth (the
only scheme this GStreamer offers), over TCP or UDP as the client asks. Prints ``ready``
once it listens.
"""

from __future__ import annotations

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

VIDEO = (
    "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=180,framerate=10/1 "
    "! x265enc tune=zerolatency speed-preset=ultrafast key-int-max=10 "
    "! video/x-h265,profile=main ! rtph265pay name=pay0 pt=96 config-interval=-1"
)
AUDIO = "audiotestsrc is-live=true wave=sine freq=440 ! audio/x-raw,rate=8000,channels=1 ! {enc}"
MOUNTS = {
    "/h265-pcma": AUDIO.format(enc="alawenc ! rtppcmapay name=pay1 pt=8"),
    "/h265-pcmu": AUDIO.format(enc="mulawenc ! rtppcmupay name=pay1 pt=0"),
}


def main() -> None:
    port, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "operator")
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    server.set_auth(auth)
    for path, audio in MOUNTS.items():
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(f"( {VIDEO} {audio} )")
        factory.set_shared(True)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role("operator", "media.factory.access", True)
        permissions.add_permission_for_role("operator", "media.factory.construct", True)
        factory.set_permissions(permissions)
        server.get_mount_points().add_factory(path, factory)
    if server.attach(None) == 0:
        sys.exit("cannot listen")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
