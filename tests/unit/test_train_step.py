"""train_step.py alone, on a synthetic batch: one step is SGD with momentum and L2 weight decay at the schedule's
learning rate, the BatchNorm statistics move, and the running metrics are the batch's loss and accuracy."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from resnet_jax.models import create_model
from resnet_jax.optim import create_optimizer, learning_rate_schedule
from resnet_jax.train_step import Metrics, create_train_state, cross_entropy, micro_batches, summary, train_step
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


def one_step(config, batch, devices=1):
  """(state before, state after one step, its running metrics) of config's net on `batch`."""
  model, tx = create_model(config), create_optimizer(config, learning_rate_schedule(config))
  state = create_train_state(model, tx, 32, seed=0)
  step = functools.partial(
      train_step, model=model, tx=tx, config=config, make_batch=lambda inputs, step, seed: inputs, devices=devices
  )
  return state, *jax.jit(step)(state, Metrics.empty(), batch, 0)


def test_accumulated_micro_batches_equal_the_whole_batch_with_bn_over_the_same_groups():
  """grad_accum_steps=4 on 2 devices: micro-batches of 2 images per device, the BN groups of the whole batch's."""
  batch = {'image': jax.random.normal(jax.random.key(2), (16, 32, 32, 3)), 'label': jnp.arange(16) % 10}
  whole = get_config('cifar10:resnet8')
  whole.model.bn_group_size = 2
  accumulated = get_config('cifar10:resnet8')
  accumulated.model.bn_group_size, accumulated.grad_accum_steps = 2, 4
  _, want, want_running = one_step(whole, batch, devices=2)
  _, got, got_running = one_step(accumulated, batch, devices=2)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6), got.params, want.params)
  assert summary(got_running, 1)[0]['loss'] == pytest.approx(summary(want_running, 1)[0]['loss'], rel=1e-5)
  assert summary(got_running, 1)[0]['top1_error'] == summary(want_running, 1)[0]['top1_error']
  # Micro-batch k: the k-th pair of each device's 8 images, the pairs the whole batch's BN groups are.
  micro = micro_batches({'label': jnp.arange(16)}, 4, devices=2)['label']
  np.testing.assert_array_equal(micro, [[0, 1, 8, 9], [2, 3, 10, 11], [4, 5, 12, 13], [6, 7, 14, 15]])


def test_frozen_bn_trains_no_bn_parameter_and_moves_no_statistic():
  config = get_config('cifar10:resnet8')
  config.model.frozen_bn = True
  batch = {'image': jax.random.normal(jax.random.key(3), (8, 32, 32, 3)), 'label': jnp.arange(8) % 10}
  before, after, _ = one_step(config, batch)
  bn = lambda params: {k: v for k, v in params.items() if 'bn' in k}
  jax.tree.map(np.testing.assert_array_equal, after.batch_stats, before.batch_stats)
  jax.tree.map(np.testing.assert_array_equal, bn(after.params), bn(before.params))
  jax.tree.map(
      np.testing.assert_array_equal, bn(after.params['stage1']['blocks']), bn(before.params['stage1']['blocks'])
  )
  assert not np.array_equal(after.params['stem_conv']['kernel'], before.params['stem_conv']['kernel'])
  model = create_model(config)  # Training normalises with the stored statistics, as evaluation does.
  variables = {'params': before.params, 'batch_stats': before.batch_stats}
  trained, _ = model.apply(variables, batch['image'], train=True, mutable=['batch_stats'])
  np.testing.assert_array_equal(trained, model.apply(variables, batch['image'], train=False))
