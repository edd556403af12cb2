"""Hostile input against the real server: what a caller sends must not become a 500, an
open redirect, a 100 KB echo, or an escape sequence in an admin's terminal.

One live site (simulator + `cctvctl server` subprocess) is shared by the module. Every
request here is refused before it does anything, so the order of tests does not matter.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from harness import Live

PROBLEM = "application/problem+json"
# C0 (tab and newline included), DEL, C1: none may reach the audit log verbatim.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
ESCAPE = "\x1b]0;pwned\x07\x1b[2J"  # set the window title, clear the screen
LONG = 100 * 1024


def _problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text[:500]
    assert resp.headers["content-type"].startswith(PROBLEM), resp.headers
    body: dict[str, Any] = resp.json()
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def _post(live: Live, path: str, role: str, **kwargs: Any) -> httpx.Response:
    with live.server.client(role) as api:
        return api.post(path, **kwargs)


def _audit(live: Live) -> list[dict[str, Any]]:
    resp = live.server.get("/api/v1/audit", "admin", params={"limit": 10000})
    assert resp.status_code == 200, resp.text
    rows: list[dict[str, Any]] = resp.json()
    return rows


def _window() -> dict[str, str]:
    end = datetime.now(UTC) - timedelta(seconds=5)
    return {
        "start": (end - timedelta(seconds=10)).isoformat(),
        "end": end.isoformat(),
    }


@pytest.fixture(scope="module")
def camera(live: Live) -> str:
    return live.site.camera_ids[0]


# --------------------------------------------------------------------------- 1: control characters


def _control_cases(camera: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(role, path, field, body): each body is valid but for ESCAPE in ``field``."""
    export = {"camera": camera, **_window()}
    return [
        ("operator", "/api/v1/exports", "case_id", {**export, "case_id": "LP/1" + ESCAPE}),
        ("operator", "/api/v1/exports", "note", {**export, "note": "line one\nline two"}),
        ("operator", "/api/v1/exports", "camera", {**export, "camera": camera + "\x9b2J"}),
        ("admin", f"/api/v1/cameras/{camera}/reboot", "reason", {"reason": "stuck" + ESCAPE}),
        ("admin", "/api/v1/reboots", "reason", {"cameras": [camera], "reason": "a\tb"}),
        ("admin", "/api/v1/reboots", "cameras.0", {"cameras": [camera + "\x00"], "reason": "x"}),
        ("admin", "/api/v1/reboots", "kecamatan", {"kecamatan": "Bengalon\x7f", "reason": "x"}),
        ("admin", "/api/v1/reboots", "offline_for", {"offline_for": "1\x1bh", "reason": "x"}),
    ]


def test_control_characters_in_body_fields_are_422_naming_the_field(
    live: Live, camera: str
) -> None:
    for role, path, field, body in _control_cases(camera):
        problem = _problem(_post(live, path, role, json=body), 422)
        assert f"body field '{field}'" in problem["detail"], (field, problem["detail"])
        assert "control character" in problem["detail"]
        assert "accepted: printable text on one line" in problem["detail"]
        assert problem["errors"][0]["parameter"] == field
        # The caller's text is quoted back escaped, never raw.
        assert not CONTROL.search(json.dumps(problem, ensure_ascii=False).replace("\\", ""))


def test_refusals_store_no_control_characters_in_the_audit_log(live: Live, camera: str) -> None:
    for role, path, _field, body in _control_cases(camera):
        _post(live, path, role, json=body)
    # A viewer's export and reboot with hostile text in the body and the path.
    hostile_export = {"camera": camera + ESCAPE, "case_id": ESCAPE, **_window()}
    _problem(_post(live, "/api/v1/exports", "viewer", json=hostile_export), 403)
    path = f"/api/v1/cameras/{camera}%1b%5b2J/reboot"
    _problem(_post(live, path, "viewer", json={"reason": ESCAPE}), 403)
    _problem(_post(live, path, "admin", json={"reason": "ok"}), 404)
    rows = _audit(live)
    refused = [r for r in rows if r["result"] in ("refused", "forbidden")]
    assert len(refused) >= len(_control_cases(camera)) + 3
    for row in rows:
        for key, value in row.items():
            assert not (isinstance(value, str) and CONTROL.search(value)), (key, value)
    # What was sent stays readable: the escape is written out, not dropped.
    assert any(r["case_id"] == "LP/1\\x1b]0;pwned\\x07\\x1b[2J" for r in refused)
    assert any(r["target"] == f"{camera}\\x1b[2J" for r in refused)


