"""Paths through a residual network (Veit et al. 2016, Section 6).

A net of n residual blocks is a collection of 2^n paths: each block contributes its residual branch or its
shortcut. A path's length is the number of residual branches on it, so lengths are Binomial(n, 1/2). The gradient
that reaches the input along paths of length k is measured by routing the backward pass through the residual
branch of k random blocks and through the shortcut of all the others (BlockMode RESIDUAL_ONLY / SKIP_ONLY); the
forward pass is the whole net's. The BatchNorm layers use their running statistics, so each example's gradient is
its own.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from resnet_jax import compute, parallel
from resnet_jax.models import routed_modes
from resnet_jax.progress import Progress
from resnet_jax.train_step import cross_entropy
from resnet_jax.trained import TrainedNet


def path_length_distribution(num_blocks: int) -> np.ndarray:
  """The fraction of the 2^n paths that have length k, for k = 0..n."""
  return np.array([math.comb(num_blocks, k) for k in range(num_blocks + 1)], np.float64) / 2**num_blocks


def input_gradient_norms(model, make_batch, choices: compute.Compute = compute.Compute()):
  """A jitted (variables, step inputs, step, block modes) -> each example's |d loss / d image| (L2), computed as
  `choices` say."""

  def norms(variables, inputs, step, block_modes):
    batch = make_batch(inputs, step)

    def loss(images):
      logits = model.apply(variables, images, train=False, block_modes=block_modes)
      return cross_entropy(logits, batch['label'], 0.0).sum()

    gradient = jax.grad(loss)(batch['image'])
    return jnp.sqrt(jnp.sum(jnp.square(gradient), axis=(1, 2, 3)))

  return jax.jit(compute.traced_with(choices, norms))


def gradient_by_path_length(trained: TrainedNet, lengths, samples: int, rng: np.random.Generator) -> list[dict]:
  """For each length k in `lengths`, `samples` training batches, each routed along k random residual branches:
  rows of (length, sample, mean over the batch of the input-gradient norm)."""
  if not trained.residual:
    raise ValueError(f'{trained.name} is a plain net: it has one path, no path lengths to study.')
  n = len(trained.blocks)
  stream, make_batch = trained.training_batches()
  norms = input_gradient_norms(trained.model, make_batch, trained.compute)
  progress = Progress(f'{trained.name}: gradient by path length', len(lengths) * samples)
  rows, step = [], 0
  for k in lengths:
    for sample in range(samples):
      residual = rng.choice(n, k, replace=False)
      modes = parallel.replicate(routed_modes(n, residual), trained.mesh)
      value = norms(trained.variables, next(stream), jnp.int32(step), modes)
      rows.append({'length': k, 'sample': sample, 'gradient_norm': float(jnp.mean(value))})
      step += 1
      progress.update()
  return rows


def effective_paths(num_blocks: int, lengths, mean_gradient) -> np.ndarray:
  """The share of the total input gradient that paths of each length carry: (number of paths of length k) x
  (gradient magnitude of one such path), normalised to sum to 1 over `lengths`."""
  total = path_length_distribution(num_blocks)[np.asarray(lengths)] * np.asarray(mean_gradient)
  return total / total.sum()
