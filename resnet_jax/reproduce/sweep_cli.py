"""The command line of the sweep scripts (experiments/depth_ablation.py, experiments/shortcut_ablation.py)."""
import os
import shlex
import sys

from absl import flags

from resnet_jax.models import create_model
from resnet_jax.reproduce import sweep
from resnet_jax.runtime.config_io import apply_overrides, config_file, named_config
from resnet_jax.limits import check_limits

flags.DEFINE_enum('dataset', 'cifar10', ['cifar10', 'imagenet'], 'configs/<dataset>.py.')
flags.DEFINE_string('root', 'workdirs/paper', 'Runs go to ROOT/<dataset name>/<network name>.')
flags.DEFINE_enum('launcher', 'local', ['local', 'slurm', 'print', 'none'],
                  'local: run here one after another; slurm: write ROOT/<sweep>.sbatch, an array job; print: print '
                  'the commands; none: only collect the results. Finished runs are skipped.')
flags.DEFINE_integer('steps', 0, 'A short budget: this many steps, the schedule shrunk with it; 0: the recipe.',
                     lower_bound=0)
flags.DEFINE_multi_string('set', [], 'A config override for every run, KEY=VALUE (e.g. dataset.dir=PATH).')
flags.DEFINE_integer('replicas', 1, 'Seeds per network, trained at once in one program (config.num_replicas); the '
                     'tables report best (mean±std) over them.', lower_bound=1)
flags.DEFINE_string('out', None, 'Where tables and figures go; default ROOT/report.')
flags.DEFINE_string('python', sys.executable, 'The interpreter the runs use (on the cluster for slurm).')
flags.DEFINE_string('slurm_time', '24:00:00', 'Time limit of each array task.')
flags.DEFINE_integer('slurm_gpus', 1, 'GPUs per array task.', lower_bound=1)
FLAGS = flags.FLAGS


def jobs(variants) -> list[sweep.Job]:
  """The runs of `variants` under the flags' dataset, root, budget and overrides; a variant or override that
  does not make a valid config is refused before any run."""
  result = []
  for variant in variants:
    overrides = tuple(FLAGS.set) + ((f'num_replicas={FLAGS.replicas}',) if FLAGS.replicas > 1 else ())
    config = apply_overrides(named_config(config_file(FLAGS.dataset), variant), overrides)
    check_limits(config)
    create_model(config)
    if FLAGS.steps:
      overrides += sweep.budget_overrides(config, FLAGS.steps)
    result.append(sweep.Job(FLAGS.dataset, variant, overrides, FLAGS.root))
  return result


def run(name: str, variants, report) -> None:
  """Launches (or writes, or prints) the runs of `variants`, then calls report(results, out) with every run of
  the dataset found under the root; exits 1 if a run failed."""
  grid = jobs(variants)
  failed = []
  if FLAGS.launcher == 'local':
    failed = sweep.run_local(grid, FLAGS.python)
  elif FLAGS.launcher == 'slurm':
    path = os.path.join(FLAGS.root, f'{name}_{FLAGS.dataset}.sbatch')
    count = sweep.slurm_array(grid, path, FLAGS.python, FLAGS.slurm_time, FLAGS.slurm_gpus)
    print(f'{count} unfinished runs: sbatch {path}; then run this again with --launcher=none for the report.')
  elif FLAGS.launcher == 'print':
    for job in grid:
      if not sweep.finished(job.workdir):
        print(shlex.join(job.command(FLAGS.python)))
  out = FLAGS.out or os.path.join(FLAGS.root, 'report')
  results = sweep.collect(FLAGS.root, grid[0].config.dataset.name)
  if results:
    for path in filter(None, report(results, out)):
      print(path)
  if failed:
    print(f'error: {len(failed)} runs failed; their logs: '
          f'{", ".join(os.path.join(j.workdir, "launch.log") for j in failed)}', file=sys.stderr)
    sys.exit(1)
