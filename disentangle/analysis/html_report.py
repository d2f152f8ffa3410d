"""`disentangle report --html`: one self-contained page for a run or several (seeds, a grid).

Per run: the scorecard beside chance, every code's traversal as a slider (frames drawn by the
run's generator from its latest checkpoint), the code-to-factor matches, the L_I curves against
their ceilings, the losses, the samples over training and the recipe. Several runs add a table
of their scores that sorts by the column whose header is clicked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch

from disentangle.analysis.evaluate import MATCH_FLOOR
from disentangle.analysis.html_page import (
    Cell,
    array_uri,
    esc,
    figure_uri,
    image,
    page,
    png_uri,
    png_width,
    scrubber,
    table,
)
from disentangle.analysis.plots import logs_mi, losses_figure, mi_figure
from disentangle.analysis.report import read_evaluation
from disentangle.analysis.table import flat, scores, swept_keys
from disentangle.errors import DisentangleError
from disentangle.run import Run, Trained
from disentangle.run.checkpoint import write_text_atomic
from disentangle.run.figures import traversal_frames

#: images side by side in a traversal slider's frame (each its own noise and other codes)
ROWS = 8
#: the values a continuous code's slider moves through
STEPS = 21
#: sample grids over training shown (evenly spaced, the first and the last among them)
SAMPLE_GRIDS = 8
#: a sample grid the training loop saved
SAVED_GRID = re.compile(r"iter-(\d+)\.png")
#: the width (CSS pixels) small images are scaled up towards, in whole multiples
SHOWN_WIDTH = 760


def check_target(out: Path) -> None:
    """Refuse, before any work, a page path that cannot or must not be written."""
    if out.suffix.lower() not in (".html", ".htm"):
        raise DisentangleError(f"{out}: the page's file name must end in .html")
    if out.is_dir():
        raise DisentangleError(f"{out}: a folder; name the page's file, e.g. {out}/report.html")
    if not out.parent.is_dir():
        raise DisentangleError(f"{out}: there is no folder {out.parent} to write it into")


def write_html_report(runs: list[Run], out: Path, command: str) -> Path:
    """Write the page of `runs` to `out` (nothing else is written) and return its path."""
    if not runs:
        raise DisentangleError("give at least one run folder")
    check_target(out)
    for run in runs:
        run.require()
    evaluations = [evaluation_of(run) for run in runs]
    names = sorted({str(run.recipe_data().get("name")) for run in runs})
    title = names[0] if len(runs) == 1 else f"{len(runs)} runs: {', '.join(names)}"
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="caption">Made by <code>{esc(command)}</code>.</p>',
    ]
    if len(runs) > 1:
        body += overview(runs)
    for index, (run, evaluation) in enumerate(zip(runs, evaluations, strict=True), 1):
        body += run_section(index, run, evaluation)
    for run in runs:
        run.note(out)
    write_text_atomic(out, page(title, body))
    return out


def evaluation_of(run: Run) -> dict[str, Any] | None:
    """The run's eval.json (checked), or None when it has not been evaluated."""
    return read_evaluation(run) if (run.path / "eval.json").is_file() else None


def overview(runs: list[Run]) -> list[str]:
    """The runs' scores in one sortable table, the values that differ between them as columns,
    and their L_I curves together."""
    recipes = [flat(run.recipe_data()) for run in runs]
    swept = swept_keys(recipes)
    found = [scores(run, None) for run in runs]
    columns = list(dict.fromkeys(c for f in found for c in f))
    rows = [
        [
            Cell(str(run.path), link=f"#run-{i}"),
            Cell.of(recipe.get("train.seed")),
            *(setting(recipe.get(key)) for key in swept),
            *(Cell.of(score.get(c)) for c in columns),
        ]
        for i, (run, recipe, score) in enumerate(zip(runs, recipes, found, strict=True), 1)
    ]
    parts = [
        "<h2>Runs</h2>",
        '<p class="caption">Click a column\'s header to sort the runs by it (again: the other '
        "way). Scores from each run's eval.json; L_I at the last logged iteration.</p>",
        table(["run", "seed", *swept, *columns], rows, sortable=True),
    ]
    if all(logs_mi(run) for run in runs):
        parts += ["<h3>L_I per code, every run</h3>", image(figure_uri(mi_figure(runs)), "L_I")]
    return parts


