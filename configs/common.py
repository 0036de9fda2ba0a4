"""What every dataset's config shares: network names, the model section, and the user-error class. Imports
nothing from resnet_jax, so that absl's config flags load the config files alone."""
import os
import re

import ml_collections

_NAME = re.compile(r'(resnet|plain)(\d+)(?:-([A-Za-z]+))?')


class ConfigError(ValueError):
  """Bad input from the user, here and in resnet_jax (resnet_jax.errors): launch.py prints its one-line message
  and exits with status 2."""


def usable_cpus() -> int:
  """The CPUs this process may run on: its affinity mask, and no more than SLURM granted its task."""
  cpus = len(os.sched_getaffinity(0))
  granted = os.environ.get('SLURM_CPUS_PER_TASK', '')
  return min(cpus, int(granted)) if granted.isdigit() and int(granted) > 0 else cpus


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


def model_config(family: str, variant: str, default_shortcut: str) -> ml_collections.ConfigDict:
  """The model config of a named variant ('resnet56', 'resnet34-C', 'plain18', ...) in a family."""
  depth, shortcut = parse_name(variant, default_shortcut)
  return ml_collections.ConfigDict({
      'family': family,  # 'cifar' (3x3 stem, widths 16/32/64) or 'imagenet' (7x7 stem, widths 64..512).
      'depth': depth,
      'shortcut': shortcut,  # 'A', 'B', 'C', or 'none' for a plain net.
      'preact': False,  # Pre-activation blocks (He et al. 2016).
      'bottleneck_stride': '1x1',  # '1x1': the paper's v1; '3x3': torchvision's v1.5.
      'zero_init_residual': False,  # Zero-init each residual branch's last BN scale.
      'dtype': 'float32',  # Compute dtype: 'float32' or 'bfloat16' (parameters stay float32).
      'block_loop': 'auto',  # 'scan' (program size independent of depth), 'unroll', or 'auto' (models/__init__).
      'conv_gradients': 'auto',  # 'xla', 'standard_layout' (models/conv.py), or 'auto': standard_layout on CPU.
      'bn_group_size': 0,  # BN statistics over groups of this many images (the paper's per-GPU BN); 0: all.
  })