def test_a_viewers_refused_export_records_nothing_it_sent(live: Live, camera: str) -> None:
    marker = "LP/viewer-" + str(datetime.now(UTC).timestamp())
    body = {"camera": camera, "case_id": marker, **_window()}
    _problem(_post(live, "/api/v1/exports", "viewer", json=body), 403)
    rows = [r for r in _audit(live) if r["actor"] == "test-viewer"]
    assert rows and rows[-1]["action"] == "export.request"
    assert rows[-1]["result"] == "refused" and "operator" in rows[-1]["detail"]
    assert all(marker not in json.dumps(r) for r in rows)


def test_plain_text_is_still_accepted(live: Live, camera: str) -> None:
    # Control characters only: accents, slashes, quotes and emoji are what people type.
    body = {"cameras": [camera], "reason": 'Kamera mati — cek "PLN" / 😀', "dry_run": True}
    resp = _post(live, "/api/v1/reboots", "admin", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["dry_run"] is True


# --------------------------------------------------------------------------- 4: no redirects


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/cameras/",
        "/api/v1/cameras/{camera}/",
        "/api/v1/health/",
        "/api/v1/kecamatan/",
        "/api/v1/exports/",
        "/api/v1/reboots/",
        "/api/v1/audit/",
        "/api/v1/events/",
        "/metrics/",
        "/healthz/",
        "/openapi.json/",
    ],
)
def test_trailing_slash_is_404_and_never_redirects_to_the_host_header(
    live: Live, camera: str, path: str
) -> None:
    evil = "evil.example.net"
    for method in ("GET", "POST"):
        with live.server.client("admin") as api:
            resp = api.request(method, path.format(camera=camera), headers={"Host": evil})
        assert "location" not in resp.headers, resp.headers
        assert evil not in resp.text
        problem = _problem(resp, 404)
        assert "no such resource" in problem["detail"]


# --------------------------------------------------------------------------- 5: echoes are cut


def _assert_cut(problem: dict[str, Any], char: str) -> None:
    text = json.dumps(problem, ensure_ascii=False)
    assert char * 81 not in text, text[:300]
    assert char * 60 in problem["detail"] and "…" in problem["detail"], problem["detail"]
    assert len(text) < 2000


def _raw_get(live: Live, path: str, role: str) -> httpx.Response:
    """GET over http.client: httpx refuses URLs past 64 KiB before sending them."""
    conn = http.client.HTTPConnection("127.0.0.1", live.server.port, timeout=30)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {live.site.tokens[role]}"})
        raw = conn.getresponse()
        return httpx.Response(raw.status, headers=raw.getheaders(), content=raw.read())
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("path", "role", "char"),
    [
        ("/api/v1/cameras?kecamatan=" + "k" * LONG, "viewer", "k"),
        ("/api/v1/cameras?status=" + "s" * 20000, "viewer", "s"),
        ("/api/v1/cameras/" + "c" * 5000, "viewer", "c"),
        ("/api/v1/kecamatan/" + "k" * 5000, "viewer", "k"),
        ("/api/v1/cameras/{camera}/recordings?start=" + "t" * 5000, "viewer", "t"),
        ("/api/v1/cameras/{camera}/thumbnail?width=" + "9" * 5000, "viewer", "9"),
        ("/api/v1/exports/" + "j" * 5000, "operator", "j"),
        ("/api/v1/reboots/" + "j" * 5000, "admin", "j"),
        ("/api/v1/audit?since=" + "t" * 5000, "admin", "t"),
        ("/api/v1/no-such-" + "p" * 5000, "viewer", "p"),
    ],
    ids=lambda v: v[:40] if isinstance(v, str) else v,
)
def test_echoed_query_and_path_values_are_cut(
    live: Live, camera: str, path: str, role: str, char: str
) -> None:
    resp = _raw_get(live, path.replace("{camera}", camera), role)
    assert 400 <= resp.status_code < 500, resp.text[:300]
    problem = _problem(resp, resp.status_code)
    _assert_cut(problem, char)
    assert problem["instance"] is None or len(problem["instance"]) <= 80


