"""Progress and ETA of long work, in the log."""
import time

from absl import logging


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
      logging.info('%s: %d/%d, %s elapsed, ETA %s', self.what, self.done, self.total, duration(elapsed),
                   duration(eta))
