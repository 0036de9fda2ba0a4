r"""One device window: what fits in --budget_seconds of a GPU machine, each unit to completion, skipping what is
recorded; run it again in the next window to fill more.

    python experiments/gpu_window.py --budget_seconds=480 --root=workdirs/paper \
        --set=dataset.source=folder --set=dataset.dir=cifar10-jpeg.tar.gz     # one ~8-minute call

On the GPU machine, experiments/gpu_window.sh runs it (prepared here by experiments/gpu_window_prepare.sh).

Units, in order:
  1. the ResNet-50 bf16 training step against PyTorch (experiments/benchmark.py --bench=step), its JSON in
     ROOT/benchmarks/ (skipped once written);
  2. ResNet-20's step at 1 and --replicas nets, the replicas by vmap and by map (replicas.py), likewise;
  3. Table 6's ResNets (--depths, default 20 32 44 56 110, option A) at the paper's 64k steps, --replicas seeds
     each (default 5) trained at once, in ROOT/cifar10/resnetD-A-xK, where the reports read them (skipped once
     finished). A run longer than a whole window runs in pieces: it is stopped at the deadline with a checkpoint
     and resumed by the next call.
Then, with a minute left, the reports are rebuilt (experiments/reproduce_tables.py --root=ROOT: Table 6 as best
(mean±std), Fig. 6 with bands, each net's error on the 846 original-pixel images and their JPEG twins, found by
--exact846 and --jpeg_copy). A budget in which no unit can run is refused.
Estimates come from each run's own measured images/s once it has logged, else from a prior fitted to the H100
numbers of docs/results.md (ResNet-20: 30,089 images/s; ResNet-56: ~12,800); --dry_run prints the plan alone.
"""

from resnet_jax.runtime import startup  # noqa: F401 -- first: a signal while the program starts is one line.

import math
import os
import sys
import time

from absl import flags

import configs
from resnet_jax import replicas
from resnet_jax.errors import ConfigError
from resnet_jax.models import create_model
from resnet_jax.progress import duration
from resnet_jax.reproduce import sweep
from resnet_jax.runtime import cli, jpeg_flags, sweep_cli
from resnet_jax.runtime.console import say
from resnet_jax.tools import window

flags.DEFINE_float(
    'budget_seconds',
    480,
    'Wall time of this window (a GPU machine reached by calls of at most 10 minutes: '
    '~8 leaves room for the machine to start).',
    lower_bound=1,
)
flags.register_validator('budget_seconds', math.isfinite, '--budget_seconds must be a finite number of seconds')
flags.DEFINE_bool('benchmark', True, 'Unit 1: the step benchmark against PyTorch.')
flags.DEFINE_string('benchmark_net', 'imagenet:resnet50', "The benchmark's net, DATASET:VARIANT.")
flags.DEFINE_integer('benchmark_batch', 256, "The benchmark's global batch.", lower_bound=1)
flags.DEFINE_enum('benchmark_dtype', 'bfloat16', ['bfloat16', 'float32'], "The benchmark's compute dtype.")
flags.DEFINE_bool(
    'replica_benchmark',
    True,
    'Unit 2: --replica_benchmark_net at 1 and --replicas nets per step, '
    'the replicas by vmap and by map (float32, JAX alone).',
)
flags.DEFINE_string('replica_benchmark_net', 'cifar10:resnet20', "The replica benchmark's net, DATASET:VARIANT.")
flags.DEFINE_integer('replica_benchmark_batch', 128, "The replica benchmark's batch per net.", lower_bound=1)
flags.DEFINE_bool('dry_run', False, 'Print the plan of the window and exit.')
FLAGS = flags.FLAGS

DEPTHS = (20, 32, 44, 56, 110)  # Table 6's ResNets; --depths picks others.
REPLICAS = 5  # Seeds of each; --replicas picks another number.
OVERHEAD_SECONDS = 60  # A training run's start-up, compilation, evaluations and checkpoints (prior).
BENCHMARK_SECONDS = 240  # A step benchmark (prior; with torch.compile, the longer).
REPORT_SECONDS = 60


def prior_images_per_sec(depth: int) -> float:
  """Images/s of one CIFAR ResNet of `depth` on an H100 in float32: 30,089 (20/depth)^0.8, the power law through
  docs/results.md's ResNet-20 (30,089) and ResNet-56 (~12,800); a prior, replaced by the run's own rate."""
  return 30_089 * (20 / depth) ** 0.8