def test_echoed_header_and_body_values_are_cut(live: Live, camera: str) -> None:
    resp = live.server.get("/api/v1/events", headers={"Last-Event-ID": "e" * 5000})
    _assert_cut(_problem(resp, 422), "e")
    export = {"camera": "c" * 200, **_window()}
    _assert_cut(_problem(_post(live, "/api/v1/exports", "operator", json=export), 404), "c")
    export = {"camera": camera, **_window(), "x" * 5000: 1}  # an unknown member's name
    _assert_cut(_problem(_post(live, "/api/v1/exports", "operator", json=export), 422), "x")
    bulk = {"offline_for": "d" * 5000, "reason": "x"}
    _assert_cut(_problem(_post(live, "/api/v1/reboots", "admin", json=bulk), 422), "d")
    bulk = {"cameras": ["u" * 200], "reason": "x"}  # an unknown camera: 404, as in a path
    _assert_cut(_problem(_post(live, "/api/v1/reboots", "admin", json=bulk), 404), "u")
    resp = _post(live, "/api/v1/cameras/" + "r" * 5000 + "/reboot", "admin", json={"reason": "x"})
    _assert_cut(_problem(resp, 404), "r")


def test_a_thousand_bad_items_are_counted_not_listed(live: Live) -> None:
    bulk = {"cameras": [""] * 1000, "reason": "x"}
    problem = _problem(_post(live, "/api/v1/reboots", "admin", json=bulk), 422)
    assert len(problem["errors"]) == 10
    assert "and 990 more errors" in problem["detail"]


# --------------------------------------------------------------------------- 6: body parsing

NESTED = b"[" * 1000 + b"]" * 1000
UNCLOSED = b"[" * 100_000


def _json_posts(camera: str) -> list[tuple[str, str]]:
    return [
        ("/api/v1/exports", "operator"),
        ("/api/v1/reboots", "admin"),
        (f"/api/v1/cameras/{camera}/reboot", "admin"),
    ]


@pytest.mark.parametrize("body", [NESTED, UNCLOSED], ids=["nested", "unclosed"])
def test_deep_nesting_from_a_viewer_is_403_before_parsing(
    live: Live, camera: str, body: bytes
) -> None:
    for path, _role in _json_posts(camera):
        resp = _post(live, path, "viewer", content=body)
        _problem(resp, 403)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (NESTED, "nests arrays or objects too deeply"),
        (b'{"a": [' * 2000, "nests arrays or objects too deeply"),
        (b'{"reason": "\xff\xfe"}', "not UTF-8"),
        (b"\x80{}", "not UTF-8"),
        (b'{"reason": "x", "max_parallel": ' + b"7" * 5000 + b"}", "not valid JSON"),
        (b'{"reason": "x", "max_parallel": 1e999}', "max_parallel"),
        (b'{"reason": "x", "max_parallel": NaN}', "max_parallel"),
        (b'{"reason": "x", "offline_for": NaN}', "offline_for"),
        (b'{"reason": "x", "offline_for": -Infinity}', "offline_for"),
        # Deep, but within the parser's depth: pydantic and the error text must cope.
        (b'{"reason": "x", "cameras": ' + b"[" * 500 + b"]" * 500 + b"}", "cameras"),
    ],
)
def test_unparseable_bodies_are_422(live: Live, camera: str, body: bytes, words: str) -> None:
    for path, role in _json_posts(camera):
        if words in ("max_parallel", "offline_for", "cameras") and path != "/api/v1/reboots":
            continue  # members only the bulk body has
        headers = {"content-type": "application/json"}
        problem = _problem(_post(live, path, role, content=body, headers=headers), 422)
        assert words in problem["detail"], (path, problem["detail"])


