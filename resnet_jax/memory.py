"""Whether a training run can fit in its devices' memory: a lower bound on what each device holds, checked before
anything is built, so that a size that cannot fit ends in one line instead of running out of memory minutes later.

The bound counts what a step cannot do without: the state of every net (parameters, BatchNorm statistics and the
optimizer's state: every device holds all of it), one set of gradients, and the convolution outputs the backward
pass needs for the device's share of the batch. vmap holds the gradients and activations of all K replicas at
once; map one replica's at a time. XLA's buffers for a step are larger (its temporaries and layouts), so what is
refused never fits and what passes may still not.
"""

import math

import jax
import jax.numpy as jnp

from resnet_jax import compute, replicas
from resnet_jax.errors import ConfigError, Setting
from resnet_jax.models import count_conv_outputs, model_name


def device_bytes(device) -> tuple[int, str] | None:
  """(bytes one device may use, where that figure comes from), or None where it is not known. An accelerator
  reports its own limit; CPU devices share the host's available memory."""
  stats = device.memory_stats()
  if stats and stats.get('bytes_limit'):
    return stats['bytes_limit'], f'{device.platform}:{device.id}'
  try:
    with open('/proc/meminfo') as meminfo:
      available = next(int(line.split()[1]) * 1024 for line in meminfo if line.startswith('MemAvailable:'))
  except (OSError, StopIteration, ValueError):
    return None
  devices = jax.local_device_count()
  return available // devices, "the host's available memory" + (f' over {devices} devices' if devices > 1 else '')


def tree_bytes(tree) -> int:
  return sum(math.prod(leaf.shape) * jnp.dtype(leaf.dtype).itemsize for leaf in jax.tree.leaves(tree))


def check_fits(config, model, mesh, one_state) -> None:
  """Refuses config's training where its lower bound (above) exceeds one device's memory. one_state: the abstract
  TrainState of one net (jax.eval_shape)."""
  known = device_bytes(next(d for d in mesh.devices.flat if d.process_index == jax.process_index()))
  if known is None:
    return
  available, source = known
  nets, vmap = replicas.count(config), compute.of(config).replica_axis == 'vmap'
  images = config.batch_size // mesh.devices.size
  variables = {'params': one_state.params, 'batch_stats': one_state.batch_stats}
  per_image = count_conv_outputs(model, variables, config.dataset.image_size) * jnp.dtype(model.dtype).itemsize
  state, gradients = tree_bytes(one_state), tree_bytes(one_state.params)
  activations = images * per_image
  at_once = nets if vmap else 1
  need = nets * state + at_once * (gradients + activations)
  if need <= available:
    return
  if state + gradients + activations <= available:
    most = available // (state + gradients + activations) if vmap else ((available - gradients - activations) // state)
    fix = ('at most ', Setting('num_replicas', most), ' can fit')
  elif state + gradients + per_image <= available:
    most = (available - state - gradients) // per_image
    per_device = f' ({most} per device)' if mesh.devices.size > 1 else ''
    fix = ('at most ', Setting('batch_size', most * mesh.devices.size), f'{per_device} can fit')
  else:
    fix = ('not even one image of one net fits: use a smaller network or a larger device',)
  name = model_name(config.model)
  what, held = replicas.of_several(
      nets,
      (f'{nets} x {name}', f'the state of {nets} nets, {size_text(state)} each'),
      (name, f'its state, {size_text(state)}'),
  )
  raise ConfigError(
      f'{what} at batch {config.batch_size} needs at least {size_text(need)} per device ({held}; gradients; the '
      f'activations of {images} images per device), but {source} is {size_text(available)}: ',
      *fix,
      '.',
  )


def size_text(n: int) -> str:
  """n bytes as '1.2 GB' (from 0.1 GB) or '12.3 MB'."""
  return f'{n / 1e9:,.1f} GB' if n >= 1e8 else f'{n / 1e6:,.1f} MB'
