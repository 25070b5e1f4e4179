"""The ``Source`` protocol every camera source follows, and the network timeout they share.

One verb: ``source.read() -> np.ndarray`` returns the next BGR picture, blocking at most until it
is due (files are paced at their own fps) and raising ``SourceError`` when the source fails. The
capture worker in ``issc.engine`` owns reconnecting and health; sources only open, read and close.
"""

from __future__ import annotations

import sys
from typing import Protocol

import numpy as np

#: Whether sources decode into released frame buffers (:class:`FramePool`); benchmarks turn it off
#: to compare (``bench passes``/``bench soak --allocate-per-call``).
REUSE_FRAMES = True

NETWORK_TIMEOUT_S = 5.0  # connect and read timeout of network cameras: a dead one is noticed in seconds


class Source(Protocol):
    """A stream of pictures. Not thread-safe: one capture thread owns it."""

    fps: float
    dropped: int  # frames skipped to stay real-time

    def open(self) -> None: ...

    def read(self) -> np.ndarray: ...

    def close(self) -> None: ...


class FramePool:
    """Decoded-frame buffers that a source reuses once nothing else holds them.

    A 720p frame is 2.7 MB, above ``issc.memory``'s fixed mmap threshold: decoding into a fresh
    array per frame maps new memory 30 times a second per camera and faults in every page of it
    (about 675 minor faults a frame). Frames are shared read-only by the buffer, the analysis, the
    overlay and viewers, so a buffer is handed back to the decoder only when its reference count
    shows that the pool alone holds it (a numpy view holds its base, so views count too).

    Args:
        size: Buffers kept at most; when all are held, the decoder allocates as before.
    """

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._arrays: list[np.ndarray] = []

    def take(self) -> np.ndarray | None:
        """A buffer nobody else holds, or ``None`` (decode into a new array)."""
        for array in self._arrays:
            # references: the list, the loop variable and getrefcount's own argument
            if sys.getrefcount(array) <= 3 and array.flags.writeable:
                return array
        return None

    def keep(self, image: np.ndarray) -> None:
        """Remember ``image`` (just decoded) for reuse once it is released, while there is room."""
        if REUSE_FRAMES and image.base is None and all(image is not a for a in self._arrays):
            if len(self._arrays) >= self.size:
                return
            self._arrays.append(image)
