"""Progress and ETA of long work, on stdout: units of work done, and the training loop's clock."""
import time

from resnet_jax.runtime.console import say


def duration(seconds: float) -> str:
  minutes, seconds = divmod(int(seconds), 60)
  hours, minutes = divmod(minutes, 60)
  return f'{hours}:{minutes:02d}:{seconds:02d}'


class Progress:
  """Counts units of work done out of `total` and says the count, rate and ETA at most every `every` seconds."""

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
      say(f'{self.what}: {self.done}/{self.total}, {duration(elapsed)} elapsed, ETA {duration(eta)}')


class StepClock:
  """Training steps per second, counting only the time between start() and stop().

  The loop stops the clock, after waiting for the device, around all that is not a training step: compilation,
  evaluation, checkpointing. That time is counted apart, as the overhead the ETA adds per step.
  """

  def __init__(self, step: int):
    self.steps, self.seconds = 0, 0.0  # The current window.
    self.trained_steps, self.other_seconds = 0, 0.0  # Since the first timed step.
    self._open = None
    self._stopped = (step, time.perf_counter())

  def start(self, step: int, overhead: bool = True) -> None:
    """Starts counting at `step`; the time since stop() was overhead unless `overhead` is False (compilation)."""
    if overhead and self._stopped:
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

  def eta(self, rate: float | None, steps_left: int) -> float | None:
    """Seconds to go: the steps left at `rate`, plus evaluation and checkpoint time at its mean per step so far."""
    if rate is None:
      return None
    overhead = self.other_seconds / self.trained_steps if self.trained_steps else 0.0
    return steps_left * (1 / rate + overhead)