def training_unit(job: sweep.Job) -> window.Unit:
  config, python = job.config, FLAGS.python

  def seconds_left() -> float:
    result = sweep.load(job.workdir)
    rates = sorted(r['images_per_sec'] for r in (result.rows if result else []) if r.get('images_per_sec'))
    nets = replicas.count(config)
    # A replica's rate as logged; the prior assumes replicas add no speed (what they do is measured).
    per_net = rates[len(rates) // 2] if rates else prior_images_per_sec(config.model.depth) / nets
    steps = config.total_steps - (result.last_step if result else 0)
    return steps * config.batch_size / per_net + OVERHEAD_SECONDS

  return window.Unit(
      os.path.basename(job.workdir),
      job.command(python),
      os.path.join(job.workdir, 'launch.log'),
      lambda: job.finished,
      seconds_left,
      resumable=True,
  )


def benchmark_unit(net: str, batch: int, dtype: str, replica_counts: tuple[int, ...] = (1,)) -> window.Unit:
  """experiments/benchmark.py --bench=step of `net` (DATASET:VARIANT); with several replica counts, JAX alone, the
  replicas both ways (vmap and map)."""
  dataset, _, variant = net.partition(':')
  if dataset not in ('cifar10', 'imagenet') or not variant:
    raise ConfigError(f'{net} is not DATASET:VARIANT: use e.g. imagenet:resnet50 or cifar10:resnet20.')
  create_model(configs.named(dataset, variant))  # Refuses a variant that names no network.
  counts = ','.join(map(str, replica_counts))
  name = f'step_{variant}_{dtype}_{batch}' + (f'_replicas{counts.replace(",", "-")}' if len(replica_counts) > 1 else '')
  out = os.path.join(FLAGS.root, 'benchmarks', f'{name}.json')
  command = [
      FLAGS.python,
      os.path.join(sweep.REPO, 'experiments', 'benchmark.py'),
      '--bench=step',
      f'--nets={net}',
      f'--dtypes={dtype}',
      f'--batch={batch}',
      f'--out={os.path.abspath(out)}',
  ]
  if len(replica_counts) > 1:
    command += [f'--replicas={counts}', '--replica_axes=vmap,map', '--notorch']
  return window.Unit(
      f'benchmark {variant} {dtype}' + (f' replicas {counts}' if len(replica_counts) > 1 else ''),
      command,
      out[: -len('.json')] + '.log',
      lambda: os.path.exists(out),
      lambda: BENCHMARK_SECONDS,
      resumable=False,
  )


def benchmark_units(seeds: int) -> list[window.Unit]:
  """Unit 1, the step against PyTorch; unit 2, a Table 6 net's `seeds` replicas by vmap and by map against one
  net."""
  units = [benchmark_unit(FLAGS.benchmark_net, FLAGS.benchmark_batch, FLAGS.benchmark_dtype)] if FLAGS.benchmark else []
  if FLAGS.replica_benchmark and seeds > 1:
    units.append(benchmark_unit(FLAGS.replica_benchmark_net, FLAGS.replica_benchmark_batch, 'float32', (1, seeds)))
  return units


def check_budget(units: list[window.Unit], budget: float) -> None:
  """Refuses a budget in which no unit left to do can run (each would wait for a later window, forever)."""
  steps = window.plan(units, budget)
  left = [unit for unit, decision in steps if decision != 'recorded']
  if left and all(decision == 'later' for _, decision in steps if decision != 'recorded'):
    need = min(
        min(unit.seconds_left(), window.MIN_PIECE_SECONDS) if unit.resumable else unit.seconds_left() for unit in left
    )
    raise ConfigError(
        f'--budget_seconds={FLAGS.budget_seconds:g} leaves {duration(max(budget, 0))} after the '
        f'report, too little for any unit (the smallest needs {duration(need)}): give at least '
        f'--budget_seconds={need + REPORT_SECONDS:.0f}.'
    )


def main():
  began = time.monotonic()
  cli.check_directory('root')
  seeds, jpeg_table = sweep_cli.replica_count(REPLICAS), jpeg_flags.wanted(True)  # The window's report has it: a
  # GPU evaluates the 846 images in seconds.
  benchmarks = benchmark_units(seeds)
  table6 = sweep_cli.jobs([f'resnet{d}-A' for d in sweep_cli.depths(DEPTHS)], seeds)
  units = benchmarks + [training_unit(job) for job in table6]
  budget = FLAGS.budget_seconds - REPORT_SECONDS
  check_budget(units, budget)
  if FLAGS.dry_run:
    for unit, decision in window.plan(units, budget):
      left = '' if decision == 'recorded' else f', estimated {duration(unit.seconds_left())}'
      print(f'{unit.name}: {decision}{left}')
    return
  outcomes = window.run(units, budget, sweep.REPO)
  if any(os.path.exists(os.path.join(os.path.dirname(unit.log), 'config.json')) for unit in units[len(benchmarks) :]):
    report = [
        FLAGS.python,
        os.path.join(sweep.REPO, 'experiments', 'reproduce_tables.py'),
        f'--root={FLAGS.root}',
        *jpeg_flags.flag_arguments(jpeg_table),
    ]
    outcomes += window.run(
        [
            window.Unit(
                'report',
                report,
                os.path.join(FLAGS.root, 'report.log'),
                lambda: False,
                lambda: REPORT_SECONDS,
                resumable=False,
            )
        ],
        FLAGS.budget_seconds - (time.monotonic() - began),
        sweep.REPO,
    )
  pending = [name for name, outcome in outcomes if outcome not in ('recorded', 'done') and name != 'report']
  say(
      f'Window done in {duration(time.monotonic() - began)}: '
      + (
          f'{len(pending)} units to go ({", ".join(pending)}); run the same command in the next window.'
          if pending
          else 'every unit is recorded.'
      )
  )
  if any(outcome.startswith('FAILED') for _, outcome in outcomes):
    sys.exit(1)


PROGRAM = cli.Program(
    main, sweep_cli.dialect, ('root', 'set', 'replicas', 'depths', 'steps', 'python', *jpeg_flags.USES)
)

if __name__ == '__main__':
  PROGRAM.run()
