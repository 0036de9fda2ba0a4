"""Sweeps: the runs of a grid, launched here one after another or as a SLURM array (reproduce/slurm.py); finished
runs are skipped; results are read back from the workdirs.

A run of configs/DATASET.py:VARIANT lives in ROOT/<dataset name>/<network name> (e.g. ROOT/cifar10/resnet56-A),
so sweeps that share a root share runs: Table 2's ResNet-34-A is also Table 3's option A. A run of K replicas
(num_replicas=K: seeds seed .. seed+K-1 in one program) lives in ROOT/<dataset name>/<network name>-xK.
"""

import dataclasses
import itertools
import json
import logging
import os
import signal
import subprocess
import sys
import time

import ml_collections

import configs
from configs.common import value_text
from configs.schema import apply_overrides
from resnet_jax import replicas
from resnet_jax.errors import Argument, ConfigError
from resnet_jax.models import model_name
from resnet_jax.optim import steps_per_unit
from resnet_jax.progress import duration
from resnet_jax.workdir import changed_settings, holdings, read_config, step_dirs
from resnet_jax.writers import read_rows

log = logging.getLogger(__name__)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EVAL_SPLITS = ('test', 'val')


@dataclasses.dataclass(frozen=True)
class Job:
  """One run: `python launch.py --config=configs/<dataset>.py:<variant> --config.<override> ...`."""

  dataset: str  # 'cifar10' or 'imagenet': the config file.
  variant: str  # e.g. 'resnet56', 'plain34', 'resnet34-C'.
  overrides: tuple[str, ...]  # 'KEY=VALUE', passed as --config.KEY=VALUE.
  root: str

  @property
  def config(self):
    return apply_overrides(configs.named(self.dataset, self.variant), self.overrides)

  @property
  def name(self) -> str:
    """The network's name, with -xK for a run of K replicas: the workdir's."""
    nets = replicas.count(self.config)
    return model_name(self.config.model) + replicas.of_several(nets, f'-x{nets}')

  @property
  def workdir(self) -> str:
    return os.path.join(self.root, self.config.dataset.name, self.name)

  @property
  def finished(self) -> bool:
    """Whether the workdir's run has reached this job's last step and evaluated there."""
    result = load(self.workdir)
    return result is not None and result.finished and result.total_steps == self.config.total_steps

  def check_workdir(self) -> None:
    """Refuses a workdir that holds a run of other settings than this job's (those a resumed run may change,
    workdir.RESUMABLE, aside), or one past its last step: the launcher would refuse it, and the sweep's tables
    would report it as this job's."""
    result = load(self.workdir)
    if result is None or not holdings(self.workdir):
      return
    trained, steps = result.config['total_steps'], self.config.total_steps
    changed = changed_settings(result.config, json.loads(self.config.to_json()))
    if trained != steps and any(key in BUDGET_KEYS for key, _, _ in changed):
      recipe = configs.named(self.dataset, self.variant).total_steps
      raise ConfigError(
          f"{self.workdir} holds a run of {trained} steps, not the sweep's {steps}: sweep ",
          *(('without ', Argument('steps')) if trained == recipe else (Argument('steps', trained),)),
          ' as it was trained, or into another ',
          Argument('root'),
          '.',
      )
    if changed:
      key, was, now = changed[0]
      raise ConfigError(
          f"{self.workdir} holds a run trained with {key}={value_text(was)}, not the sweep's "
          f'{value_text(now)}: sweep with the settings it was trained with, or into another ',
          Argument('root'),
          '.',
      )
    if result.last_step > self.config.total_steps:
      raise ConfigError(
          f"{self.workdir} holds a run at step {result.last_step}, past the sweep's "
          f'{self.config.total_steps} steps: sweep into another ',
          Argument('root'),
          '.',
      )

  def command(self, python: str) -> list[str]:
    return [
        python,
        os.path.join(REPO, 'launch.py'),
        f'--config={configs.path(self.dataset)}:{self.variant}',
        f'--workdir={os.path.abspath(self.workdir)}',
        *[f'--config.{o}' for o in self.overrides],
    ]


def scaled_boundaries(config, steps: int) -> tuple[int, ...]:
  """config's schedule boundaries, in steps, at the same fractions of a run of `steps` steps."""
  scale = steps / config.total_steps
  return tuple(max(1, round(b * steps_per_unit(config) * scale)) for b in config.schedule.boundaries)


# What a sweep sets itself, one value per run (the sweeps' flags: --depths, their variants, --dataset, --replicas).
SWEPT_KEYS = ('model.depth', 'model.shortcut', 'model.family', 'dataset.name', 'num_replicas')
# What budget_overrides sets.
BUDGET_KEYS = (
    'total_steps',
    'schedule.unit',
    'schedule.boundaries',
    'schedule.warmup_length',
    'eval_every_steps',
    'log_every_steps',
    'checkpoint_every_steps',
)


