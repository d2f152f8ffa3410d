"""A benchmark script imported as a module, with train_speed.py's random images registered."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from disentangle.plugins import host

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@contextmanager
def benchmark(name: str) -> Iterator[ModuleType]:
    """benchmarks/NAME.py as a module; the process's plugin host as it was afterwards."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        module = importlib.import_module(name)
        train_speed = importlib.import_module("train_speed")
        host.datasets.names()  # the plugins load first, then the benchmark's random images
        host.add(train_speed, "train_speed")
        yield module
    finally:
        host.datasets.unregister("random_images")
        if host.manager.has_plugin("train_speed"):
            host.manager.unregister(name="train_speed")
        host.loaded[:] = [p for p in host.loaded if p.name != "train_speed"]
        sys.path.remove(str(BENCHMARKS))
