"""benchmarks/digest.py, the bit-identity check for refactors: it covers every built-in
method, and its digest is the same for the same run and changes with any update."""

from __future__ import annotations

import copy
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

from disentangle.plugins import host

ROOT = Path(__file__).resolve().parents[2]


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("digest", ROOT / "benchmarks" / "digest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["digest"] = module
    spec.loader.exec_module(module)
    return module


digest = load_script()


def test_every_built_in_method_has_a_run() -> None:
    covered = {data.get("method", {}).get("type", "infogan") for data in digest.RUNS.values()}
    built_in = {
        name for name in host.methods.names() if host.methods.get(name).plugin in {"infogan", "vae"}
    }
    assert built_in == {
        "infogan",
        "infogan_cr",
        "beta_vae",
        "annealed_vae",
        "beta_tcvae",
        "dip_vae",
        "factor_vae",
    }
    assert built_in <= covered


def test_the_same_run_gives_the_same_digest_and_another_update_another(tmp_path: Path) -> None:
    run = digest.RUNS["infogan"]
    first = digest.digest(run, tmp_path / "a")
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert digest.digest(run, tmp_path / "b") == first
    other = copy.deepcopy(run)
    other["codes"][1]["lambda"] = 0.2
    assert digest.digest(other, tmp_path / "c") != first
