"""The figures' conventions: error bands within 0..100 %, integer axes with integer ticks."""

import numpy as np
from matplotlib.figure import Figure

from resnet_jax.reproduce import plots, sweep


def test_an_error_band_stays_within_0_and_100_percent():
  ax = Figure().subplots()
  steps = np.array([1, 2, 3])
  plots._mean_band(ax, [(steps, [99.0, 50.0, 1.0]), (steps, [90.0, 60.0, 0.0])], '-', 'red', 1)
  band = ax.collections[0].get_paths()[0].vertices
  assert band[:, 1].min() >= 0 and band[:, 1].max() <= 100
  assert band[:, 1].max() == 100 and band[:, 1].min() == 0  # Clipped, where mean ± std passes the bounds.


def test_iterations_and_blocks_deleted_get_integer_ticks(monkeypatch):
  monkeypatch.setattr(plots, '_save', lambda fig, path: fig)  # The figure itself, to read its axes.
  single = {'net': [{'label': '1.1', 'changes_shape': False, 'top1_error': 10.0}]}
  random = {'net': [{'k': 1, 'top1_error': 10.0}, {'k': 2, 'top1_error': 12.0}]}
  fig = plots.deletions('unused.png', single, random, {'net': []}, {'net': 9.0})
  ticks = fig.axes[1].get_xticks()
  assert len(ticks) and all(float(t).is_integer() for t in ticks), ticks


def test_error_curves_mark_unfinished_runs_and_other_budgets_and_draw_bands_only_of_seeds(monkeypatch):
  monkeypatch.setattr(plots, '_save', lambda fig, path: fig)

  def run(name, total, last, replicas=(None,)):
    rows = [
        {'step': step, 'split': split, 'top1_error': 50.0, **({'replica': r} if r is not None else {})}
        for step in range(4, last + 1, 4)
        for split in ('train', 'test')
        for r in replicas
    ]
    return sweep.Result(name, '/unused', {'total_steps': total}, rows)

  fig = plots.error_curves('unused.png', [('plain', [run('plain20', 12, 12), run('plain56', 2000, 8)])], 'test')
  assert fig._suptitle.get_text() == 'dashed: training error, solid: test error'  # One seed each: no bands.
  assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
      'plain20 (12 steps)',
      'plain56 (2,000 steps, unfinished at step 8)',
  ]
  fig = plots.error_curves('unused.png', [('ResNet', [run('resnet20-A', 12, 12, (0, 1))])], 'test')
  assert fig._suptitle.get_text().endswith('; bands: ± one std over seeds')
  assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ['resnet20-A (2 seeds)']
