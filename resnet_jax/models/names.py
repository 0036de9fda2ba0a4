"""The name of a network, from its model config: 'resnet56-A', 'resnet50-B-v1.5', 'plain20', 'preact-resnet110-A'.
(configs/common.py parses the names the configs take.)"""
from resnet_jax.models.blocks import is_residual


def model_name(model_config) -> str:
  """The name of the network a model config describes, e.g. 'resnet50-B', 'plain20', 'preact-resnet110-A'."""
  c = model_config
  name = f'resnet{c.depth}-{c.shortcut}' if is_residual(c.shortcut) else f'plain{c.depth}'
  if c.family == 'imagenet' and c.bottleneck_stride == '3x3' and c.depth >= 50:
    name += '-v1.5'
  return f'preact-{name}' if c.preact else name
