"""The command line of the sweeps (experiments/depth_ablation.py, shortcut_ablation.py, gpu_window.py): which runs,
where, on what budget, and how they are launched (here, as a SLURM array, or printed)."""

import dataclasses
import os
import shlex
import shutil
import sys

from absl import flags

import configs
from configs import schema
from resnet_jax import data
from resnet_jax.errors import Argument, ConfigError, Setting
from resnet_jax.models import create_model
from resnet_jax.models.depths import wrong_depth
from resnet_jax.reproduce import sweep
from resnet_jax.runtime import cli, config_flags
from resnet_jax.runtime.console import counted
from resnet_jax.tools import slurm

flags.DEFINE_enum('dataset', 'cifar10', ['cifar10', 'imagenet'], 'configs/<dataset>.py.')
flags.DEFINE_enum(
    'launcher',
    'local',
    ['local', 'slurm', 'print', 'none'],
    'local: run here one after another; slurm: write ROOT/<sweep>.sbatch, an array job; print: print '
    'the commands; none: only collect the results. Finished runs are skipped.',
)
flags.DEFINE_integer(
    'steps', 0, 'A short budget: this many steps, the schedule shrunk with it; 0: the recipe.', lower_bound=0
)
flags.DEFINE_bool(
    'check_data',
    True,
    'local, slurm: refuse a dataset.dir that is not here; --nocheck_data for data '
    "only the cluster's nodes have (a node-local copy).",
)
flags.DEFINE_string('python', sys.executable, 'The interpreter the runs use (on the cluster for slurm).')
flags.DEFINE_string(
    'slurm_time',
    '24:00:00',
    'slurm: time limit of each attempt of a task (it requeues itself '
    'until its run has finished): minutes, HH:MM:SS or D-HH:MM:SS.',
)
flags.DEFINE_integer('slurm_nodes', 1, 'slurm: nodes per run.', lower_bound=1)
flags.DEFINE_integer(
    'slurm_gpus',
    1,
    'slurm: GPUs per node of a run, one training process each; 0: a partition '
    'without GPUs (one process, no GPU request).',
    lower_bound=0,
)
flags.DEFINE_integer(
    'slurm_cpus',
    None,
    'slurm: CPUs per training process (data decoding); default 2 for cifar10, 8 for imagenet.',
    lower_bound=1,
)
flags.DEFINE_string('slurm_mem', '', "slurm: memory per node, e.g. 64G; default: the partition's.")
flags.DEFINE_string('slurm_partition', '', "slurm: partition; default: the cluster's.")
flags.DEFINE_string('slurm_account', '', 'slurm: account to charge.')
flags.DEFINE_string('slurm_qos', '', 'slurm: quality of service.')
flags.DEFINE_string('slurm_constraint', '', 'slurm: node features, e.g. a100.')
flags.DEFINE_multi_string('slurm_option', [], 'slurm: a further #SBATCH line, e.g. --slurm_option=--exclusive.')
flags.DEFINE_integer(
    'slurm_signal_seconds',
    180,
    'slurm: seconds before the time limit at which the run is told to save and the task requeues itself.',
    lower_bound=1,
)
FLAGS = flags.FLAGS
# How the runs are launched: flags of a sweep, not of a program that runs its jobs itself (gpu_window.py).
LAUNCHING = ('launcher', 'check_data', *(f'slurm_{field.name}' for field in dataclasses.fields(slurm.Resources)))
cli.share('dataset', 'steps', 'python', *LAUNCHING)
USES = ('root', 'set', 'replicas', 'out', 'depths', 'dataset', 'steps', 'python', *LAUNCHING)

CPUS = {'cifar10': 2, 'imagenet': 8}
FAMILY = {'cifar10': 'cifar', 'imagenet': 'imagenet'}  # configs/<dataset>.py's model.family.
# What a sweep sets itself (sweep.SWEPT_KEYS), and the flag that does (--set may not override it: the runs would be
# mislabelled).
SWEPT = {
    'model.depth': '--depths',
    'model.shortcut': "the sweep's variants (plain, -A, -B, -C)",
    'model.family': '--dataset',
    'dataset.name': '--dataset',
    'num_replicas': '--replicas',
}
SLURM_FIELDS = {field.name for field in dataclasses.fields(slurm.Resources)}


def dialect(part: Setting | Argument) -> str:
  """The sweeps': a config key as --set=KEY=VALUE, or the flag that sets it where the sweep does (SWEPT); the
  SLURM resources as --slurm_FIELD."""
  if isinstance(part, Setting):
    return SWEPT.get(part.key) or cli.set_dialect(part)
  return cli.flag(f'slurm_{part.name}' if part.name in SLURM_FIELDS else part.name, part.value)


def overrides() -> tuple[str, ...]:
  """--set, with its paths made absolute from here (the runs start in the repository, or on a cluster node)."""
  return config_flags.absolute_paths(FLAGS.set)


def replica_count(default: int = 1) -> int:
  """--replicas: the seeds of each network (one number), or `default`."""
  if FLAGS.replicas and len(FLAGS.replicas) > 1:
    raise ConfigError(
        f'--replicas={",".join(FLAGS.replicas)}: a sweep trains one number of seeds per network: give one.'
    )
  return int(FLAGS.replicas[0]) if FLAGS.replicas else default


def depths(default) -> list[int]:
  """The script's --depths, or `default`; a depth that names no network of --dataset is refused."""
  chosen = [int(d) for d in FLAGS.depths] if FLAGS.depths else list(default)
  for depth in chosen:
    if wrong := wrong_depth(FAMILY[FLAGS.dataset], depth):
      raise ConfigError(f'--depths={",".join(map(str, chosen))}: {wrong}: give --depths of such numbers.')
  return chosen