def budget_overrides(config, steps: int) -> tuple[str, ...]:
  """Overrides that shrink config's recipe to `steps` steps, with the schedule's boundaries and warm-up at the
  same fractions of the run, 4 evaluations and a checkpoint at the end: a cheap proxy of the full run. Too few
  steps to keep the boundaries apart are refused, naming the fewest that do."""
  boundaries = scaled_boundaries(config, steps)
  if len(set(boundaries)) < len(boundaries):
    fewest = next(n for n in itertools.count(steps + 1) if len(set(scaled_boundaries(config, n))) == len(boundaries))
    raise ConfigError(
        Argument('steps', steps),
        f" is too few for the schedule's {len(boundaries)} learning-rate "
        f'drops (they would fall at steps {boundaries}): give ',
        Argument('steps', fewest),
        ' or more.',
    )
  s = config.schedule
  return (
      f'total_steps={steps}',
      'schedule.unit=steps',
      f'schedule.boundaries={boundaries}',
      f'schedule.warmup_length={round(s.warmup_length * steps_per_unit(config) * steps / config.total_steps)}',
      f'eval_every_steps={max(1, steps // 4)}',
      f'log_every_steps={max(1, steps // 12)}',
      f'checkpoint_every_steps={steps}',
  )


class ForwardedSignals:
  """While the context lasts, SIGTERM and SIGINT (Ctrl-C) are passed to `child`, the run in progress, which saves
  and exits; `signalled` says one came, so that the sweep stops after that run. The child runs in a session of its
  own, so that a terminal's Ctrl-C reaches it once, through here, as a request to save. A signal that comes while
  the child is being started reaches it once it is (start)."""

  def __enter__(self):
    self.child, self.signalled, self._pending = None, False, None
    self._previous = {signum: signal.signal(signum, self._forward) for signum in (signal.SIGTERM, signal.SIGINT)}
    return self

  def __exit__(self, *exc_info):
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)

  def start(self, *args, **kwargs) -> subprocess.Popen:
    """subprocess.Popen(*args, **kwargs) as the child, sent the signal that came while it was being started."""
    self.child = subprocess.Popen(*args, **kwargs)
    pending, self._pending = self._pending, None
    if pending is not None:
      self.child.send_signal(pending)
    return self.child

  def _forward(self, signum, frame):
    del frame
    self.signalled = True
    if self.child is not None and self.child.poll() is None:
      self.child.send_signal(signum)
    else:
      self._pending = signum


