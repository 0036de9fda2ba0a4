"""Rebuilds every table and figure of the paper sweeps from the workdirs under --root (no training).

    python experiments/reproduce_tables.py --root=workdirs/paper [--out=workdirs/paper/report]

Writes Table 6 and Fig. 6 (CIFAR-10 depth), the CIFAR shortcut proxy, what the JPEG copy of CIFAR-10 costs each
net trained on it (with --jpeg_offset: its error on 846 original-pixel test images and on their JPEG twins), Table 2 and
Fig. 4 (ImageNet depth) and Table 3 (ImageNet shortcuts), for whichever of their runs exist, and prints the tables.
"""

from resnet_jax.runtime import startup  # noqa: F401 -- first: a signal while the program starts is one line.

import os

from absl import flags

from resnet_jax.errors import ConfigError
from resnet_jax.reproduce import reporting, sweep
from resnet_jax.runtime import cli, jpeg_flags

FLAGS = flags.FLAGS


def main():
  if os.path.isfile(FLAGS.root):
    raise ConfigError(f'--root={FLAGS.root} is a file, not a directory: name the root of the sweeps.')
  cli.check_directory('out')
  out = FLAGS.out or os.path.join(FLAGS.root, 'report')
  reports = {
      'cifar10': (
          reporting.cifar_depth_table,
          reporting.cifar_depth_figure,
          reporting.cifar_shortcut_table,
          *([jpeg_flags.table] if jpeg_flags.wanted(False) else []),
      ),
      'imagenet2012': (reporting.imagenet_table2, reporting.imagenet_depth_figure, reporting.imagenet_table3),
  }
  written = []
  for dataset, dataset_reports in reports.items():
    results = sweep.collect(FLAGS.root, dataset)
    if results:
      written += [path for path in (report(results, out) for report in dataset_reports) if path]
  if not written:
    raise ConfigError(
        f'No runs under {FLAGS.root}/cifar10 or {FLAGS.root}/imagenet2012: run '
        'experiments/depth_ablation.py or experiments/shortcut_ablation.py first.'
    )
  for path in written:
    print(path)
    if path.endswith('.md'):
      with open(path) as f:
        print(f.read())


PROGRAM = cli.Program(main, uses=('root', 'out', *jpeg_flags.USES))

if __name__ == '__main__':
  PROGRAM.run()
