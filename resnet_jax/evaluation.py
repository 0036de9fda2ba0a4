"""Evaluation: the loss, top-1 and top-5 error of a network on a held-out split (data/dataset.py's EvalSplit).

The network is a predict function (variables, images, block modes) -> logits. An image's score is the mean of
its views' softmax scores (one view for CIFAR; ImageNet's protocols take 1 to 10). Each process evaluates its
own share of the images on its own devices; the sums are then gathered.
"""

import logging
import math
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils

from resnet_jax import compute, parallel, replicas
from resnet_jax.compute import Compute
from resnet_jax.data import on_device
from resnet_jax.data.dataset import EvalSplit
from resnet_jax.progress import metric_line

log = logging.getLogger(__name__)

Predict = Callable[..., jax.Array]  # (variables, float32 images, block modes or None) -> logits.


def model_predict(model) -> Predict:
  """The predict function of a flax model in evaluation mode."""
  return lambda variables, images, block_modes: model.apply(variables, images, train=False, block_modes=block_modes)


def padded_batches(split: EvalSplit, devices: int):
  """(index, images, real) of the split's batches, padded with zero images to a size fixed per shape (the first
  batch's, the largest) and a multiple of `devices`, so that no batch after the first of its shape recompiles."""
  sizes = {}
  for index, images in split.batches():
    size = sizes.setdefault(images.shape[1:3], -(-len(images) // devices) * devices)
    pad = np.zeros((max(size - len(images), 0), *images.shape[1:]), images.dtype)
    yield index, np.concatenate([images, pad]) if len(pad) else images, len(images)


def local_variables(variables, mesh):
  """Variables replicated over every process's devices, as arrays on this process's mesh (copies of what its
  first device holds); on one process, the variables themselves."""
  if jax.process_count() == 1:
    return variables
  return jax.device_put(jax.tree.map(lambda x: x.addressable_data(0), variables), parallel.replicated(mesh))


def error_sums(log_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
  """(loss, top-1 errors, top-5 errors, examples), summed over the examples of (N, classes) log-probabilities."""
  correct = log_probs[np.arange(len(labels)), labels][:, None]
  classes = np.arange(log_probs.shape[1])
  # Classes ranked above the true one; a tie goes to the lower class, as argmax and lax.top_k break ties.
  rank = ((log_probs > correct) | ((log_probs == correct) & (classes < labels[:, None]))).sum(1)
  return np.array([-correct.sum(), (rank >= 1).sum(), (rank >= 5).sum(), len(labels)], np.float64)


class Evaluator:
  """Evaluates a predict function's network on EvalSplits, on this process's devices of `mesh` (the variables'
  mesh); compiled once per shape of view batch.

  Call with the variables of `nets` nets (one, or config.num_replicas replicas stacked, evaluated in one program
  over the replica axis of `choices`), a split, and optionally block modes (one BlockMode per block): returns one
  {'loss', 'top1_error', 'top5_error'} (errors in %) per net.
  """

  def __init__(
      self, predict: Predict, mesh, nets: int = 1, choices: Compute = Compute(), log_every_seconds: float = 30
  ):
    self.mesh = parallel.make_mesh([d for d in mesh.devices.flat if d.process_index == jax.process_index()])
    self.nets, self.log_every_seconds = nets, log_every_seconds
    choices = choices.resolved()
    over_nets = replicas.over_nets(predict, (0, None, None), nets, choices.replica_axis)

    def log_probs(variables, images, norm, block_modes):
      images = on_device.normalize(parallel.shard_batch(images, self.mesh), norm)
      logits = replicas.with_axis(over_nets(variables, images, block_modes), nets)
      return jax.nn.log_softmax(logits.astype(jnp.float32))  # (nets, N, classes)

    self._log_probs = jax.jit(compute.traced_with(choices, log_probs))

  def scores(self, variables, split: EvalSplit, block_modes=None) -> np.ndarray | None:
    """Per net, each image of this process's share of `split`: the log of the mean of its views' softmax scores,
    (nets, images, classes) float64; None where the share holds no image."""
    variables = local_variables(variables, self.mesh)
    if block_modes is not None:
      block_modes = jax.device_put(np.asarray(block_modes, np.int32), parallel.replicated(self.mesh))
    norm = jax.device_put(split.norm, parallel.replicated(self.mesh))
    total, done, began, logged = None, 0, time.time(), time.time()
    for index, images, real in padded_batches(split, self.mesh.devices.size):
      views = real // len(index)
      scores = np.asarray(self._log_probs(variables, images, norm, block_modes), np.float64)[:, :real]
      per_image = np.logaddexp.reduce(scores.reshape(len(scores), len(index), views, -1), axis=2)
      if total is None:
        total = np.full((len(scores), len(split.labels), scores.shape[-1]), -np.inf)
      total[:, index] = np.logaddexp(total[:, index], per_image)
      done += real
      if time.time() - logged > self.log_every_seconds:
        logged = time.time()
        log.info(
            'Evaluating %s: %s of %s views, %.0f views/s.',
            split.name,
            f'{done:,}',
            f'{len(split.labels) * split.views:,}',
            done / (logged - began),
        )
    return None if total is None else total - math.log(split.views)

  def __call__(self, variables, split: EvalSplit, block_modes=None) -> list[dict[str, float]]:
    scores = self.scores(variables, split, block_modes)
    sums = np.zeros((self.nets, 4)) if scores is None else np.stack([error_sums(s, split.labels) for s in scores])
    return errors(sums)


def errors(sums: np.ndarray) -> list[dict[str, float]]:
  """{'loss', 'top1_error', 'top5_error'} (errors in %) of each row of error_sums over this process's images,
  summed over every process's."""
  if jax.process_count() > 1:
    sums = multihost_utils.process_allgather(sums).sum(0)
  return [
      {'loss': loss / count, 'top1_error': 100 * top1 / count, 'top5_error': 100 * top5 / count}
      for loss, top1, top5, count in np.reshape(sums, (-1, 4))
  ]


def evaluate_splits(
    evaluator: Evaluator,
    variables,
    dataset,
    step: int,
    writer,
    protocol: str | None = None,
) -> dict[str, list[dict[str, float]]]:
  """Evaluates every held-out split of `dataset` (under `protocol`: ImageNet's), writes the results (a
  writers.MetricsWriter) and logs them: per split, one result per net."""
  began = time.perf_counter()
  results = {split.name: evaluator(variables, split) for split in dataset.eval_splits(protocol)}
  seconds = time.perf_counter() - began
  for split, per_net in results.items():
    for replica, values in enumerate(per_net):
      writer.write(
          step, split, {**values, **({'protocol': protocol} if protocol else {})}, replicas.label(replica, len(per_net))
      )
    log.info(
        'eval at step %d: %s%s  %s  (%.1f s)',
        step,
        split,
        f' ({protocol})' if protocol else '',
        metric_line(per_net, ('loss', 'top1_error', 'top5_error')),
        seconds,
    )
  return results
