"""The memory a fit may take is read from the machine, or from the container's cgroup."""

from __future__ import annotations

import pytest

from tabular_container import capacity
from tabular_container.capacity import available_memory, estimated_rows
from tabular_container.data import Channel
from tabular_container.hyperparameters import Hyperparameters

MEMINFO = "MemTotal:       24000000 kB\nMemAvailable:   20000000 kB\nBuffers: 1 kB\n"


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """Fake /proc/meminfo and cgroup files; write the cgroup ones to set a limit."""
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(MEMINFO)
    v2, v1 = tmp_path / "memory.max", tmp_path / "memory.limit_in_bytes"
    monkeypatch.setattr(capacity, "MEMINFO", meminfo)
    monkeypatch.setattr(capacity, "CGROUP_LIMITS", (v2, v1))
    return v2, v1


def test_without_a_cgroup_limit_memavailable_is_the_limit(machine):
    v2, _ = machine
    v2.write_text("max\n")

    assert available_memory() == 20_000_000 * 1024


@pytest.mark.parametrize("version", [0, 1])
def test_a_cgroup_limit_below_memavailable_wins(machine, version):
    machine[version].write_text(f"{8 * 2**30}\n")

    assert available_memory() == 8 * 2**30


def test_rows_are_estimated_from_the_first_mib(tmp_path):
    line = "M,0.455,0.365,15\n"
    (tmp_path / "a.csv").write_text("sex,length,diameter,rings\n" + line * 200_000)
    channel = Channel.open(tmp_path, "train")

    assert estimated_rows(channel) == pytest.approx(200_000, rel=0.01)
    (tmp_path / "a.csv").write_text("sex,length,diameter,rings\n" + line * 10)
    assert estimated_rows(Channel.open(tmp_path, "train")) == 10


def test_boosting_needs_memory_in_proportion_to_its_rows_and_ridge_does_not():
    boosting = Hyperparameters(estimator="hist_gradient_boosting")
    ridge = Hyperparameters()

    small, large = (capacity.memory_needed(boosting, rows, 9, 10, 1) for rows in (10**4, 10**7))
    assert large - small == pytest.approx((10**7 - 10**4) * (10 * 24 + 64))
    assert capacity.memory_needed(ridge, 10**4, 9, 10, 1) == capacity.memory_needed(
        ridge, 10**7, 9, 10, 1
    )
