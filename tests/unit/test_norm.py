"""models/norm.BatchNorm against flax.linen.BatchNorm: the whole batch, and ghost groups as separate batches."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from resnet_jax.models.norm import BatchNorm

X = jax.random.normal(jax.random.key(0), (8, 5, 5, 3)) * 3 + 1


def apply(module, variables, x, train):
  return module.apply(variables, x, mutable=['batch_stats'] if train else False)


def test_whole_batch_equals_flax():
  ours, flax_bn = BatchNorm(use_running_average=False), nn.BatchNorm(use_running_average=False, momentum=0.9)
  variables = flax_bn.init(jax.random.key(1), X)
  assert jax.tree.structure(ours.init(jax.random.key(1), X)) == jax.tree.structure(variables)
  variables = {'params': {'scale': jnp.arange(1.0, 4.0), 'bias': jnp.arange(3.0)}, **variables}
  y, new = apply(ours, variables, X, train=True)
  y_flax, new_flax = apply(flax_bn, variables, X, train=True)
  np.testing.assert_allclose(y, y_flax, rtol=1e-5, atol=1e-5)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5), new, new_flax)
  evaluated = {**variables, **new}
  np.testing.assert_allclose(
      apply(ours.clone(use_running_average=True), evaluated, X, train=False),
      apply(flax_bn.clone(use_running_average=True), evaluated, X, train=False),
      rtol=1e-5,
      atol=1e-5,
  )


def test_groups_are_normalised_apart_and_running_statistics_average_them():
  ours, flax_bn = BatchNorm(use_running_average=False, group_size=2), nn.BatchNorm(False, momentum=0.9)
  variables = ours.init(jax.random.key(1), X)
  y, new = apply(ours, variables, X, train=True)
  per_group = [apply(flax_bn, variables, X[i : i + 2], train=True) for i in range(0, 8, 2)]
  np.testing.assert_allclose(y, jnp.concatenate([g for g, _ in per_group]), rtol=1e-5, atol=1e-5)
  mean_of_groups = jax.tree.map(lambda *s: sum(s) / len(s), *[stats for _, stats in per_group])
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5), new, mean_of_groups)
