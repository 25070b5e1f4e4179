"""A camera worker: the engine without Streamlit, for the cameras of its own ``CAMERAS``, in a cluster.

``python -m issc.worker`` (:mod:`issc.worker.__main__`: the HTTP server and the process) runs one
:class:`Worker`. Its parts, one job each:

- :mod:`issc.worker.lifecycle`: :class:`Worker`: builds the service, registers, loops once a second
  (lock checks and tries, the heartbeat) and stops;
- :mod:`issc.worker.claims`: the cameras it lists and their advisory locks: which run here, failover;
- :mod:`issc.worker.registration`: its row in the ``workers`` table: id and URL, heartbeat, removal;
- :mod:`issc.worker.changes`: tuning, watchlist, zones and stored cameras changed elsewhere;
- :mod:`issc.worker.view`: what its routes see (:class:`RunningCameras`) and its health body.
"""

from issc.worker.lifecycle import Worker
from issc.worker.registration import default_url, default_worker_id
from issc.worker.view import RunningCameras

__all__ = ["RunningCameras", "Worker", "default_url", "default_worker_id"]
