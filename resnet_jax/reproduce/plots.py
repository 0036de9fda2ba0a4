"""The figures of the papers, drawn from our results with matplotlib (PNG files).

Figures are made with matplotlib's object interface (Figure, not pyplot), so drawing them selects no backend and
opens no window, whatever the importing program does with matplotlib.
"""

import os

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from resnet_jax.errors import WriteError
from resnet_jax.results import curves_mean_std

COLORS = matplotlib.colormaps['tab10'].colors


def _figure(rows: int, columns: int, size, **kwargs):
  fig = Figure(figsize=size)
  return fig, fig.subplots(rows, columns, **kwargs)


def _save(fig, path: str) -> str:
  fig.tight_layout()
  try:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
  except OSError as e:
    raise WriteError(
        f'{path} cannot be written ({e.strerror or e}): free the disk or name a writable folder.'
    ) from None
  return path


def _mean_band(ax, curves, style: str, color, width: float, label=None) -> None:
  """One run's curve; of several replicas (curves of the same steps), their mean with a band of ± one std."""
  steps = curves[0][0]
  mean, std = curves_mean_std([c[1] for c in curves if len(c[1]) == len(steps)])
  ax.plot(steps, mean, style, color=color, linewidth=width, label=label)
  # An error rate's band stays within 0..100 %; one run's has no width.
  ax.fill_between(steps, np.clip(mean - std, 0, 100), np.clip(mean + std, 0, 100), color=color, alpha=0.2, linewidth=0)


def error_curves(path: str, panels, eval_split: str) -> str:
  """He et al. 2015, Fig. 4 / Fig. 6: training error (dashed) and `eval_split` error (solid) against steps; of a
  run of several replicas, the mean and a band of ± one std. A run's label names its seeds, its budget where the
  runs drawn differ in theirs, and the step it stopped at where it is unfinished.

  panels: [(title, [Result, ...]), ...]; each run gets one colour.
  """
  drawn = [run for _, runs in panels for run in runs]
  budgets = {run.total_steps for run in drawn}
  fig, axes = _figure(1, len(panels), (5 * len(panels), 4.3), squeeze=False, sharey=True)
  bands = '; bands: ± one std over seeds' if any(len(run.replicas) > 1 for run in drawn) else ''
  fig.suptitle(f'dashed: training error, solid: {eval_split} error{bands}')
  for ax, (title, runs) in zip(axes[0], panels):
    for color, run in zip(COLORS, runs):
      marks = [
          *([f'{len(run.replicas)} seeds'] if len(run.replicas) > 1 else []),
          *([f'{run.total_steps:,} steps'] if len(budgets) > 1 else []),
          *([f'unfinished at step {run.last_step:,}'] if not run.finished else []),
      ]
      _mean_band(ax, run.curves('train'), '--', color, 1)
      _mean_band(ax, run.curves(eval_split), '-', color, 2, run.name + (f' ({", ".join(marks)})' if marks else ''))
    ax.set(title=title, xlabel='iterations', ylabel='error (%)')
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
  return _save(fig, path)


def responses(path: str, stds: dict[str, list[float]]) -> str:
  """He et al. 2015, Fig. 7: the std of each 3x3 layer's response, in layer order (top) and sorted (bottom)."""
  fig, (top, bottom) = _figure(2, 1, (8, 7))
  for name, values in stds.items():
    style = '--' if name.startswith('plain') else '-'
    top.plot(np.arange(1, len(values) + 1), values, style, marker='.', label=name)
    bottom.plot(np.arange(1, len(values) + 1), sorted(values, reverse=True), style, marker='.', label=name)
  top.set(xlabel='layer index (original)', ylabel='std')
  bottom.set(xlabel='layer index (sorted by magnitude)', ylabel='std')
  for ax in (top, bottom):
    ax.grid(alpha=0.3)
    ax.legend()
  return _save(fig, path)


