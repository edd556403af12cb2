"""A request cut off at the end of the shutdown grace is one WARNING line in the server's
log, not an ERROR with a traceback (cctvctl/server/shutdown_log.py), against uvicorn's
own record of it: a real uvicorn in a subprocess, a request that outlives the grace."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import subprocess
import sys
import threading
import time

import httpx
from harness import REPO, free_port, wait_for

from cctvctl.server.shutdown_log import MESSAGE, CancelledAtShutdown

SERVER = """
import asyncio, logging, sys
import uvicorn
from fastapi import FastAPI
from cctvctl.server.shutdown_log import CancelledAtShutdown

app = FastAPI()

@app.get("/slow")
async def slow() -> dict[str, str]:
    await asyncio.sleep(60)
    return {}

@app.get("/up")
async def up() -> dict[str, str]:
    return {}

handler = logging.StreamHandler(sys.stderr)
handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
handler.addFilter(CancelledAtShutdown())
logging.getLogger().handlers = [handler]
uvicorn.run(app, port=int(sys.argv[1]), timeout_graceful_shutdown=1, log_config=None)
"""


def test_a_request_cancelled_at_the_shutdown_deadline_is_one_warning_line() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port)],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{base}/up", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 20, what="uvicorn to answer")

        def ask_slowly() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the server ends it
                httpx.get(f"{base}/slow", timeout=30)

        slow = threading.Thread(target=ask_slowly, daemon=True)
        slow.start()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert "timeout graceful shutdown exceeded" in err, err  # uvicorn did cancel it
    assert f"WARNING {MESSAGE}" in err, err
    assert "Traceback" not in err and "Exception in ASGI application" not in err, err


def test_another_cancel_keeps_its_record() -> None:
    record = logging.LogRecord(
        "uvicorn.error",
        logging.ERROR,
        __file__,
        1,
        "Exception in ASGI application\n",
        None,
        (asyncio.CancelledError, asyncio.CancelledError("client went away"), None),
    )
    assert CancelledAtShutdown().filter(record)
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert record.getMessage() == "Exception in ASGI application\n"
