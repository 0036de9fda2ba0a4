"""A config's 'auto' settings, resolved for the backend JAX runs on: the one place that asks which backend it is,
so that the model, the replica axis and the step are built from settings that say what they do."""
import copy

import jax

from resnet_jax.errors import ConfigError
from resnet_jax.runtime import config_io

# setting -> its choices besides 'auto'.
CHOICES = {'model.block_loop': ('scan', 'unroll'), 'model.conv_gradients': ('xla', 'standard_layout'),
           'replica_axis': ('vmap', 'map')}
# Backend -> replica_axis of 'auto'. CPU: measured (docs/benchmarks.md, issue 20): vmap's grouped convolutions
# run K nets well below K separate runs' speed, map at theirs. GPU and TPU: not yet measured; vmap, which fills
# a device that one small net leaves idle (the GPU window measures both ways).
AUTO_AXIS = {'cpu': 'map'}


def check_choices(config) -> None:
  """Refuses a setting of CHOICES that is neither 'auto' nor one of its choices."""
  for key, choices in CHOICES.items():
    node, field = config_io.node_and_field(config, key)
    value = node[field]
    if value != 'auto' and value not in choices:
      raise ConfigError(f'Unknown {field} {value!r}: set --config.{key} to one of {", ".join(("auto",) + choices)}.')


def resolve(config, backend: str | None = None):
  """A copy of config with each 'auto' of CHOICES resolved for `backend` (default: JAX's); an unknown choice is
  refused (check_choices). conv_gradients: standard_layout (models/conv.py) on the CPU, xla elsewhere (cuDNN has
  its own gradient kernels). block_loop: scan, except on the CPU with XLA's conv gradients, which XLA:CPU runs
  many times slower inside a loop (docs/benchmarks.md). replica_axis: AUTO_AXIS, else vmap."""
  check_choices(config)
  resolved = copy.deepcopy(config)  # Keeps the config's references: derived values follow later overrides.
  backend = backend or jax.default_backend()
  model = resolved.model
  if model.conv_gradients == 'auto':
    model.conv_gradients = 'standard_layout' if backend == 'cpu' else 'xla'
  if model.block_loop == 'auto':
    model.block_loop = 'unroll' if backend == 'cpu' and model.conv_gradients == 'xla' else 'scan'
  if resolved.replica_axis == 'auto':
    resolved.replica_axis = AUTO_AXIS.get(backend, 'vmap')
  return resolved
