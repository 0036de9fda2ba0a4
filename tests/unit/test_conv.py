"""Standard-layout conv gradients (models/conv.py) equal XLA's, and 'auto' picks them, with scan, on the CPU."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax import lax

from resnet_jax import compute
from resnet_jax.models import conv
from tests.helpers import build, primitives

STANDARD = ('NHWC', 'HWIO', 'NHWC')


@pytest.mark.parametrize(
    'kernel,stride,size', [(3, 1, 8), (3, 2, 8), (3, 2, 9), (1, 1, 7), (1, 2, 8), (1, 2, 7), (7, 2, 15), (7, 2, 16)]
)
def test_gradients_equal_xlas(kernel, stride, size):
  x = jax.random.normal(jax.random.key(0), (2, size, size + 1, 3))
  w = jax.random.normal(jax.random.key(1), (kernel, kernel, 3, 5))
  pad = [(kernel // 2, kernel // 2)] * 2

  def loss(x, w, conv_fn):
    return jnp.sum(jnp.sin(conv_fn(x, w, (stride, stride), pad, dimension_numbers=STANDARD)))

  want = jax.grad(loss, (0, 1))(x, w, lax.conv_general_dilated)
  got = jax.grad(loss, (0, 1))(x, w, conv.conv_general_dilated)
  for g, v in zip(got, want):
    np.testing.assert_allclose(g, v, rtol=1e-5, atol=1e-5)
  # The gradients are in the standard layout: the kernel's gradient transposes its operands into a convolution,
  # or for a 1x1 kernel is one matrix product, and then the backward pass has no convolution with a 1x1 output.
  jaxpr = jax.make_jaxpr(jax.grad(loss, (0, 1)), static_argnums=2)(x, w, conv.conv_general_dilated).jaxpr
  eqns = list(primitives(jaxpr))
  swapped = any(e.primitive.name == 'transpose' and tuple(e.params['permutation']) == (3, 1, 2, 0) for e in eqns)
  products = [e for e in eqns if e.primitive.name == 'dot_general']
  convs = [e.outvars[0].aval.shape for e in eqns if e.primitive.name == 'conv_general_dilated']
  if kernel == 1:
    assert not swapped and [e.outvars[0].aval.shape for e in products] == [(3, 5)]
    assert all(shape[1:3] != (1, 1) for shape in convs)
  else:
    assert swapped and not products


def test_other_convolutions_go_to_lax():
  x, w = jnp.ones((1, 6, 6, 4)), jnp.ones((3, 3, 2, 4))
  grouped = conv.conv_general_dilated(x, w, (1, 1), 'SAME', dimension_numbers=STANDARD, feature_group_count=2)
  np.testing.assert_array_equal(
      grouped, lax.conv_general_dilated(x, w, (1, 1), 'SAME', dimension_numbers=STANDARD, feature_group_count=2)
  )


@pytest.mark.slow
def test_auto_scans_with_standard_layout_gradients_on_cpu():
  """What the model computes under each choice of config.compute: the same gradients; 'auto' on the CPU is a scan
  with standard-layout gradients (as fast in a loop as unrolled: docs/benchmarks.md), XLA's unrolled."""
  assert compute.Compute().resolved('cpu') == compute.Compute('map', 'scan', 'standard_layout')
  assert compute.Compute(conv_gradients='xla').resolved('cpu').block_loop == 'unroll'  # Slow in a loop.
  _, model, variables = build('cifar10:resnet20')
  images, labels = jax.random.normal(jax.random.key(0), (4, 32, 32, 3)), jnp.arange(4)
  real = model.init(jax.random.key(1), images)

  def grads(choices):
    def loss(params):
      logits, _ = model.apply({**real, 'params': params}, images, train=True, mutable=['batch_stats'])
      return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    return jax.jit(compute.traced_with(choices, jax.grad(loss)))(real['params'])

  auto, xla = compute.Compute(), compute.Compute(conv_gradients='xla')
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5), grads(auto), grads(xla))
  assert jax.tree.structure(variables) == jax.tree.structure(real)

  def standard_layout(choices):  # Whether the forward pass's convolutions carry the standard-layout gradients.
    jaxpr = jax.make_jaxpr(compute.traced_with(choices, lambda v: model.apply(v, images)))(real).jaxpr
    return any(e.primitive.name.startswith('custom_vjp') for e in primitives(jaxpr))

  assert standard_layout(auto) and not standard_layout(xla)
