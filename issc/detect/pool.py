"""A pool of inference servers: round-robin over the healthy ones, backoff for each failing one.

``API_URL`` may name several servers (Roboflow's self-hosted ``inference`` server speaks the same
API as the hosted one). :class:`ServerPool` decides, for each frame, which servers to try and in
what order; it does no HTTP itself (the caller does, and :func:`health_problem` is the check), so
it is tested with a fake clock. :class:`~issc.detect.roboflow.RoboflowDetector` reports every
outcome back:

* healthy servers take turns (round-robin), so the load spreads over them;
* a server that fails (no connection, timeout, 5xx, 429) is down for 1 s, doubling with each
  failure in a row up to 30 s, or as long as its ``Retry-After`` asked; the caller tries the same
  frame on the next healthy server at once, so a dead server costs one timeout, then nothing
  while it is backed off;
* when its backoff ends, one caller (only one, whatever the number of camera threads) gets it at
  the head of its plan, marked for a light health check (``GET /info`` on an ``inference``
  server); the server is back in rotation when that answers.

With one server the pool never holds it back: the analysis worker's own backoff applies, as it
always did. The pool's state is guarded by a lock that is never held during an HTTP call.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import aiohttp

logger = logging.getLogger(__name__)
RETRY_AFTER_MAX_S = 3600.0  # a longer Retry-After is honoured up to an hour, then asked again
BACKOFF_S = 1.0
BACKOFF_MAX_S = 30.0
HEALTH_PATH = "/info"  # what an inference server answers without a key (the SDK's get_server_info)


def display_url(url: str) -> str:
    """The URL without user info or query, fit for messages and status pages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent.

    Args:
        value: The header's value.
        now: The current time (epoch seconds) for dates; default: now.

    Returns:
        Seconds in [0, :data:`RETRY_AFTER_MAX_S`], or None when the value is absent or unreadable.
    """
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_MAX_S)


async def health_problem(url: str, timeout_s: float) -> str | None:
    """The light health check of a server: ``GET {url}/info``, without the key.

    Args:
        url: The server's base URL.
        timeout_s: Longest wait for the answer.

    Returns:
        None when the server answers anything but 429 or 5xx (the hosted API has no ``/info``, and
        its 404 proves it is up), else what went wrong.
    """
    try:
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url + HEALTH_PATH) as answer,
        ):
            return None if answer.status < 500 and answer.status != 429 else f"HTTP {answer.status}"
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"[:200] if str(exc) else type(exc).__name__


@dataclass(frozen=True)
class ServerState:
    """One server of the pool as a status page shows it.

    Attributes:
        url: The server's URL without credentials or query.
        healthy: Whether it is in rotation.
        calls: Inference calls sent to it.
        failures: Failed calls and failed health checks.
        retry_at: When a down server is checked again (epoch seconds); None while healthy.
    """

    url: str
    healthy: bool
    calls: int
    failures: int
    retry_at: float | None


@dataclass
class _Slot:
    """The mutable state of one server, only touched under the pool's lock."""

    name: str
    healthy: bool = True
    calls: int = 0
    failures: int = 0
    in_a_row: int = 0
    retry_mono: float = 0.0
    probing: bool = False


#: One step of a plan: the server's index and whether it needs a health check first.
Turn = tuple[int, bool]


