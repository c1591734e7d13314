"""Under ``ulimit -v``: one allocator arena for a command's threads, and its check made once the figure workers run."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import sim.app.cli
from sim.app import address_space

#: Bytes of address space glibc reserves for a thread's own allocator arena on a 64-bit system.
ARENA_BYTES = 64 * 2**20
#: Threads that each allocate in the probe below.
THREADS = 4

#: Starts THREADS threads that each allocate (and stay alive), then prints how much the process's
#: address space grew; with "one" as its argument, asks for one allocator arena first.
_PROBE = textwrap.dedent(f"""
    import sys, threading
    from sim.app.address_space import one_allocator_arena

    def size():
        for line in open("/proc/self/status"):
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024

    asked = one_allocator_arena() if sys.argv[1] == "one" else None
    before = size()
    allocated, release = threading.Barrier({THREADS} + 1), threading.Event()

    def allocate():
        kept = [bytearray(100_000) for _ in range(20)]  # above pymalloc's sizes: glibc's allocator
        allocated.wait()
        release.wait()

    threads = [threading.Thread(target=allocate) for _ in range({THREADS})]
    for thread in threads:
        thread.start()
    allocated.wait()
    print(asked, size() - before)
    release.set()
""")


def _probe(mode: str, limit: int | None) -> tuple[str, int]:
    """The probe's answer from one_allocator_arena (``None`` when not asked) and the address space its threads took."""
    import resource

    def cap() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    done = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, timeout=60, check=True, preexec_fn=cap
    )
    asked, grown = done.stdout.split()
    return asked, int(grown)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator and /proc: Linux")
def test_under_a_limit_threads_that_allocate_share_one_arena():
    """Without the request each thread reserves an arena; with it they reserve none (their stacks remain)."""
    limit = 4 * 2**30
    asked, shared = _probe("one", limit)
    default_asked, own = _probe("default", limit)
    assert (asked, default_asked) == ("True", "None")
    assert own >= THREADS * ARENA_BYTES  # one arena each, and each thread's stack
    assert shared < ARENA_BYTES  # the stacks alone (8 MB each by default)


def test_without_a_limit_nothing_is_asked(monkeypatch):
    monkeypatch.setattr(address_space, "address_space_limit", lambda: None)
    monkeypatch.setattr(address_space.ctypes, "CDLL", lambda name: pytest.fail("the C library was opened"))
    assert address_space.one_allocator_arena() is False


def test_under_a_limit_mallopt_is_asked_for_one_arena(monkeypatch):
    calls = []

    class Libc:
        def mallopt(self, parameter, value):
            calls.append((parameter, value))
            return 1

    monkeypatch.setattr(address_space, "address_space_limit", lambda: 2**30)
    monkeypatch.setattr(address_space.ctypes, "CDLL", lambda name: Libc())
    assert address_space.one_allocator_arena() is True
    assert calls == [(-8, 1)]  # M_ARENA_MAX in glibc's malloc.h


@pytest.mark.parametrize("libc", [object(), OSError], ids=["no mallopt", "no C library"])
def test_a_c_library_without_mallopt_is_left_as_it_is(monkeypatch, libc):
    def load(name):
        if libc is OSError:
            raise OSError("not found")
        return libc

    monkeypatch.setattr(address_space, "address_space_limit", lambda: 2**30)
    monkeypatch.setattr(address_space.ctypes, "CDLL", load)
    assert address_space.one_allocator_arena() is False


def test_a_refused_request_says_so(monkeypatch):
    class Libc:
        def mallopt(self, parameter, value):
            return 0  # glibc's answer for a refused parameter

    monkeypatch.setattr(address_space, "address_space_limit", lambda: 2**30)
    monkeypatch.setattr(address_space.ctypes, "CDLL", lambda name: Libc())
    assert address_space.one_allocator_arena() is False


def test_the_limit_is_the_soft_one_and_none_when_unlimited(monkeypatch):
    import resource

    monkeypatch.setattr(resource, "getrlimit", lambda which: (3 * 2**30, resource.RLIM_INFINITY))
    assert address_space.address_space_limit() == 3 * 2**30 and address_space.address_space_limited()
    monkeypatch.setattr(resource, "getrlimit", lambda which: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    assert address_space.address_space_limit() is None and not address_space.address_space_limited()


class _Workers:
    """Figure workers that record when the command waits for their start."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    def wait_started(self) -> None:
        self.events.append("waited")


@pytest.mark.parametrize("limited", [True, False])
def test_the_command_checks_once_its_figure_workers_run_only_under_a_limit(monkeypatch, limited):
    """The workers' threads come and go while they start: under a limit the check waits for them, else not."""
    events: list[str] = []

    def check(argv):
        events.append("checked")
        raise sim.ConfigError("seed", "x", "a whole number")

    monkeypatch.setattr(sim.app.cli, "address_space_limited", lambda: limited)
    monkeypatch.setattr(sim.app.cli, "check_overrides", check)
    with pytest.raises(SystemExit):
        sim.app.cli.main(["seed=x"], figure_workers=_Workers(events))
    assert events == (["waited", "checked"] if limited else ["checked"])
