"""A worker in the registry (``workers`` table): its id and URL, registering, the heartbeat, removal.

Every ``HEARTBEAT_S`` the worker renews its row with what it runs now and what it waits for
(:class:`issc.cluster.Registry`); a row removed by hand is registered again. At a clean stop the row
is removed; when the database is gone it goes stale by itself.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Sequence

from issc import __version__
from issc.cluster import CameraClaim, Registry
from issc.config.cluster import ClusterSettings
from issc.errors import ConfigError
from issc.redact import error_line

logger = logging.getLogger(__name__)


def default_worker_id(port: int) -> str:
    """``<hostname>-<port>``: unique per machine and port, and the same after a restart."""
    return f"{socket.gethostname()}-{port}"


def default_url(host: str, port: int) -> str:
    """Where the dashboard reaches a worker listening on ``host`` (every interface: this machine's name)."""
    if host in ("", "0.0.0.0", "::"):
        host = socket.getfqdn()
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def register(
    registry: Registry,
    worker_id: str,
    url: str,
    *,
    cameras: Sequence[CameraClaim] = (),
    standby: Sequence[CameraClaim] = (),
) -> None:
    """Add (or renew) the worker's row (raises ConfigError on a clash with a live worker)."""
    registry.register(
        worker_id,
        host=socket.gethostname(),
        url=url,
        version=__version__,
        cameras=cameras,
        standby=standby,
    )


def warn_if_unreachable(cluster: ClusterSettings, worker_id: str, url: str) -> None:
    """Log why a dashboard with the same ``WORKER_HOSTS`` would not contact ``url``, if it would not."""
    refusal = cluster.worker_url_refusal(url)
    if refusal is not None:
        logger.warning(
            "worker %s: a dashboard with the same WORKER_HOSTS will not contact %s (%s); set "
            "WORKER_URL to a private address, or list the host in the dashboard's WORKER_HOSTS",
            worker_id,
            url,
            refusal,
        )


def heartbeat(
    registry: Registry,
    worker_id: str,
    url: str,
    running: Sequence[CameraClaim],
    standby: Sequence[CameraClaim],
) -> bool:
    """Renew the worker's row with what it runs and waits for; register again if the row was removed.

    Returns:
        True when the row is renewed; False when it could not be (logged, never raised).
    """
    try:
        if not registry.heartbeat(worker_id, running, standby):
            logger.warning("worker %s: its registry row was removed; registering again", worker_id)
            register(registry, worker_id, url, cameras=running, standby=standby)
        return True
    except ConfigError as exc:  # a clash found on re-registering: keep running, say why
        logger.error("worker %s: %s", worker_id, exc)
    except Exception as exc:  # the database is away: the locks' pings will stop the cameras
        logger.warning("worker %s: heartbeat failed: %s", worker_id, error_line(exc))
    return False


def unregister(registry: Registry, worker_id: str) -> None:
    """Remove the worker's row (a database gone is logged: the row goes stale by itself)."""
    try:
        registry.remove(worker_id)
    except Exception as exc:  # the database is gone: the row goes stale by itself
        logger.warning("worker %s: could not remove its registry row: %s", worker_id, exc)


__all__ = ["default_url", "default_worker_id", "heartbeat", "register", "unregister", "warn_if_unreachable"]
