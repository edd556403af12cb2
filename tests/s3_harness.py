"""A real S3 endpoint for the tests: moto's ``ThreadedMotoServer`` on 127.0.0.1.

One per test session (per xdist worker), on a free port. It speaks the S3 protocol over
HTTP, with versioning and Object Lock; cctvctl reaches it by URL like any store and knows
nothing of moto.

``stop()`` cuts the link: the listening socket is closed and every connection in flight is
shut down (a request mid-body gets a reset), as when a village's link drops. ``start()``
listens again on the same port. The buckets and objects live in moto's in-process
backend, not in the server thread, so they survive a stop and a start: what a store keeps
across an outage.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import boto3
from botocore.config import Config
from harness import free_port
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

__all__ = ["ACCESS_KEY", "REGION", "SECRET_KEY", "S3Engine", "archive_table", "unique_bucket"]

# moto accepts any keys; these are what the tests' inventories name.
ACCESS_KEY = "cctvctl-test-access"
SECRET_KEY = "cctvctl-test-secret"
REGION = "us-east-1"


class _CuttableServer(ThreadedMotoServer):  # type: ignore[misc]
    """moto's threaded server whose connections in flight can be cut."""

    def __init__(self, port: int, parts: list[tuple[str, int]]) -> None:
        super().__init__(ip_address="127.0.0.1", port=port, verbose=False)
        self.connections: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.parts = parts

    def _server_entry(self) -> None:
        outer = self

        class Handler(MotoRequestHandler):  # type: ignore[misc]
            def setup(self) -> None:
                with outer.lock:
                    outer.connections.add(self.request)
                super().setup()

            def finish(self) -> None:
                with outer.lock:
                    outer.connections.discard(self.request)
                super().finish()

        moto_app = DomainDispatcherApplication(create_backend_app)

        def app(environ: dict[str, Any], start_response: Any) -> Any:
            # Every UploadPart that reaches the store, by upload and part number: what a
            # test of resumed uploads counts, whatever the client's own figures say.
            query = parse_qs(environ.get("QUERY_STRING", ""))
            if environ.get("REQUEST_METHOD") == "PUT" and "partNumber" in query:
                with outer.lock:
                    outer.parts.append((query["uploadId"][0], int(query["partNumber"][0])))
            return moto_app(environ, start_response)

        self._server = make_server(self._ip_address, self._port, app, True, request_handler=Handler)
        self._server_ready_event.set()
        self._server.serve_forever()

    def cut(self) -> None:
        """Stop serving, close the listener and reset every open connection."""
        self.stop()
        if self._server is not None:
            self._server.server_close()
        with self.lock:
            for conn in list(self.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self.connections.clear()


@dataclass
class S3Engine:
    """A moto S3 server on 127.0.0.1: ``endpoint``, ``client()``, ``stop()``, ``start()``."""

    port: int = field(default_factory=free_port)
    _server: _CuttableServer | None = None
    #: (upload id, part number) of every UploadPart request that reached the store, across
    #: stops and starts, oldest first.
    parts: list[tuple[str, int]] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> S3Engine:
        if self._server is None:
            server = _CuttableServer(self.port, self.parts)
            server.start()
            self._server = server
        return self

    def stop(self) -> None:
        """Cut the link: nothing answers on the port until :meth:`start`; state is kept."""
        if self._server is not None:
            self._server.cut()
            self._server = None

    def client(self) -> Any:
        """A plain boto3 client on the store, for the tests' own looks (not cctvctl's)."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def make_bucket(
        self, name: str | None = None, *, object_lock: bool = False, versioned: bool = False
    ) -> str:
        """A new empty bucket (a fresh name unless given); ``object_lock`` makes it an
        evidence bucket: Object Lock enabled at creation (which turns on versioning).
        ``versioned``: every PUT of a key is kept, so a test can see one sent twice."""
        name = name or unique_bucket()
        kwargs: dict[str, Any] = {"Bucket": name}
        if object_lock:
            kwargs["ObjectLockEnabledForBucket"] = True
        client = self.client()
        client.create_bucket(**kwargs)
        if versioned and not object_lock:
            client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key in ``bucket`` under ``prefix``, sorted."""
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def unique_bucket(prefix: str = "cctv") -> str:
    """A bucket name no other test uses (one moto server holds every test's buckets)."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def archive_table(engine: S3Engine, bucket: str, **settings: object) -> str:
    """An ``[archive]`` TOML table for ``bucket`` on ``engine`` (keys from the environment:
    set ``CCTVCTL_ARCHIVE_ACCESS_KEY``/``_SECRET_KEY`` to ACCESS_KEY/SECRET_KEY)."""
    lines = ["[archive]", f'endpoint = "{engine.endpoint}"', f'bucket = "{bucket}"']
    for key, value in settings.items():
        lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"
