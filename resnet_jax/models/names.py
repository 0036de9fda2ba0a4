"""The name of a network, from its model config: 'resnet56-A', 'resnet50-B-v1.5', 'plain20', 'preact-resnet110-A'.
(configs/common.py parses the names the configs take.)"""

from resnet_jax.models.blocks import is_residual


def model_name(model) -> str:
  """The name of the network a model config describes, e.g. 'resnet50-B', 'plain20', 'preact-resnet110-A'."""
  name = f'resnet{model.depth}-{model.shortcut}' if is_residual(model.shortcut) else f'plain{model.depth}'
  if model.family == 'imagenet' and model.bottleneck_stride == '3x3' and model.depth >= 50:
    name += '-v1.5'
  return f'preact-{name}' if model.preact else name
