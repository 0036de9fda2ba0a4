"""Precise BN statistics (resnet_jax/bn_stats.py): what training mode computes on the batches, averaged over them."""

import jax
import numpy as np

from resnet_jax import bn_stats
from resnet_jax.models import modes_deleting
from tests.helpers import build


def images(count: int, seed: int) -> np.ndarray:
  return np.random.default_rng(seed).normal(1.0, 2.0, (count, 32, 32, 3)).astype(np.float32)


def trained_looking(model):
  """Variables whose BN parameters and running statistics are far from their initial values."""
  variables = model.init(jax.random.key(0), images(2, 0))
  noisy = lambda tree, low: jax.tree.map(
      lambda x: np.random.default_rng(x.size).uniform(low, 2.0, x.shape).astype(np.float32), tree
  )
  return {'params': variables['params'], 'batch_stats': noisy(variables['batch_stats'], 0.5)}


def precise(model, variables, batches, block_modes=None):
  measure = bn_stats.batch_statistics(model, lambda inputs, step, seed: {'image': inputs})
  return bn_stats.recompute(measure, variables, iter(batches), 0, len(batches), block_modes)


def test_one_batchs_statistics_make_evaluation_compute_what_training_computes_on_it():
  for frozen_bn in (False, True):  # A frozen-BN net's statistics are recomputed all the same.
    _, model, _ = build('cifar10:resnet8', frozen_bn=frozen_bn)
    variables, batch = trained_looking(model), images(16, 1)
    training, _ = model.clone(frozen_bn=False).apply(variables, batch, train=True, mutable=['batch_stats'])
    read = model.apply(variables, batch, train=False)
    result = precise(model, variables, [batch])
    recomputed = model.apply(result, batch, train=False)
    assert np.abs(read - training).max() > 0.1  # The running averages are another net's here.
    np.testing.assert_allclose(recomputed, training, rtol=1e-4, atol=1e-4)
    assert result['params'] is variables['params']  # The statistics alone change.


def test_the_statistics_are_the_mean_over_batches_and_over_bn_groups():
  _, model, _ = build('cifar10:resnet8', bn_group_size=4)
  _, whole, _ = build('cifar10:resnet8')
  variables = trained_looking(model)
  first, second = images(16, 1), images(16, 2)
  both = precise(model, variables, [first, second])['batch_stats']
  each = [precise(model, variables, [b])['batch_stats'] for b in (first, second)]
  for got, a, b in zip(jax.tree.leaves(both), *map(jax.tree.leaves, each)):
    np.testing.assert_allclose(got, (a + b) / 2, rtol=1e-6, atol=1e-7)
  # Each group of 4 normalises alone: the batch's statistics are the mean of its groups', each a batch of its own.
  groups = [precise(whole, variables, [first[i : i + 4]])['batch_stats'] for i in range(0, 16, 4)]
  for got, *per_group in zip(jax.tree.leaves(each[0]), *map(jax.tree.leaves, groups)):
    np.testing.assert_allclose(got, np.mean(per_group, axis=0), rtol=1e-5, atol=1e-6)


def test_deleting_a_block_changes_the_statistics_above_it_alone():
  _, model, _ = build('cifar10:resnet8')
  variables, batch = trained_looking(model), images(16, 3)
  kept = precise(model, variables, [batch], modes_deleting(3, []))['batch_stats']
  deleted = precise(model, variables, [batch], modes_deleting(3, [1]))['batch_stats']  # Stage 2's block.
  for below in ('stem_bn', 'stage1'):
    np.testing.assert_array_equal(jax.tree.leaves(kept[below]), jax.tree.leaves(deleted[below]))
  assert (
      np.abs(kept['stage3']['transition']['bn1']['mean'] - deleted['stage3']['transition']['bn1']['mean']).max() > 1e-3
  )
