"""The data path: the whole dataset as uint8 on the training device, batches by index (or,
for memory-mapped data, each batch read by index and moved to the device as uint8)."""

from __future__ import annotations

import torch

from disentangle.errors import DatasetError
from disentangle.run.figures import scale_images
from disentangle.training.distributed import SINGLE, Ranks


class DeviceBatches:
    """Epoch-shuffled batches of a uint8 tensor, scaled to the model's value range on the fly.

    Epoch `e`'s order is a function of (seed, e) alone, so batch `i` is the same whether a run
    was interrupted or not: resuming needs no sampler state. `batch_size` is the global batch;
    under torch.distributed each rank takes its own slice of it.
    """

    def __init__(
        self,
        images: torch.Tensor,
        batch_size: int,
        seed: int,
        value_range: tuple[float, float],
        device: torch.device,
        ranks: Ranks = SINGLE,
        channels_last: bool = False,
        on_disk: bool = False,
    ) -> None:
        if images.shape[0] < batch_size:
            raise DatasetError(
                f"train.batch_size = {batch_size} is more than the dataset's "
                f"{images.shape[0]} images: lower it, or use more data"
            )
        self.on_disk = on_disk
        self.images = images if on_disk else images.to(device)
        self.batch_size, self.seed, self.device = batch_size, seed, device
        self.per_epoch = images.shape[0] // batch_size
        self.local = batch_size // ranks.world
        self.offset = ranks.rank * self.local
        self.value_range = value_range
        self.layout = torch.channels_last if channels_last else torch.contiguous_format
        self._epoch, self._order = -1, torch.empty(0)

    def _order_of(self, epoch: int) -> torch.Tensor:
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            order = torch.randperm(self.images.shape[0], generator=g)
            self._order = order if self.on_disk else order.to(self.device)
            self._epoch = epoch
        return self._order

    def batch(self, iteration: int) -> torch.Tensor:
        """The float batch of a (0-based) iteration."""
        epoch, step = divmod(iteration, self.per_epoch)
        start = step * self.batch_size + self.offset
        index = self._order_of(epoch)[start : start + self.local]
        chosen = self.images.index_select(0, index)
        if self.on_disk:  # uint8 until it reaches the device
            chosen = chosen.to(self.device, non_blocking=True)
        batch = scale_images(chosen, self.value_range)
        return batch.contiguous(memory_format=self.layout)
