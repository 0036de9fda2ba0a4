"""Progress and ETA of long work, logged (the programs show INFO lines of resnet_jax on the terminal): units of work
done, the training loop's clock, and its lines."""

import logging
import os
import time

from resnet_jax import replicas, results
from resnet_jax.writers import evaluations

log = logging.getLogger(__name__)


def duration(seconds: float) -> str:
  minutes, seconds = divmod(int(seconds), 60)
  hours, minutes = divmod(minutes, 60)
  return f'{hours}:{minutes:02d}:{seconds:02d}'


class Progress:
  """Counts units of work done out of `total` and logs the count, rate and ETA at most every `every` seconds."""

  def __init__(self, what: str, total: int, every: float = 10.0):
    self.what, self.total, self.every = what, total, every
    self.done, self.start = 0, time.time()
    self.last_log = self.start

  def update(self, count: int = 1) -> None:
    self.done += count
    now = time.time()
    if now - self.last_log >= self.every or self.done == self.total:
      self.last_log = now
      elapsed = now - self.start
      eta = elapsed / self.done * (self.total - self.done)
      log.info('%s: %d/%d, %s elapsed, ETA %s', self.what, self.done, self.total, duration(elapsed), duration(eta))


class StepClock:
  """Training steps per second, counting only the time between start() and stop().

  The loop stops the clock, after waiting for the device, around all that is not a training step: compilation,
  evaluation, checkpointing. That time is counted apart: an evaluation's as the time of each one to come, the rest
  as the overhead the ETA adds per step.
  """

  def __init__(self, step: int):
    self.steps, self.seconds = 0, 0.0  # The current window.
    self.trained_steps, self.other_seconds = 0, 0.0  # Since the first timed step.
    self.evaluation_seconds = None  # The last evaluation's.
    self._open = None
    self._stopped = (step, time.perf_counter())

  def start(self, step: int, overhead: bool = True, evaluation: bool = False) -> None:
    """Starts counting at `step`; the time since stop() was an evaluation's where `evaluation`, else overhead
    unless `overhead` is False (compilation)."""
    if self._stopped and evaluation:
      self.evaluation_seconds = time.perf_counter() - self._stopped[1]
    elif self._stopped and overhead:
      self.other_seconds += time.perf_counter() - self._stopped[1]
    self._open, self._stopped = (step, time.perf_counter()), None

  def stop(self, step: int) -> None:
    if self._open:
      begin, since = self._open
      self.steps += step - begin
      self.trained_steps += step - begin
      self.seconds += time.perf_counter() - since
      self._open, self._stopped = None, (step, time.perf_counter())

  def window(self, step: int) -> float | None:
    """Steps per second since the last window (None if no step was timed in it); starts the next window."""
    if self._open:
      self.stop(step)
      self.start(step, overhead=False)
    rate = self.steps / self.seconds if self.steps and self.seconds > 0 else None
    self.steps, self.seconds = 0, 0.0
    return rate

  def eta(self, rate: float | None, steps_left: int, evaluations_left: int = 0) -> float | None:
    """Seconds to go: the steps left at `rate` with checkpoint time at its mean per step so far, and the evaluations
    left at the last one's time (none before one is timed)."""
    if rate is None:
      return None
    overhead = self.other_seconds / self.trained_steps if self.trained_steps else 0.0
    return steps_left * (1 / rate + overhead) + evaluations_left * (self.evaluation_seconds or 0.0)


def evaluations_left(step: int, total: int, every: int) -> int:
  """The evaluations a run evaluating every `every` steps and at its last step has still to make at `step` and
  after."""
  return total // every - (step - 1) // every + (1 if total % every else 0)


# metric -> (label, format, unit) in the terminal's lines.
METRIC_FORMATS = {
    'loss': ('loss', '.4f', ''),
    'top1_error': ('error', '5.2f', '%'),
    'top5_error': ('top-5', '.2f', '%'),
}


def metric_line(per_net: list[dict], keys) -> str:
  """'loss 0.5123  error 12.34%': one net's values, or the mean ± std over the replicas."""
  parts = [
      f'{METRIC_FORMATS[key][0]} {results.values_text([net[key] for net in per_net], *METRIC_FORMATS[key][1:])}'
      for key in keys
  ]
  return '  '.join(parts) + replicas.of_several(len(per_net), f'  (mean±std of {len(per_net)} replicas)')


def progress_line(
    step: int,
    total: int,
    train: list[dict],
    rate: float | None,
    images_per_step: int,
    eta: float | None,
    untimed_evaluations: int = 0,
) -> str:
  """The training loop's line; `untimed_evaluations`: those to come that the ETA cannot count yet."""
  plus = f' and {untimed_evaluations} evaluation{"s" if untimed_evaluations > 1 else ""}' if untimed_evaluations else ''
  speed = (
      f'{rate * images_per_step:,.0f} images/s, ETA {duration(eta)}{plus}'
      if rate
      else 'images/s and ETA after the next log'
  )
  return f'step {step:>{len(str(total))}}/{total}  {metric_line(train, ("loss", "top1_error"))}  {speed}'


def final_line(workdir: str, seconds: float) -> str:
  """Done: each evaluated split's final and best top-1 error (over training's evaluations in metrics.jsonl); of
  replicas, the best and the mean ± std of their final errors."""
  parts = [f'{split} error {results.final_errors(evals)}' for split, evals in evaluations(workdir).items()]
  written = [
      name
      for name in ('metrics.jsonl', 'checkpoints/', 'tensorboard/', 'train.log')
      if os.path.exists(os.path.join(workdir, name))
  ]
  return (
      f'Done in {duration(seconds)}: {"; ".join(parts) or "no evaluation"}. Results in {workdir}: '
      f'{", ".join(written)}.'
  )
