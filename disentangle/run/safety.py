"""A run folder's safety: what a new run may be written into, and claiming it."""

from __future__ import annotations

from disentangle.errors import RunDirError
from disentangle.run import MANIFEST, Run
from disentangle.run.lock import LOCK_NAME


def check_folder(run: Run, overwrite: bool) -> None:
    """Refuse a folder that holds a run (without --overwrite) or files that are not a run's
    (a writer's lock file aside)."""
    if run.path.exists() and not run.path.is_dir():
        raise RunDirError(f"{run.path}: a file, not a folder; choose another --out")
    if run.exists() or run.checkpoints():
        if not overwrite:
            raise RunDirError(
                f"{run.path} already holds a run; pass --resume {run.path} to continue it, "
                "--overwrite to replace it, or choose another --out"
            )
        run.written()  # an overwrite needs a readable manifest: check before loading data
        if not run.manifest_path.is_file():
            raise RunDirError(
                f"{run.path} holds a run written without a manifest (an older version): "
                "remove its files by hand, or choose another --out"
            )
    elif run.path.is_dir() and any(p.name != LOCK_NAME for p in run.path.iterdir()):
        raise RunDirError(
            f"{run.path} is not empty and is not a run folder (no {MANIFEST}): a run goes into a "
            "new or empty folder, so that no file of yours is overwritten or removed (not even "
            "with --overwrite); choose another --out"
        )


def claim_folder(run: Run) -> None:
    """Make the folder, removing a previous run's files (only those its manifest lists)."""
    if run.exists():
        run.remove_written()
    try:
        run.path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"{run.path}: cannot make the run folder ({exc.strerror})") from None
    run.claim()
