"""ModelCentrality (Lin et al., ICML 2020): choose the most central of several runs, without labels.

Each run in turn is a teacher: its generator draws groups of images in which one of its codes
is held fixed (the code cycles over the groups) while the noise and the other codes vary, as
InfoGAN-CR's `gan_task_mc_generate_metric_data.py` does (500 groups of 100 images); each
dimension of a continuous code is a factor of its own (a VAE's one Gaussian code of d
dimensions is d factors, each held fixed in turn). Every other
run, the student, encodes them, and is scored by the FactorVAE metric on the teacher's codes as
ground truth, as their `FactorVAEMetric` does on such groups: the student's representation is
divided by its std over images of the teacher's (columns with none are left out), each group
votes for the column that varies least, and the score is the share of votes that fall on the
code each column votes for most. The similarity of two runs averages the two directions; a
run's centrality is its mean similarity to the others, and the medoid, the most central run,
is chosen.

The other choice, ClusterGAN's (Mukherjee et al., AAAI 2019), takes a few labels that are not
the test's: each run's purity (majority accuracy) on the same 1% of the training images.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from disentangle.analysis.evaluate import default_metric, encoder, eval_context
from disentangle.analysis.table import refuse_mixed
from disentangle.device import resolve_device
from disentangle.errors import DisentangleError
from disentangle.plugins import host
from disentangle.recipe.build import Components
from disentangle.run import Run, Trained
from disentangle.run.figures import as_uint8, render, sample_latents

#: InfoGAN-CR's groups: 500 of 100 images each
GROUPS, GROUP_SIZE = 500, 100
#: images whose representations give each column's std (disentanglement_lib's 10,000)
STD_IMAGES = 10_000


def need_two(runs: list[Run]) -> None:
    """Model selection chooses among runs on one dataset (a pool of models: their methods may
    differ, as in InfoGAN-CR's and Duan et al.'s selection): refuse fewer than two, or a mix
    of datasets."""
    if len(runs) < 2:
        raise DisentangleError("model selection needs at least two runs")
    refuse_mixed(runs, ("dataset",), "model selection")


@dataclass
class TeacherData:
    """A teacher's images: groups that each hold one factor fixed, and images for the std."""

    groups: torch.Tensor  # uint8 [groups, group size, C, H, W]
    labels: torch.Tensor  # the fixed factor of each group, int64 [groups]
    std_images: torch.Tensor  # uint8 [n, C, H, W]


@dataclass
class Centrality:
    """Runs in the order given; scores[i][j]: run i as student of teacher j."""

    runs: list[str]
    scores: list[list[float | None]]
    centrality: list[float]

    @property
    def chosen(self) -> str:
        return self.runs[max(range(len(self.runs)), key=self.centrality.__getitem__)]


def factor_columns(comps: Components) -> list[slice]:
    """The columns of G's input that each of the teacher's factors holds: a discrete code's
    whole block (one value, one-hot), each dimension of a continuous code on its own (a VAE's
    one Gaussian code of d dimensions is d factors, as its d latents are)."""
    found = []
    for part in comps.layout.codes:
        columns = part.input
        if part.code.discrete:
            found.append(columns)
        else:
            found += [slice(c, c + 1) for c in range(columns.start, columns.stop)]
    return found


