"""Lesion studies of Veit et al. 2016 (Section 5): delete one block, delete k random blocks, reorder blocks.

Each returns rows (dicts) ready for a table; errors are top-1 errors in % on the held-out split. With
`recompute_bn` > 0, a deletion's row also holds 'recomputed_bn_error': its error with every BN layer's statistics
recomputed over that many training batches of the net with those blocks deleted (bn_stats.py).
"""

import numpy as np

from resnet_jax.models import modes_deleting
from resnet_jax.progress import Progress
from resnet_jax.trained import TrainedNet


def deletion_error(trained: TrainedNet, deleted, recompute_bn: int = 0) -> dict[str, float]:
  """{'top1_error'} of the net with the blocks `deleted` deleted (none: the net itself), and with `recompute_bn`,
  'recomputed_bn_error'."""
  errors = {'top1_error': trained.error(modes_deleting(len(trained.blocks), deleted))['top1_error']}
  if recompute_bn:
    errors['recomputed_bn_error'] = recomputed_error(trained, deleted, recompute_bn)
  return errors


def recomputed_error(trained: TrainedNet, deleted, batches: int) -> float:
  """The top-1 error of the net with the blocks `deleted` deleted and every BN layer's statistics recomputed over
  `batches` training batches of that net."""
  modes = modes_deleting(len(trained.blocks), deleted)
  return trained.error(modes, trained.precise_bn(batches, modes))['top1_error']


def single_deletions(trained: TrainedNet, recompute_bn: int = 0) -> list[dict]:
  """The error with each block deleted alone (a plain net's shape-changing blocks cannot be: their error is NaN)."""
  progress = Progress(f'{trained.name}: deleting each block', len(trained.blocks))
  rows = []
  for block in trained.blocks:
    errors = {'top1_error': np.nan, **({'recomputed_bn_error': np.nan} if recompute_bn else {})}
    if block.deletable:
      errors = deletion_error(trained, [block.index], recompute_bn)
    rows.append({'block': block.index, 'label': block.label, 'changes_shape': block.changes_shape, **errors})
    progress.update()
  return rows


def candidates(trained: TrainedNet, include_shape_changing: bool) -> list[int]:
  return [b.index for b in trained.blocks if b.deletable and (include_shape_changing or not b.changes_shape)]


def random_deletions(
    trained: TrainedNet,
    ks,
    draws: int,
    rng: np.random.Generator,
    include_shape_changing: bool = False,
    recompute_bn: int = 0,
) -> list[dict]:
  """The error with k blocks deleted, drawn uniformly without replacement, `draws` times for each k in `ks`."""
  pool = candidates(trained, include_shape_changing)
  ks = [k for k in ks if k <= len(pool)]
  progress = Progress(f'{trained.name}: deleting k random blocks', len(ks) * draws)
  rows = []
  for k in ks:
    for draw in range(draws):
      deleted = sorted(rng.choice(pool, k, replace=False).tolist())
      labels = ' '.join(trained.blocks[i].label for i in deleted)
      rows.append({'k': k, 'draw': draw, 'deleted': labels, **deletion_error(trained, deleted, recompute_bn)})
      progress.update()
  return rows


def kendall_tau(order) -> float:
  """Kendall's rank correlation between `order` (a permutation) and the identity: 1 - 4 * inversions / (n(n-1))."""
  order = np.asarray(order)
  n = len(order)
  inversions = int(np.sum(np.triu(order[:, None] > order[None, :], 1)))  # Pairs i < j with order[i] > order[j].
  return 1 - 4 * inversions / (n * (n - 1))


def swappable_pairs(trained: TrainedNet) -> list[tuple[int, int]]:
  """Pairs of blocks of the same shape that may trade places: the non-transition blocks of one stage."""
  groups = {}
  for block in trained.blocks:
    if not block.changes_shape:
      groups.setdefault(block.stage, []).append(block.index)
  return [(a, b) for group in groups.values() for i, a in enumerate(group) for b in group[i + 1 :]]


def random_swaps(num_blocks: int, pairs, swaps: int, rng: np.random.Generator) -> np.ndarray:
  """An order of the blocks after `swaps` swaps of random pairs of same-shape blocks."""
  order = np.arange(num_blocks)
  for index in rng.choice(len(pairs), swaps):
    a, b = pairs[index]
    order[[a, b]] = order[[b, a]]
  return order


def random_reorderings(trained: TrainedNet, swap_counts, draws: int, rng: np.random.Generator) -> list[dict]:
  """The error after k random swaps of same-shape blocks, `draws` times for each k in `swap_counts`, with the
  Kendall tau of each order."""
  pairs = swappable_pairs(trained)
  if not pairs:
    return []
  progress = Progress(f'{trained.name}: reordering blocks', len(swap_counts) * draws)
  rows = []
  for swaps in swap_counts:
    for draw in range(draws):
      order = random_swaps(len(trained.blocks), pairs, swaps, rng)
      error = trained.error(variables=trained.reordered(order))['top1_error']
      rows.append({'swaps': swaps, 'draw': draw, 'kendall_tau': kendall_tau(order), 'top1_error': error})
      progress.update()
  return rows