class ServerPool:
    """Which servers to try for one call, and what their answers mean for the next calls.

    Args:
        names: Display URLs of the servers, in ``API_URL`` order.
        backoff_s: First backoff of a failing server.
        backoff_max_s: Longest backoff (a ``Retry-After`` may ask for more).
        clock: Monotonic seconds; a test passes a fake one.

    Raises:
        ValueError: No server, or a backoff that is not positive.
    """

    def __init__(
        self,
        names: Sequence[str],
        *,
        backoff_s: float = BACKOFF_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not names:
            raise ValueError("a server pool needs at least one server")
        if not 0 < backoff_s <= backoff_max_s:
            raise ValueError(f"expected 0 < backoff_s <= backoff_max_s, got {backoff_s}, {backoff_max_s}")
        self._slots = [_Slot(name) for name in names]
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._clock = clock
        self._turn = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._slots)

    def plan(self) -> list[Turn]:
        """The servers to try for one call, in order; empty when every server is backed off.

        A down server whose backoff has ended comes first, marked for a health check, and only in
        one caller's plan until :meth:`succeeded` or :meth:`failed` reports on it. Then the
        healthy servers follow, each call starting one further along.
        """
        if len(self._slots) == 1:
            return [(0, False)]
        with self._lock:
            now = self._clock()
            turns: list[Turn] = []
            for index, slot in enumerate(self._slots):
                if not slot.healthy and not slot.probing and now >= slot.retry_mono:
                    slot.probing = True
                    turns.append((index, True))
                    break
            healthy = [i for i, slot in enumerate(self._slots) if slot.healthy]
            if healthy:
                start = self._turn % len(healthy)
                self._turn += 1
                turns += [(i, False) for i in healthy[start:] + healthy[:start]]
            return turns

    def started(self, index: int) -> None:
        """Count an inference call to server ``index``."""
        with self._lock:
            self._slots[index].calls += 1

    def check(self, index: int, probe: Callable[[], str | None]) -> bool:
        """Run the health check of server ``index`` (a turn of :meth:`plan` marked for it).

        Args:
            index: The server.
            probe: Does the HTTP call, outside the lock: None when the server answers, else what
                went wrong.

        Returns:
            Whether the server is back in rotation.
        """
        try:
            problem = probe()
        except Exception as exc:  # whatever happens, the server is not left claimed
            problem = type(exc).__name__
        if problem is None:
            self.succeeded(index, check=True)
            return True
        self.failed(index, why=problem)
        return False

    def succeeded(self, index: int, *, check: bool = False) -> None:
        """Server ``index`` answered: it is (back) in rotation.

        Args:
            index: The server.
            check: Only its health check answered; its backoff keeps growing should the next
                call fail, so a server that answers checks but fails calls is not hammered.
        """
        with self._lock:
            slot = self._slots[index]
            was_down = not slot.healthy
            slot.healthy, slot.probing = True, False
            if not check:
                slot.in_a_row = 0
        if was_down and len(self._slots) > 1:
            logger.info("inference server %s answers again: back in rotation", slot.name)

    def failed(self, index: int, retry_after_s: float | None = None, why: object = "") -> float:
        """Server ``index`` failed a call or a health check: it is down for a while.

        Args:
            index: The server.
            retry_after_s: How long it asked to wait (``Retry-After``), if it said.
            why: What went wrong, for the log (free of secrets).

        Returns:
            Seconds until it is checked again.
        """
        with self._lock:
            slot = self._slots[index]
            slot.failures += 1
            slot.in_a_row += 1
            backoff = min(self._backoff_s * 2 ** min(slot.in_a_row - 1, 30), self._backoff_max_s)
            wait = max(backoff, retry_after_s or 0.0)
            slot.healthy, slot.probing = False, False
            slot.retry_mono = self._clock() + wait
        if len(self._slots) > 1:
            logger.warning("inference server %s is down, checked again in %.1f s: %s", slot.name, wait, why)
        return wait

    def down(self) -> int:
        """How many servers are out of rotation now."""
        with self._lock:
            return sum(not slot.healthy for slot in self._slots)

    def soonest_s(self) -> float | None:
        """Seconds until the first down server is checked again; None when none is down."""
        with self._lock:
            now = self._clock()
            waits = [max(s.retry_mono - now, 0.0) for s in self._slots if not s.healthy]
        return min(waits) if waits else None

    def states(self) -> list[ServerState]:
        """A snapshot of every server, in ``API_URL`` order."""
        with self._lock:
            now, wall = self._clock(), time.time()
            return [
                ServerState(
                    slot.name,
                    slot.healthy,
                    slot.calls,
                    slot.failures,
                    None if slot.healthy else wall + max(slot.retry_mono - now, 0.0),
                )
                for slot in self._slots
            ]
