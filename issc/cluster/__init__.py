"""A cluster of camera workers sharing one PostgreSQL database.

* :mod:`~issc.cluster.registry`: the ``workers`` table (who is alive, where, running what) and the
  check that camera names stay unique across workers;
* :mod:`~issc.cluster.locks`: PostgreSQL session advisory locks deciding which worker runs a camera
  (released by the server when a worker's connection dies, which is what failover rests on);
* :mod:`~issc.cluster.changes`: tuning and watchlist changes made in any process, delivered to a
  worker's callback (``LISTEN issc_changes``, and polling).

The worker itself (``python -m issc.worker``) is :mod:`issc.worker`; deployment: ``docs/deploy.md``.
"""

from issc.cluster.changes import ChangeFeed
from issc.cluster.locks import CameraLock, LockSession, lock_key
from issc.cluster.registry import CHANNEL, CameraClaim, CameraClash, Registry, WorkerRow

__all__ = [
    "CHANNEL",
    "CameraClaim",
    "CameraClash",
    "CameraLock",
    "ChangeFeed",
    "LockSession",
    "Registry",
    "WorkerRow",
    "lock_key",
]
