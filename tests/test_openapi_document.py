"""What /openapi.json says against what a real server does, one finding at a time.

test_openapi_contract.py runs Schemathesis over the whole API; these pin each thing it
found, so a regression names itself.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from harness import Live

MEDIA = "application/problem+json"


@pytest.fixture(scope="module")
def doc(live: Live) -> dict[str, Any]:
    resp = live.server.get("/openapi.json")
    assert resp.status_code == 200
    document: dict[str, Any] = resp.json()
    return document


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
    ]


def _problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(MEDIA), resp.headers
    body: dict[str, Any] = resp.json()
    return body


def test_every_error_response_is_declared_problem_json(doc: dict[str, Any]) -> None:
    checked = 0
    for method, path, op in _operations(doc):
        for status, response in op["responses"].items():
            if int(status) < 400:
                continue
            assert list(response["content"]) == [MEDIA], (method, path, status)
            ref = response["content"][MEDIA]["schema"]["$ref"]
            wanted = "InvalidParameterProblem" if status == "422" else "Problem"
            assert ref == f"#/components/schemas/{wanted}", (method, path, status)
            checked += 1
    assert checked > 40
    # Every route that reads a body refuses one past the cap (413).
    for method, path, op in _operations(doc):
        assert ("413" in op["responses"]) == ("requestBody" in op), (method, path)
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_401_wherever_a_token_is_needed_and_403_only_above_viewer(
    live: Live, doc: dict[str, Any]
) -> None:
    for method, path, op in _operations(doc):
        responses = op["responses"]
        assert ("401" in responses) == bool(op.get("security")), (method, path)
    # A viewer token is the lowest there is: nothing behind a viewer gate answers 403.
    for path in ["/api/v1/cameras", "/api/v1/health", "/metrics"]:
        assert "403" not in doc["paths"][path]["get"]["responses"], path
        assert live.server.get(path, role="viewer").status_code == 200, path
    assert "403" not in doc["paths"]["/api/v1/events"]["get"]["responses"]
    assert "403" in doc["paths"]["/api/v1/audit"]["get"]["responses"]
    _problem(live.server.get("/api/v1/audit", role="viewer"), 403)


def test_a_dry_run_is_not_linked_to_a_job_and_a_real_run_is(
    live: Live, doc: dict[str, Any]
) -> None:
    post = doc["paths"]["/api/v1/reboots"]["post"]["responses"]
    assert "links" not in post["200"] and "headers" not in post["200"]
    link = post["202"]["links"]["GetRebootJob"]
    assert link["parameters"] == {"job_id": "$response.body#/id"}
    assert link["operationRef"] == "#/paths/~1api~1v1~1reboots~1{job_id}/get"
    assert "Location" in post["202"]["headers"]
    assert post["202"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RebootJob"
    }
    body = {"cameras": [live.site.camera_ids[0]], "reason": "check", "dry_run": True}
    with live.server.client("admin") as api:
        plan = api.post("/api/v1/reboots", json=body)
    assert plan.status_code == 200, plan.text
    assert "location" not in plan.headers
    assert plan.json()["dry_run"] is True and "id" not in plan.json()


def test_405_allows_every_method_of_the_path(live: Live) -> None:
    with live.server.client("admin") as api:
        exports = _problem(api.request("OPTIONS", "/api/v1/exports"), 405)
        job = api.request("PUT", "/api/v1/exports/nope")
    assert exports["detail"].endswith("accepted: GET, POST")
    assert _problem(job, 405) and job.headers["allow"] == "GET, DELETE"


@pytest.mark.parametrize(
    "value",
    [
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:00:00Z",
        "1970-01-01T00:00:00+08:00",
        "8999-12-31T23:59:59-08:00",
        "9000-01-01T00:00:00Z",
        "2024-05-01T08:00:00.5Z",
        "2024-05-01T08:00Z",
        "2024-05-01T08:00:00",
        "2024-W18-3T08:00:00Z",
        "20240501T080000Z",
        "2024-02-30T08:00:00Z",
        "0001-01-01T00:00:00Z",
    ],
)
def test_a_time_parameter_is_accepted_exactly_when_its_pattern_matches(
    live: Live, doc: dict[str, Any], value: str
) -> None:
    params = {p["name"]: p for p in doc["paths"]["/api/v1/audit"]["get"]["parameters"]}
    schema = params["since"]["schema"]
    assert schema["format"] == "date-time"
    # 2024-02-30 matches the pattern but is no date: the date-time format refuses it.
    documented = bool(re.search(schema["pattern"], value)) and value != "2024-02-30T08:00:00Z"
    with live.server.client("admin") as api:
        resp = api.get("/api/v1/audit", params={"since": value, "limit": 1})
    assert resp.status_code == (200 if documented else 422), resp.text
    if not documented:
        assert "accepted" in _problem(resp, 422)["detail"]


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({"Last-Event-ID": "²".encode("latin-1")}, {}),  # str.isdigit() said yes, int() no
        ({}, {"since": str(2**63)}),  # past what SQLite's integers hold
        ({"Last-Event-ID": b"null"}, {}),
    ],
)
def test_odd_event_ids_are_422_not_500(
    live: Live, headers: dict[str, bytes], params: dict[str, str]
) -> None:
    with live.server.client("viewer") as api:
        resp = api.get("/api/v1/events", headers=headers, params=params)
    assert "accepted" in _problem(resp, 422)["detail"] or "less than" in resp.text


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ({"force": 0}, 422),  # the schema says boolean; lax pydantic took 0 for false
        ({"dry_run": "true"}, 422),
        ({"max_parallel": "4"}, 422),
        ({"max_parallel": 4.0}, 200),  # JSON Schema's integer takes 4.0
        ({"offline_for": False}, 422),
        ({"offline_for": "1h 30m"}, 200),
        ({"offline_for": "٣m"}, 422),  # a digit, but not one the pattern allows
        ({"offline_for": "9" * 400}, 422),
        ({"cameras": []}, 422),
        ({"cameras": None, "kecamatan": "  "}, 422),
    ],
)
def test_reboot_bodies_are_held_to_the_schema(
    live: Live, doc: dict[str, Any], extra: dict[str, Any], status: int
) -> None:
    body = {"reason": "check", "dry_run": True, "offline_for": "15m", **extra}
    with live.server.client("admin") as api:
        resp = api.post("/api/v1/reboots", json=body)
    assert resp.status_code == status, resp.text
    schema = doc["paths"]["/api/v1/reboots"]["post"]["requestBody"]["content"]
    offline = schema["application/json"]["schema"]["properties"]["offline_for"]["anyOf"]
    pattern = next(b["pattern"] for b in offline if b.get("type") == "string")
    if isinstance(extra.get("offline_for"), str):
        assert bool(re.search(pattern, extra["offline_for"])) == (status == 200)


def test_a_bulk_reboot_needs_a_selector_in_the_schema_too(doc: dict[str, Any]) -> None:
    schema = doc["paths"]["/api/v1/reboots"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert {tuple(s["required"]) for s in schema["anyOf"]} == {
        ("cameras",),
        ("kecamatan",),
        ("offline_for",),
    }
    assert schema["not"]["required"] == ["cameras", "kecamatan"]
