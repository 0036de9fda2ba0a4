"""compute.py: each 'auto' choice resolved per backend in one place, given choices kept; the choices reach a traced
function, and one traced outside of any takes the backend's."""

import jax
import jax.numpy as jnp
import pytest

import configs
from resnet_jax import compute
from resnet_jax.models import create_model


@pytest.mark.parametrize(
    'backend,conv_gradients,block_loop,replica_axis',
    [('cpu', 'standard_layout', 'scan', 'map'), ('gpu', 'xla', 'scan', 'vmap'), ('tpu', 'xla', 'scan', 'vmap')],
)
def test_auto_resolves_per_backend(backend, conv_gradients, block_loop, replica_axis):
  config = configs.named('cifar10', 'resnet20')
  assert dict(config.compute) == {'replica_axis': 'auto', 'block_loop': 'auto', 'conv_gradients': 'auto'}
  resolved = compute.Compute(**config.compute).resolved(backend)
  assert resolved == compute.Compute(replica_axis, block_loop, conv_gradients)
  assert config.compute.replica_axis == 'auto'  # The config (and the config.json written from it) keeps 'auto'.


def test_xla_gradients_on_the_cpu_unroll_the_blocks_and_given_choices_are_kept():
  assert compute.Compute(conv_gradients='xla').resolved('cpu').block_loop == 'unroll'
  assert compute.Compute(conv_gradients='xla', block_loop='scan').resolved('cpu').block_loop == 'scan'
  assert compute.Compute('vmap').resolved('cpu').replica_axis == 'vmap'


def test_any_config_a_config_file_gives_builds_its_model():
  """create_model takes the config file's own config: 'auto' is nothing the model is built with."""
  for file, variant in (('cifar10', 'resnet20'), ('imagenet', 'resnet50,modern')):
    config = configs.named(file, variant)
    model = create_model(config)
    assert (model.depth, model.num_classes) == (config.model.depth, config.dataset.num_classes)


def test_the_choices_reach_what_is_traced_and_no_further():
  model = create_model(configs.named('cifar10', 'resnet20'))
  images = jnp.zeros((1, 32, 32, 3))
  variables = model.init(jax.random.key(0), images)

  def loops(fn):
    return 'while' in jax.jit(fn).lower(variables, images).as_text()

  unrolled = compute.traced_with(compute.Compute(block_loop='unroll'), model.apply)
  assert loops(model.apply) and not loops(unrolled)
  with compute.choosing(compute.Compute(block_loop='unroll')):
    assert compute.current().block_loop == 'unroll'
  assert compute.current() == compute.Compute().resolved()


def test_derived_values_follow_later_overrides():
  config = configs.named('imagenet', 'resnet50')
  config.batch_size = 1024  # The learning rate and the steps derive from the batch (configs/imagenet.py).
  assert config.optimizer.learning_rate == pytest.approx(0.4) and config.total_steps == 90 * (1_281_167 // 1024)
