"""train_step.py alone, on a synthetic batch: one step is SGD with momentum and L2 weight decay at the schedule's
learning rate, the BatchNorm statistics move, and the running metrics are the batch's loss and accuracy."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from resnet_jax.models import create_model
from resnet_jax.optim import create_optimizer, learning_rate_schedule
from resnet_jax.train_step import Metrics, create_train_state, cross_entropy, summary, train_step
from tests.helpers import get_config


@pytest.fixture(scope='module')
def setup():
  config = get_config('cifar10:resnet8')
  config.optimizer.update(learning_rate=0.1, momentum=0.9, weight_decay=1e-3, label_smoothing=0.1)
  model = create_model(config)
  schedule = learning_rate_schedule(config)
  tx = create_optimizer(config, schedule)
  images = jax.random.normal(jax.random.key(1), (8, 32, 32, 3))
  batch = {'image': images, 'label': jnp.arange(8) % 10}
  step = jax.jit(
      functools.partial(train_step, model=model, tx=tx, config=config, make_batch=lambda inputs, step, seed: inputs)
  )
  return config, model, schedule, create_train_state(model, tx, 32, seed=0), batch, step


def gradient(model, state, batch, smoothing):
  def loss(params):
    logits, _ = model.apply(
        {'params': params, 'batch_stats': state.batch_stats}, batch['image'], train=True, mutable=['batch_stats']
    )
    return cross_entropy(logits, batch['label'], smoothing).mean()

  return jax.value_and_grad(loss)(state.params)


def test_two_steps_are_sgd_with_momentum_and_weight_decay(setup):
  config, model, schedule, state, batch, step = setup
  momentum, decay = config.optimizer.momentum, config.optimizer.weight_decay
  first, running = step(state, Metrics.empty(), batch, 0)
  loss, grads = gradient(model, state, batch, 0.1)
  trace = jax.tree.map(lambda g, p: g + decay * p, grads, state.params)  # The momentum buffer after one step.
  want = jax.tree.map(lambda p, t: p - schedule(0) * t, state.params, trace)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), first.params, want)
  assert int(first.step) == 1
  second, _ = step(first, Metrics.empty(), batch, 0)
  _, grads = gradient(model, first, batch, 0.1)
  trace = jax.tree.map(lambda t, g, p: momentum * t + g + decay * p, trace, grads, first.params)
  want = jax.tree.map(lambda p, t: p - schedule(1) * t, first.params, trace)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6), second.params, want)
  [values] = summary(running, 1)
  assert values['loss'] == pytest.approx(float(loss), rel=1e-5)
  assert 0 <= values['top1_error'] <= 100


def test_a_step_moves_the_batch_norm_statistics_and_counts_the_batch(setup):
  _, _, _, state, batch, step = setup
  new, running = step(state, Metrics.empty(), batch, 0)
  means = jax.tree.leaves(new.batch_stats)
  assert any(not np.allclose(a, b) for a, b in zip(means, jax.tree.leaves(state.batch_stats)))
  assert int(running.accuracy.count) == 8  # Every image of the batch, once.
  _, twice = step(new, running, batch, 0)
  assert int(twice.accuracy.count) == 16  # Running metrics add up until the loop logs them.
