"""The ResNet family in Flax linen, built from a config by create_model. Imports no TensorFlow."""
import jax
import jax.numpy as jnp

from resnet_jax.errors import ConfigError
from resnet_jax.models.blocks import SHORTCUTS
from resnet_jax.models.block_modes import BlockMode, keep_all, modes_deleting, routed_modes
from resnet_jax.models.cost import count_conv_outputs, count_macs, count_params
from resnet_jax.models.depths import Architecture, architecture
from resnet_jax.models.names import model_name
from resnet_jax.models.resnet import ResNet, reorder_stage

DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}
BOTTLENECK_STRIDES = {'1x1': False, '3x3': True}  # The paper's "v1", torchvision's "v1.5".
# Whether a stage's identical blocks run in a loop (scan: the program, and its compile time, independent of depth)
# or unrolled; the variables are the same.
BLOCK_LOOPS = ('scan', 'unroll')
# How conv gradients are computed: 'xla' (XLA's own) or 'standard_layout' (models/conv.py: as fast inside a loop as
# unrolled on XLA:CPU).
CONV_GRADIENTS = ('xla', 'standard_layout')


def create_model(config) -> ResNet:
  """The ResNet that `config.model` describes, with `config.dataset.num_classes` outputs; its 'auto' settings
  resolved for the backend (runtime/auto.py) first."""
  model = config.model
  if model.shortcut not in SHORTCUTS:
    raise ConfigError(f"Unknown shortcut option {model.shortcut!r}: set --config.model.shortcut to A, B, C or 'none'.")
  if model.bottleneck_stride not in BOTTLENECK_STRIDES:
    raise ConfigError(f"Unknown bottleneck_stride {model.bottleneck_stride!r}: set --config.model.bottleneck_stride "
                      "to '1x1' (the paper's v1) or '3x3' (torchvision's v1.5).")
  for field, choices in (('block_loop', BLOCK_LOOPS), ('conv_gradients', CONV_GRADIENTS)):
    if model[field] not in choices:
      raise ValueError(f'model.{field}={model[field]!r} is not one of {choices}: build the model from '
                       'runtime.auto.resolve(config).')
  if model.dtype not in DTYPES:
    raise ConfigError(f'Unknown dtype {model.dtype!r}: set --config.model.dtype to one of {sorted(DTYPES)}.')
  return ResNet(
      arch=architecture(model.family, model.depth), num_classes=config.dataset.num_classes, shortcut=model.shortcut,
      preact=model.preact, stride_on_3x3=BOTTLENECK_STRIDES[model.bottleneck_stride],
      zero_init_residual=model.zero_init_residual, dtype=DTYPES[model.dtype], bn_group_size=model.bn_group_size,
      unroll_blocks=model.block_loop == 'unroll', standard_layout_gradients=model.conv_gradients == 'standard_layout')


def abstract_variables(model: ResNet, image_size: int):
  """The shapes and dtypes of a model's variables at `image_size` (jax.eval_shape: nothing is computed)."""
  return jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, image_size, image_size, 3)),
                                           train=False))


__all__ = ['Architecture', 'BlockMode', 'ConfigError', 'ResNet', 'abstract_variables', 'architecture',
           'count_conv_outputs', 'count_macs', 'count_params', 'create_model', 'keep_all', 'model_name',
           'modes_deleting', 'reorder_stage', 'routed_modes']
