"""Layer responses (He et al. 2015, Section 4.2, Fig. 7): the standard deviation of each 3x3 layer's output after
BN and before the nonlinearity (ReLU or the addition), over CIFAR-10's test set.

A layer's std is that of each channel, over all test images and positions, averaged over the channels.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np

from resnet_jax.analysis.study import Trained
from resnet_jax.data import on_device
from resnet_jax.errors import ConfigError
from resnet_jax.progress import Progress


def _moments(variables, split, norm, index, *, model, batch_size, mesh):
  """Per layer and channel, the count, sum and sum of squares of the responses over one batch."""
  batch = on_device.eval_batch(split, norm, index, batch_size, mesh)
  _, state = model.apply(variables, batch['image'], train=False, mutable=['intermediates'])
  weight = (batch['label'] >= 0).astype(jnp.float32)[:, None, None, None]

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


def layer_responses(trained: Trained) -> list[dict]:
  """Rows of (layer, name, std): each 3x3 layer in network order (1 = the first conv)."""
  if trained.config.dataset.name != 'cifar10':
    raise ConfigError('Layer responses are measured on the CIFAR-10 test set (He et al. 2015, Fig. 7); '
                      f'{trained.workdir} is an {trained.config.dataset.name} run.')
  data = trained.run.input
  split, batch_size = data.evals['test'], trained.config.eval_batch_size
  moments = jax.jit(functools.partial(_moments, model=trained.model, batch_size=batch_size, mesh=trained.run.mesh))
  num_batches = split.labels.shape[0] // batch_size
  progress = Progress(f'{trained.name}: layer responses', num_batches)
  total = None
  for index in range(num_batches):
    sums = moments(trained.variables, split, data.data['norm'], jnp.int32(index))
    sums = jax.tree.map(lambda s: np.asarray(s, np.float64), sums)  # Batches add up on the host, in float64.
    total = sums if total is None else jax.tree.map(np.add, total, sums)
    progress.update()
  rows = []
  for layer, (name, value) in enumerate(ordered_layers(total, len(trained.model.arch.stage_sizes)), 1):
    mean, mean_square = value[1] / value[0], value[2] / value[0]
    rows.append({'layer': layer, 'name': name, 'std': float(np.mean(np.sqrt(np.maximum(mean_square - mean ** 2, 0))))})
  return rows
