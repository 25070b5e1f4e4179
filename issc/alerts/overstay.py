"""The overstay monitor: an alert, once per stay, for each vehicle on site longer than the limit."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from issc.alerts.sink import AlertingSink
from issc.analytics.vehicles import VehicleVisit, overstays
from issc.types import PlateEvent

logger = logging.getLogger(__name__)


class OverstayMonitor:
    """Raises an overstay alert, once per stay, for each vehicle on site longer than ``limit_s``.

    Checks every ``interval_s`` on its own thread; the alert goes through ``alerts`` (the
    watchlist's recent list, toast and webhook) as a ``PlateEvent`` of the entry camera whose label
    says how long the vehicle has been on site.

    Args:
        visits: Returns the current stays (``issc.store.Store.site_visits`` with the site's cameras).
        alerts: Where the alert is raised.
        limit_s: ``OVERSTAY_MIN`` in seconds.
    """

    def __init__(
        self,
        visits: Callable[[float], list[VehicleVisit]],
        alerts: AlertingSink,
        limit_s: float,
        interval_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._visits = visits
        self._alerts = alerts
        self.limit_s = limit_s
        self.interval_s = interval_s
        self._clock = clock
        self._alerted: set[int] = set()  # entry event ids already alerted
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> list[VehicleVisit]:
        """Alert the new overstays now; returns them."""
        now = self._clock()
        found = [
            v
            for v in overstays(self._visits(now), now, self.limit_s)
            if v.entry.event_id not in self._alerted
        ]
        for visit in found:
            self._alerted.add(visit.entry.event_id)
            minutes = visit.on_site_s(now) / 60
            entered = datetime.fromtimestamp(visit.entry.at, tz=UTC)
            event = PlateEvent(
                camera=visit.entry.camera,
                first_seen=entered,
                last_seen=datetime.fromtimestamp(now, tz=UTC),
                text=visit.plate,
                confidence=1.0,
                reads=1,
                box=(0, 0, 0, 0),
                watchlist=f"overstay: {minutes:.0f} min on site (limit {self.limit_s / 60:g} min)",
            )
            self._alerts.raise_alert(event, kind="overstay")
        return found

    def start(self) -> OverstayMonitor:
        """Check every ``interval_s`` on a thread of its own (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return self
        self._thread = threading.Thread(target=self._run, name="issc-overstay", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check()
            except Exception:
                logger.exception("overstay check failed")
