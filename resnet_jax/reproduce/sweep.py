"""Sweeps: the runs of a grid, launched here one after another or as a SLURM array (reproduce/slurm.py); finished
runs are skipped; results are read back from the workdirs.

A run of configs/DATASET.py:VARIANT lives in ROOT/<dataset name>/<network name> (e.g. ROOT/cifar10/resnet56-A),
so sweeps that share a root share runs: Table 2's ResNet-34-A is also Table 3's option A. A run of K replicas
(num_replicas=K: seeds seed .. seed+K-1 in one program) lives in ROOT/<dataset name>/<network name>-xK.
"""
import dataclasses
import itertools
import json
import os
import subprocess
import sys
import time

import ml_collections

from resnet_jax import replicas
from resnet_jax.errors import ConfigError
from resnet_jax.models import model_name
from resnet_jax.optim import steps_per_unit
from resnet_jax.runtime.config_io import apply_overrides, config_file, named_config
from resnet_jax.runtime.console import say
from resnet_jax.runtime.progress import duration
from resnet_jax.writers import read_rows

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
    return apply_overrides(named_config(config_file(self.dataset), self.variant), self.overrides)

  @property
  def name(self) -> str:
    """The network's name, with -xK for a run of K replicas: the workdir's."""
    nets = replicas.count(self.config)
    return model_name(self.config.model) + (f'-x{nets}' if nets > 1 else '')

  @property
  def workdir(self) -> str:
    return os.path.join(self.root, self.config.dataset.name, self.name)

  def command(self, python: str) -> list[str]:
    return [python, os.path.join(REPO, 'launch.py'), f'--config={config_file(self.dataset)}:{self.variant}',
            f'--workdir={os.path.abspath(self.workdir)}', *[f'--config.{o}' for o in self.overrides]]


def scaled_boundaries(config, steps: int) -> tuple[int, ...]:
  """config's schedule boundaries, in steps, at the same fractions of a run of `steps` steps."""
  scale = steps / config.total_steps
  return tuple(max(1, round(b * steps_per_unit(config) * scale)) for b in config.schedule.boundaries)


def budget_overrides(config, steps: int) -> tuple[str, ...]:
  """Overrides that shrink config's recipe to `steps` steps, with the schedule's boundaries and warm-up at the
  same fractions of the run, 4 evaluations and a checkpoint at the end: a cheap proxy of the full run. Too few
  steps to keep the boundaries apart are refused, naming the fewest that do."""
  boundaries = scaled_boundaries(config, steps)
  if len(set(boundaries)) < len(boundaries):
    fewest = next(n for n in itertools.count(steps + 1) if len(set(scaled_boundaries(config, n))) == len(boundaries))
    raise ConfigError(f'--steps={steps} is too few for the schedule\'s {len(boundaries)} learning-rate drops (they '
                      f'would fall at steps {boundaries}): give --steps={fewest} or more.')
  s = config.schedule
  return (f'total_steps={steps}', 'schedule.unit=steps', f'schedule.boundaries={boundaries}',
          f'schedule.warmup_length={round(s.warmup_length * steps_per_unit(config) * steps / config.total_steps)}',
          f'eval_every_steps={max(1, steps // 4)}', f'log_every_steps={max(1, steps // 12)}',
          f'checkpoint_every_steps={steps}')


def finished(workdir: str) -> bool:
  """Whether the run in workdir has reached its last step and evaluated there."""
  result = load(workdir)
  return result is not None and result.finished


def run_local(jobs, python: str = sys.executable) -> list[Job]:
  """Runs the unfinished jobs one after another, each logging to <workdir>/launch.log; returns those that
  failed."""
  todo = [job for job in jobs if not finished(job.workdir)]
  for job in jobs:
    if job not in todo:
      say(f'{job.name}: finished in {job.workdir}, skipped.')
  failed, start = [], time.time()
  for i, job in enumerate(todo):
    os.makedirs(job.workdir, exist_ok=True)
    log = os.path.join(job.workdir, 'launch.log')
    say(f'[{i + 1}/{len(todo)}] {job.name}: running, log in {log}')
    begun = time.time()
    with open(log, 'a') as f:
      status = subprocess.run(job.command(python), cwd=REPO, stdout=f, stderr=subprocess.STDOUT).returncode
    elapsed = time.time() - start
    say(f'[{i + 1}/{len(todo)}] {job.name}: {"done" if status == 0 else f"FAILED (exit {status})"} in '
        f'{duration(time.time() - begun)}; sweep ETA {duration(elapsed / (i + 1) * (len(todo) - i - 1))}')
    if status:
      failed.append(job)
  return failed


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
    return sorted({r.get('replica') for r in self.rows}, key=lambda r: -1 if r is None else r) or [None]

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
    own, or with `protocol` --mode=eval's under it (ImageNet's); replicas without one are left out."""
    split = 'test' if any(r['split'] == 'test' for r in self.rows) else 'val'
    finals = []
    for replica in self.replicas:
      rows = [r for r in self.rows if r['split'] == split and r.get('replica') == replica and
              (r.get('protocol') == protocol if protocol else not evaluation_row(r))]
      if rows:
        finals.append(max(reversed(rows), key=lambda r: r['step']))
    return finals


def load(workdir: str) -> Result | None:
  """The run in workdir, or None if nothing has run there."""
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    return None
  with open(path) as f:
    config = json.load(f)
  return Result(model_name(ml_collections.ConfigDict(config['model'])), workdir, config, read_rows(workdir))


def collect(root: str, dataset_name: str) -> dict[str, Result]:
  """The runs under root/<dataset_name>/, by network name; of a network run both alone and as replicas, the run of
  the most replicas."""
  base = os.path.join(root, dataset_name)
  runs = [load(os.path.join(base, name)) for name in sorted(os.listdir(base))] if os.path.isdir(base) else []
  found = {}
  for run in sorted(filter(None, runs), key=lambda r: replicas.count(r.config)):
    found[run.name] = run
  return found
