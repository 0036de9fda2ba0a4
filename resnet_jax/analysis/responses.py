"""Layer responses (He et al. 2015, Section 4.2, Fig. 7): the standard deviation of each 3x3 layer's output after
BN and before the nonlinearity (ReLU or the addition), over CIFAR-10's test set.

A layer's std is that of each channel, over all test images and positions, averaged over the channels.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils

from resnet_jax import compute, parallel
from resnet_jax.data import on_device
from resnet_jax.errors import ConfigError
from resnet_jax.evaluation import local_variables, padded_batches
from resnet_jax.progress import Progress
from resnet_jax.trained import TrainedNet


def _moments(variables, images, norm, real, *, model, mesh):
  """Per layer and channel, the count, sum and sum of squares of the responses to the first `real` images."""
  images = on_device.normalize(parallel.shard_batch(images, mesh), norm)
  _, state = model.apply(variables, images, train=False, mutable=['intermediates'])
  weight = (jnp.arange(images.shape[0]) < real).astype(jnp.float32)[:, None, None, None]

  def sums(x):  # (N, H, W, C), or (L, N, H, W, C) for a stage's scanned blocks: -> (3, [L,] C).
    axes = tuple(range(x.ndim - 4, x.ndim - 1))
    weights = jnp.broadcast_to(weight, x.shape)
    return jnp.stack([jnp.sum(weights, axes), jnp.sum(x * weights, axes), jnp.sum(jnp.square(x) * weights, axes)])

  return jax.tree.map(sums, state['intermediates'])


def ordered_layers(intermediates, num_stages: int):
  """(name, value) of each sown response in network order; a stage's stacked scanned blocks come apart."""
  layers = [('stem', v) for v in intermediates.get('response', ())]
  for stage in range(1, num_stages + 1):
    tree = intermediates.get(f'stage{stage}', {})
    position = 0
    if 'transition' in tree:
      layers += [(f'{stage}.1/{i + 1}', v) for i, v in enumerate(tree['transition']['response'])]
      position = 1
    if 'blocks' in tree:
      stacked = tree['blocks']['response']
      for j in range(stacked[0].shape[-2]):
        layers += [(f'{stage}.{position + j + 1}/{i + 1}', v[..., j, :]) for i, v in enumerate(stacked)]
  return layers


def layer_responses(trained: TrainedNet) -> list[dict]:
  """Rows of (layer, name, std): each 3x3 layer in network order (1 = the first conv)."""
  if trained.config.dataset.name != 'cifar10':
    raise ConfigError(
        'Layer responses are measured on the CIFAR-10 test set (He et al. 2015, Fig. 7); '
        f'{trained.workdir} is an {trained.config.dataset.name} run.'
    )
  split, mesh = trained.split, trained.evaluator.mesh
  moments = jax.jit(compute.traced_with(trained.compute, functools.partial(_moments, model=trained.model, mesh=mesh)))
  variables = local_variables(trained.variables, mesh)
  norm = jax.device_put(split.norm, parallel.replicated(mesh))
  progress = Progress(f'{trained.name}: layer responses', len(split.labels))
  total = None
  for index, images, real in padded_batches(split, mesh.devices.size):
    sums = moments(variables, images, norm, real)
    sums = jax.tree.map(lambda s: np.asarray(s, np.float64), sums)  # Batches add up on the host, in float64.
    total = sums if total is None else jax.tree.map(np.add, total, sums)
    progress.update(len(index))
  if jax.process_count() > 1:  # Each process saw its share of the images.
    total = jax.tree.map(lambda s: multihost_utils.process_allgather(s).sum(0), total)
  rows = []
  for layer, (name, value) in enumerate(ordered_layers(total, len(trained.model.arch.stage_sizes)), 1):
    mean, mean_square = value[1] / value[0], value[2] / value[0]
    rows.append({'layer': layer, 'name': name, 'std': float(np.mean(np.sqrt(np.maximum(mean_square - mean**2, 0))))})
  return rows
