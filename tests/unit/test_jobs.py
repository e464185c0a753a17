"""jobs.py: the default --jobs, from the cores and the memory the cells may need."""

from __future__ import annotations

import pytest

from driftmatrix.jobs import CELL_MEMORY, available_memory, default_jobs, usable_cores
from driftmatrix.limits import Limits

GIB = 1024**3
PLENTY = 64 * GIB
UNLIMITED = Limits()


@pytest.mark.parametrize(
    ("cores", "memory", "limits", "jobs"),
    [
        (4, PLENTY, [UNLIMITED] * 10, 4),  # one cell per core
        (2, PLENTY, [], 2),  # nothing known about the cells: as for cells without limits
        (16, 1 * GIB, [UNLIMITED], GIB // CELL_MEMORY),  # memory holds fewer cells than cores
        (16, 8 * GIB, [Limits(memory=4 * GIB), UNLIMITED], 2),  # the largest limit counts
        (16, 8 * GIB, [Limits(memory=64 * 1024**2)] * 3, 16),  # small limits: cores decide
        (8, 100 * 1024**2, [UNLIMITED], 1),  # less than one cell's worth: still one
        (0, PLENTY, [UNLIMITED], 1),  # never zero
    ],
)
def test_the_rule(cores: int, memory: int, limits: list[Limits], jobs: int) -> None:
    assert default_jobs(limits, cores=cores, memory=memory) == jobs


def test_cpu_quota_is_not_a_reason_for_more_cells_than_cores() -> None:
    # Half a core each would fit four cells on two cores, but their latencies would mean
    # nothing: the quota is measured, not used to pack cells.
    assert default_jobs([Limits(cpus=0.5)] * 8, cores=2, memory=PLENTY) == 2


def test_this_machine_is_read() -> None:
    cores, memory = usable_cores(), available_memory()
    assert cores >= 1
    assert memory is not None and memory > 0  # Linux says MemAvailable
    assert 1 <= default_jobs([UNLIMITED]) <= cores
