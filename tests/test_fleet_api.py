"""The fleet API and its commands against a real PostgreSQL and real `cctvctl server` nodes.

Two nodes share one store; a third node row points at a URL where nothing listens (a
node that died). Node rows, leases, catalogue runs and audit rows are seeded through
`FleetStore` where the nodes' own heartbeat, lease and sync loops would write them.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from cli_process import NO_CONFIG, clean_env, run_cctvctl
from harness import ServerProcess, Site, SiteSpec, free_port, wait_for, write_site
from pg_harness import PgDatabase
from test_cli_startup import BACKEND, HEAVY, imported, top_levels

from cctvctl.config import hash_token
from cctvctl.fleet.store import AuditRow, FleetStore, FootageRun
from cctvctl.server.routes.fleet import store_address

PROBLEM = "application/problem+json"
#: Trust auth ignores it, so it is a password the server holds and must never show.
DSN_PASSWORD = "pw-in-the-dsn-7f3a"
LEASE = timedelta(hours=1)
DEAD = "sgs-9"
DEAD_CAMERA = "sgs-cam-01"
SPEC = SiteSpec(cameras=2, kecamatan=("Sangatta Utara",))
SPEC_B = SiteSpec(cameras=2, kecamatan=("Bengalon",))  # other camera ids than node a's


@dataclass
class Fleet:
    pg: PgDatabase
    store: FleetStore
    a: ServerProcess  # node sgu-1
    b: ServerProcess  # node bgl-1
    dead_url: str
    audit_id: uuid.UUID

    def env(self, role: str, node: ServerProcess | None = None) -> dict[str, str]:
        server = node or self.a
        return clean_env() | {
            "CCTVCTL_CONFIG": NO_CONFIG,
            "CCTVCTL_URL": server.url,
            "CCTVCTL_TOKEN": server.site.tokens[role],
            "COLUMNS": "200",
        }


def _sql(dsn: str, statement: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement.encode())


def _fleet_site(
    directory: Path, dsn: str, tokens_of: Site | None = None, spec: SiteSpec = SPEC
) -> Site:
    """A node's site in the fleet; ``tokens_of``: the same tokens as that node's (one
    token reaches every node, as the fleet's tokens will)."""
    site = write_site(directory, spec)
    text = site.config.read_text()
    if tokens_of is not None:
        for role, token in site.tokens.items():
            text = text.replace(hash_token(token), hash_token(tokens_of.tokens[role]))
        site.tokens = dict(tokens_of.tokens)
    site.config.write_text(text + f'\n[fleet]\ndsn = "{dsn}"\nlease_seconds = 600\n')
    return site


def _with_password(dsn: str) -> str:
    scheme, rest = dsn.split("://", 1)
    user, host = rest.split("@", 1)
    return f"{scheme}://{user}:{DSN_PASSWORD}@{host}"


@pytest.fixture(scope="module")
def fleet(pg: PgDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    root = tmp_path_factory.mktemp("fleet")
    dsn = _with_password(pg.dsn)
    site_a = _fleet_site(root / "a", dsn)
    a = ServerProcess(site_a, args=("--node", "sgu-1"))
    site_b = _fleet_site(root / "b", dsn, tokens_of=site_a, spec=SPEC_B)
    b = ServerProcess(site_b, args=("--node", "bgl-1"))
    store = FleetStore.open(pg.dsn)
    try:
        a.start()
        b.start()
        for name, url, kec in (
            ("sgu-1", a.url, ["sangatta-utara"]),
            ("bgl-1", b.url, ["bengalon"]),
            (DEAD, f"http://127.0.0.1:{free_port()}", ["sangatta-selatan"]),
        ):
            store.heartbeat(name, url=url, version="0.1.0", kecamatan=kec, capacity=8)
        _sql(
            pg.dsn, f"UPDATE nodes SET heartbeat = now() - interval '1 hour' WHERE name = '{DEAD}'"
        )
        assert store.claim(DEAD, [DEAD_CAMERA], LEASE) == [DEAD_CAMERA]
        now = store.now()
        store.record_run(
            FootageRun(DEAD, DEAD_CAMERA, now - timedelta(hours=3), now - timedelta(hours=2))
        )
        store.record_run(FootageRun("sgu-1", DEAD_CAMERA, now - timedelta(hours=2)))
        row = AuditRow(
            uuid.uuid4(),
            DEAD,
            now - timedelta(minutes=5),
            "noc",
            "admin",
            "export.request",
            "ok",
            target=DEAD_CAMERA,
        )
        store.add_audit([row])
        dead_url = next(n.url for n in store.nodes() if n.name == DEAD)
        yield Fleet(pg, store, a, b, dead_url, row.id)
    finally:
        for server in (a, b):
            if server.running:
                server.stop()
        store.close()


def _problem(resp: httpx.Response, status: int) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body: dict[str, object] = resp.json()
    assert body["status"] == status and body["detail"]
    return body


def _api(node: ServerProcess, role: str | None = "admin") -> httpx.Client:
    return node.client(role)


# --------------------------------------------------------------------------- reads


def test_nodes_lists_every_node_with_its_health(fleet: Fleet) -> None:
    with _api(fleet.a, "viewer") as api:
        body = api.get("/api/v1/fleet/nodes").json()
    # The control for the single node's test below: a fleet node has libpq loaded.
    assert fleet.a.proc is not None
    assert "libpq" in Path(f"/proc/{fleet.a.proc.pid}/maps").read_text()
    assert body["node"] == "sgu-1" and body["lease_seconds"] == 600
    nodes = {n["name"]: n for n in body["nodes"]}
    assert set(nodes) == {"sgu-1", "bgl-1", DEAD}
    assert nodes["sgu-1"]["url"] == fleet.a.url and nodes["bgl-1"]["url"] == fleet.b.url
    assert nodes["sgu-1"]["alive"] and nodes["bgl-1"]["alive"]
    assert not nodes[DEAD]["alive"] and nodes[DEAD]["heartbeat_age"] >= 3600
    assert nodes[DEAD]["leases"] == 1  # the long lease seeded above
    assert nodes[DEAD]["kecamatan"] == ["sangatta-selatan"]
    # Every node answers from the same store.
    with _api(fleet.b, "viewer") as api:
        other = api.get("/api/v1/fleet/nodes").json()
    assert {n["name"] for n in other["nodes"]} == set(nodes) and other["node"] == "bgl-1"


def test_where_names_the_lease_holder_and_the_runs_of_an_instant(fleet: Fleet) -> None:
    now = fleet.store.now()
    earlier = (now - timedelta(hours=2, minutes=30)).isoformat()
    with _api(fleet.a, "viewer") as api:
        current = api.get(f"/api/v1/fleet/where/{DEAD_CAMERA}").json()
        past = api.get(f"/api/v1/fleet/where/{DEAD_CAMERA}", params={"at": earlier}).json()
        unknown = api.get("/api/v1/fleet/where/no-such-cam")
        bad_at = api.get(f"/api/v1/fleet/where/{DEAD_CAMERA}", params={"at": "yesterday"})
    assert current["lease"]["node"] == DEAD and current["lease"]["live"]
    assert [r["node"] for r in current["runs"]] == ["sgu-1"]
    assert current["runs"][0]["end"] is None
    assert [r["node"] for r in past["runs"]] == [DEAD]
    assert "no-such-cam" in str(_problem(unknown, 404)["detail"])
    assert "accepted" in str(_problem(bad_at, 422)["detail"])


def test_catalogue_lists_the_runs_of_a_window(fleet: Fleet) -> None:
    now = fleet.store.now()
    since = (now - timedelta(hours=4)).isoformat()
    with _api(fleet.a, "viewer") as api:
        runs = api.get("/api/v1/fleet/catalogue", params={"camera": DEAD_CAMERA, "since": since})
        recent = api.get("/api/v1/fleet/catalogue", params={"camera": DEAD_CAMERA})
        backwards = api.get(
            "/api/v1/fleet/catalogue",
            params={"camera": DEAD_CAMERA, "since": now.isoformat(), "until": since},
        )
        no_camera = api.get("/api/v1/fleet/catalogue")
    assert [r["node"] for r in runs.json()] == [DEAD, "sgu-1"]
    assert [r["node"] for r in recent.json()] == [DEAD, "sgu-1"]  # 24 h back by default
    assert "must be after" in str(_problem(backwards, 422)["detail"])
    _problem(no_camera, 422)


def test_fleet_audit_is_for_admins(fleet: Fleet) -> None:
    with _api(fleet.a) as api:
        rows = api.get("/api/v1/fleet/audit").json()
        later = api.get("/api/v1/fleet/audit", params={"since": "2999-01-01T00:00:00Z"})
        bad = api.get("/api/v1/fleet/audit", params={"since": "2026-12-05"})
        too_many = api.get("/api/v1/fleet/audit", params={"limit": 0})
    assert any(r["id"] == str(fleet.audit_id) and r["node"] == DEAD for r in rows)
    assert later.json() == []
    assert "is not a time; accepted" in str(_problem(bad, 422)["detail"])
    _problem(too_many, 422)
    assert "admin" in str(
        _problem(fleet.a.get("/api/v1/fleet/audit", role="viewer"), 403)["detail"]
    )
    _problem(fleet.a.get("/api/v1/fleet/nodes", role=None), 401)


# --------------------------------------------------------------------------- --fleet
# Before anything is published: each node records the cameras of its own file (after a
# publish the fleet's placement decides, and the apply tests below publish node a's).


def test_status_fleet_asks_every_node_and_names_the_unreachable_one(fleet: Fleet) -> None:
    res = run_cctvctl("status", "--fleet", env=fleet.env("viewer"))
    assert res.returncode == 3, res.stderr  # partial: one node did not answer
    # Shown as unreachable, and nothing else about it: no camera of it counted offline.
    dead_lines = [line for line in res.stdout.splitlines() if DEAD in line]
    assert dead_lines == [f"{DEAD}: node unreachable, cameras unknown"]
    assert "sgu-1" in res.stdout and "bgl-1" in res.stdout
    assert DEAD in res.stderr
    as_json = run_cctvctl("status", "--fleet", "--json", env=fleet.env("viewer"))
    nodes = {n["node"]: n for n in json.loads(as_json.stdout)["nodes"]}
    assert nodes["sgu-1"]["ok"] and nodes["bgl-1"]["ok"] and not nodes[DEAD]["ok"]
    assert nodes[DEAD]["exit_code"] == 5 and nodes[DEAD]["url"] == fleet.dead_url
    assert nodes["bgl-1"]["result"]["cameras_total"] == 2


def test_cameras_and_health_fleet_label_each_node(fleet: Fleet) -> None:
    cams = run_cctvctl("cameras", "--fleet", env=fleet.env("viewer"))
    assert cams.returncode == 3, cams.stderr
    rows = [line.split() for line in cams.stdout.splitlines()]
    assert rows[0][0] == "NODE"
    by_node = {(r[0], r[1]) for r in rows[1:] if len(r) > 1}
    for node in (fleet.a, fleet.b):
        name = node.args[1]
        assert {(name, c) for c in node.site.camera_ids} <= by_node
    assert f"{DEAD}: node unreachable" in cams.stdout
    health = run_cctvctl("health", "--fleet", "--json", env=fleet.env("viewer"))
    assert health.returncode == 3
    answered = {n["node"]: n["ok"] for n in json.loads(health.stdout)["nodes"]}
    assert answered == {"sgu-1": True, "bgl-1": True, DEAD: False}


# --------------------------------------------------------------------------- fleet apply


def _inventory(fleet: Fleet, name: str, text: str) -> Path:
    # Beside node a's own file, so a relative secrets file is found by the CLI's check
    # and by the node's alike.
    path = fleet.a.site.dir / name
    path.write_text(text, encoding="utf-8")
    return path


def test_apply_dry_run_then_publish_then_the_same_file_again(fleet: Fleet) -> None:
    text = fleet.a.site.config.read_text()
    path = _inventory(fleet, "fleet-v1.toml", text)
    assert fleet.store.inventory() is None  # a fresh store: nothing published yet
    dry = run_cctvctl("fleet", "apply", str(path), "--dry-run", env=fleet.env("admin"))
    assert dry.returncode == 0, dry.stderr
    assert "would be version 1 (2 cameras; latest: none yet)" in dry.stdout
    assert "cameras added: " + ", ".join(fleet.a.site.camera_ids) in dry.stdout
    assert "dry run: nothing published" in dry.stdout
    assert fleet.store.inventory() is None  # nothing stored

    first = run_cctvctl("fleet", "apply", str(path), "--json", env=fleet.env("admin"))
    assert first.returncode == 0, first.stderr
    published = json.loads(first.stdout)
    latest = fleet.store.inventory()
    assert latest is not None and latest.version == published["version"]
    assert latest.toml == text and not published["unchanged"]
    assert published["version"] == 1

    again = run_cctvctl("fleet", "apply", str(path), env=fleet.env("admin"))
    assert again.returncode == 0, again.stderr
    assert f"the same as version {latest.version}" in again.stdout
    assert fleet.store.inventory() == latest

    # One camera out, one renamed: the diff says so before anything is published.
    gone, kept = fleet.a.site.camera_ids
    changed = text.replace('name = "Kamera 2"', 'name = "Kamera Dua"')
    blocks = [b for b in changed.split("\n\n") if f'id = "{gone}"' not in b]
    second = _inventory(fleet, "fleet-v2.toml", "\n\n".join(blocks))
    dry2 = run_cctvctl("fleet", "apply", str(second), "--dry-run", "--json", env=fleet.env("admin"))
    plan = json.loads(dry2.stdout)
    assert plan["dry_run"] and plan["version"] == latest.version + 1
    assert plan["cameras_removed"] == [gone] and plan["cameras_added"] == []
    assert plan["cameras_updated"] == [kept] and plan["cameras_reconnected"] == []
    assert fleet.store.inventory() == latest
    applied = run_cctvctl("fleet", "apply", str(second), env=fleet.env("admin"))
    assert applied.returncode == 0, applied.stderr
    assert f"published as version {latest.version + 1}" in applied.stdout
    assert f"cameras removed (footage kept): {gone}\n" in applied.stdout
    assert f"cameras updated in place: {kept}\n" in applied.stdout

    with _api(fleet.a) as api:
        rows = api.get("/api/v1/audit", params={"action": "fleet.apply"}).json()
    # One row per request but the dry runs.
    assert [(r["target"], r["result"]) for r in rows] == [
        ("fleet inventory v1", "ok"),
        ("fleet inventory v1", "unchanged"),
        ("fleet inventory v2", "ok"),
    ]


def test_a_bad_inventory_is_refused_with_config_checks_lines(fleet: Fleet) -> None:
    latest = fleet.store.inventory()
    text = fleet.a.site.config.read_text()
    bad = text.replace("segment_seconds = 3", 'segment_seconds = "three"').replace(
        'kind = "kantor_kecamatan"', 'kind = "warung"'
    )
    path = _inventory(fleet, "bad.toml", bad)
    check = run_cctvctl("config", "check", str(path), env=fleet.env("admin"))
    refused = run_cctvctl("fleet", "apply", str(path), env=fleet.env("admin"))
    assert check.returncode == 2 and refused.returncode == 2
    check_lines = check.stderr.strip().splitlines()
    assert len(check_lines) >= 2
    assert refused.stderr.strip().splitlines()[:-1] == check_lines
    assert "not published" in refused.stderr.strip().splitlines()[-1]
    assert fleet.store.inventory() == latest  # the old version stays

    with _api(fleet.a) as api:
        resp = api.post("/api/v1/fleet/inventory", json={"toml": bad, "file": "bad.toml"})
        not_json = api.post("/api/v1/fleet/inventory", content=b"[fleet]")
        rows = api.get("/api/v1/audit", params={"action": "fleet.apply"}).json()
    body = _problem(resp, 422)
    assert body["type"] == "urn:cctvctl:problem:invalid-inventory"
    details = [e["detail"] for e in body["errors"]]  # type: ignore[union-attr]
    assert all(d.startswith("bad.toml: ") for d in details) and len(details) == len(check_lines)
    _problem(not_json, 422)
    assert any(r["result"] == "refused" and "segment_seconds" in r["detail"] for r in rows)


def test_apply_needs_admin(fleet: Fleet) -> None:
    path = _inventory(fleet, "op.toml", fleet.a.site.config.read_text())
    res = run_cctvctl("fleet", "apply", str(path), env=fleet.env("operator"))
    assert res.returncode == 4, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- tokens


def test_token_create_fleet_stores_only_the_hash(fleet: Fleet) -> None:
    res = run_cctvctl(
        "token",
        "create",
        "--name",
        "noc-night",
        "--role",
        "viewer",
        "--fleet",
        "--json",
        env=fleet.env("admin"),
    )
    assert res.returncode == 0, res.stderr
    made = json.loads(res.stdout)
    stored = {t.name: t for t in fleet.store.tokens()}["noc-night"]
    digest = "sha256:" + hashlib.sha256(made["token"].encode()).hexdigest()
    assert stored.hash == digest and stored.role == "viewer"
    assert made["token"] not in json.dumps([t.hash for t in fleet.store.tokens()])

    def whoami(node: ServerProcess) -> int:
        with node.client(token=made["token"]) as api:
            return api.get("/api/v1/whoami").status_code

    # Made through node a, taken by node b too, from the store (its token sync).
    wait_for(lambda: whoami(fleet.b) == 200, 20, what="node b accepting the fleet token")

    viewer = run_cctvctl(
        "token", "create", "--name", "x", "--role", "admin", "--fleet", env=fleet.env("viewer")
    )
    assert viewer.returncode == 4 and "cctv_" not in viewer.stdout  # no token shown
    stray = run_cctvctl(
        "token", "create", "--name", "x", "--role", "admin", "--url", fleet.a.url, env=clean_env()
    )
    assert stray.returncode == 2 and "--fleet" in stray.stderr

    with _api(fleet.b) as api:
        assert api.delete("/api/v1/fleet/tokens/noc-night").status_code == 204
        _problem(api.delete("/api/v1/fleet/tokens/noc-night"), 404)
        bad = api.post("/api/v1/fleet/tokens", json={"name": "y", "role": "viewer", "hash": "abc"})
    assert "noc-night" not in {t.name for t in fleet.store.tokens()}
    _problem(bad, 422)
    wait_for(lambda: whoami(fleet.a) == 401, 20, what="node a refusing the removed token")
    # Each in the audit log of the node that did it (node a made it, node b removed it).
    for node, action in ((fleet.a, "fleet.token.put"), (fleet.b, "fleet.token.remove")):
        with _api(node) as api:
            rows = api.get("/api/v1/audit", params={"action": "fleet.token."}).json()
        assert [r["action"] for r in rows if r["target"] == "noc-night"] == [action]


# --------------------------------------------------------------------------- --fleet (more)


def test_audit_fleet_reads_the_fleet_log_from_one_node(fleet: Fleet) -> None:
    res = run_cctvctl("audit", "--fleet", "--since", "1h", env=fleet.env("admin"))
    assert res.returncode == 0, res.stderr
    line = next(x for x in res.stdout.splitlines() if DEAD_CAMERA in x)
    assert line.split()[0] == DEAD and "export.request" in line
    assert re.search(r"TIME \(WITA\)", res.stdout)
    both = run_cctvctl("audit", "--fleet", "--all-contexts", env=fleet.env("admin"))
    assert both.returncode == 2 and "--all-contexts" in both.stderr


@pytest.mark.parametrize(
    "args", [["fleet", "nodes", "--json"], ["status", "--fleet", "--json"]], ids=" ".join
)
def test_fleet_commands_stay_light(fleet: Fleet, args: list[str]) -> None:
    env = fleet.env("viewer")
    modules, proc = imported(args, {k: env[k] for k in ("CCTVCTL_URL", "CCTVCTL_TOKEN")})
    assert proc.returncode in (0, 3), proc.stderr[-2000:]
    assert "cctvctl.client" in modules  # the control: the run was real and was traced
    assert top_levels(modules, HEAVY) == []  # psycopg among them: only a node loads it
    assert top_levels(modules, BACKEND) == []


def test_fleet_nodes_and_where_commands(fleet: Fleet) -> None:
    nodes = run_cctvctl("fleet", "nodes", env=fleet.env("viewer"))
    assert nodes.returncode == 0, nodes.stderr
    dead = next(line for line in nodes.stdout.splitlines() if line.startswith(DEAD))
    assert "DOWN" in dead and "1/8" in dead
    assert "3 nodes, 1 down" in nodes.stdout and "HEARTBEAT (WITA)" in nodes.stdout
    where = run_cctvctl("fleet", "where", DEAD_CAMERA, "--at", "-150m", env=fleet.env("viewer"))
    assert where.returncode == 0, where.stderr
    assert f"{DEAD_CAMERA}: {DEAD} records it now" in where.stdout
    assert f"  {DEAD}: " in where.stdout and "WITA" in where.stdout
    utc = run_cctvctl("fleet", "where", DEAD_CAMERA, "--utc", env=fleet.env("viewer"))
    assert "sgu-1: " in utc.stdout and "recording" in utc.stdout and "UTC" in utc.stdout
    bad = run_cctvctl("fleet", "where", DEAD_CAMERA, "--at", "soon", env=fleet.env("viewer"))
    assert bad.returncode == 2 and bad.stderr.startswith("cctvctl: error: --at")


# --------------------------------------------------------------------------- store down


def test_a_stopped_store_is_503_naming_it_and_the_node_answers_the_rest(fleet: Fleet) -> None:
    fleet.pg.stop()
    try:
        with _api(fleet.a) as api:
            answers = [
                api.get("/api/v1/fleet/nodes"),
                api.get(f"/api/v1/fleet/where/{DEAD_CAMERA}"),
                api.get("/api/v1/fleet/audit"),
                api.get("/api/v1/fleet/catalogue", params={"camera": DEAD_CAMERA}),
                api.post("/api/v1/fleet/inventory", json={"toml": fleet.a.site.config.read_text()}),
                api.post(
                    "/api/v1/fleet/tokens",
                    json={"name": "z", "role": "viewer", "hash": "sha256:" + "0" * 64},
                ),
                api.delete("/api/v1/fleet/tokens/z"),
            ]
            cameras = api.get("/api/v1/cameras")
        port = fleet.pg.engine.port
        for resp in answers:
            body = _problem(resp, 503)
            assert f"127.0.0.1:{port}" in str(body["detail"]), body
            assert DSN_PASSWORD not in resp.text
            assert resp.headers["retry-after"]
        assert cameras.status_code == 200  # the rest of the node does not wait
        res = run_cctvctl("fleet", "nodes", env=fleet.env("viewer"))
        assert res.returncode == 1 and len(res.stderr.strip().splitlines()) == 1
        assert "cannot be reached" in res.stderr
    finally:
        fleet.pg.start()
    with _api(fleet.a, "viewer") as api:
        assert api.get("/api/v1/fleet/nodes").status_code == 200
    assert DSN_PASSWORD not in fleet.a.log_text()


# --------------------------------------------------------------------------- single node


def test_a_single_node_says_it_is_not_in_a_fleet(tmp_path: Path) -> None:
    site = write_site(tmp_path / "single", SPEC)
    server = ServerProcess(site).start()
    try:
        with server.client("admin") as api:
            answers = [
                api.get("/api/v1/fleet/nodes"),
                api.get("/api/v1/fleet/where/sgu-cam-01"),
                api.get("/api/v1/fleet/audit"),
                api.get("/api/v1/fleet/catalogue", params={"camera": "x"}),
                api.post("/api/v1/fleet/inventory", json={"toml": "x"}),
                api.post(
                    "/api/v1/fleet/tokens",
                    json={"name": "z", "role": "viewer", "hash": "sha256:" + "0" * 64},
                ),
                api.delete("/api/v1/fleet/tokens/z"),
            ]
        for resp in answers:
            body = _problem(resp, 404)
            assert body["type"] == "urn:cctvctl:problem:not-in-fleet"
            assert "[fleet]" in str(body["detail"])
        # Having answered every fleet route, the single node still has no libpq loaded.
        assert server.proc is not None
        assert "libpq" not in Path(f"/proc/{server.proc.pid}/maps").read_text()
        env = clean_env() | {
            "CCTVCTL_CONFIG": NO_CONFIG,
            "CCTVCTL_URL": server.url,
            "CCTVCTL_TOKEN": site.tokens["viewer"],
        }
        res = run_cctvctl("status", "--fleet", env=env)
        assert res.returncode == 2 and "not in a fleet" in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1 and res.stdout == ""
    finally:
        server.stop()


def test_an_inventory_past_4_mib_is_413_and_one_past_the_usual_cap_is_read(fleet: Fleet) -> None:
    text = fleet.a.site.config.read_text()
    # Past the 256 KiB most bodies may have: a comment block keeps it a valid inventory.
    padded = text + "\n" + ("# " + "x" * 1000 + "\n") * 300
    with _api(fleet.a) as api:
        big = api.post("/api/v1/fleet/inventory", json={"toml": padded, "dry_run": True})
        huge = api.post("/api/v1/fleet/inventory", json={"toml": "#" * (5 * 1024 * 1024)})
    assert big.status_code == 200, big.text
    assert big.json()["dry_run"] and big.json()["cameras"] == 2
    _problem(huge, 413)


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://cctv:s3cret@noc-db.kutimkab.go.id/cctv", "noc-db.kutimkab.go.id:5432"),
        ("postgresql://cctv:s3cret@10.8.0.5:6432/cctv?sslmode=require", "10.8.0.5:6432"),
        ("postgres://cctv:s3cret@[fd00::5]:5433/cctv", "fd00::5:5433"),
        ("postgresql:///cctv?host=/run/postgresql&password=s3cret", "/run/postgresql:5432"),
    ],
)
def test_the_store_is_named_by_host_and_port_only(dsn: str, shown: str) -> None:
    assert store_address(dsn) == shown
