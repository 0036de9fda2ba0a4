"""What training and evaluation read from a dataset: the interface every dataset implements.

Training reads a stream of step inputs and, inside the jitted step, the batch they make. Evaluation reads the
held-out splits as EvalSplits: this process's share of the images, in batches of uint8 views, and how views
become network inputs. Nothing here runs a network.
"""
import dataclasses
from typing import Any, Callable, Iterator, Protocol

import jax
import numpy as np

from resnet_jax.data.on_device import Normalization

# (index of each image in the split's labels, its views: uint8 (len(index) * views per image, H, W, 3)).
ViewBatch = tuple[np.ndarray, np.ndarray]


@dataclasses.dataclass(frozen=True)
class EvalSplit:
  """A held-out split as evaluation reads it: this process's share of its images.

  An image's score is the mean of the softmax scores of its `views` views, which may come in several batches
  (one per pass of a testing protocol) and, from pass to pass, in several shapes.
  """
  name: str
  labels: np.ndarray  # int32, this process's share of the split's images.
  views: int  # Views of each image, over all batches.
  norm: Normalization  # uint8 views -> network inputs, by on_device.normalize.
  batches: Callable[[], Iterator[ViewBatch]]  # A fresh pass over the share's views.


def process_share(num_examples: int) -> np.ndarray:
  """The examples this process evaluates: every process_count-th, from its index."""
  return np.arange(jax.process_index(), num_examples, jax.process_count())


class Dataset(Protocol):
  """A dataset as the training loop and evaluation see it (data/cifar10.py, data/imagenet.py)."""

  def stream(self, start_step: int) -> Iterator[Any]:
    """The step inputs of steps start_step + 1, start_step + 2, ...: what the jitted step receives."""

  def batch(self, inputs: Any, step: jax.Array) -> dict[str, jax.Array]:
    """Inside the jitted step: the training batch of `step` from its inputs, {'image': float32, 'label': int32},
    sharded over the mesh."""

  def eval_splits(self, protocol: str | None = None) -> list[EvalSplit]:
    """The held-out splits; `protocol` chooses ImageNet's testing protocol (None: the config's)."""

  def close(self) -> None:
    """Stops what the streams run in the background."""