def _chunks(total: int) -> Iterator[bytes]:
    piece = b" " * 65536
    for _ in range(total // len(piece)):
        yield piece


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_oversized_bodies_are_413(live: Live, camera: str, declared: bool) -> None:
    for path, role in _json_posts(camera):
        size = 512 * 1024  # over the cap, yet small enough for the socket buffers
        content: bytes | Iterator[bytes] = b" " * size if declared else _chunks(size)
        problem = _problem(_post(live, path, role, content=content), 413)
        assert "KiB" in problem["detail"]
    # The refused attempt is on record, like any refused request.
    rows = [r for r in _audit(live) if r["detail"] and "larger than" in r["detail"]]
    assert {r["action"] for r in rows} >= {"export.request", "reboot", "reboot.bulk"}


def test_a_full_size_bulk_body_is_accepted(live: Live, camera: str) -> None:
    # 1000 camera ids of 100 characters each (~100 KB): under the cap, read whole.
    bulk = {"cameras": [f"{n:04d}-" + "c" * 95 for n in range(1000)], "reason": "x"}
    problem = _problem(_post(live, "/api/v1/reboots", "admin", json=bulk), 404)
    assert "no camera '0000-" in problem["detail"]


# --------------------------------------------------------------------------- 7: Last-Event-ID


@pytest.mark.parametrize(
    "value",
    ["99999999999999999999999", "9223372036854775808", "-1", "abc", "1.5", "1e3", "²", "0x10"],
)
def test_bad_last_event_id_is_422(live: Live, value: str) -> None:
    # Latin-1 on the wire, as a header can carry it ('²' passes str.isdigit()).
    resp = live.server.get("/api/v1/events", headers={"Last-Event-ID": value.encode("latin-1")})
    problem = _problem(resp, 422)
    assert "Last-Event-ID" in problem["detail"]
    assert "accepted: a whole number from 0 to 9223372036854775807" in problem["detail"]


def test_huge_since_is_422(live: Live) -> None:
    problem = _problem(live.server.get("/api/v1/events?since=99999999999999999999999"), 422)
    assert "since" in problem["detail"]


@pytest.mark.parametrize("value", ["9223372036854775807", "0", "12"])
def test_largest_event_id_still_streams(live: Live, value: str) -> None:
    headers = {"Authorization": f"Bearer {live.site.tokens['viewer']}", "Last-Event-ID": value}
    with (
        httpx.Client(base_url=live.server.url, timeout=10) as client,
        client.stream("GET", "/api/v1/events", headers=headers) as resp,
    ):
        assert resp.status_code == 200
        first = next(resp.iter_lines())
    assert first.startswith("retry:")


def test_openapi_documents_the_one_line_rule(live: Live) -> None:
    spec = live.server.get("/openapi.json").json()
    for path, field in (
        ("/api/v1/exports", "case_id"),
        ("/api/v1/cameras/{camera_id}/reboot", "reason"),
        ("/api/v1/reboots", "kecamatan"),
    ):
        body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        prop = body["schema"]["properties"][field]
        pattern = next(p["pattern"] for p in [prop, *prop.get("anyOf", [])] if "pattern" in p)
        assert re.fullmatch(pattern, "LP/123/XI/2026 — Sangatta")
        assert not re.fullmatch(pattern, "LP/1" + ESCAPE)
