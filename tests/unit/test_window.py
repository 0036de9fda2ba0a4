"""Device windows (tools/window.py): the plan of a budget, and pieces stopped at the deadline with their progress
saved."""

import sys

from resnet_jax.tools import window


def unit(name, seconds, done=False, resumable=True, command=('true',), log='/dev/null'):
  return window.Unit(name, list(command), log, lambda: done, lambda: seconds, resumable)


def test_the_plan_runs_what_fits_and_a_piece_of_what_never_can():
  units = [
      unit('recorded', 100, done=True),
      unit('benchmark', 200, resumable=False),
      unit('small', 100),
      unit('huge', 5000),
      unit('next', 300),
      unit('tiny', 50),
  ]
  assert [(u.name, d) for u, d in window.plan(units, 480)] == [
      ('recorded', 'recorded'),
      ('benchmark', 'whole'),
      ('small', 'whole'),
      ('huge', 'piece'),
      ('next', 'later'),
      ('tiny', 'later'),
  ]
  # Too little left for a piece: the huge run waits for the next window; what fits still runs.
  assert [d for _, d in window.plan(units[1:], 350)] == ['whole', 'whole', 'later', 'later', 'whole']


SIGTERM_SAVES = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: (open(sys.argv[1], 'w').write('saved'), sys.exit(0)))
print('training', flush=True)
time.sleep(60)
"""


def test_a_piece_is_stopped_at_the_deadline_and_saves(tmp_path):
  saved, log = tmp_path / 'saved', tmp_path / 'run.log'
  piece = unit('long run', 5000, command=(sys.executable, '-c', SIGTERM_SAVES, str(saved)), log=str(log))
  outcomes = window.run([piece], 3, str(tmp_path))  # Leaves no time for a minimum piece: nothing runs.
  assert outcomes == [('long run', 'later')] and not saved.exists()
  window.MIN_PIECE_SECONDS, before = 1, window.MIN_PIECE_SECONDS
  try:
    outcomes = window.run([piece], 3, str(tmp_path))
  finally:
    window.MIN_PIECE_SECONDS = before
  assert outcomes == [('long run', 'stopped at the deadline, checkpoint saved')]
  assert saved.read_text() == 'saved' and 'training' in log.read_text()
