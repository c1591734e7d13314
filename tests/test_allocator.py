"""The allocator setting a run makes: a day's temporaries reuse freed memory instead of fresh pages."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

#: Allocate and free the same six 1 MiB float32 arrays 200 times (like 200 days of a chunk's
#: temporaries) and print the minor page faults it took. Untuned glibc touches fresh pages for
#: most of them (~256 faults per MiB): measured 403,696 here; tuned: 2,711.
_DAYS = """
import resource, sys
import numpy as np
if sys.argv[1] == "run":
    from sim.app.model import UserLifecycleModel
    UserLifecycleModel(["population.market_size=1000", "horizon_days=1"])  # what every run does first
def day():
    arrays = [np.full(1 << 18, 0.5, dtype=np.float32) for _ in range(6)]
    return sum(float(a.sum()) for a in arrays)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):
    day()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", _DAYS, mode], capture_output=True, text=True, timeout=120, check=True)
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the setting is glibc's (mallopt)")
def test_after_a_model_is_built_freed_temporaries_are_reused_not_faulted_in_again():
    plain, tuned = _faults("plain"), _faults("run")
    pages_per_day = 6 * (1 << 20) // 4096
    assert plain > 100 * pages_per_day  # untuned: fresh pages on most of the 200 days
    assert tuned < 5 * pages_per_day  # tuned: the first day's pages, then reuse


def test_importing_opsim_leaves_the_allocator_alone_and_the_setting_is_made_once():
    probe = (
        "import sim, sim.app.model\n"
        "from sim.core.allocator import keep_freed_memory\n"
        "print(keep_freed_memory.cache_info().currsize)\n"
        "print(keep_freed_memory(), keep_freed_memory(), keep_freed_memory.cache_info().hits)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    calls_at_import, results = done.stdout.splitlines()
    assert calls_at_import == "0"  # importing made no setting
    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert results.split() == [str(glibc), str(glibc), "1"]  # the second call is the cached first
