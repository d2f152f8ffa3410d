"""Run by torchrun in tests: train a recipe, then save this rank's final weights."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from safetensors.torch import save_file

from disentangle.recipe import load_recipe
from disentangle.run import Run
from disentangle.training.loop import Trainer

recipe_path, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
trainer = Trainer(load_recipe(recipe_path, sys.argv[3:]), Run(out))
trainer.fit(show_progress=False)
weights = {
    **{f"g.{k}": v for k, v in trainer.method.networks["generator"].state_dict().items()},
    **{f"d.{k}": v for k, v in trainer.method.networks["discriminator"].named_parameters()},
}
save_file(
    {k: v.detach().contiguous() for k, v in weights.items()},
    str(out / f"rank{os.environ['RANK']}.safetensors"),
)
