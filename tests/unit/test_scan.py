"""Identical blocks run under nn.scan: the training step's program does not grow with depth.

Compile seconds belong in experiments/benchmark.py; here the size of the lowered program stands in for them,
deterministically: XLA's compile time follows the program it is given.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from resnet_jax.compute import Compute, traced_with
from tests.helpers import build


def lowered_training_step(name: str) -> str:
  """StableHLO text of one SGD step (forward, backward, BN statistics update) of a named network, its blocks in a
  scan."""
  _, model, variables = build(name)
  images = jax.ShapeDtypeStruct((8, 32, 32, 3), jnp.float32)
  labels = jax.ShapeDtypeStruct((8,), jnp.int32)

  def step(variables, images, labels):
    def loss_fn(params):
      logits, state = model.apply({**variables, 'params': params}, images, train=True, mutable=['batch_stats'])
      return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean(), state

    grads, state = jax.grad(loss_fn, has_aux=True)(variables['params'])
    params = jax.tree.map(lambda p, g: p - 0.1 * g, variables['params'], grads)
    return {'params': params, **state}

  return jax.jit(traced_with(Compute(block_loop='scan'), step)).lower(variables, images, labels).as_text()


@pytest.mark.slow
def test_unrolled_blocks_keep_the_variables_and_the_function():
  _, model, _ = build('cifar10:resnet20')
  scan, unroll = (traced_with(Compute(block_loop=loop), model.apply) for loop in ('scan', 'unroll'))
  images = jax.random.normal(jax.random.key(0), (2, 32, 32, 3))
  variables = jax.jit(traced_with(Compute(block_loop='scan'), model.init))(jax.random.key(1), images)
  unrolled_variables = jax.jit(traced_with(Compute(block_loop='unroll'), model.init))(jax.random.key(1), images)
  jax.tree.map(np.testing.assert_array_equal, variables, unrolled_variables)  # The same variables, the same init.
  np.testing.assert_allclose(jax.jit(scan)(variables, images), jax.jit(unroll)(variables, images), rtol=1e-5, atol=1e-5)
  assert 'while' in jax.jit(scan).lower(variables, images).as_text()
  assert 'while' not in jax.jit(unroll).lower(variables, images).as_text()


def test_resnet1202_step_is_no_bigger_than_resnet110s():
  small, large = (lowered_training_step(f'cifar10:resnet{depth}') for depth in (110, 1202))
  ops = lambda text: sum(1 for line in text.splitlines() if ' = ' in line)
  assert ops(large) <= 1.02 * ops(small)
  assert len(large) <= 1.05 * len(small)
