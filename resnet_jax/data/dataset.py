"""What training and evaluation read from a dataset: the interface every dataset implements.

Training reads a stream of step inputs and, inside the jitted step, the batch they make. Evaluation reads the
held-out splits as EvalSplits: this process's share of the images, in batches of uint8 views, and how views
become network inputs. Nothing here runs a network.
"""

import dataclasses
import logging
from typing import Any, Callable, Iterator, Protocol

import jax
import numpy as np

from resnet_jax.data.on_device import Normalization
from resnet_jax.errors import ConfigError, Setting

log = logging.getLogger(__name__)

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


def check_training_images(config, count: int) -> None:
  """Refuses a batch larger than the `count` training images; says where schedule.unit='epochs' counts epochs of
  dataset.train_size images that are not passes over these."""
  if count < config.batch_size:
    raise ConfigError(
        f'batch_size {config.batch_size} exceeds the {count} training images: set ',
        Setting('batch_size'),
        f' to at most {count}, or point ',
        Setting('dataset.dir'),
        f' at a folder of at least {config.batch_size} training images.',
    )
  if config.schedule.unit == 'epochs' and count != config.dataset.train_size:
    log.info(
        'Note: the schedule counts epochs of dataset.train_size=%s images; %s holds %s training images, so its '
        'epochs are not passes over them (dataset.train_size=%d makes them so).',
        f'{config.dataset.train_size:,}',
        config.dataset.dir or 'the data',
        f'{count:,}',
        count,
    )


def process_share(num_examples: int) -> np.ndarray:
  """The examples this process evaluates: every process_count-th, from its index."""
  return np.arange(jax.process_index(), num_examples, jax.process_count())


def array_split(name: str, images: np.ndarray, labels: np.ndarray, norm: Normalization, batch_size: int) -> EvalSplit:
  """A held-out split of images in memory, one view each, in batches of `batch_size` (global: split over the
  processes)."""
  mine = process_share(len(labels))
  per_batch = max(1, batch_size // jax.process_count())

  def batches():
    for start in range(0, len(mine), per_batch):
      index = np.arange(start, min(start + per_batch, len(mine)))
      yield index, images[mine[index]]

  return EvalSplit(name, np.asarray(labels, np.int32)[mine], 1, norm, batches)


class Dataset(Protocol):
  """A dataset as the training loop and evaluation see it (data/cifar10.py, data/imagenet.py).

  Of config.num_replicas = K nets, net k draws its batches from seed config.seed + k: its step inputs are shared
  by the nets, or, where `inputs_per_replica`, a list of K (one per net).
  """

  inputs_per_replica: bool

  def stream(self, start_step: int) -> Iterator[Any]:
    """The step inputs of steps start_step + 1, start_step + 2, ...: what the jitted step receives."""

  def batch(self, inputs: Any, step: jax.Array, seed: jax.Array) -> dict[str, jax.Array]:
    """Inside the jitted step: the training batch of `step` for the replica of `seed` from its inputs,
    {'image': float32, 'label': int32}, sharded over the mesh."""

  def eval_splits(self, protocol: str | None = None) -> list[EvalSplit]:
    """The held-out splits; `protocol` chooses ImageNet's testing protocol (None: the config's)."""

  def close(self) -> None:
    """Stops what the streams run in the background."""


TFDS_INSTALL = 'pip install -r requirements-tfds.txt'


def import_tfds():
  """tensorflow_datasets, an optional extra the main job does not install (it brings TensorFlow)."""
  try:
    import tensorflow_datasets
  except ImportError as e:
    raise ConfigError(
        f'dataset.source=tfds needs tensorflow-datasets and TensorFlow, which the main job does not '
        f'install ({e}): {TFDS_INSTALL}, or use another dataset.source (folder).'
    ) from None
  return tensorflow_datasets
