"""The memory bound: what it counts, and where it refuses."""

import jax
import pytest

from resnet_jax import memory, parallel
from resnet_jax.errors import ConfigError
from resnet_jax.models import create_model
from resnet_jax.optim import create_optimizer, learning_rate_schedule
from resnet_jax.train_step import abstract_state
from tests.helpers import get_config

# ResNet-8 on 32x32 images, in float32: the stem and block 1.1 (three convolutions) output 32x32x16, 2.1's two
# 16x16x32, 3.1's two 8x8x64; option A adds none.
PER_IMAGE = 4 * (3 * 32 * 32 * 16 + 2 * 16 * 16 * 32 + 2 * 8 * 8 * 64)


def resnet8(**overrides):
  config = get_config('cifar10:resnet8')
  config.update(overrides)
  model = create_model(config)
  tx = create_optimizer(config, learning_rate_schedule(config))
  one_net = abstract_state(model, tx, config)
  return config, model, one_net


def check(config, model, one_net, available, monkeypatch):
  monkeypatch.setattr(memory, 'device_bytes', lambda device: (available, 'the test device'))
  memory.check_fits(config, model, parallel.make_mesh(jax.devices()[:1]), one_net)


def test_the_bound_counts_state_gradients_and_convolution_outputs(monkeypatch):
  config, model, one_net = resnet8(batch_size=4, num_replicas=3, compute={'replica_axis': 'vmap'})
  state, gradients = memory.tree_bytes(one_net), memory.tree_bytes(one_net.params)
  # Parameters, their momentum, BatchNorm statistics, and two int32 counters (the step, the schedule's count).
  assert state == 2 * gradients + memory.tree_bytes(one_net.batch_stats) + 8
  need = 3 * (state + gradients + 4 * PER_IMAGE)  # vmap: every replica's gradients and activations at once.
  check(config, model, one_net, need, monkeypatch)
  with pytest.raises(ConfigError, match='needs at least .* per device .*: at most num_replicas=2 can fit'):
    check(config, model, one_net, need - 1, monkeypatch)
  config.compute.replica_axis = 'map'  # One replica's at a time.
  check(config, model, one_net, 3 * state + gradients + 4 * PER_IMAGE, monkeypatch)
  config.num_replicas = 1
  with pytest.raises(ConfigError, match='at most batch_size=1 can fit'):
    check(config, model, one_net, state + gradients + 2 * PER_IMAGE - 1, monkeypatch)
  with pytest.raises(ConfigError, match='not even one image of one net fits'):
    check(config, model, one_net, state, monkeypatch)


def test_a_device_without_a_known_limit_refuses_nothing(monkeypatch):
  config, model, one_net = resnet8(num_replicas=10**9)
  monkeypatch.setattr(memory, 'device_bytes', lambda device: None)
  memory.check_fits(config, model, parallel.make_mesh(jax.devices()[:1]), one_net)


def test_the_hosts_memory_is_shared_by_its_cpu_devices():
  available, source = memory.device_bytes(jax.devices('cpu')[0])
  assert available > 0 and 'host' in source
