"""The address-space limit (``ulimit -v``) a command runs under, and one allocator arena under it.

Under an address-space limit every mapping counts, reserved or used. glibc's allocator
gives each thread that allocates an arena of its own, each reserving 64 MB of address
space, up to eight a core; which threads get one, and when, depends on their timing
(a thread that ends leaves its arena to the next one). Measured here under ``ulimit -v``
(2026-11-30, ``python -m sim`` refused at the same limit, ``docs/guarantees.md`` has the
command): the address-space check found room for about 909,000 users in 18 of 20 tries and
for one arena more, about 1,829,000, in the other two, so a sample size the refusal
suggested could be refused in the next command. With one arena for every thread (glibc's
``M_ARENA_MAX``) it found 4,585,000–4,589,000 in each of 12 tries. Threads then share the
one arena, and wait for each other where they allocate at the same moment; only under a
limit is that asked for.
"""

from __future__ import annotations

import ctypes

__all__ = ["address_space_limit", "address_space_limited", "one_allocator_arena"]

#: glibc's ``mallopt`` parameter for the largest number of allocator arenas (``malloc.h``).
M_ARENA_MAX = -8


def address_space_limit() -> int | None:
    """The process's address-space limit (``ulimit -v``) in bytes, or None where there is none."""
    try:
        import resource  # POSIX only
    except ImportError:
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else soft


def address_space_limited() -> bool:
    """Whether this process runs under an address-space limit (``ulimit -v``)."""
    return address_space_limit() is not None


def one_allocator_arena() -> bool:
    """Under an address-space limit, ask glibc's allocator for one arena for all threads (see the module docstring).

    To be called before the process starts its threads: an arena made already stays.

    Returns:
        Whether it was asked and granted: False without a limit, or where the C library is
        not glibc (no ``mallopt``, as on musl or macOS) or refused.

    """
    if not address_space_limited():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_ARENA_MAX, 1))
