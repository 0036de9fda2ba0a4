"""What every dataset's config shares: network names, the model section (the fields of resnet_jax.models.ResNet),
the compute section (the fields of resnet_jax.compute.Compute), and the error a user can fix. Imports nothing from
resnet_jax, so that a config file loads alone."""

import json
import os
import re
from typing import Any, Callable, NamedTuple

import ml_collections

_NAME = re.compile(r'(resnet|plain)(\d+)(?:-([A-Za-z]+))?')


def value_text(value) -> str:
  """A value as a command line takes it, pasted into a shell: (32000,48000), 0.1, true, folder."""
  if isinstance(value, (list, tuple)):
    return f'({",".join(map(str, value))}{"," if len(value) == 1 else ""})'
  if value == '':
    return "''"  # What a shell reads as the empty string.
  return value if isinstance(value, str) else json.dumps(value)


class Setting(NamedTuple):
  """A config key named in a ConfigError ('model.depth'), with the value that fixes the mistake where one does.
  Each program names it as its command line sets it (--config.model.depth=56, --set=model.depth=56)."""

  key: str
  value: Any = None

  def __str__(self) -> str:
    return self.key if self.value is None else f'{self.key}={value_text(self.value)}'


class Argument(NamedTuple):
  """An argument of the call that raised ('workdir', 'replica'), named in a ConfigError, with the value that fixes
  the mistake where one does. Each program names it as its command line gives it (--workdir, --replica=0)."""

  name: str
  value: Any = None

  def __str__(self) -> str:
    return self.name if self.value is None else f'{self.name}={value_text(self.value)}'


class ConfigError(ValueError):
  """A mistake the user can fix, in a config or in what a program was given. The message is text and the Settings
  and Arguments that fix it: str() names them as `key=value`; a program names them as its command line sets them
  (render), in one line of `error: ...`."""

  def __init__(self, *parts: 'str | Setting | Argument'):
    self.parts = parts
    super().__init__(self.render(str))

  def render(self, name: Callable[['Setting | Argument'], str]) -> str:
    """The message, each Setting and Argument named by `name`."""
    return ''.join(part if isinstance(part, str) else name(part) for part in self.parts)


def usable_cpus() -> int:
  """The CPUs this process may run on: its affinity mask, and no more than SLURM granted its task."""
  cpus = len(os.sched_getaffinity(0))
  granted = os.environ.get('SLURM_CPUS_PER_TASK', '')
  return min(cpus, int(granted)) if granted.isdigit() and int(granted) > 0 else cpus


def parse_name(name: str, default_shortcut: str) -> tuple[int, str]:
  """'resnet34-C' -> (34, 'C'); 'resnet56' -> (56, default_shortcut); 'plain20' -> (20, 'none')."""
  match = _NAME.fullmatch(name)
  if not match:
    raise ConfigError(
        f'Unknown network {name!r}: name one as resnetDEPTH, resnetDEPTH-A/B/C or plainDEPTH '
        '(e.g. resnet56, resnet34-C, plain20).'
    )
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
  """The model section of a named variant ('resnet56', 'resnet34-C', 'plain18', ...) in a family: the fields of
  resnet_jax.models.ResNet, which is built as ResNet(**config.model)."""
  depth, shortcut = parse_name(variant, default_shortcut)
  return ml_collections.ConfigDict(
      {
          'family': family,  # 'cifar' (3x3 stem, widths 16/32/64) or 'imagenet' (7x7 stem, widths 64..512).
          'depth': depth,
          'shortcut': shortcut,  # 'A', 'B', 'C', or 'none' for a plain net.
          'preact': False,  # Pre-activation blocks (He et al. 2016).
          'bottleneck_stride': '1x1',  # '1x1': the paper's v1; '3x3': torchvision's v1.5.
          'zero_init_residual': False,  # Zero-init each residual branch's last BN scale.
          'dtype': 'float32',  # Compute dtype: 'float32' or 'bfloat16' (parameters stay float32).
          'bn_group_size': 0,  # BN statistics over groups of this many images (the paper's per-GPU BN); 0: all.
          'width_multiplier': 1,  # Every layer's width times this (a wide ResNet); 1: the paper's.
          'frozen_bn': False,  # BN normalises with its stored statistics, its scale and offset untrained (fine-tuning).
      }
  )


def run_options() -> dict:
  """What every dataset's config shares beyond its recipe: where a run starts, how a step's batch is computed, which
  steps are profiled, how many batches precise BN statistics take."""
  return {
      'init_from': '',  # A trained workdir whose parameters and BN statistics (where path and shape match) start it.
      'init_replica': 0,  # Of an init_from workdir of several replicas (num_replicas): the net the run starts from.
      'grad_accum_steps': 1,  # Each step's batch as this many micro-batches, their gradients averaged: one update.
      'profile_steps': (),  # (START, COUNT): a jax.profiler trace of COUNT steps from step START, in tensorboard/.
      'bn_stats_batches': 200,  # Training batches that --mode=bn_stats computes precise BN statistics over.
  }


def compute_config() -> ml_collections.ConfigDict:
  """The compute section: how the nets are computed, choices of speed that change no value (the fields of
  resnet_jax.compute.Compute; 'auto' is the backend's fastest measured route). A resumed run may change them."""
  return ml_collections.ConfigDict(
      {
          'replica_axis': 'auto',  # How num_replicas nets run in one program: 'vmap', 'map' or 'auto'.
          'block_loop': 'auto',  # A stage's identical blocks: 'scan' (the program independent of depth) or 'unroll'.
          'conv_gradients': 'auto',  # 'xla', or 'standard_layout' (resnet_jax/models/conv.py: fast in XLA:CPU loops).
      }
  )