def run_local(jobs, python: str = sys.executable) -> list[Job]:
  """Runs the unfinished jobs one after another, each logging to <workdir>/launch.log; returns those that
  failed. A signal to the sweep stops the run in progress (which saves) and the sweep after it."""
  todo = [job for job in jobs if not job.finished]
  for job in jobs:
    if job not in todo:
      log.info('%s: finished in %s, skipped.', job.name, job.workdir)
  failed, start = [], time.time()
  with ForwardedSignals() as signals:
    for i, job in enumerate(todo):
      os.makedirs(job.workdir, exist_ok=True)
      launch_log = os.path.join(job.workdir, 'launch.log')
      log.info('[%d/%d] %s: running, log in %s', i + 1, len(todo), job.name, launch_log)
      begun = time.time()
      with open(launch_log, 'a') as f:
        child = signals.start(job.command(python), cwd=REPO, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        status = child.wait()
      if status == 2 and not signals.signalled:  # The run refused its config or data, as the rest would.
        raise ConfigError(f'{job.name} was refused ({launch_log}): {_error_in(launch_log)}')
      elapsed, saved = time.time() - start, step_dirs(job.workdir)
      if job.finished:
        outcome = 'done'
      elif status == 0 or signals.signalled:  # Saved on the signal, or stopped before it had anything to save.
        outcome = f'stopped, saved at step {saved[-1] if saved else 0} of {job.config.total_steps}'
      else:
        outcome = f'FAILED (exit {status})'
        failed.append(job)
      log.info(
          '[%d/%d] %s: %s in %s; sweep ETA %s',
          i + 1,
          len(todo),
          job.name,
          outcome,
          duration(time.time() - begun),
          duration(elapsed / (i + 1) * (len(todo) - i - 1)),
      )
      if signals.signalled:
        log.info('Sweep stopped by a signal after %s: run the same command to resume it.', job.name)
        break
  return failed


def _error_in(launch_log: str) -> str:
  """The last `error: ` line of a run's launch.log, without that prefix."""
  with open(launch_log) as f:
    errors = [line.strip().removeprefix('error: ') for line in f if line.startswith('error: ')]
  return errors[-1] if errors else 'see its log'


def evaluation_row(row: dict) -> bool:
  """Whether a metrics.jsonl row is --mode=eval's (marked "mode": "eval"; before that mark, by its protocol)."""
  return row.get('mode') == 'eval' or 'protocol' in row


@dataclasses.dataclass
class Result:
  """What a run's workdir says: its config and its metrics.jsonl rows (of each replica, where it has several)."""

  name: str  # The network's, as model_name gives it.
  workdir: str
  config: dict
  rows: list[dict]

  @property
  def replicas(self) -> list[int | None]:
    """The replicas the rows name; [None] for a run of one net."""
    return replicas.row_replicas(self.rows)

  @property
  def total_steps(self) -> int:
    return self.config['total_steps']

  @property
  def last_step(self) -> int:
    return max((r['step'] for r in self.rows), default=0)

  @property
  def finished(self) -> bool:
    return any(r['step'] == self.total_steps and r['split'] in EVAL_SPLITS for r in self.rows)

  def curves(self, split: str) -> list[tuple[list[int], list[float]]]:
    """Per replica, (steps, top-1 errors) logged during training on `split` ('train', 'test' or 'val')."""
    curves = []
    for replica in self.replicas:
      rows = [r for r in self.rows if r['split'] == split and not evaluation_row(r) and r.get('replica') == replica]
      curves.append(([r['step'] for r in rows], [r['top1_error'] for r in rows]))
    return curves

  def finals(self, protocol: str | None = None) -> list[dict]:
    """Per replica, the newest evaluation row (CIFAR: test, ImageNet: val) of the latest step evaluated: training's
    own, or with `protocol` --mode=eval's under it (ImageNet's) on the data trained on; replicas without one are
    left out."""
    split = 'test' if any(r['split'] == 'test' for r in self.rows) else 'val'
    finals = []
    for replica in self.replicas:
      rows = [
          r
          for r in self.rows
          if r['split'] == split
          and r.get('replica') == replica
          and (r.get('protocol') == protocol and 'dataset_dir' not in r if protocol else not evaluation_row(r))
      ]
      if rows:
        finals.append(max(reversed(rows), key=lambda r: r['step']))
    return finals


def load(workdir: str) -> Result | None:
  """The run in workdir, or None if nothing has run there."""
  if not os.path.exists(os.path.join(workdir, 'config.json')):
    return None
  config = read_config(workdir)
  return Result(model_name(ml_collections.ConfigDict(config['model'])), workdir, config, read_rows(workdir))


def check_root(root: str) -> None:
  """Refuses a `root` to report on that is no root of sweeps (ROOT/<dataset name>/<network>): a file, a folder that
  is not there, a workdir, or the dataset's folder itself."""
  if not os.path.isdir(root):
    what = 'is a file, not a directory' if os.path.exists(root) else 'does not exist'
    raise ConfigError(Argument('root', root), f' {what}: name the root of the sweeps (their --root).')
  parent = os.path.dirname(os.path.abspath(root))
  if os.path.exists(os.path.join(root, 'config.json')):
    raise ConfigError(
        Argument('root', root),
        ' is a workdir (it holds config.json), not the root of sweeps, which holds cifar10/ or imagenet2012/: name ',
        Argument('root', os.path.dirname(parent)),
        ' or the root it was trained under.',
    )
  held = [n for n in sorted(os.listdir(root)) if os.path.exists(os.path.join(root, n, 'config.json'))]
  if held and not any(os.path.isdir(os.path.join(root, name)) for name in configs.FILES):
    raise ConfigError(
        Argument('root', root),
        f' holds runs itself ({", ".join(held[:3])}): the root of sweeps holds them in cifar10/ or imagenet2012/: '
        'name ',
        Argument('root', parent),
        '.',
    )


def collect(root: str, dataset_name: str) -> dict[str, Result]:
  """The runs under root/<dataset_name>/, by network name; of a network run both alone and as replicas, the run of
  the most replicas. Says which folders there it leaves out, and why."""
  base = os.path.join(root, dataset_name)
  names = sorted(n for n in os.listdir(base) if os.path.isdir(os.path.join(base, n))) if os.path.isdir(base) else []
  runs, left_out = [], []
  for name in names:
    try:
      run = load(os.path.join(base, name))
    except ConfigError as e:
      left_out.append(f'{name} ({e})')
      continue
    if run is None:
      left_out.append(f'{name} (no config.json)')
    else:
      runs.append(run)
  found = {}
  for run in sorted(runs, key=lambda r: replicas.count(r.config)):
    if run.name in found:
      left_out.append(
          f'{os.path.basename(found[run.name].workdir)} (also {run.name}; the run in '
          f'{os.path.basename(run.workdir)}, of as many or more replicas, is reported)'
      )
    found[run.name] = run
  if left_out:
    log.info('Left out of the %s tables, under %s: %s.', dataset_name, base, '; '.join(left_out))
  return found
