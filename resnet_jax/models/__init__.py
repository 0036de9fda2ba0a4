"""The ResNet family in Flax linen, built from a config by create_model. Imports no TensorFlow."""
import jax
import jax.numpy as jnp

from resnet_jax.errors import ConfigError
from resnet_jax.models.blocks import SHORTCUTS
from resnet_jax.models.control import BlockMode, keep_all, reorder_stage
from resnet_jax.models.cost import count_conv_outputs, count_macs, count_params
from resnet_jax.models.depths import Architecture, architecture
from resnet_jax.models.names import model_name
from resnet_jax.models.resnet import ResNet

DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}
BOTTLENECK_STRIDES = {'1x1': False, '3x3': True}  # The paper's "v1", torchvision's "v1.5".
# Whether a stage's identical blocks run in a loop (scan: the program, and its compile time, independent of depth)
# or unrolled; the variables are the same. 'auto' scans, except on the CPU with XLA's own conv gradients, which
# XLA:CPU runs ~25x slower inside a loop (ResNet-20 step: 6 against 143 images/s, measured).
BLOCK_LOOPS = ('auto', 'scan', 'unroll')
# How conv gradients are computed: 'xla' (XLA's own), 'standard_layout' (models/conv.py: as fast inside a loop as
# unrolled on XLA:CPU), or 'auto': standard_layout on the CPU, xla elsewhere (cuDNN has its own gradient kernels).
CONV_GRADIENTS = ('auto', 'xla', 'standard_layout')


def create_model(config) -> ResNet:
  """The ResNet that `config.model` describes, with `config.dataset.num_classes` outputs."""
  c = config.model
  if c.shortcut not in SHORTCUTS:
    raise ConfigError(f"Unknown shortcut option {c.shortcut!r}: set --config.model.shortcut to A, B, C or 'none'.")
  if c.bottleneck_stride not in BOTTLENECK_STRIDES:
    raise ConfigError(f"Unknown bottleneck_stride {c.bottleneck_stride!r}: set --config.model.bottleneck_stride "
                      "to '1x1' (the paper's v1) or '3x3' (torchvision's v1.5).")
  if c.block_loop not in BLOCK_LOOPS:
    raise ConfigError(f'Unknown block_loop {c.block_loop!r}: set --config.model.block_loop to one of {BLOCK_LOOPS}.')
  conv_gradients = c.get('conv_gradients', 'auto')  # Configs saved before the field existed meant 'auto'.
  if conv_gradients not in CONV_GRADIENTS:
    raise ConfigError(f'Unknown conv_gradients {conv_gradients!r}: set --config.model.conv_gradients to one of '
                      f'{CONV_GRADIENTS}.')
  if c.dtype not in DTYPES:
    raise ConfigError(f'Unknown dtype {c.dtype!r}: set --config.model.dtype to one of {sorted(DTYPES)}.')
  cpu = jax.default_backend() == 'cpu'
  standard_layout = conv_gradients == 'standard_layout' or (conv_gradients == 'auto' and cpu)
  return ResNet(
      arch=architecture(c.family, c.depth), num_classes=config.dataset.num_classes, shortcut=c.shortcut,
      preact=c.preact, stride_on_3x3=BOTTLENECK_STRIDES[c.bottleneck_stride],
      zero_init_residual=c.zero_init_residual, dtype=DTYPES[c.dtype], bn_group_size=c.bn_group_size,
      unroll_blocks=c.block_loop == 'unroll' or (c.block_loop == 'auto' and cpu and not standard_layout),
      standard_layout_gradients=standard_layout)


__all__ = ['Architecture', 'BlockMode', 'ConfigError', 'ResNet', 'architecture', 'count_conv_outputs', 'count_macs',
           'count_params', 'create_model', 'keep_all', 'model_name', 'reorder_stage']
