"""Device windows: the plan of a budget, pieces stopped at the deadline with their progress saved, and the GPU
command end to end on the CPU at a tiny budget."""
import os
import subprocess
import sys

import pytest

from resnet_jax.reproduce import window
from tests.helpers import ROOT


def unit(name, seconds, done=False, resumable=True, command=('true',), log='/dev/null'):
  return window.Unit(name, list(command), log, lambda: done, lambda: seconds, resumable)


def test_the_plan_runs_what_fits_and_a_piece_of_what_never_can():
  units = [unit('recorded', 100, done=True), unit('benchmark', 200, resumable=False), unit('small', 100),
           unit('huge', 5000), unit('next', 300), unit('tiny', 50)]
  assert [(u.name, d) for u, d in window.plan(units, 480)] == [
      ('recorded', 'recorded'), ('benchmark', 'whole'), ('small', 'whole'), ('huge', 'piece'), ('next', 'later'),
      ('tiny', 'later')]
  # Too little left for a piece: the huge run waits for the next window; what fits still runs.
  assert [d for _, d in window.plan(units[1:], 350)] == ['whole', 'whole', 'later', 'later', 'whole']


SIGTERM_SAVES = '''
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: (open(sys.argv[1], 'w').write('saved'), sys.exit(0)))
print('training', flush=True)
time.sleep(60)
'''


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


@pytest.mark.slow
def test_gpu_window_trains_table6_nets_then_skips_them(image_folder, tmp_path):
  """A CPU dry run of the GPU command: ResNet-8 with 2 seeds for 2 steps, the report rebuilt; a second window
  finds it recorded."""
  args = [sys.executable, 'experiments/gpu_window.py', f'--root={tmp_path}', '--depths=8', '--replicas=2',
          '--steps=2', '--nobenchmark', '--noreplica_benchmark', '--budget_seconds=600', '--set=dataset.source=folder',
          f'--set=dataset.dir={image_folder}', f'--set=dataset.cache_dir={tmp_path / "cache"}', '--set=batch_size=16',
          '--set=eval_batch_size=40']
  env = {**os.environ, 'JAX_PLATFORMS': 'cpu'}
  plan = subprocess.run(args + ['--dry_run'], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert plan.returncode == 0 and plan.stdout.startswith('resnet8-A-x2: whole, estimated'), plan.stderr[-2000:]
  first = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
  assert first.returncode == 0, first.stderr[-3000:]
  assert 'resnet8-A-x2: done' in first.stdout and 'every unit is recorded' in first.stdout
  assert os.path.exists(tmp_path / 'report' / 'table6_cifar10.md')
  second = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
  assert second.returncode == 0 and 'resnet8-A-x2: recorded.' in second.stdout, second.stderr[-3000:]


def test_a_budget_too_small_for_any_unit_is_refused():
  """60 s leaves nothing after the report: one error line naming the budget that runs a unit, exit 2."""
  done = subprocess.run([sys.executable, 'experiments/gpu_window.py', '--budget_seconds=60', '--dry_run',
                         '--root=/nonexistent/root'], cwd=ROOT, env={**os.environ, 'JAX_PLATFORMS': 'cpu'},
                        capture_output=True, text=True, timeout=300)
  assert done.returncode == 2 and done.stdout == ''
  assert done.stderr.strip().splitlines()[-1].startswith('error: --budget_seconds=60 leaves 0:00:00 after the '
                                                        'report, too little for any unit'), done.stderr[-2000:]
  assert '--budget_seconds=180' in done.stderr


def test_the_jpeg_table_says_why_it_was_skipped(tmp_path, capsys):
  from resnet_jax.reproduce import reporting
  assert reporting.cifar_jpeg_offset_table({}, str(tmp_path), str(tmp_path / 'missing.npz'), 'copy.tar.gz') is None
  assert capsys.readouterr().out == (f'jpeg_offset_cifar10: skipped, {tmp_path / "missing.npz"} does not exist: pass '
                                     '--exact846=PATH of cifar10-test-exact846.npz.\n')
