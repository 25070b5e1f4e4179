"""The ``Source`` protocol every camera source follows, and the network timeout they share.

One verb: ``source.read() -> np.ndarray`` returns the next BGR picture, blocking at most until it
is due (files are paced at their own fps) and raising ``SourceError`` when the source fails. The
capture worker in ``issc.engine`` owns reconnecting and health; sources only open, read and close.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

NETWORK_TIMEOUT_S = 5.0  # connect and read timeout of network cameras: a dead one is noticed in seconds


class Source(Protocol):
    """A stream of pictures. Not thread-safe: one capture thread owns it."""

    fps: float
    dropped: int  # frames skipped to stay real-time

    def open(self) -> None: ...

    def read(self) -> np.ndarray: ...

    def close(self) -> None: ...