def group_latents(
    comps: Components, groups: int, group_size: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Latents [groups, group size, latent dim] in which group k holds factor k mod (factors)
    (`factor_columns`) at its first row's value, and the fixed factor of each group."""
    if not comps.codes:
        raise DisentangleError("a run without codes cannot be a teacher: it has nothing to fix")
    factors = factor_columns(comps)
    latents = sample_latents(comps, groups * group_size, seed).view(groups, group_size, -1)
    labels = torch.arange(groups) % len(factors)
    for k, label in enumerate(labels.tolist()):
        columns = factors[label]
        latents[k, :, columns] = latents[k, 0, columns]
    return latents, labels


def teacher_data(
    t: Trained, groups: int, group_size: int, std_images: int, seed: int
) -> TeacherData:
    """A run's groups of images (see `group_latents`) and its images for the std."""
    comps = t.components
    latents, labels = group_latents(comps, groups, group_size, seed)
    images = as_uint8(render(t.generator, latents.flatten(0, 1), comps.value_range))
    std_latents = sample_latents(comps, std_images, seed + 1)
    std = as_uint8(render(t.generator, std_latents, comps.value_range))
    return TeacherData(images.view(groups, group_size, *images.shape[1:]), labels, std)


def factor_vae_score(encode: Callable[[torch.Tensor], torch.Tensor], data: TeacherData) -> float:
    """The share of the teacher's groups that the student's majority-vote classifier gets
    right (trained and scored on the same votes, as InfoGAN-CR's metric)."""
    std = encode(data.std_images).std(dim=0)
    active = std > 0
    if not active.any():
        return 0.0
    n_groups, size = data.groups.shape[:2]
    reps = encode(data.groups.flatten(0, 1)).view(n_groups, size, -1)[:, :, active]
    least = (reps / std[active]).std(dim=1).argmin(dim=1)
    votes = torch.zeros(int(active.sum()), int(data.labels.max()) + 1)
    votes.index_put_((least, data.labels), torch.ones(n_groups), accumulate=True)
    return float(votes.max(dim=1).values.sum() / n_groups)


def model_centrality(
    runs: list[Run],
    *,
    groups: int = GROUPS,
    group_size: int = GROUP_SIZE,
    std_images: int = STD_IMAGES,
    seed: int = 0,
    device: str = "cpu",
) -> Centrality:
    need_two(runs)
    dev = resolve_device(device, where="--device")
    trained = [r.load(device=str(dev)) for r in runs]
    shapes = {tuple(t.components.backbone.image_shape) for t in trained}
    if len(shapes) > 1:
        raise DisentangleError(
            f"the runs make images of different shapes ({sorted(shapes)}): they cannot be compared"
        )
    data = [teacher_data(t, groups, group_size, std_images, seed) for t in trained]
    encoders = [encoder(t, dev) for t in trained]
    n = len(runs)
    score = {
        (i, j): factor_vae_score(encoders[i], data[j]) for i in range(n) for j in range(n) if i != j
    }
    centrality = [
        sum(score[i, j] + score[j, i] for j in range(n) if j != i) / (2 * (n - 1)) for i in range(n)
    ]
    scores = [[score.get((i, j)) for j in range(n)] for i in range(n)]
    return Centrality([str(r.path) for r in runs], scores, centrality)


@dataclass
class Purity:
    """Runs in the order given, each scored on the same labelled images."""

    runs: list[str]
    points: int
    purity: list[float]  # majority accuracy of the categorical code
    hungarian: list[float]  # its accuracy under the best one-to-one map of clusters to labels

    @property
    def chosen(self) -> str:
        return self.runs[max(range(len(self.runs)), key=self.purity.__getitem__)]


def labelled_purity(
    runs: list[Run],
    *,
    fraction: float = 0.01,
    split: str | None = None,
    seed: int = 0,
    device: str = "cpu",
) -> Purity:
    """ClusterGAN's choice: each run's purity on the same seeded `fraction` of the labelled
    images of `split` (default: the training split where the dataset has splits, else all its
    images), so that no test label chooses. Needs one categorical code and the `accuracy`
    metric."""
    need_two(runs)
    if "accuracy" not in host.metrics.names():
        raise DisentangleError("--by purity needs the 'accuracy' metric, which is not installed")
    dev = str(resolve_device(device, where="--device"))
    probe = default_metric("accuracy")  # whether it applies; the scores take the shared subset
    purity, hungarian, points = [], [], 0
    for run in runs:
        trained = run.load(device=dev)
        has_splits = "split" in type(trained.recipe.dataset).model_fields
        with tempfile.TemporaryDirectory() as scratch:  # the confusion figure is dropped
            ctx = eval_context(
                trained,
                Path(scratch),
                split=split or ("train" if has_splits else None),
                seed=seed,
                device=dev,
            )
            reason = probe.applies(ctx)
            if reason is not None:
                raise DisentangleError(f"{run.path}: purity does not apply: {reason}")
            categorical = [name for name, code in ctx.codes.items() if code.discrete]
            if len(categorical) != 1:
                raise DisentangleError(
                    f"{run.path}: --by purity needs one categorical code; the run has "
                    f"{len(categorical)} ({', '.join(categorical)})"
                )
            n = max(1, round(fraction * len(ctx.data.labels)))
            if points and n != points:
                raise DisentangleError(
                    f"{run.path}: its dataset holds another number of labelled images than "
                    "the runs before it; purity compares runs on the same images"
                )
            points = n
            scores = default_metric("accuracy", points=points)(ctx)
        purity.append(scores["accuracy_majority"])
        hungarian.append(scores["accuracy_hungarian"])
    return Purity([str(r.path) for r in runs], points, purity, hungarian)
