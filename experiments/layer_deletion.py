r"""Lesion studies of Veit et al. 2016 on trained workdirs (a ResNet and its plain twin, say): delete each block
alone, delete k random blocks, reorder same-shape blocks; for ResNets, the path-length distribution and the input
gradient by path length. Nothing recompiles per configuration. With --recompute_bn=N, each deletion's error also
with the BN statistics recomputed over N training batches of the net with those blocks deleted.

    python experiments/layer_deletion.py --workdirs=workdirs/paper/cifar10/resnet110-A,workdirs/paper/cifar10/plain110 \
        --out=workdirs/paper/report [--draws=5 --path_samples=20 --recompute_bn=50]
"""

from resnet_jax.runtime import startup  # noqa: F401 -- first: a signal while the program starts is one line.

import os

import numpy as np
from absl import flags

from resnet_jax.analysis import lesion, paths
from resnet_jax.errors import ConfigError
from resnet_jax.reproduce import plots, reporting
from resnet_jax.reproduce.papers import CLAIMS
from resnet_jax.runtime import cli, environment, study_cli
from resnet_jax.runtime.console import counted

flags.DEFINE_integer('draws', 5, 'Random draws per number of deleted blocks and per number of swaps.', lower_bound=1)
cli.define_integer_list('ks', None, 'Numbers of blocks to delete at random; default 1..all deletable.')
cli.define_integer_list(
    'swaps', ['1', '2', '4', '8', '16', '32'], 'Numbers of random swaps of same-shape blocks.', lowest=0
)
flags.DEFINE_bool('include_downsampling', False, 'Let random deletions pick shape-changing blocks too.')
flags.DEFINE_integer(
    'path_samples', 20, 'Gradient measurements (training batches) per path length; 0: no paths.', lower_bound=0
)
flags.DEFINE_integer(
    'recompute_bn',
    0,
    "N > 0: each deletion's error also with every BN layer's statistics recomputed over N training batches of the "
    'net with those blocks deleted.',
    lower_bound=0,
)
FLAGS = flags.FLAGS
RECOMPUTED = 'error %, BN recomputed'


def study_paths(trained, rng, out) -> dict:
  """Writes the net's path table and figure; returns what its record says of them."""
  n = len(trained.blocks)
  lengths = list(range(n + 1))
  rows = paths.gradient_by_path_length(trained, lengths, FLAGS.path_samples, rng)
  grads = [[r['gradient_norm'] for r in rows if r['length'] == k] for k in lengths]
  mean, std = [float(np.mean(g)) for g in grads], [float(np.std(g)) for g in grads]
  distribution = paths.path_length_distribution(n)
  effective = paths.effective_paths(n, lengths, mean)
  table = [[k, distribution[k], mean[k], std[k], effective[k]] for k in lengths]
  cumulative = np.cumsum(effective)
  low, high = int(np.searchsorted(cumulative, 0.05)), int(np.searchsorted(cumulative, 0.95))
  print(
      reporting.write_table(
          out,
          f'paths_{trained.name}',
          f'{trained.name}: paths by length (Veit et al. 2016, Fig. 6)',
          ['length', 'fraction of paths', 'gradient norm (mean)', 'gradient norm (std)', 'share of total gradient'],
          table,
          [
              f'{counted(n, "block")}; {FLAGS.path_samples} training batches per length; 90% of the gradient comes '
              f'from paths of length {low} to {high}.',
              CLAIMS['paths'],
          ],
      )
  )
  print(
      plots.paths(
          os.path.join(out, f'paths_{trained.name}.png'), trained.name, lengths, distribution, mean, std, effective
      )
  )
  return {'blocks': n, 'gradient_90_low': low, 'gradient_90_high': high}


