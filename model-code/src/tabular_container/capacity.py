"""Whether a fit fits: the memory and the time it needs, against what the job has.

`train` asks before it reads any row (from the channels' sizes) and again once the survey has
counted the rows and categories, so data that cannot fit ends with its reason in output/failure,
never in an OOM kill or a job stopped hours later.
"""

from __future__ import annotations

from pathlib import Path

from tabular_container.constants import MAX_CHANNEL_BYTES_ENV
from tabular_container.data import Channel
from tabular_container.environment import available_cpus
from tabular_container.errors import UserError
from tabular_container.hyperparameters import (
    HIST_GRADIENT_BOOSTING,
    NYSTROEM_RIDGE,
    Hyperparameters,
)

MIB = 1 << 20
MEMINFO = Path("/proc/meminfo")
# cgroup v2, then v1: a container's own limit, which /proc/meminfo does not show.
CGROUP_LIMITS = (
    Path("/sys/fs/cgroup/memory.max"),
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
)
# Python with numpy, pandas, SciPy and scikit-learn loaded (measured: 160 MB; 210 MB at the peak
# of training on abalone), rounded up.
BASELINE_BYTES = 300 * MIB
# A chunk's rows take about this much on their way through a pass (text, features, kernel).
CHUNK_BYTES = 64 * MIB
MIN_CHUNK_ROWS, MAX_CHUNK_ROWS = 1_024, 65_536
# Bytes a text cell takes in pandas (a Python str and its pointer), and the float64 copies a row
# goes through (object array, encoding, kernel, centred features).
TEXT_CELL_BYTES = 72
FLOAT_COPIES = 4
# hist_gradient_boosting holds every row encoded in float64, scikit-learn's train/validation
# split of them (early stopping) and its binned copy: measured 250 bytes a row of 10 features.
BOOSTING_BYTES_PER_CELL = 24
BOOSTING_BYTES_PER_ROW = 64


def available_memory() -> int:
    """Bytes this process may take: MemAvailable, capped by the cgroup's limit if there is one."""
    limits = [
        int(line.split()[1]) * 1024
        for line in MEMINFO.read_text().splitlines()
        if line.startswith("MemAvailable:")
    ]
    for path in CGROUP_LIMITS:
        try:
            limits.append(int(path.read_text().strip()))
        except (OSError, ValueError):  # absent, or "max": no limit at this level
            continue
    return min(limits)


def size_text(size: float) -> str:
    """A size for a message: 1.23 GB, 45.6 MB or 789 bytes."""
    if size >= 1e9:
        return f"{size / 1e9:.2f} GB"
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size:,.0f} bytes"


def _row_bytes(columns: int, features: int) -> int:
    """Bytes one row takes in a chunk on its way to `features` model features."""
    return columns * TEXT_CELL_BYTES + FLOAT_COPIES * 8 * (columns + features)


def chunk_rows(columns: int, features: int) -> int:
    """Rows per chunk so that a chunk of rows with that many model features takes CHUNK_BYTES."""
    return max(MIN_CHUNK_ROWS, min(MAX_CHUNK_ROWS, CHUNK_BYTES // _row_bytes(columns, features)))


def model_features(hp: Hyperparameters, rows: int, width: int) -> int:
    """Features the final step sees: the kernel's, or the encoded columns."""
    return min(hp.n_components, rows) if hp.estimator == NYSTROEM_RIDGE else width


def memory_needed(hp: Hyperparameters, rows: int, columns: int, width: int, targets: int) -> int:
    """Peak bytes of a fit on rows of `columns` cells, `width` once encoded, `targets` columns
    of target for ridge (one, or one per class past two).

    Every fit needs the chunks in flight. Ridge needs its Gram matrices (running, a chunk's,
    its update, the system) or the basis kernel's SVD, about four p x p, and the kernel's
    sample of rows as text; boosting needs every encoded row.
    """
    features = model_features(hp, rows, width)
    # In flight: a chunk per worker thread (one per CPU), one waiting, one being read.
    in_flight = available_cpus() + 2
    per_row = _row_bytes(columns, features + targets)
    need = BASELINE_BYTES + in_flight * chunk_rows(columns, features + targets) * per_row
    if hp.estimator == HIST_GRADIENT_BOOSTING:
        return need + rows * (width * BOOSTING_BYTES_PER_CELL + BOOSTING_BYTES_PER_ROW)
    need += 8 * features * (4 * features + width + targets)
    if hp.estimator == NYSTROEM_RIDGE:
        need += features * columns * TEXT_CELL_BYTES
    return need


def check_memory(hp: Hyperparameters, need: int, what: str) -> None:
    """Refuse a fit that needs more memory than there is, saying what needs it and how much."""
    limit = available_memory()
    if need <= limit:
        return
    if hp.estimator == HIST_GRADIENT_BOOSTING:
        remedy = "Use estimator nystroem_ridge or ridge, which read the rows in chunks,"
    elif hp.estimator == NYSTROEM_RIDGE:
        remedy = "Lower n_components,"
    else:
        remedy = "Use fewer categories,"
    raise UserError(
        f"{what} needs about {size_text(need)} of memory, but {size_text(limit)} is available "
        f"(MemAvailable, or the container's cgroup limit). {remedy} or an instance with more "
        "memory."
    )


def estimated_rows(channel: Channel) -> int:
    """Rows of a channel judged from its size and the length of the lines its first MiB holds."""
    head = channel.head
    lines = max(head.count(b"\n"), 1)
    if len(head) == channel.size:
        return max(lines - 1, 1)
    return int(channel.size * lines / len(head))


def check_channel(hp: Hyperparameters, channel: Channel, max_bytes: int) -> None:
    """Refuse, before reading a row, a channel too big to read in a job's time, or a fit on it
    too big for the memory (every row, for boosting; the kernel's state, for a large basis).

    Categories are not counted yet, so the estimate takes every feature as one column; the
    survey's count is checked again in fitting.fit.
    """
    size = channel.size
    if size > max_bytes:
        raise UserError(
            f"channel {channel.name} holds {size_text(size)} of CSV, over the "
            f"{size_text(max_bytes)} this container trains on ({MAX_CHANNEL_BYTES_ENV}): "
            "reading it would take longer than a training job should. Train on a sample, or "
            f"raise {MAX_CHANNEL_BYTES_ENV} and the job's MaxRuntimeInSeconds."
        )
    if channel.name != "train":
        return
    rows, columns = estimated_rows(channel), len(channel.columns)
    if hp.estimator == HIST_GRADIENT_BOOSTING:
        what = "hist_gradient_boosting, which keeps every row in memory,"
    elif hp.estimator == NYSTROEM_RIDGE:
        what = f"nystroem_ridge with n_components={hp.n_components}"
    else:
        what = hp.estimator
    check_memory(
        hp,
        memory_needed(hp, rows, columns, columns - 1, 1),
        f"channel train holds {size_text(size)} of CSV (about {rows:,} rows); {what}",
    )
