"""The C allocator's settings for a process that builds: :func:`keep_big_blocks_apart`.

glibc serves a block of 128 KiB or more from its own memory map, and gives the map back when the block is
freed; but on the first such free it raises that threshold (up to 32 MiB), and from then on serves the
build's big blocks (the N-Quads text handed to the store, Oxigraph's load buffers) from the heap, between
the small objects Python keeps.  Freed, they leave holes the heap cannot give back: a 16 MiB note's build
then holds a third more memory than it uses.  Fixing the threshold keeps big blocks in maps of their own.
"""

from __future__ import annotations

import ctypes
import functools
import sys

__all__ = ["keep_big_blocks_apart"]

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
_THRESHOLD = 128 * 1024  # glibc's default, which it would otherwise raise


@functools.cache
def keep_big_blocks_apart() -> bool:
    """Have blocks of 128 KiB or more mapped apart for good (glibc's ``mallopt(M_MMAP_THRESHOLD)``), in this
    process and the ones it forks.  True when set; False where the C library is not glibc.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError):  # musl and others: no mallopt, nothing to set
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt(_M_MMAP_THRESHOLD, _THRESHOLD) == 1
