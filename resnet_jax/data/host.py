"""The host input pipeline: decode and augment with a thread pool, a few batches ahead, straight to the devices.

The stream is a pure function of (seed, step), as on the device for CIFAR: epoch e visits the examples in a
permutation drawn from (seed, e), and example i's augmentation in epoch e comes from the generator (seed, e, i).
A stream started at step s is the same as one run from 0 and cut at s, whatever the number of hosts or threads.
Each process decodes only the rows that its own devices hold (the decoders release the GIL while they decode and
resize).
"""

import collections
import functools
import queue
import threading
from concurrent import futures
from typing import Callable

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from resnet_jax.data import decode
from resnet_jax.parallel import DATA

# (encoded image, generator) -> (uint8 image, float32 lighting coefficients (3,)).
Transform = Callable[[bytes, np.random.Generator], tuple[np.ndarray, np.ndarray]]


@functools.lru_cache(maxsize=2)
def epoch_order(num_examples: int, seed: int, epoch: int) -> np.ndarray:
  """The order in which epoch `epoch` visits the examples; drawn once per epoch, not per step (a permutation of
  ImageNet's 1.28M examples is too slow to draw again for every batch)."""
  return np.random.default_rng([seed, epoch]).permutation(num_examples)


def step_indices(num_examples: int, batch_size: int, seed: int, step: int) -> tuple[int, np.ndarray]:
  """(epoch, the example indices of the global batch of `step`); the last partial batch of an epoch is dropped."""
  steps_per_epoch = num_examples // batch_size
  epoch, position = divmod(step, steps_per_epoch)
  return epoch, epoch_order(num_examples, seed, epoch)[position * batch_size : (position + 1) * batch_size]


def local_rows(sharding: NamedSharding, batch_size: int) -> list[tuple[jax.Device, slice]]:
  """(device, rows of the global batch it holds) for this process's devices."""
  return [(device, index[0]) for device, index in sharding.addressable_devices_indices_map((batch_size,)).items()]


def put_rows(arrays: dict[str, np.ndarray], rows: list[tuple[jax.Device, slice]], sharding, batch_size: int):
  """Global arrays from this process's rows (arrays hold them in the order of `rows`)."""
  out = {}
  for name, array in arrays.items():
    pieces, offset = [], 0
    for device, index in rows:
      count = len(range(*index.indices(batch_size)))
      pieces.append(jax.device_put(array[offset : offset + count], device))
      offset += count
    out[name] = jax.make_array_from_single_device_arrays((batch_size, *array.shape[1:]), sharding, pieces)
  return out


class TrainStream:
  """Iterator of training batches from `start_step` on: {'image' uint8, 'label', 'lighting'}, sharded over mesh."""

  def __init__(
      self,
      split,
      transform: Transform,
      seed: int,
      batch_size: int,
      start_step: int,
      mesh,
      workers: int,
      prefetch: int = 2,
  ):
    self._split, self._transform, self._seed, self._batch_size = split, transform, seed, batch_size
    self._sharding = NamedSharding(mesh, PartitionSpec(DATA))
    self._rows = local_rows(self._sharding, batch_size)
    self._pool = futures.ThreadPoolExecutor(workers)
    self._queue = queue.Queue(maxsize=prefetch)
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._produce, args=(start_step, prefetch), daemon=True)
    self._thread.start()

  def _example(self, epoch: int, index: int):
    rng = np.random.default_rng([self._seed, epoch, int(index)])
    image, lighting = decode.named(self._split.name(index), self._transform, self._split.read(int(index)), rng)
    return image, lighting, self._split.labels[index]

  def _submit(self, step: int):
    epoch, indices = step_indices(len(self._split), self._batch_size, self._seed, step)
    mine = np.concatenate([indices[index] for _, index in self._rows])
    return [self._pool.submit(self._example, epoch, i) for i in mine]

  def _produce(self, step: int, depth: int) -> None:
    pending = collections.deque()
    try:
      while not self._stop.is_set():
        while len(pending) < depth + 1:
          pending.append(self._submit(step + len(pending)))
        examples = [f.result() for f in pending.popleft()]
        step += 1
        images, lightings, labels = zip(*examples)
        self._put(
            put_rows(
                {'image': np.stack(images), 'lighting': np.stack(lightings), 'label': np.array(labels, np.int32)},
                self._rows,
                self._sharding,
                self._batch_size,
            )
        )
    except BaseException as e:  # noqa: BLE001 -- handed to the consumer, which re-raises it.
      self._put(e)

  def _put(self, item) -> None:
    while not self._stop.is_set():
      try:
        self._queue.put(item, timeout=0.1)
        return
      except queue.Full:
        pass

  def __iter__(self):
    return self

  def __next__(self) -> dict[str, jax.Array]:
    item = self._queue.get()
    if isinstance(item, BaseException):
      raise item
    return item

  def close(self) -> None:
    self._stop.set()
    self._pool.shutdown(wait=True, cancel_futures=True)
    self._thread.join()
