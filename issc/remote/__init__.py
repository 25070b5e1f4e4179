"""The dashboard over a cluster (``ENGINE=remote``): no camera runs in this process.

* :mod:`~issc.remote.engine`: :class:`RemoteEngine`, what pages and routes ask an engine, answered
  from the ``workers`` table, the workers' ``/api/cameras`` and the shared history;
* :mod:`~issc.remote.feed`: each camera's MJPEG read from its worker once and fanned out to viewers.

The workers are ``python -m issc.worker`` (:mod:`issc.worker`); deployment: ``docs/deploy.md``.
"""

from issc.remote.engine import RemoteCamera, RemoteEngine
from issc.remote.feed import MultipartReader, RemoteFeed, Upstream

__all__ = ["MultipartReader", "RemoteCamera", "RemoteEngine", "RemoteFeed", "Upstream"]
