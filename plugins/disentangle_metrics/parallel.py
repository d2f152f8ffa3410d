"""Independent model fits spread over the process's cores.

Threads, not processes: scikit-learn's tree, SVM and L-BFGS code releases the GIL, so fits
overlap without copying the data to workers. Each fit gets its own seeded state, drawn before
any starts, so results do not depend on the number of workers or the order they finish in.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TypeVar

from joblib import Parallel, delayed

T = TypeVar("T")

#: threads for the fits; None: one per core (benchmarks set 1 to time the serial path)
JOBS: int | None = None


def cores() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def fit_all(
    fit: Callable[..., T], calls: Iterable[tuple], cost: Callable[..., float] | None = None
) -> list[T]:
    """`[fit(*args) for args in calls]`, run on up to JOBS (or `cores()`) threads.

    With `cost(*args)` (e.g. the number of classes), the costliest fits start first, so the
    threads finish together; the results are in the order of `calls` either way.
    """
    calls = list(calls)
    jobs = min(JOBS or cores(), len(calls))
    if jobs <= 1:
        return [fit(*args) for args in calls]
    order = list(range(len(calls)))
    if cost is not None:
        order.sort(key=lambda i: -cost(*calls[i]))
    results = Parallel(n_jobs=jobs, prefer="threads")(delayed(fit)(*calls[i]) for i in order)
    by_call = dict(zip(order, results, strict=True))
    return [by_call[i] for i in range(len(calls))]
