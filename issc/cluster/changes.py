"""Changes made in any process to the saved settings or the watchlist, delivered to a callback.

A camera worker keeps the tuning and the watchlist in memory; the dashboard changes them in the
database. :class:`ChangeFeed` tells the worker, on a thread of its own (``issc-changes``):

* on PostgreSQL it ``LISTEN``\\ s on ``issc_changes`` on a dedicated connection (never a pooled one),
  which the store notifies in the same transaction as every change
  (:func:`issc.store.settings.notify_change`): a change arrives within milliseconds of its commit.
  A lost connection is opened again with backoff (1 s doubling to 30 s);
* everywhere it also polls, every ``poll_s`` (1 s, so that a change arrives within 2 s even
  without notices), a fingerprint of the ``settings``, ``watchlist``, ``cameras`` and
  ``camera_zones`` tables, so that a notice missed while the connection was down, or SQLite (which has
  no notices), still converges within one poll.

A burst of notices (a page saving several values) is delivered once, ``debounce_s`` after its first
notice. The callback gets the topics that changed (:data:`SETTINGS`, :data:`WATCHLIST`); when it
raises, the change is offered again at the next poll. Nothing this module logs holds the database
password (:func:`issc.redact.redact`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa

from issc.redact import error_line, redact_url
from issc.store import schema
from issc.store.analytics import ZONES_CHANGED
from issc.store.cameras import CAMERAS_CHANGED
from issc.store.settings import CHANGES_CHANNEL, SETTING_PREFIX, WATCHLIST_CHANGED

if TYPE_CHECKING:
    from issc.store.watchlist import WatchlistTable
    from issc.tuning import TuningBook


class ShapesReader(Protocol):
    """Whatever reads the stored lines and zones again and hands them to the running cameras."""

    def reload_shapes(self) -> None:
        """Read every camera's lines and zones and apply them (raises when the database is away)."""


logger = logging.getLogger(__name__)

#: Topics handed to the callback (cameras: the stored cameras of the Cameras page; zones: the
#: cameras' counting lines and zones).
SETTINGS, WATCHLIST, CAMERAS, ZONES = "settings", "watchlist", "cameras", "zones"
TOPICS = frozenset({SETTINGS, WATCHLIST, CAMERAS, ZONES})
#: Seconds between two fingerprint polls.
POLL_S = 1.0
#: Seconds a burst of notices is gathered before it is delivered.
DEBOUNCE_S = 0.05
#: Longest wait for notices in one step: :meth:`ChangeFeed.stop` is answered within it.
WAKE_S = 0.2
#: Backoff of the listening connection's reconnects: first wait, longest wait (seconds).
RECONNECT_FIRST_S, RECONNECT_MAX_S = 1.0, 30.0
#: Seconds a connection attempt may take (libpq's least), and the TCP keepalives (idle, interval, probes).
CONNECT_TIMEOUT_S = 2
KEEPALIVE = (5, 1, 3)

ChangeCallback = Callable[[frozenset[str]], None]


def topic_of(payload: str) -> str | None:
    """The topic of a notice's payload (``setting:<key>`` or ``watchlist``); ``None``: not ours."""
    if payload.startswith(SETTING_PREFIX):
        return SETTINGS
    if payload == CAMERAS_CHANGED:
        return CAMERAS
    if payload == ZONES_CHANGED:
        return ZONES
    return WATCHLIST if payload == WATCHLIST_CHANGED else None


def fingerprints(engine: sa.Engine) -> dict[str, str]:
    """A digest of every row of the settings, watchlist, cameras and camera_zones tables, by topic
    (four small reads)."""
    s, w, c, z = schema.settings, schema.watchlist, schema.cameras, schema.camera_zones
    with engine.connect() as conn:
        settings = conn.execute(sa.select(s.c.key, s.c.value).order_by(s.c.key)).all()
        watchlist = conn.execute(
            sa.select(w.c.id, w.c.plate, w.c.label, w.c.max_distance).order_by(w.c.id)
        ).all()
        cameras = conn.execute(sa.select(c.c.name, c.c.updated_ms).order_by(c.c.name)).all()
        zones = conn.execute(sa.select(z.c.camera, z.c.updated_ms).order_by(z.c.camera)).all()
    return {
        SETTINGS: _digest(settings),
        WATCHLIST: _digest(watchlist),
        CAMERAS: _digest(cameras),
        ZONES: _digest(zones),
    }