def main():
  out = study_cli.out()
  environment.announce()
  rng = np.random.default_rng(FLAGS.seed)
  single, random, reorder, baselines, summary, studied, record = {}, {}, {}, {}, [], {}, []
  recompute, read_with = FLAGS.recompute_bn, []
  for trained in study_cli.trained_nets():
    name = trained.name
    studied[name] = trained.trained_config
    pool = lesion.candidates(trained, FLAGS.include_downsampling)
    ks = [int(k) for k in FLAGS.ks] if FLAGS.ks else list(range(1, len(pool) + 1))
    if max(ks, default=0) > len(pool):
      raise ConfigError(
          f'--ks={",".join(FLAGS.ks)}: {name} has {counted(len(pool), "block")} to delete at random, '
          f'not {max(ks)}: name at most {len(pool)}.'
      )
    baselines[name] = trained.error()['top1_error']
    read_with.append(f'{name}: BN statistics as read: {trained.bn_stats}.')
    single[name] = lesion.single_deletions(trained, recompute)
    random[name] = lesion.random_deletions(trained, ks, FLAGS.draws, rng, FLAGS.include_downsampling, recompute)
    reorder[name] = lesion.random_reorderings(trained, [int(s) for s in FLAGS.swaps], FLAGS.draws, rng)
    routes = study_paths(trained, rng, out) if trained.residual and FLAGS.path_samples else None
    kept_shape = [r['top1_error'] for r in single[name] if not r['changes_shape']]
    changing = [r['top1_error'] for r in single[name] if r['changes_shape'] and not np.isnan(r['top1_error'])]
    summary.append(
        [
            name,
            trained.step,
            baselines[name],
            float(np.mean(kept_shape)),
            float(np.max(kept_shape)),
            float(np.mean(changing)) if changing else None,
        ]
    )
    recomputed = None
    if recompute:
      recomputed = {
          'batches': recompute,
          'baseline': lesion.recomputed_error(trained, [], recompute),
          'single_deletion_mean': float(
              np.mean([r['recomputed_bn_error'] for r in single[name] if not r['changes_shape']])
          ),
          'random_deletion': [
              [k, float(np.mean([r['recomputed_bn_error'] for r in random[name] if r['k'] == k]))] for k in ks
          ],
      }
      summary[-1] += [recomputed['baseline'], recomputed['single_deletion_mean']]
    record.append(
        {
            **reporting.studied_net(trained),
            'baseline': baselines[name],
            'single_deletion_mean': float(np.mean(kept_shape)),
            'random_deletion': [
                [k, float(np.mean([r['top1_error'] for r in random[name] if r['k'] == k]))] for k in ks
            ],
            'reordering': [[r['kendall_tau'], r['top1_error']] for r in reorder[name]],
            'paths': routes,
            'recomputed_bn': recomputed,
        }
    )

  names = list(single)
  errors = ['top1_error', *(['recomputed_bn_error'] if recompute else [])]
  recomputed_columns = [RECOMPUTED] if recompute else []
  recomputed_note = (
      [
          f"{RECOMPUTED}: every BN layer's statistics recomputed over {recompute:,} training "
          f'batch{"" if recompute == 1 else "es"} of the net with those blocks deleted.'
      ]
      if recompute
      else []
  )
  reporting.write_table(
      out,
      'single_deletion',
      'Held-out error (%) with one block deleted',
      ['network', 'block', 'shape-changing', 'error %', *recomputed_columns],
      [[n, r['label'], r['changes_shape'], *(r[e] for e in errors)] for n in names for r in single[n]],
      ["NaN: a plain net's shape-changing block cannot be skipped.", *recomputed_note],
  )
  reporting.write_table(
      out,
      'random_deletion',
      'Held-out error (%) with k random blocks deleted',
      ['network', 'k', 'draw', 'deleted', 'error %', *recomputed_columns],
      [[n, r['k'], r['draw'], r['deleted'], *(r[e] for e in errors)] for n in names for r in random[n]],
      recomputed_note,
  )
  reporting.write_table(
      out,
      'reordering',
      "Held-out error (%) after random swaps, by Kendall's tau",
      ['network', 'swaps', 'draw', 'kendall tau', 'error %'],
      [[n, r['swaps'], r['draw'], r['kendall_tau'], r['top1_error']] for n in names for r in reorder[n]],
      [
          f'{n}: no two blocks of one shape to swap (a stage of one block each).'
          for n in names
          if FLAGS.swaps and not reorder[n]
      ],
  )
  print(
      reporting.write_table(
          out,
          'deletion',
          'Deleting blocks (Veit et al. 2016, Fig. 3 and 5)',
          [
              'network',
              'step',
              'error %, none deleted',
              'one block deleted: mean',
              'one block: max',
              'one shape-changing block: mean',
              *(['none deleted, BN recomputed', 'one block: mean, BN recomputed'] if recompute else []),
          ],
          summary,
          [
              *read_with,
              *recomputed_note,
              '"one block": blocks that keep the shape; per block: single_deletion.csv; k blocks: random_deletion.csv; '
              'reordering: reordering.csv. Errors on the held-out images (CIFAR-10: test, ImageNet: val).',
              reporting.data_note(studied, FLAGS.set),
              CLAIMS['single_deletion'],
              CLAIMS['random_deletion'],
              CLAIMS['reordering'],
          ],
      )
  )
  reporting.write_record(out, 'deletion', {'nets': record, 'set': FLAGS.set})
  print(plots.deletions(os.path.join(out, 'fig_deletion.png'), single, random, reorder, baselines))


PROGRAM = cli.Program(main, study_cli.DIALECT, (*study_cli.USES, 'seed'))

if __name__ == '__main__':
  PROGRAM.run()
