"""A fleet node's traffic with the fleet store that must never make the node wait.

One background thread, started by ``running()`` only on a fleet node, does three duties
each pass (every ``interval`` seconds):

- **tokens**: reads the fleet's API tokens and, when they changed, makes the running
  :class:`~cctvctl.server.credentials.TokenStore` accept them besides the local file's,
  and keeps a copy in the node's database (``storage/token_cache.py``), which is what a
  node started while the store is down accepts. The node's own token (made at start,
  kept in memory only, :attr:`FleetSync.node_token`) goes in as ``node:NAME`` with the
  operator role, only its hash, whenever the store does not hold it: other nodes accept
  it within a pass, and a node asks them for their part of an export with it;
- **audit**: sends the audit rows written here since the last acknowledged one
  (``storage/outbox.py``), oldest first, in batches, each with the uuid made when the row
  was written, so a batch sent again after a lost reply is stored once;
- **footage catalogue**: folds the segments indexed since the last pass into runs
  (``storage/runs.py``) and sends the runs that are new or whose end moved on, a batch
  per call.

The store being unreachable ends a pass early (one warning per outage); everything stays
queued in SQLite and goes out, in order, on the first pass that reaches the store again.
No request and no event-loop task ever waits on the store: only this thread talks to it.
At shutdown the thread makes one last pass with a short deadline, after the recorder has
closed and indexed its open segments (``running()`` stops it after the recorder).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Final

from cctvctl.config import Inventory, TokenConfig, hash_token
from cctvctl.exports.peers import node_token_name
from cctvctl.fleet.store import AuditRow, FleetStore, FootageRun, StoreUnavailable
from cctvctl.models import Role
from cctvctl.server.credentials import TokenStore
from cctvctl.storage.audit import AuditLog, KeyedEntry
from cctvctl.storage.database import Database
from cctvctl.storage.outbox import AuditOutbox
from cctvctl.storage.runs import RunCatalogue
from cctvctl.storage.token_cache import CachedToken, TokenCache
from cctvctl.units import counted

__all__ = ["DEFAULT_INTERVAL", "FLUSH_SECONDS", "FleetSync"]

log = logging.getLogger(__name__)

#: Seconds between passes: how late a removed fleet token may still be accepted, and how
#: long an audit row or a closed segment waits before it is sent.
DEFAULT_INTERVAL: Final = 2.0
#: Rows (or runs) per call to the store.
BATCH: Final = 500
#: How long the last pass at shutdown may take; what it leaves is sent at the next start.
FLUSH_SECONDS: Final = 3.0
#: A break longer than this many segment lengths starts a new footage run.
RUN_GAP_SEGMENTS: Final = 2.0


class FleetSync:
    """The thread that keeps the fleet store in step with this node (see the module)."""

    def __init__(
        self,
        store: FleetStore,
        db: Database,
        tokens: TokenStore,
        *,
        node: str,
        run_gap: float,
        interval: float = DEFAULT_INTERVAL,
        batch: int = BATCH,
    ) -> None:
        self.store = store
        self.node = node
        self.tokens = tokens
        self.outbox = AuditOutbox(AuditLog(db))
        self.catalogue = RunCatalogue(db, gap=run_gap)
        self.token_cache = TokenCache(db)
        self.interval = interval
        self.batch = batch
        self._known_tokens: list[CachedToken] | None = None
        #: This node's fleet token for other nodes' APIs: random per start, never stored
        #: or logged (its hash is in the store), so a stolen disk holds none.
        self.node_token = secrets.token_urlsafe(32)
        self._node_token_hash = hash_token(self.node_token)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._down = False
        self._failure: str | None = None

    @classmethod
    def for_node(
        cls, store: FleetStore, db: Database, tokens: TokenStore, inventory: Inventory
    ) -> FleetSync:
        """The sync of the node ``inventory`` describes (its name, its segment length)."""
        node = inventory.server.node
        if node is None:
            raise ValueError("a fleet node needs a name: [server] node or cctvctl server --node")
        gap = RUN_GAP_SEGMENTS * inventory.server.segment_seconds
        return cls(store, db, tokens, node=node, run_gap=gap)

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Accept the fleet tokens last read (the store may be down now), then run."""
        cached = self.token_cache.load()
        self._use_tokens(cached)
        if cached:
            log.info("fleet tokens from the local copy: %s", counted(len(cached), "token"))
        self._thread = threading.Thread(target=self._loop, name="fleet-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Make the last pass (at most about :data:`FLUSH_SECONDS`) and end the thread."""
        self._stopping.set()
        thread = self._thread
        if thread is None:
            return
        thread.join(FLUSH_SECONDS + 1.0)
        if thread.is_alive():
            # Stuck in a call on a dead link: what it was sending stays queued locally.
            log.warning(
                "fleet store did not answer the last flush within %g s; "
                "the rows not acknowledged are sent at the next start",
                FLUSH_SECONDS,
            )

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self.sync_once()
            self._stopping.wait(self.interval)
        self.sync_once(deadline=time.monotonic() + FLUSH_SECONDS)

    # ------------------------------------------------------------------ one pass

    def sync_once(self, deadline: float | None = None) -> bool:
        """One pass of every duty; True when the store took everything queued."""
        try:
            self.catalogue.update()
            self._refresh_tokens()
            done = self._send_audit(deadline) and self._send_runs(deadline)
        except StoreUnavailable as error:
            if not self._down:
                log.warning(
                    "%s; recording goes on, audit rows and footage runs wait here (%s queued)",
                    error,
                    counted(self.outbox.backlog(), "audit row"),
                )
            self._down = True
            return False
        except Exception as error:  # the thread must outlive any one failed pass
            text = f"{type(error).__name__}: {error}"
            if text != self._failure:
                log.exception("fleet sync pass failed; retrying every %g s", self.interval)
            self._failure = text
            return False
        if self._down:
            log.info("fleet store reachable again; queued audit rows and footage runs sent")
        self._down = False
        self._failure = None
        return done

    def _refresh_tokens(self) -> None:
        stored = self.store.tokens()
        name = node_token_name(self.node)
        if not any(t.name == name and t.hash == self._node_token_hash for t in stored):
            self.store.put_token(name, Role.OPERATOR.value, self._node_token_hash)
            log.info("fleet token %s (this node's, for the other nodes) put in the store", name)
            stored = self.store.tokens()
        current = [CachedToken(t.name, t.role, t.hash) for t in stored]
        if current == self._known_tokens:
            return
        self.token_cache.save(current)
        self._use_tokens(current)
        log.info("fleet tokens from the store: %s", counted(len(current), "token"))

    def _use_tokens(self, tokens: list[CachedToken]) -> None:
        self._known_tokens = tokens
        self.tokens.use_fleet(_token_configs(tokens))

    def _send_audit(self, deadline: float | None) -> bool:
        while not _past(deadline):
            pending = self.outbox.pending(self.batch)
            if not pending:
                return True
            self.store.add_audit([self._audit_row(keyed) for keyed in pending])
            self.outbox.acknowledge(pending[-1].entry.id)
        return False

    def _send_runs(self, deadline: float | None) -> bool:
        while not _past(deadline):
            runs = self.catalogue.unsent(self.batch)
            if not runs:
                return True
            self.store.record_runs([FootageRun(self.node, r.camera, r.start, r.end) for r in runs])
            self.catalogue.acknowledge(runs)
        return False

    def _audit_row(self, keyed: KeyedEntry) -> AuditRow:
        e = keyed.entry
        return AuditRow(
            id=uuid.UUID(keyed.uuid),
            node=self.node,
            time=e.time,
            actor=_text(e.actor),
            role=e.role,
            action=e.action,
            result=e.result,
            target=_optional_text(e.target),
            reason=_optional_text(e.reason),
            case_id=_optional_text(e.case_id),
            # The store's detail is JSON; the node's is a line of text.
            detail=None if e.detail is None else {"text": _text(e.detail)},
        )


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _text(value: str) -> str:
    # PostgreSQL text cannot hold NUL; a row it refused would stop the queue behind it.
    return value.replace("\x00", "\\x00")


def _optional_text(value: str | None) -> str | None:
    return None if value is None else _text(value)


def _token_configs(tokens: Iterable[CachedToken]) -> list[TokenConfig]:
    configs = []
    for t in tokens:
        try:
            configs.append(TokenConfig(name=t.name, role=Role(t.role), hash=t.hash))
        except ValueError:
            log.warning("fleet token %r ignored: role or hash not usable", t.name)
    return configs
