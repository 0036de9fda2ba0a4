"""Replicas: config.num_replicas = K independent copies of a network trained in one jitted program, over a leading
axis of the TrainState. Replica k has seed config.seed + k (its initialisation, data order and augmentation), so it
is the single run of that seed. With K = 1 there is no replica axis at all.

How the program runs the axis is config.replica_axis: 'vmap' batches the K nets into one computation (a convolution
with K kernels becomes a grouped convolution), 'map' runs them one after another in a loop (lax.map), each as the
single run computes it; 'auto' takes the faster of the two where docs/benchmarks.md measured it.
"""
import math

import jax
import numpy as np

from resnet_jax.errors import ConfigError

# Backend -> replica_axis of 'auto'. CPU: measured (docs/benchmarks.md, issue 20): vmap's grouped convolutions
# run K nets at a third of K separate runs' speed, map at theirs. GPU and TPU: not yet measured; vmap, which fills
# a device that one small net leaves idle (the GPU window measures both ways).
AUTO_AXIS = {'cpu': 'map'}


def count(config) -> int:
  """config.num_replicas (1 for configs saved before the field existed)."""
  return config.get('num_replicas', 1)


def axis(config, backend: str | None = None) -> str:
  """How config's replicas run: config.replica_axis ('vmap' or 'map'), 'auto' resolved for `backend` (default
  JAX's)."""
  how = config.get('replica_axis', 'auto')
  if how == 'auto':
    return AUTO_AXIS.get(backend or jax.default_backend(), 'vmap')
  if how not in ('vmap', 'map'):
    raise ConfigError(f"Unknown replica_axis {how!r}: use 'vmap', 'map' or 'auto'.")
  return how


def over_replicas(fn, in_axes: tuple, how: str):
  """fn over the replica axis: the leading axis of each argument whose in_axes entry is 0 (None: shared by every
  replica), and of every output. how='vmap': jax.vmap; 'map': one replica at a time (lax.map)."""
  if how == 'vmap':
    return jax.vmap(fn, in_axes=in_axes)

  def mapped(*args):
    def one(stacked):
      slices = iter(stacked)
      return fn(*[next(slices) if axis == 0 else arg for arg, axis in zip(args, in_axes)])
    return jax.lax.map(one, [arg for arg, axis in zip(args, in_axes) if axis == 0])
  return mapped


def seeds(config) -> list[int]:
  """The seed of each replica: config.seed, config.seed + 1, ..."""
  return [config.seed + k for k in range(count(config))]


def take(tree, replica: int):
  """Replica `replica` of a stacked pytree (its leading axis)."""
  return jax.tree.map(lambda leaf: leaf[replica], tree)


def mean_std(values) -> tuple[float, float]:
  """Mean and standard deviation (ddof=1, as the papers' error bars; 0 for one value)."""
  values = np.asarray(values, np.float64)
  return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def best_mean_std(errors, digits: int = 2) -> str:
  """He et al.'s format of several runs' errors, 'best (mean±std)': '6.43 (6.61±0.16)'; one run: its error."""
  errors = [e for e in errors if e is not None and math.isfinite(e)]
  if not errors:
    return '-'
  if len(errors) == 1:
    return f'{errors[0]:.{digits}f}'
  mean, std = mean_std(errors)
  return f'{min(errors):.{digits}f} ({mean:.{digits}f}±{std:.{digits}f})'