def check_data(config) -> None:
  """Refuses a folder source whose dataset.dir is missing, before any run is launched or written (local and slurm,
  unless --nocheck_data)."""
  d = config.dataset
  if FLAGS.launcher in ('local', 'slurm') and FLAGS.check_data and d.source == 'folder' and not os.path.exists(d.dir):
    raise ConfigError(
        f'dataset.dir {d.dir or "(empty)"} does not exist: pass --set=dataset.dir=PATH (a relative '
        f'path is taken from where you run the sweep, {os.getcwd()}), or --nocheck_data where only the '
        "cluster's nodes have it."
    )


def jobs(variants, seeds: int, devices: int = 1) -> list[sweep.Job]:
  """The runs of `variants`, `seeds` replicas each, under the flags' dataset, root, budget and overrides; a variant
  or override that does not make a valid config (its batches split over `devices`), or data that is not there, is
  refused before any run is printed, written or launched."""
  for override in FLAGS.set:
    key = override.partition('=')[0]
    if key in SWEPT:
      raise ConfigError(f'--set={override}: the sweep sets {key} itself, one value per run; use {SWEPT[key]}.')
    if FLAGS.steps and key in sweep.BUDGET_KEYS:
      raise ConfigError(
          f'--set={override}: --steps={FLAGS.steps} sets {key} (the recipe shrunk to that budget); '
          f'drop the --set, or drop --steps to set the recipe yourself.'
      )
  result = []
  for variant in variants:
    given = overrides() + ((f'num_replicas={seeds}',) if seeds > 1 else ())
    config = schema.apply_overrides(configs.named(FLAGS.dataset, variant), given)
    budget = sweep.budget_overrides(config, FLAGS.steps) if FLAGS.steps else ()
    config, given = schema.apply_overrides(config, budget), given + budget
    schema.check(config, devices)
    create_model(config)
    check_data(config)
    job = sweep.Job(FLAGS.dataset, variant, given, FLAGS.root)
    if FLAGS.launcher != 'none':  # none only reports what is there.
      job.check_workdir()
    result.append(job)
  return result


def slurm_resources() -> slurm.Resources:
  resources = slurm.Resources(**{field: FLAGS[f'slurm_{field}'].value for field in SLURM_FIELDS})
  resources = dataclasses.replace(
      resources, cpus=FLAGS.slurm_cpus or CPUS[FLAGS.dataset], option=tuple(FLAGS.slurm_option)
  )
  resources.check()
  return resources


def python() -> str:
  """--python, absolute when it is a path (the tasks start in the repository); run here, an interpreter here."""
  if FLAGS.launcher == 'local' and not shutil.which(FLAGS.python):
    raise ConfigError(
        Argument('python', FLAGS.python),
        ' is no interpreter here: give one, e.g. ',
        Argument('python', sys.executable),
        '.',
    )
  return os.path.abspath(FLAGS.python) if os.sep in FLAGS.python else FLAGS.python


def run(name: str, variants, report, seeds: int | None = None) -> None:
  """Launches (or writes, or prints) the runs of `variants` (`seeds` replicas each: default --replicas), then calls
  report(results, out) with every run of the dataset found under the root; exits 1 if a run failed."""
  cli.check_directory('root')
  out = cli.out_folder(os.path.join(FLAGS.root, 'report'))
  if FLAGS.launcher == 'none' and not os.path.isdir(FLAGS.root):
    raise ConfigError(Argument('root', FLAGS.root), ' does not exist: name the root the runs were launched under.')
  interpreter = python()
  resources = slurm_resources() if FLAGS.launcher == 'slurm' else None
  # Where the devices are known, the batches must split over them; any count's split needs one device's.
  devices = resources.nodes * resources.gpus if resources and resources.gpus else 1
  grid = jobs(variants, replica_count() if seeds is None else seeds, devices)
  failed = []
  if FLAGS.launcher == 'local':
    if FLAGS.check_data and grid[0].config.dataset.source == 'folder':
      data.check_data(grid[0].config)  # The runs share their data: read here as they read it, cached for them.
    failed = sweep.run_local(grid, interpreter)
  elif FLAGS.launcher == 'slurm':
    path = os.path.abspath(os.path.join(FLAGS.root, f'{name}_{FLAGS.dataset}.sbatch'))
    if live := slurm.live_arrays(f'{name}_{FLAGS.dataset}'):
      raise ConfigError(
          f'Array {", ".join(live)} of this sweep ({name}_{FLAGS.dataset}) still has tasks queued or '
          f'running, which resume by themselves: wait for it to end (squeue --me), or stop it '
          f'(scancel {" ".join(live)}), before writing a new one; else its runs would train twice.'
      )
    todo = [job.command(interpreter) for job in grid if not job.finished]
    slurm.write_array(path, f'{name}_{FLAGS.dataset}', todo, resources, sweep.REPO)
    print(
        f'{counted(len(todo), "unfinished run")}: sbatch {path}; then run this again with --launcher=none for the '
        'report.'
        if todo
        else f'All {len(grid)} runs have finished: nothing to submit.'
    )
  elif FLAGS.launcher == 'print':
    for job in grid:
      if not job.finished:
        print(shlex.join(job.command(interpreter)))
  results = sweep.collect(FLAGS.root, grid[0].config.dataset.name)
  if results:
    for path in filter(None, report(results, out)):
      print(path)
  elif FLAGS.launcher == 'none':
    print(f'No runs of {grid[0].config.dataset.name} under {FLAGS.root} yet: nothing to report.')
  if failed:
    print(
        cli.error_line(
            f'{counted(len(failed), "run")} failed; their logs: '
            f'{", ".join(os.path.join(j.workdir, "launch.log") for j in failed)}'
        ),
        file=sys.stderr,
    )
    sys.exit(1)
