"""A real PostgreSQL for the tests, from Debian's ``postgresql`` package (``make sysdeps``).

One engine per xdist worker (a session fixture), initdb'd into a temporary folder and
listening on a free port on 127.0.0.1, its unix socket in that folder. PostgreSQL refuses to
run as root, so on CI (root) initdb and the server run as the ``postgres`` user, who owns the
folder. Durability against a lost machine is traded for speed (fsync off): a test engine
holds nothing worth keeping.
Each test module gets a fresh database made from a template, so modules never see each
other's rows.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import psycopg
from harness import free_port

__all__ = ["FLEET_TABLES", "PgDatabase", "PgEngine", "find_pg_bin", "sql", "temporary_root"]

#: The fleet store's tables, emptied (not dropped) between tests by the ``fleet_store``
#: fixture (``tests/conftest.py``).
FLEET_TABLES: Final = "nodes, inventory_versions, api_tokens, leases, audit, footage_runs"

# Settings for a throwaway engine: no flush to disk (a lost machine loses it, a crashed
# server does not: the OS still holds what was written), few connections. Not
# synchronous_commit=off: a server crash would then lose the last commits, and the
# crash-restart tests must see every committed row.
_FAST = ("fsync=off", "full_page_writes=off")
_COMMON = ("max_connections=60", "shared_buffers=32MB", "listen_addresses='127.0.0.1'")


def sql(dsn: str, statement: str) -> list[tuple[object, ...]]:
    """Run one statement beside the store, as an operator with psql would."""
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(statement.encode())
        return cur.fetchall() if cur.description else []


def find_pg_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb, or None."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not found:
        return None
    newest = max(found, key=lambda p: int(Path(p).parent.parent.name.split(".")[0]))
    return Path(newest).parent


def temporary_root() -> Path:
    """A short folder under /tmp (a unix socket path must fit in 107 bytes), private to it."""
    return Path(tempfile.mkdtemp(prefix="cctvctl-pg-"))


@dataclass
class PgEngine:
    """One PostgreSQL server: ``start()``, ``stop()`` (and start again), ``create_database``."""

    bin_dir: Path
    root: Path
    port: int = field(default_factory=free_port)
    durable: bool = False  # True: PostgreSQL's own flush settings (benchmarks/fleet.py)
    _databases: int = 0

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def superuser(self) -> str:
        return "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.superuser}@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        proc = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=self.root
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
        return proc

    def init(self) -> PgEngine:
        """Create the cluster (trust for loopback and the socket: a test engine)."""
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            for path in (self.root, self.socket_dir):
                shutil.chown(path, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb",
            "--pgdata",
            str(self.data_dir),
            "--auth",
            "trust",
            "--username",
            self.superuser,
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",
        )
        return self

    def start(self) -> PgEngine:
        options = " ".join(
            [f"-c {setting}" for setting in (*_COMMON, *(() if self.durable else _FAST))]
            + [f"-p {self.port}", f"-k {self.socket_dir}"]
        )
        self._run(
            "pg_ctl",
            "start",
            "--pgdata",
            str(self.data_dir),
            "--wait",
            "--timeout",
            "60",
            "--log",
            str(self.root / "server.log"),
            "-o",
            options,
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast`` ends sessions; ``immediate`` is a crash)."""
        self._run("pg_ctl", "stop", "--pgdata", str(self.data_dir), "--wait", "-m", mode)

    @property
    def running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        proc = self._run(
            "psql",
            "--no-psqlrc",
            "--quiet",
            "--tuples-only",
            "--no-align",
            "--set",
            "ON_ERROR_STOP=1",
            "--host",
            str(self.socket_dir),
            "--port",
            str(self.port),
            "--username",
            self.superuser,
            "--dbname",
            dbname,
            "--command",
            sql,
        )
        return proc.stdout.strip()

    def create_database(self, prefix: str = "t") -> str:
        """A fresh, empty database (from template0); returns its DSN."""
        self._databases += 1
        name = f"{prefix}_{self._databases}"
        self.psql(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.dsn(name)

    def close(self) -> None:
        if self.running:
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass(frozen=True)
class PgDatabase:
    """One test module's database on the worker's engine, which it can stop and restart."""

    dsn: str
    engine: PgEngine

    def stop(self, mode: str = "fast") -> None:
        self.engine.stop(mode)

    def start(self) -> None:
        self.engine.start()
