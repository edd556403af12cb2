"""The OpenAPI document tells the truth: Schemathesis, every check, against a real server.

The same engine as ``st run --checks all`` (examples, coverage, fuzzing and stateful
phases) runs here, so `make test` catches a route whose answers drift from its schema.
It is bounded: a fixed seed, few examples per operation and a time limit. Its server has
its own simulator; bulk reboots are forced to dry runs, and the one-camera reboots it may
find (through the links from the camera list) reach only that simulator.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import schemathesis
from harness import Live, SiteSpec
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, from_schema
from schemathesis.engine import events as ev

SEED = 20261204
SAMPLE_CHARS = 600  # of each failing request's curl line, in the assertion message
EXAMPLES = 8
# Not schemathesis' max-time: with one, fuzzing and stateful phases repeat until it runs
# out. Without, each phase runs once; this only cuts a run that a loaded machine slows.
BUDGET_SECONDS = 50
# An event stream never ends by itself: a few events, or a quiet second, are enough to
# check its shape.
STREAM_EVENTS = 2
STREAM_SECONDS = 1
# Rules JSON Schema cannot state: one field against another (a window's end after its
# start, at most so long), or against the server's clock and footage. The descriptions
# say them; only a 422 for one of these is excused from "schema-valid request rejected".
# Schemathesis' list of statuses that refuse schema-violating data, with 413: a body
# past the server's cap (1000 camera ids of 300 characters) is refused before it is read.
REJECTIONS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
# Schemathesis' answers to schema-valid data, with 410: an export that failed or expired
# has no file, whatever the request (5xx stays: not_a_server_error fails those anyway).
ACCEPTANCES = ["2xx", "3xx", "401", "403", "404", "409", "410", "429", "5xx"]
# DELETE on an export job cancels it or deletes its files, and the job stays readable as
# "cancelled" or "deleted": the record is part of the evidence trail (test_exports checks
# the state after a DELETE). Schemathesis' use_after_free wants a 404 there instead.
KEPT_AFTER_DELETE = {"use_after_free": {"enabled": False}}
UNSTATABLE = ("must be after", "; accepted: at most", "is in the future", "has no footage")


def _unstatable(response: Any) -> bool:
    if response.status_code != 422:
        return False
    try:
        detail = str(response.json().get("detail", ""))
    except ValueError:
        return False
    return any(words in detail for words in UNSTATABLE)


def _failures(event: ev.ScenarioFinished) -> list[str]:
    found = []
    for checks in event.recorder.checks.values():
        for check in checks:
            info = check.failure_info
            if check.status == Status.FAILURE and info is not None:
                failure = info.failure
                found.append(
                    f"{failure.operation}: {failure.title}: {failure.message}\n"
                    + info.code_sample[:SAMPLE_CHARS]
                )
    return found


def test_every_answer_matches_the_openapi_document(
    live_factory: Callable[..., Live],
) -> None:
    live = live_factory(SiteSpec(cameras=2, onvif=True))
    site, server = live.site, live.server
    auth = {"Authorization": f"Bearer {site.tokens['admin']}"}
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "headers": auth,
            "max-stream-events": STREAM_EVENTS,
            "request-timeout": 10,
            "generation": {"max-examples": EXAMPLES},
            "checks": {
                "negative_data_rejection": {"expected-statuses": REJECTIONS},
                "positive_data_acceptance": {"expected-statuses": ACCEPTANCES},
                **KEPT_AFTER_DELETE,
            },
            "operations": [{"include-path": "/api/v1/events", "request-timeout": STREAM_SECONDS}],
        }
    )
    schema = schemathesis.openapi.from_url(
        f"{server.url}/openapi.json", config=config, headers=auth
    )

    @schema.hook
    def filter_failure(ctx: Any, failure: Any, case: Any, response: Any) -> bool:
        return not (failure.code == "ST202" and _unstatable(response))

    def before_call(ctx: Any, case: Any, kwargs: dict[str, Any]) -> None:
        body = case.body
        # Only a body that asks for a real run; a wrong dry_run must stay wrong.
        real_run = isinstance(body, dict) and body.get("dry_run", False) is False
        if case.path == "/api/v1/reboots" and case.method.upper() == "POST" and real_run:
            body["dry_run"] = True

    failures: list[str] = []
    tested = 0
    requests = 0
    stopped: str | None = None
    # before_call is a global hook only; it is taken out again whatever happens.
    schemathesis.hook(before_call)
    try:
        deadline = time.monotonic() + BUDGET_SECONDS
        stream = from_schema(schema).execute()
        for event in stream:
            if time.monotonic() > deadline:
                stream.stop()
            if isinstance(event, ev.FatalError):
                raise AssertionError(f"schemathesis could not run: {event.exception!r}")
            if isinstance(event, ev.ScenarioFinished):
                tested += event.status != Status.SKIP
                requests += len(event.recorder.interactions)
                if event.status in (Status.FAILURE, Status.ERROR):
                    failures += _failures(event) or [f"{event.label}: {event.status.value}"]
            if isinstance(event, ev.EngineFinished):
                stopped = str(getattr(event, "stop_reason", ""))
    finally:
        schemathesis.hooks.unregister(before_call)
    assert not failures, f"{len(failures)} findings (stopped: {stopped}):\n\n" + "\n\n".join(
        failures
    )
    print(f"schemathesis: {tested} scenarios, {requests} requests, stopped: {stopped}")
    assert tested > 20, f"only {tested} scenarios ran (stopped: {stopped})"
    assert requests > 200, f"only {requests} requests were sent (stopped: {stopped})"