def setting(value: Any) -> Cell:
    """A recipe value in full (a table of scores rounds; settings must not), numbers sorting
    as numbers."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        return Cell(str(value), float(value))
    return Cell(json.dumps(value) if isinstance(value, tuple) else str(value))


def run_section(index: int, run: Run, evaluation: dict[str, Any] | None) -> list[str]:
    trained = run.load()
    recipe = trained.recipe
    matches = (evaluation or {}).get("codes") or {}
    parts = [
        f'<section id="run-{index}"><h2>{esc(run.path)}</h2>',
        f"<p>{esc(recipe.description or '')}</p>",
        f'<p class="caption">Recipe {esc(recipe.name)}, seed {recipe.train.seed}; figures from '
        f"the checkpoint at iteration {trained.iteration}.</p>",
        *scorecard(run, evaluation),
        *traversals(run, trained, matches, f"run{index}"),
        *factor_matches(matches),
        *curves(run),
        *samples(run, f"run{index}"),
        "<details><summary><strong>Recipe</strong> (the run's recipe.json)</summary>",
        f"<pre>{esc(json.dumps(run.recipe_data(), indent=1))}</pre></details>",
        "</section>",
    ]
    return parts


def scorecard(run: Run, evaluation: dict[str, Any] | None) -> list[str]:
    if evaluation is None:
        return [
            "<h3>Scores</h3>",
            f"<p>Not evaluated: <code>disentangle eval {esc(run.path)} --chance</code> writes "
            "the scores, then make this page again.</p>",
        ]
    chance = evaluation.get("chance") or {}
    rows = [
        [Cell(name), Cell(key), Cell.of(value, 4), Cell.of(chance.get(name, {}).get(key), 4)]
        for name, values in evaluation["metrics"].items()
        for key, value in values.items()
    ]
    fast = " with fewer samples (fast)" if evaluation.get("fast") else ""
    parts = [
        "<h3>Scores</h3>",
        f'<p class="caption">At iteration {esc(evaluation["iteration"])} on '
        f"{esc(evaluation['dataset'])}{fast}. Chance: the same metric on uniform noise of the "
        "representation's width (blank: not measured).</p>",
        table(["metric", "score", "value", "chance"], rows),
    ]
    skipped = evaluation.get("skipped") or {}
    if skipped:
        items = "".join(f"<li>{esc(n)}: {esc(why)}</li>" for n, why in skipped.items())
        parts.append(f'<p class="caption">Not computed:</p><ul class="caption">{items}</ul>')
    return parts


def factor_of(match: dict[str, Any]) -> str:
    """The factor a code matches best, or 'no factor' below the floor."""
    return match["factor"] if match["nmi"] >= MATCH_FLOOR else "no factor"


def matched(match: dict[str, Any] | None) -> str:
    """' → factor (NMI 0.61)', or '' without an evaluation of the codes."""
    return f" → {factor_of(match)} (NMI {match['nmi']:.2f})" if match else ""


def value_text(values: torch.Tensor) -> str:
    """A code's value in a traversal: a category, or the value every dimension takes."""
    items = [float(x) for x in values.tolist()]
    if len(items) > 1 and sorted(items) == [0.0] * (len(items) - 1) + [1.0]:
        return f"category {items.index(1.0) + 1} of {len(items)}"
    shown = [f"{round(x, 2) + 0.0:+.2f}" for x in items]  # + 0.0: no "-0.00"
    return shown[0] if len(set(shown)) == 1 else "(" + ", ".join(shown) + ")"


