"""The studies' arithmetic (resnet_jax/analysis): Kendall's tau, path lengths, and the gradient routed along one
path."""

import itertools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from resnet_jax.analysis import lesion, paths
from resnet_jax.models import BlockMode, routed_modes
from resnet_jax.models.blocks import Block, option_a
from resnet_jax.train_step import cross_entropy
from tests.helpers import build


def test_kendall_tau_counts_discordant_pairs():
  rng = np.random.default_rng(0)
  for n in (2, 5, 9):
    order = rng.permutation(n)
    concordant = sum((order[i] < order[j]) for i, j in itertools.combinations(range(n), 2))
    pairs = n * (n - 1) / 2
    assert lesion.kendall_tau(order) == pytest.approx((concordant - (pairs - concordant)) / pairs)
  assert lesion.kendall_tau(np.arange(7)) == 1 and lesion.kendall_tau(np.arange(7)[::-1]) == -1


def test_path_lengths_are_binomial():
  n = 10
  counts = np.bincount([sum(route) for route in itertools.product((0, 1), repeat=n)], minlength=n + 1)
  np.testing.assert_allclose(paths.path_length_distribution(n), counts / 2**n)
  assert counts.tolist() == [math.comb(n, k) for k in range(n + 1)]
  effective = paths.effective_paths(n, [0, 5, 10], [4.0, 1.0, 0.5])
  np.testing.assert_allclose(effective, np.array([4, 252, 0.5]) / 256.5)


def identity_backward(next_fun, args, kwargs, context):
  """Intercepts Block.__call__: the block's output, with the gradient of its shortcut alone (pre-activation:
  out = shortcut(x) + F(x), so this is the gradient of the path through no residual branch)."""
  if context.method_name != '__call__' or not isinstance(context.module, Block):
    return next_fun(*args, **kwargs)
  x, block = args[0], context.module
  out, carry = next_fun(*args, **kwargs)
  skip = option_a(x, block.stride, block.features) if block.stride != 1 or x.shape[-1] != block.features else x
  return skip + jax.lax.stop_gradient(out - skip), carry


@pytest.mark.slow
def test_gradient_routed_through_no_residual_branch_is_the_identity_paths():
  _, model, _ = build('cifar10:resnet14', preact=True)
  variables = model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
  images, labels = jax.random.normal(jax.random.key(1), (4, 32, 32, 3)), jnp.arange(4)
  loss = lambda x, modes=None: cross_entropy(model.apply(variables, x, block_modes=modes), labels, 0.0).sum()
  routed = jax.grad(loss)(images, jnp.asarray(routed_modes(6, [])))
  with nn.intercept_methods(identity_backward):
    identity = jax.grad(loss)(images)
  np.testing.assert_allclose(routed, identity, rtol=1e-6, atol=1e-9)
  assert not np.allclose(routed, jax.grad(loss)(images), atol=1e-6)  # The full gradient has the other paths too.
  np.testing.assert_array_equal(routed_modes(4, [1, 3]), [BlockMode.SKIP_ONLY, BlockMode.RESIDUAL_ONLY] * 2)