def deletions(path: str, single: dict, random: dict, reorder: dict, baselines: dict[str, float]) -> str:
  """Veit et al. 2016, Fig. 3 and 5: error with each block deleted alone, with k random blocks deleted, and
  after reordering (against Kendall's tau). Each dict maps a network name to its study's rows."""
  fig, axes = _figure(1, 3, (16, 4.5))
  for color, (name, rows) in zip(COLORS, single.items()):
    x = np.arange(len(rows))
    axes[0].plot(x, [r['top1_error'] for r in rows], 'o-', color=color, markersize=3, label=name)
    marked = [i for i, r in enumerate(rows) if r['changes_shape']]
    axes[0].plot(x[marked], [rows[i]['top1_error'] for i in marked], 'x', color='black', markersize=8)
    axes[0].axhline(baselines[name], color=color, linestyle=':', linewidth=1)
    if 'recomputed_bn_error' in rows[0]:
      axes[0].plot(
          x, [r['recomputed_bn_error'] for r in rows], 's--', color=color, markersize=3, label=f'{name}, BN recomputed'
      )
  if single:
    labels = [r['label'] for r in next(iter(single.values()))]
    axes[0].set_xticks(np.arange(len(labels)), labels, rotation=90, fontsize=max(4, min(9, 400 // len(labels))))
  axes[0].set(
      title='deleting one block (x: shape-changing; dotted: none deleted)',
      xlabel='deleted block',
      ylabel='test error (%)',
  )
  for color, (name, rows) in zip(COLORS, random.items()):
    ks = sorted({r['k'] for r in rows})
    for key, style, label in (('top1_error', '-', name), ('recomputed_bn_error', '--', f'{name}, BN recomputed')):
      if rows and key in rows[0]:
        errors = [[r[key] for r in rows if r['k'] == k] for k in ks]
        axes[1].errorbar(
            ks,
            [np.mean(e) for e in errors],
            yerr=[np.std(e) for e in errors],
            color=color,
            linestyle=style,
            marker='o',
            markersize=3,
            capsize=2,
            label=label,
        )
  axes[1].set(title='deleting k random blocks (mean, std)', xlabel='blocks deleted', ylabel='test error (%)')
  axes[1].xaxis.set_major_locator(MaxNLocator(integer=True))
  for color, (name, rows) in zip(COLORS, reorder.items()):
    axes[2].scatter([r['kendall_tau'] for r in rows], [r['top1_error'] for r in rows], color=color, s=10, label=name)
  axes[2].set(title='reordering blocks', xlabel="Kendall's tau", ylabel='test error (%)')
  axes[2].invert_xaxis()
  for ax in axes:
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
      ax.legend()
  return _save(fig, path)


def paths(path: str, name: str, lengths, distribution, gradient_mean, gradient_std, effective) -> str:
  """Veit et al. 2016, Fig. 6: path lengths, the input gradient along a path of each length, and their product."""
  fig, axes = _figure(1, 3, (15, 4))
  axes[0].bar(np.arange(len(distribution)), distribution)
  axes[0].set(title=f'{name}: distribution of path lengths', xlabel='path length', ylabel='fraction of paths')
  axes[1].errorbar(lengths, gradient_mean, yerr=gradient_std, marker='o', markersize=3, capsize=2)
  axes[1].set(title='gradient magnitude per path', xlabel='path length', ylabel='|d loss / d input|', yscale='log')
  axes[2].bar(lengths, effective)
  axes[2].set(title='total gradient by path length', xlabel='path length', ylabel='share of the gradient')
  for ax in axes:
    ax.grid(alpha=0.3)
  return _save(fig, path)


def ensemble_size(path: str, title: str, in_order: list[dict], random_orders: list[list[dict]]) -> str:
  """The error of an ensemble of its first m members against m: top-1 and top-5, in the order given (solid) and
  the mean over random orders with a band of ± one std (dashed)."""
  fig, axes = _figure(1, 2, (10, 4))
  members = np.arange(1, len(in_order) + 1)
  for ax, (key, label) in zip(axes, (('top1_error', 'top-1'), ('top5_error', 'top-5'))):
    ax.plot(members, [row[key] for row in in_order], 'o-', color=COLORS[0], label='in the order given')
    if random_orders:
      mean, std = curves_mean_std([[row[key] for row in order] for order in random_orders])
      ax.plot(members, mean, 'o--', color=COLORS[1], label=f'mean of {len(random_orders)} random orders')
      ax.fill_between(members, mean - std, mean + std, color=COLORS[1], alpha=0.2, linewidth=0)
    ax.set(title=f'{title}: {label} error', xlabel='members', ylabel='error (%)')
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
  return _save(fig, path)