def _digest(rows: list[Any]) -> str:
    return hashlib.blake2b(repr([tuple(r) for r in rows]).encode(), digest_size=16).hexdigest()


class _Listener:
    """The dedicated ``LISTEN issc_changes`` connection (psycopg 3), reopened with backoff.

    Used by one thread at a time: opened by :meth:`ChangeFeed.start`, then only by the feed's thread.
    """

    def __init__(self, url: sa.URL) -> None:
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._shown = redact_url(url.render_as_string(hide_password=True))
        self._conn: Any = None
        self._retry_at = 0.0
        self._backoff = RECONNECT_FIRST_S
        self._failing = False  # the last attempt failed: later failures are logged at debug level

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def connect(self) -> bool:
        """Open the connection and ``LISTEN`` when it is time to try; True when connected."""
        if self._conn is not None:
            return True
        if time.monotonic() < self._retry_at:
            return False
        conn = None
        try:
            import psycopg

            conn = psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                keepalives=1,
                keepalives_idle=KEEPALIVE[0],
                keepalives_interval=KEEPALIVE[1],
                keepalives_count=KEEPALIVE[2],
            )
            self._listen(conn)
        except Exception as exc:  # ImportError, psycopg.Error: poll until the next try
            if conn is not None:
                conn.close()
            self._failed(f"cannot listen for changes on {self._shown} ({error_line(exc)})")
            return False
        logger.log(
            logging.INFO if self._failing else logging.DEBUG, "listening for changes on %s", self._shown
        )
        self._conn, self._failing, self._backoff = conn, False, RECONNECT_FIRST_S
        return True

    @staticmethod
    def _listen(conn: Any) -> None:
        try:  # a server-wide idle_session_timeout would end this idle connection
            conn.execute("SET idle_session_timeout = 0")
        except Exception:  # PostgreSQL before 14 has none
            pass
        conn.execute(f"LISTEN {CHANGES_CHANNEL}")

    def receive(self, timeout: float, first: bool) -> set[str]:
        """Topics of the notices arriving within ``timeout`` (``first``: return at the first one).

        Raises nothing: a broken connection is closed, and reopened later with backoff.
        """
        try:
            notices = list(self._conn.notifies(timeout=timeout, stop_after=1 if first else None))
        except Exception as exc:  # psycopg.OperationalError: the server or the network went away
            self.close()
            self._failed(f"the change listener lost {self._shown} ({error_line(exc)}); polling meanwhile")
            return set()
        return {topic for n in notices if (topic := topic_of(n.payload)) is not None}

    def _failed(self, message: str) -> None:
        logger.log(logging.DEBUG if self._failing else logging.WARNING, "%s", message)
        self._failing = True
        self._retry_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, RECONNECT_MAX_S)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken: nothing left to close
                logger.debug("closing the change listener failed", exc_info=True)


