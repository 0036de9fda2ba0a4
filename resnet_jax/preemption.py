"""Preemption: SIGTERM (a cluster's warning or time limit) and Ctrl-C as a request to save and stop, agreed by
every process of a run."""

import logging
import signal

import jax
import numpy as np
from jax.experimental import multihost_utils

log = logging.getLogger(__name__)


class Preemption:
  """While the context lasts, SIGTERM and SIGINT (Ctrl-C) are a request the loop reads: save a checkpoint, then
  exit cleanly. Before the loop begins (begin_training) Ctrl-C stops at once, as a second Ctrl-C does later
  (KeyboardInterrupt): nothing is lost that a save would keep. SIGTERM, which a cluster may send more than once
  (SLURM's warning, then its time limit), stays a request: SIGKILL is a cluster's way to stop at once."""

  SIGNALS = (signal.SIGTERM, signal.SIGINT)

  def __enter__(self):
    self.requested, self.training = False, False
    self._previous = {signum: signal.signal(signum, self._handle) for signum in self.SIGNALS}
    return self

  def __exit__(self, *exc_info):
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)

  def begin_training(self) -> None:
    """From here a Ctrl-C, too, is a request to save and stop."""
    self.training = True

  def _handle(self, signum, frame):
    del frame
    if signum == signal.SIGINT and not self.training:
      raise KeyboardInterrupt
    again = ' (again)' if self.requested else ''
    self.requested = True
    if signum == signal.SIGINT:
      log.warning('SIGINT: saving a checkpoint and exiting; press Ctrl-C again to stop at once.')
      signal.signal(signum, self._previous[signum])
    else:
      log.warning('SIGTERM%s: saving a checkpoint and exiting.', again)

  def stop_at(self, step: int, every: int) -> bool:
    """Whether to stop after `step`. One process stops at once; several agree at each multiple of `every` (all of
    them stop there if any was signalled), so that none waits in a collective the others left."""
    if jax.process_count() == 1:
      return self.requested
    if step % every:
      return False
    return bool(multihost_utils.process_allgather(np.int32(self.requested)).max())
