"""Shared fixtures: a tiny CPU recipe on the procedural dataset; the run's own compile cache.
The helpers the tests import live in tests/support/ (on the path: pyproject.toml's pytest
`pythonpath`)."""

from __future__ import annotations

import atexit
import copy
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import torch
from support.tiny import TINY_RECIPE, TINY_TOML, write_toml

# torch.compile's kernels are cached under /tmp/torchinductor_$USER by default, shared by every
# process of the user. Seen with torch 2.14.1: after a run under ATEN_CPU_CAPABILITY=default
# had left its kernels there, the next run at the CPU's own capability aborted inside a compiled
# kernel ("Fatal Python error: Aborted"), and passed with a fresh cache. So the suite compiles
# into a folder of its own (inherited by the processes it starts) and removes it at the end.
_COMPILE_CACHE = tempfile.mkdtemp(prefix="disentangle-tests-inductor-")
os.environ["TORCHINDUCTOR_CACHE_DIR"] = _COMPILE_CACHE
atexit.register(shutil.rmtree, _COMPILE_CACHE, ignore_errors=True)


@pytest.fixture(autouse=True)
def _few_threads() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def tiny_recipe() -> dict[str, Any]:
    """A fresh copy of a recipe that trains in well under a second."""
    return copy.deepcopy(TINY_RECIPE)


@pytest.fixture
def tiny_toml(tmp_path: Path) -> Path:
    """The tiny recipe as a TOML file."""
    return write_toml(tmp_path / "tiny.toml", TINY_TOML)
