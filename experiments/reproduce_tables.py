"""Rebuilds every table and figure of both papers from the workdirs under --root (no training), and the index of
what the root reproduces.

    python experiments/reproduce_tables.py --root=workdirs/paper [--out=workdirs/paper/report]

Writes, for whichever of their runs exist: He et al. 2015's Table 1 (ImageNet parameters and multiply-adds),
Tables 2-4 and Fig. 4 (ImageNet), Table 6 and Figs. 1 and 6 (CIFAR-10), the CIFAR shortcut proxy, Table 5 from the
ensembles recorded under --out (experiments/ensemble.py), what the JPEG copy of CIFAR-10 costs each net trained on it
(with --jpeg_offset), and README.md: every table and figure of He et al. 2015 and Veit et al. 2016 with our file,
the published numbers, the budget, whether ours reproduces the claim (the studies' records under --out:
experiments/layer_responses.py, layer_deletion.py), or the command that fills it. Prints the tables.
"""

from resnet_jax.runtime import startup  # noqa: F401 -- first: a signal while the program starts is one line.

import os

from absl import flags

from resnet_jax.reproduce import index, reporting, sweep
from resnet_jax.runtime import cli, jpeg_flags

FLAGS = flags.FLAGS


def main():
  sweep.check_root(FLAGS.root)
  out = cli.out_folder(os.path.join(FLAGS.root, 'report'))
  reports = {
      'cifar10': (
          reporting.cifar_depth_table,
          reporting.cifar_depth_figure,
          reporting.cifar_plain_figure,
          reporting.cifar_shortcut_table,
          *([jpeg_flags.table] if jpeg_flags.wanted(False) else []),
      ),
      'imagenet2012': (
          reporting.imagenet_table2,
          reporting.imagenet_depth_figure,
          reporting.imagenet_table3,
          reporting.imagenet_table4,
      ),
  }
  results = {dataset: sweep.collect(FLAGS.root, dataset) for dataset in reports}
  written = [reporting.imagenet_table1(results['imagenet2012'], out)]
  for dataset, dataset_reports in reports.items():
    if results[dataset]:
      written += [path for path in (report(results[dataset], out) for report in dataset_reports) if path]
  written.append(reporting.ensemble_table5(reporting.read_records(out, 'ensemble'), out))
  written.append(index.write_index(FLAGS.root, out, results))
  for path in filter(None, written):
    print(path)
    if path.endswith('.md'):
      with open(path) as f:
        print(f.read())


PROGRAM = cli.Program(main, uses=('root', 'out', *jpeg_flags.USES))

if __name__ == '__main__':
  PROGRAM.run()
