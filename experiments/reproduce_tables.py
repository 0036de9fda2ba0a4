"""Rebuilds every table and figure of the paper sweeps from the workdirs under --root (no training).

    python experiments/reproduce_tables.py --root=workdirs/paper [--out=workdirs/paper/report]

Writes Table 6 and Fig. 6 (CIFAR-10 depth), the CIFAR shortcut proxy, what the JPEG copy of CIFAR-10 costs each
net trained on it (with --jpeg_offset: its error on 846 original-pixel test images and on their JPEG twins), Table 2 and
Fig. 4 (ImageNet depth) and Table 3 (ImageNet shortcuts), for whichever of their runs exist, and prints the tables.
"""
import functools
import os

from absl import flags

from resnet_jax.errors import ConfigError
from resnet_jax.reproduce import jpeg_flags, reporting, sweep
from resnet_jax.runtime import cli

flags.DEFINE_string('root', 'workdirs/paper', 'The root of the sweeps: ROOT/<dataset name>/<network name>.')
flags.DEFINE_string('out', None, 'Where tables and figures go; default ROOT/report.')
cli.writable_directory('out')
FLAGS = flags.FLAGS


def main():
  if os.path.isfile(FLAGS.root):
    raise ConfigError(f'--root={FLAGS.root} is a file, not a directory: name the root of the sweeps.')
  out = FLAGS.out or os.path.join(FLAGS.root, 'report')
  jpeg_table = functools.partial(reporting.cifar_jpeg_offset_table, **jpeg_flags.paths())
  reports = {
      'cifar10': (reporting.cifar_depth_table, reporting.cifar_depth_figure, reporting.cifar_shortcut_table,
                  *([jpeg_table] if FLAGS.jpeg_offset else [])),
      'imagenet2012': (reporting.imagenet_table2, reporting.imagenet_depth_figure, reporting.imagenet_table3),
  }
  written = []
  for dataset, dataset_reports in reports.items():
    results = sweep.collect(FLAGS.root, dataset)
    if results:
      written += [path for path in (report(results, out) for report in dataset_reports) if path]
  if not written:
    raise ConfigError(f'No runs under {FLAGS.root}/cifar10 or {FLAGS.root}/imagenet2012: run '
                      'experiments/depth_ablation.py or experiments/shortcut_ablation.py first.')
  for path in written:
    print(path)
    if path.endswith('.md'):
      with open(path) as f:
        print(f.read())


if __name__ == '__main__':
  cli.run(main)
