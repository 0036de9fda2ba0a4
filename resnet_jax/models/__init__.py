"""The ResNet family in Flax linen: ResNet(**config.model), built from any config a config file gives by
create_model. Imports no TensorFlow."""

import jax
import jax.numpy as jnp

from resnet_jax.models.block_modes import BlockMode, keep_all, modes_deleting, routed_modes
from resnet_jax.models.cost import count_conv_outputs, count_macs, count_params
from resnet_jax.models.depths import Architecture, architecture
from resnet_jax.models.names import model_name
from resnet_jax.models.resnet import ResNet, create_model, reorder_stage


def abstract_variables(model: ResNet, image_size: int):
  """The shapes and dtypes of a model's variables at `image_size` (jax.eval_shape: nothing is computed)."""
  return jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, image_size, image_size, 3)), train=False))


def summary(config) -> dict:
  """{'name', 'params', 'macs', 'image_size'} of config's network: its parameters and the multiply-adds of one
  forward pass of one image of the config's size."""
  model, size = create_model(config), config.dataset.image_size
  variables = abstract_variables(model, size)
  return {
      'name': model_name(config.model),
      'params': count_params(variables['params']),
      'macs': count_macs(model, variables, size),
      'image_size': size,
  }


__all__ = [
    'Architecture',
    'BlockMode',
    'ResNet',
    'abstract_variables',
    'architecture',
    'count_conv_outputs',
    'count_macs',
    'count_params',
    'create_model',
    'keep_all',
    'model_name',
    'modes_deleting',
    'reorder_stage',
    'routed_modes',
    'summary',
]
