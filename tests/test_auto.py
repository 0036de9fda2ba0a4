"""runtime/auto.py: each 'auto' setting resolved per backend, given choices kept, unknown ones refused."""
import pytest

from resnet_jax.errors import ConfigError
from resnet_jax.models import create_model
from resnet_jax.runtime import auto
from resnet_jax.runtime.config_io import named_config


@pytest.mark.parametrize('backend,conv_gradients,block_loop,replica_axis', [
    ('cpu', 'standard_layout', 'scan', 'map'), ('gpu', 'xla', 'scan', 'vmap'), ('tpu', 'xla', 'scan', 'vmap')])
def test_auto_resolves_per_backend(backend, conv_gradients, block_loop, replica_axis):
  config = named_config('cifar10', 'resnet20')
  assert (config.model.conv_gradients, config.model.block_loop, config.replica_axis) == ('auto',) * 3
  resolved = auto.resolve(config, backend)
  assert (resolved.model.conv_gradients, resolved.model.block_loop, resolved.replica_axis) == (
      conv_gradients, block_loop, replica_axis)
  assert config.replica_axis == 'auto'  # A copy: the config (and the config.json written from it) keeps 'auto'.


def test_xla_gradients_on_the_cpu_unroll_the_blocks():
  config = named_config('cifar10', 'resnet20')
  config.model.conv_gradients = 'xla'
  model = create_model(auto.resolve(config, 'cpu'))
  assert model.unroll_blocks and not model.standard_layout_gradients
  config.model.block_loop = 'scan'
  assert not create_model(auto.resolve(config, 'cpu')).unroll_blocks  # A given choice is kept.


@pytest.mark.parametrize('key,value', [('replica_axis', 'pmap'), ('model.block_loop', 'while'),
                                       ('model.conv_gradients', 'cudnn')])
def test_unknown_choices_are_refused(key, value):
  config = named_config('cifar10', 'resnet20')
  parent, _, field = key.rpartition('.')
  (config[parent] if parent else config)[field] = value
  with pytest.raises(ConfigError, match=rf"Unknown {field} '{value}': set --config.{key} to one of auto, "):
    auto.resolve(config, 'cpu')


def test_models_are_built_from_resolved_settings_only():
  with pytest.raises(ValueError, match=r"runtime.auto.resolve"):
    create_model(named_config('cifar10', 'resnet20'))


def test_derived_values_still_follow_later_overrides():
  resolved = auto.resolve(named_config('imagenet', 'resnet50'), 'cpu')
  resolved.batch_size = 1024  # The learning rate and the steps derive from the batch (configs/imagenet.py).
  assert resolved.optimizer.learning_rate == pytest.approx(0.4) and resolved.total_steps == 90 * (1_281_167 // 1024)
