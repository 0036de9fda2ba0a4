"""Replicas: config.num_replicas = K independent copies of a network trained in one jitted program, vectorised
(jax.vmap) over a leading axis of the TrainState. Replica k has seed config.seed + k (its initialisation, data
order and augmentation), so it is the single run of that seed. With K = 1 there is no replica axis at all."""
import math

import jax
import numpy as np


def count(config) -> int:
  """config.num_replicas (1 for configs saved before the field existed)."""
  return config.get('num_replicas', 1)


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
