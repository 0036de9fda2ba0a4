r"""Plain nets against ResNets by depth (He et al. 2015, Tables 2 and 6, Figs. 4 and 6).

    python experiments/depth_ablation.py --dataset=cifar10 --set=dataset.source=folder \
        --set=dataset.dir=../shared/datasets/cifar10-jpeg.tar.gz [--steps=N] [--launcher=local|slurm|print|none]

Runs plainD and resnetD-A for each depth D (CIFAR: 20, 32, 44, 56, 110; ImageNet: 18, 34) under --root, skips
finished ones, and writes the table(s), CSV and error curves to --out (default ROOT/report).
"""

from resnet_jax.runtime import startup  # noqa: F401 -- first: a signal while the program starts is one line.

from absl import flags

from resnet_jax.reproduce import reporting
from resnet_jax.runtime import cli, sweep_cli

FLAGS = flags.FLAGS
DEFAULT_DEPTHS = {'cifar10': (20, 32, 44, 56, 110), 'imagenet': (18, 34)}


def report(results, out):
  if FLAGS.dataset == 'cifar10':
    return [reporting.cifar_depth_table(results, out), reporting.cifar_depth_figure(results, out)]
  return [reporting.imagenet_table2(results, out), reporting.imagenet_depth_figure(results, out)]


def main():
  variants = [
      f'{kind}{depth}' for depth in sweep_cli.depths(DEFAULT_DEPTHS[FLAGS.dataset]) for kind in ('plain', 'resnet')
  ]
  variants = [v if v.startswith('plain') else f'{v}-A' for v in variants]  # Table 2's ResNets are option A.
  sweep_cli.run('depth_ablation', variants, report)


PROGRAM = cli.Program(main, sweep_cli.dialect, sweep_cli.USES)

if __name__ == '__main__':
  PROGRAM.run()
