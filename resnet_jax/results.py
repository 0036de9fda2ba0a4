"""Results over seeds as the papers give them: one net's value, or the mean±std of several (config.num_replicas),
and He et al.'s 'best (mean±std)'."""

import math

import numpy as np


def mean_std(values) -> tuple[float, float]:
  """Mean and standard deviation (ddof=1, as the papers' error bars; 0 for one value)."""
  values = np.asarray(values, np.float64)
  return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def curves_mean_std(curves) -> tuple[np.ndarray, np.ndarray]:
  """Per step, the mean and standard deviation (ddof=1) of curves of the same steps; of one curve, itself and 0."""
  curves = np.asarray(curves, np.float64)
  return curves.mean(0), curves.std(0, ddof=1) if len(curves) > 1 else np.zeros(curves.shape[1:])


def values_text(values, spec: str, unit: str = '') -> str:
  """One net's value ('12.34%'), or the mean±std of the replicas' ('12.34±0.56%')."""
  if len(values) == 1:
    return f'{values[0]:{spec}}{unit}'
  mean, std = mean_std(values)
  return f'{mean:{spec}}±{std:{spec.lstrip("0123456789")}}{unit}'


def best_mean_std(errors, digits: int = 2) -> str:
  """He et al.'s format of several runs' errors, 'best (mean±std)': '6.43 (6.61±0.16)'; one run: its error."""
  errors = [e for e in errors if e is not None and math.isfinite(e)]
  if not errors:
    return '-'
  if len(errors) == 1:
    return f'{errors[0]:.{digits}f}'
  mean, std = mean_std(errors)
  return f'{min(errors):.{digits}f} ({mean:.{digits}f}±{std:.{digits}f})'


def final_errors(evals: list[dict]) -> str:
  """A split's evaluation rows (metrics.jsonl) as a run's last line gives them: one net's final and best top-1
  error, '7.50% (best 7.20% at step 300)'; of replicas, the best (mean±std) of their final errors."""
  by_replica = {}
  for row in evals:
    by_replica.setdefault(row.get('replica'), []).append(row)
  if len(by_replica) == 1:
    best = min(evals, key=lambda row: row['top1_error'])
    return f'{evals[-1]["top1_error"]:.2f}% (best {best["top1_error"]:.2f}% at step {best["step"]})'
  finals = [rows[-1]['top1_error'] for rows in by_replica.values()]
  return f'{best_mean_std(finals)}% (best (mean±std) of {len(finals)} replicas)'