def traversals(run: Run, trained: Trained, matches: dict[str, Any], key: str) -> list[str]:
    """One slider per code, drawn by the generator: each frame shows the code at one value."""
    if not trained.components.code_names:
        return []
    shown = trained.recipe.images
    rows, span = min(shown.traversal_rows, ROWS), tuple(shown.traversal_range)
    parts = [
        "<h3>Traversals</h3>",
        f'<p class="caption">Move a slider: its code takes each value (a continuous code {STEPS} '
        f"values over {span[0]:g}..{span[1]:g}, a categorical code each category) while each of "
        f"the {rows} images keeps its own noise and other codes. The code-to-factor match "
        "(normalised MI) is the evaluation's.</p>",
    ]
    for i, name in enumerate(trained.components.code_names):
        images, cols = run.traverse(i, rows=rows, steps=STEPS, span=span, trained=trained)
        values = trained.components.codes[i].traversal(STEPS, span)
        frames = traversal_frames(images, cols, nrow=rows)
        labelled = [
            (array_uri(f), f"{name} = {value_text(v)}") for f, v in zip(frames, values, strict=True)
        ]
        width = scaled(frames[0].shape[1])
        title = f"{name}{matched(matches.get(name))}"
        parts.append(scrubber(f"{key}-code{i}", title, labelled, cols // 2, width))
    return parts


def factor_matches(matches: dict[str, Any]) -> list[str]:
    """Each code's normalised MI with every factor, its best match named."""
    if not matches:
        return []
    factors = list(dict.fromkeys(f for m in matches.values() for f in m.get("all", {})))
    rows = [
        [
            Cell(code),
            Cell(factor_of(m)),
            *(Cell.of(m.get("all", {}).get(f)) for f in factors),
        ]
        for code, m in matches.items()
    ]
    return [
        "<h3>What each code captures</h3>",
        f'<p class="caption">Normalised MI, MI(code; factor) / H(factor); below {MATCH_FLOOR} '
        "a code matches no factor.</p>",
        table(["code", "matches", *factors], rows),
    ]


def curves(run: Run) -> list[str]:
    parts = []
    if logs_mi(run):
        parts += [
            "<h3>L_I per code</h3>",
            '<p class="caption">Dashed: the most L_I can reach (H(c) for a discrete code, the '
            "bound's maximum for a continuous one); dotted: H(c) where that differs.</p>",
            image(figure_uri(mi_figure([run])), "L_I per code"),
        ]
    losses = losses_figure(run)
    if losses is not None:
        parts += ["<h3>Losses</h3>", image(figure_uri(losses), "losses")]
    return parts


def samples(run: Run, key: str) -> list[str]:
    """The sample grids saved during training, as a slider over their iterations."""
    found = (SAVED_GRID.fullmatch(p.name) for p in (run.path / "samples").glob("iter-*.png"))
    grids = sorted((int(m.group(1)), run.path / "samples" / m.group(0)) for m in found if m)
    if not grids:
        return []
    last = len(grids) - 1
    picked = sorted({round(i * last / (SAMPLE_GRIDS - 1)) for i in range(SAMPLE_GRIDS)})
    data = [grids[i][1].read_bytes() for i in picked]
    frames = [(png_uri(d), f"iteration {grids[i][0]}") for i, d in zip(picked, data, strict=True)]
    kept = f" ({len(picked)} of {len(grids)} grids)" if len(picked) < len(grids) else ""
    return [
        "<h3>Samples over training</h3>",
        f'<p class="caption">The same latents at each saved iteration{kept}.</p>',
        scrubber(f"{key}-samples", "samples", frames, len(frames) - 1, scaled(png_width(data[-1]))),
    ]


def scaled(width: int) -> int:
    """A width in pixels scaled up by a whole factor (at most 4) towards SHOWN_WIDTH."""
    return width * max(1, min(4, SHOWN_WIDTH // max(width, 1)))
