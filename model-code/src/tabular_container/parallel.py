"""Work on chunks on every CPU, in threads: the kernel arithmetic and BLAS release the GIL.

Each thread's BLAS runs single-threaded meanwhile, so the threads share the CPUs instead of each
claiming all of them (OpenBLAS threads that outnumber the CPUs spin and wait on each other).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from threadpoolctl import threadpool_limits

from tabular_container.environment import available_cpus

Item = TypeVar("Item")
Result = TypeVar("Result")


def map_in_order(
    function: Callable[[Item], Result], items: Iterable[Item], workers: int | None = None
) -> Iterator[Result]:
    """function of each item, in the items' order, with at most workers + 1 items in flight.

    The items are drawn (chunks read) in this thread while the workers compute, and results are
    handed back in order: whatever merges them does so deterministically, and the first error
    raised is the first in item order.
    """
    workers = workers or available_cpus()
    pending: deque[Future[Result]] = deque()
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
        try:
            for item in items:
                pending.append(pool.submit(function, item))
                if len(pending) > workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
