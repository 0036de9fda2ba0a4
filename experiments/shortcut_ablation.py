r"""Shortcut options A, B and C (He et al. 2015, Table 3): ResNet-34 and plain-34 on ImageNet (or --depths), or
CIFAR ResNets of the given depths as a cheap proxy.

    python experiments/shortcut_ablation.py --dataset=imagenet --set=dataset.dir=/data/imagenet --launcher=slurm
    python experiments/shortcut_ablation.py --dataset=cifar10 --depths=20,56 --set=dataset.source=folder \
        --set=dataset.dir=../shared/datasets/cifar10-jpeg.tar.gz [--steps=N]

Skips finished runs and writes the table, CSV and error curves to --out (default ROOT/report). --depths: default
CIFAR 20,56 or ImageNet 34 (Table 3, beside plain-34).
"""

from resnet_jax.runtime import startup  # noqa: F401 -- first: a signal while the program starts is one line.

import os

from absl import flags

from resnet_jax.reproduce import plots, reporting
from resnet_jax.runtime import cli, sweep_cli

FLAGS = flags.FLAGS
DEFAULT_DEPTHS = {'cifar10': (20, 56), 'imagenet': (34,)}


def report(results, out):
  options = {n: r for n, r in results.items() if n[-2:] in ('-A', '-B', '-C') or n.startswith('plain')}
  curves = os.path.join(out, f'shortcuts_{FLAGS.dataset}.png')
  panels = [
      (f'ResNet-{d}', [r for n, r in sorted(options.items()) if r.config['model']['depth'] == d])
      for d in sorted({r.config['model']['depth'] for r in options.values()})
  ]
  split = 'test' if FLAGS.dataset == 'cifar10' else 'val'
  table = (reporting.cifar_shortcut_table if FLAGS.dataset == 'cifar10' else reporting.imagenet_table3)(results, out)
  return [table, plots.error_curves(curves, panels, split)]


def main():
  depths = sweep_cli.depths(DEFAULT_DEPTHS[FLAGS.dataset])
  plain = [f'plain{d}' for d in depths] if FLAGS.dataset == 'imagenet' else []  # Table 3's plain baseline.
  variants = plain + [f'resnet{d}-{option}' for d in depths for option in 'ABC']
  sweep_cli.run('shortcut_ablation', variants, report)


PROGRAM = cli.Program(main, sweep_cli.dialect, sweep_cli.USES)

if __name__ == '__main__':
  PROGRAM.run()
