"""Device windows: a list of units of work (a benchmark, training runs) run within a budget of wall time, as a GPU
machine reached for minutes at a time allows. Units already recorded are skipped; a unit that fits in the time left
runs to completion; a resumable unit longer than a whole window (a run of 64k steps, say) runs as a piece that ends
with a checkpoint at the deadline (SIGTERM: training saves and exits), and the next window resumes it. So each window
fills more of the tables, and nothing is lost when the machine goes back.
"""

import dataclasses
import logging
import os
import signal
import subprocess
import time
from typing import Callable

from resnet_jax.progress import duration

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 90  # After SIGTERM: time to save the checkpoint and exit.


@dataclasses.dataclass
class Unit:
  """One unit of work: a command, where it logs, whether its result is recorded, and the seconds it still needs."""

  name: str
  command: list[str]
  log: str
  done: Callable[[], bool]
  seconds_left: Callable[[], float]  # An estimate; what it rests on is the unit's business (measured or prior).
  resumable: bool  # A SIGTERM ends it with its progress saved (training), so it may run in pieces.


MIN_PIECE_SECONDS = 120  # A piece shorter than this would spend most of itself starting up.


def plan(units: list[Unit], budget: float) -> list[tuple[Unit, str]]:
  """What a window of `budget` seconds does with each unit, in order: 'recorded' (skipped), 'whole' (it fits in
  the time left), 'piece' (the first resumable unit longer than a whole window: it runs in the time left, at least
  MIN_PIECE_SECONDS, until the deadline), or 'later' (it would fit in a window of its own)."""
  left, steps = budget, []
  for unit in units:
    if unit.done():
      steps.append((unit, 'recorded'))
      continue
    need = unit.seconds_left()
    if need <= left:
      steps.append((unit, 'whole'))
      left -= need
    elif unit.resumable and need > budget and left >= MIN_PIECE_SECONDS:
      steps.append((unit, 'piece'))
      left = 0
    else:
      steps.append((unit, 'later'))
  return steps


def run(units: list[Unit], budget: float, cwd: str) -> list[tuple[str, str]]:
  """Runs the window: each unit as plan() decides, against the real clock (a unit that took longer than its
  estimate leaves less for the rest; one that would overrun the deadline is stopped there if resumable).
  Returns (unit name, outcome) for each unit."""
  deadline, outcomes = time.monotonic() + budget, []
  for unit, decision in plan(units, budget):
    left = deadline - time.monotonic()
    if decision in ('recorded', 'later') or (not unit.resumable and unit.seconds_left() > left) or left <= 0:
      outcomes.append((unit.name, decision if decision in ('recorded', 'later') else 'later'))
      log.info('%s: %s.', unit.name, outcomes[-1][1])
      continue
    log.info(
        '%s: running (%s; estimated %s, %s left in the window), log in %s',
        unit.name,
        decision,
        duration(unit.seconds_left()),
        duration(left),
        unit.log,
    )
    os.makedirs(os.path.dirname(os.path.abspath(unit.log)), exist_ok=True)
    began = time.monotonic()
    with open(unit.log, 'a') as output:
      process = subprocess.Popen(unit.command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT)
      try:
        status = process.wait(timeout=max(left, 1) if unit.resumable else None)
        outcome = 'done' if status == 0 else f'FAILED (exit {status})'
      except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)  # Training saves a checkpoint and exits 0.
        try:
          status = process.wait(timeout=STOP_GRACE_SECONDS)
          outcome = 'stopped at the deadline, checkpoint saved' if status == 0 else f'FAILED (exit {status})'
        except subprocess.TimeoutExpired:
          process.kill()
          process.wait()
          outcome = f'killed {STOP_GRACE_SECONDS} s after the deadline (it resumes from its newest checkpoint)'
    outcomes.append((unit.name, outcome))
    log.info('%s: %s in %s.', unit.name, outcome, duration(time.monotonic() - began))
  return outcomes
