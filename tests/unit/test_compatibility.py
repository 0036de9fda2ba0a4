"""What the code of commit 76ac53f (on one CPU device) computed, which this code must reproduce: every network's
variables (names, shapes and initial values) and outputs (tests/data/recorded/models.json)."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from resnet_jax.models import create_model
from tests.helpers import ROOT, get_config

BEFORE = os.path.join(ROOT, 'tests', 'data', 'recorded')
with open(os.path.join(BEFORE, 'models.json')) as f:
  MODELS = json.load(f)


@pytest.mark.parametrize(
    'key', [pytest.param(k, marks=[pytest.mark.slow] * k.startswith('imagenet')) for k in sorted(MODELS)]
)
def test_networks_as_before(key):
  """Variables, logits (with and without deleted blocks, in training mode) and sown responses, as recorded."""
  name, _, variant = key.partition('/')
  overrides = {
      'preact': {'preact': True},
      'zero_init': {'zero_init_residual': True},
      'preact_zero': {'preact': True, 'zero_init_residual': True},
      'v1.5': {'bottleneck_stride': '3x3'},
      '': {},
  }[variant]
  config = get_config(name, **overrides)
  config.model.bn_group_size, config.dataset.num_classes = 2, 10
  model = create_model(config)
  size = 32 if name.startswith('cifar') else 64
  x = jax.random.normal(jax.random.key(1), (4, size, size, 3))
  variables = model.init(jax.random.key(0), jnp.zeros((1, size, size, 3)), train=False)
  want = MODELS[key]
  got = {jax.tree_util.keystr(p): v for p, v in jax.tree_util.tree_leaves_with_path(variables)}
  assert sorted(got) == sorted(want['variables'])
  for path, (shape, total, magnitude) in want['variables'].items():
    assert list(got[path].shape) == shape, path
    np.testing.assert_allclose(
        [float(jnp.sum(got[path])), float(jnp.sum(jnp.abs(got[path])))],
        [total, magnitude],
        rtol=1e-5,
        atol=1e-6,
        err_msg=path,
    )
  modes = jnp.asarray(want['modes'], jnp.int32)
  trained, _ = model.apply(variables, x, train=True, mutable=['batch_stats'])
  for got_logits, key in (
      (model.apply(variables, x, train=False), 'logits'),
      (model.apply(variables, x, train=False, block_modes=modes), 'deleted'),
      (trained, 'train_logits'),
  ):
    assert_close(got_logits, want[key], key)
  _, state = model.apply(variables, x, train=False, mutable=['intermediates'])
  responses = {jax.tree_util.keystr(p): v for p, v in jax.tree_util.tree_leaves_with_path(state)}
  assert sorted(responses) == sorted(want['responses'])
  for path, (shape, std) in want['responses'].items():
    assert list(responses[path].shape) == shape
    np.testing.assert_allclose(float(jnp.std(responses[path])), std, rtol=1e-4)


def assert_close(actual, expected, what: str) -> None:
  """Equal up to float32 rounding in another order, as another XLA (jax 0.11.2 against 0.12) leaves deep nets'
  logits: the relative error in norm below 1e-3 (measured: ~1e-4). A changed network is off by O(1)."""
  actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
  assert np.linalg.norm(actual - expected) <= 1e-3 * np.linalg.norm(expected), what
