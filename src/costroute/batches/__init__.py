"""Provider batch APIs at batch prices: ``client.batches`` (see :mod:`costroute.batches._batches`)."""

from ._batches import AsyncBatches, Batch, Batches, BatchItem, BatchStatus

__all__ = ["AsyncBatches", "Batch", "BatchItem", "BatchStatus", "Batches"]
