"""Names of networks: 'resnet56', 'resnet34-C', 'plain20', ... to config values and back."""
import re

from resnet_jax.errors import ConfigError

_NAME = re.compile(r'(resnet|plain)(\d+)(?:-([A-Za-z]+))?')


def parse_name(name: str, default_shortcut: str) -> tuple[int, str]:
  """'resnet34-C' -> (34, 'C'); 'resnet56' -> (56, default_shortcut); 'plain20' -> (20, 'none')."""
  match = _NAME.fullmatch(name)
  if not match:
    raise ConfigError(f'Unknown network {name!r}: name one as resnetDEPTH, resnetDEPTH-A/B/C or plainDEPTH '
                      '(e.g. resnet56, resnet34-C, plain20).')
  kind, depth, shortcut = match.groups()
  if kind == 'plain':
    if shortcut:
      raise ConfigError(f'{name!r}: plain nets have no shortcut; drop -{shortcut} or use resnet{depth}-{shortcut}.')
    return int(depth), 'none'
  shortcut = (shortcut or default_shortcut).upper()
  if shortcut not in 'ABC' or len(shortcut) != 1:
    raise ConfigError(f'{name!r}: unknown shortcut option {shortcut!r}; use -A, -B or -C.')
  return int(depth), shortcut


def model_name(model_config) -> str:
  """The name of the network a model config describes, e.g. 'resnet50-B', 'plain20', 'preact-resnet110-A'."""
  c = model_config
  name = f'plain{c.depth}' if c.shortcut == 'none' else f'resnet{c.depth}-{c.shortcut}'
  if c.family == 'imagenet' and c.bottleneck_stride == '3x3' and c.depth >= 50:
    name += '-v1.5'
  return f'preact-{name}' if c.preact else name
