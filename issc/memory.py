"""Keep the process's memory flat over days: glibc malloc settings for many threads and big frames.

Every camera thread decodes, resizes and encodes frames of one to six megabytes. With glibc's
defaults each thread gets its own malloc arena (up to eight per core), and after the first big
block is freed glibc raises its mmap threshold to that size, so later frames come from the arenas
instead of ``mmap``: freed frames leave holes that other sizes reuse only in part, and the resident
size creeps up for hours. The soak benchmark measured it: 9 cameras grew by about 600 MB within
two minutes and kept growing (``python -m issc.bench soak``, see BENCHMARKS.md).

:func:`tune_malloc` fixes the mmap threshold at 1 MiB (blocks that big are mapped and given back to
the system when freed, which also stops the threshold from moving) and caps the arenas at two.
Operators who set ``MALLOC_ARENA_MAX`` or ``MALLOC_MMAP_THRESHOLD_`` themselves keep theirs. On a C
library without ``mallopt`` (musl, macOS) it does nothing.

The price of the fixed threshold is paid by code that allocates big blocks per call: each is a
fresh mapping whose pages fault in one by one. So text detection reuses its input tensor
(``issc.plates.ocr.rapid.REUSE_MEMORY``) and sources decode into released frame buffers
(``issc.sources.base.FramePool``) (BENCHMARKS.md, "Live path budget").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading

logger = logging.getLogger(__name__)

#: ``mallopt`` parameters (glibc's malloc.h).
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
#: Blocks this big or bigger are mapped on their own and returned to the system when freed.
MMAP_THRESHOLD = 1 << 20
#: Malloc arenas shared by all threads.
ARENA_MAX = 2

_lock = threading.Lock()
_done: dict[str, bool] | None = None


def tune_malloc() -> dict[str, bool]:
    """Apply the settings once per process (later calls return the first result).

    Returns:
        Which settings were applied, e.g. ``{"mmap_threshold": True, "arena_max": True}``; a
        setting the environment already gives, or that the C library lacks, is ``False``.
    """
    global _done
    with _lock:
        if _done is not None:
            return _done
        _done = {"mmap_threshold": False, "arena_max": False}
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            mallopt = libc.mallopt
        except (OSError, AttributeError):
            return _done
        mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        mallopt.restype = ctypes.c_int
        if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
            _done["mmap_threshold"] = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
        if "MALLOC_ARENA_MAX" not in os.environ:
            _done["arena_max"] = bool(mallopt(M_ARENA_MAX, ARENA_MAX))
        logger.debug("malloc settings applied: %s", _done)
        return _done


def keep_defaults() -> None:
    """Make :func:`tune_malloc` a no-op in this process (benchmarks compare against glibc's defaults)."""
    global _done
    with _lock:
        if _done is None:
            _done = {"mmap_threshold": False, "arena_max": False}