class ChangeFeed:
    """Calls ``on_change(topics)`` when the settings or the watchlist changed in any process.

    Args:
        engine: Engine of the history database (its URL opens the listening connection).
        on_change: Called on the feed's thread with the topics that changed (a frozenset of
            :data:`SETTINGS`, :data:`WATCHLIST`); when it raises, they are offered again at the next poll.
        poll_s: Seconds between two fingerprint polls (the delivery time without notices).
        listen: Listen for PostgreSQL notices (False: poll only; SQLite always polls only).
        debounce_s: Seconds a burst of notices is gathered before it is delivered.
    """

    def __init__(
        self,
        engine: sa.Engine,
        on_change: ChangeCallback,
        *,
        poll_s: float = POLL_S,
        listen: bool = True,
        debounce_s: float = DEBOUNCE_S,
    ) -> None:
        if poll_s <= 0 or debounce_s < 0:
            raise ValueError(f"poll_s={poll_s} must be above 0 and debounce_s={debounce_s} at least 0")
        self.engine = engine
        self.poll_s = poll_s
        self.debounce_s = debounce_s
        self._on_change = on_change
        postgres = engine.dialect.name == "postgresql"
        self._listener = _Listener(engine.url) if listen and postgres else None
        self._seen: dict[str, str] = {}  # fingerprints last delivered ({}: unknown, every topic differs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def listening(self) -> bool:
        """Whether notices arrive now (the listening connection is open)."""
        return self._listener is not None and self._listener.connected

    def start(self) -> ChangeFeed:
        """Open the listening connection and read the fingerprints now (what later polls compare
        with), then start the thread. A database that cannot be reached now is tried again later."""
        if self._thread is not None:
            return self
        if self._listener is not None:
            self._listener.connect()
        self._seen = self._read_fingerprints() or {}
        self._thread = threading.Thread(target=self._run, name="issc-changes", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread (within :data:`WAKE_S`, or a database call under way) and close the connection."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("the change feed did not stop within %g s", timeout)
                return
        if self._listener is not None:
            self._listener.close()

    # --- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        next_poll = time.monotonic() + self.poll_s
        while not self._stop.is_set():
            try:
                changed, now = self._wait(max(next_poll - time.monotonic(), 0.0)), None
                if time.monotonic() >= next_poll:
                    polled, now = self._poll()
                    changed |= polled
                    next_poll = time.monotonic() + self.poll_s
                if changed:
                    self._deliver(frozenset(changed), now)
            except Exception:  # the feed never dies: log, go on
                logger.exception("the change feed failed a round")
                self._stop.wait(WAKE_S)
        if self._listener is not None:
            self._listener.close()

    def _wait(self, timeout: float) -> set[str]:
        """Topics notified within ``timeout`` (at most :data:`WAKE_S`), a burst gathered whole."""
        timeout = min(timeout, WAKE_S)
        listener = self._listener
        if listener is None or not listener.connect():
            self._stop.wait(timeout)
            return set()
        changed = listener.receive(timeout, first=True)
        if changed and self.debounce_s > 0 and listener.connected:
            changed |= listener.receive(self.debounce_s, first=False)
        return changed

    def _poll(self) -> tuple[set[str], dict[str, str] | None]:
        """Topics whose fingerprint differs from the last one delivered, and the fingerprints read."""
        now = self._read_fingerprints()
        if now is None:
            return set(), None
        return {topic for topic, digest in now.items() if self._seen.get(topic) != digest}, now

    def _deliver(self, topics: frozenset[str], now: dict[str, str] | None = None) -> None:
        """Hand ``topics`` to the callback; ``now``: fingerprints just read by a poll (else read here,
        before the callback, so that a later change differs from them)."""
        before = self._seen
        now = now or self._read_fingerprints()
        if now is not None:
            self._seen = {**before, **{t: now[t] for t in topics}}
        try:
            self._on_change(topics)
        except Exception as exc:
            self._seen = {t: d for t, d in self._seen.items() if t not in topics}  # offered again
            logger.warning(
                "a change of %s was not applied (tried again): %s", sorted(topics), error_line(exc)
            )

    def _read_fingerprints(self) -> dict[str, str] | None:
        try:
            return fingerprints(self.engine)
        except Exception as exc:  # the database is away: the next poll tries again
            logger.debug("change fingerprints not read: %s", error_line(exc))
            return None


def reload_changed(
    topics: frozenset[str],
    tuning: TuningBook,
    camera_names: Iterable[str],
    watchlist: WatchlistTable,
    shapes: ShapesReader | None = None,
) -> None:
    """Read again what a process keeps in memory after ``topics`` changed in another process: the
    saved tuning of ``camera_names`` (an override cleared elsewhere is dropped, the cameras are
    retuned), the watchlist, and/or (with ``shapes``) the cameras' counting lines and zones. Raises
    when the database cannot be read (a feed offers it again)."""
    if SETTINGS in topics:
        tuning.load(camera_names)
    if WATCHLIST in topics:
        watchlist.reload_watchlist()
    if ZONES in topics and shapes is not None:
        shapes.reload_shapes()


__all__ = [
    "CAMERAS",
    "POLL_S",
    "SETTINGS",
    "TOPICS",
    "WATCHLIST",
    "ZONES",
    "ChangeCallback",
    "ChangeFeed",
    "ShapesReader",
    "fingerprints",
    "reload_changed",
    "topic_of",
]
