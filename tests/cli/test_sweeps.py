"""The sweeps, the GPU window and the report through their main functions in this process: what they print and
refuse before any run (the runs themselves are in tests/e2e)."""

import os
import signal
import subprocess
import sys

import configs
from resnet_jax.reproduce import sweep
from tests.helpers import run


def test_budget_shrinks_the_schedule_with_the_run(tmp_path):
  cifar = configs.named('cifar10', 'resnet110')  # lr 0.01 for 400 of 64k steps.
  assert sweep.budget_overrides(cifar, 640) == (
      'total_steps=640',
      'schedule.unit=steps',
      'schedule.boundaries=(320, 480)',
      'schedule.warmup_length=4',
      'eval_every_steps=160',
      'log_every_steps=53',
      'checkpoint_every_steps=640',
  )
  imagenet = configs.named('imagenet', 'resnet50,modern')  # Epochs: 5 of 90 warm up.
  overrides = sweep.budget_overrides(imagenet, 900)
  assert 'schedule.warmup_length=50' in overrides and 'schedule.unit=steps' in overrides
  job = sweep.Job('cifar10', 'resnet56-B', ('total_steps=10',), str(tmp_path))
  assert job.workdir == str(tmp_path / 'cifar10' / 'resnet56-B') and job.config.total_steps == 10


def test_imagenet_sweeps_print_the_papers_grids(tmp_path):
  root = f'--root={tmp_path}'
  depth = run('depth_ablation', '--dataset=imagenet', '--launcher=print', root, '--set=dataset.dir=/data/in')
  shortcut = run('shortcut_ablation', '--dataset=imagenet', '--launcher=print', root)
  workdirs = [line.split('--workdir=')[1].split()[0] for line in (depth.stdout + shortcut.stdout).splitlines()]
  assert [os.path.relpath(w, tmp_path) for w in workdirs] == [
      f'imagenet2012/{n}'
      for n in ('plain18', 'resnet18-A', 'plain34', 'resnet34-A', 'plain34', 'resnet34-A', 'resnet34-B', 'resnet34-C')
  ]
  assert depth.stdout.count('--config.dataset.dir=/data/in') == 4 and not os.listdir(tmp_path)


def test_the_imagenet_shortcut_sweep_takes_its_depths(tmp_path):
  """--depths reaches ImageNet's Table 3 sweep too (was: ResNet-34 whatever was given)."""
  done = run(
      'shortcut_ablation',
      '--dataset=imagenet',
      '--launcher=print',
      f'--root={tmp_path}',
      '--depths=18',
      f'--set=dataset.dir={tmp_path}',
  )
  workdirs = [arg.split('=', 1)[1] for arg in done.stdout.split() if arg.startswith('--workdir=')]
  assert [os.path.basename(w) for w in workdirs] == ['plain18', 'resnet18-A', 'resnet18-B', 'resnet18-C']


def test_sweep_paths_are_taken_from_where_it_runs_and_checked(image_folder, tmp_path):
  data = os.path.relpath(image_folder, tmp_path)
  done = run(
      'depth_ablation',
      '--depths=8',
      '--root=runs',
      '--set=dataset.source=folder',
      f'--set=dataset.dir={data}',
      '--set=dataset.cache_dir=c',
      '--launcher=print',
      cwd=tmp_path,
  )
  assert done.returncode == 0, done.stderr
  assert (
      f'--config.dataset.dir={image_folder}' in done.stdout
      and f'--config.dataset.cache_dir={tmp_path / "c"}' in done.stdout
  )
  missing = run(
      'depth_ablation',
      '--depths=8',
      '--root=runs',
      '--set=dataset.source=folder',
      '--set=dataset.dir=nowhere',
      '--launcher=slurm',
      cwd=tmp_path,
  )
  assert missing.returncode == 2 and missing.stderr.strip().splitlines() == [
      f'error: dataset.dir {tmp_path / "nowhere"} does not exist: pass --set=dataset.dir=PATH (a relative path is '
      f"taken from where you run the sweep, {tmp_path}), or --nocheck_data where only the cluster's nodes have "
      'it.'
  ]
  assert not (tmp_path / 'runs').exists()


def test_a_budget_too_small_for_any_unit_is_refused():
  """60 s leaves nothing after the report: one error line naming the budget that runs a unit, exit 2."""
  done = run('gpu_window', '--budget_seconds=60', '--dry_run', '--root=/nonexistent/root')
  assert done.returncode == 2 and done.stdout == ''
  assert (
      done.stderr.strip()
      .splitlines()[-1]
      .startswith('error: --budget_seconds=60 leaves 0:00:00 after the report, too little for any unit')
  ), done.stderr[-2000:]
  assert '--budget_seconds=180' in done.stderr


def test_the_jpeg_table_says_why_it_was_skipped(tmp_path, capsys):
  from resnet_jax.runtime import jpeg_flags

  jpeg_flags.FLAGS(['test', f'--exact846={tmp_path / "missing.npz"}'])
  try:
    assert jpeg_flags.table({}, str(tmp_path)) is None
  finally:
    jpeg_flags.FLAGS.unparse_flags()
  assert capsys.readouterr().out == (
      f'jpeg_offset_cifar10: skipped, {tmp_path / "missing.npz"} does not exist: pass '
      '--exact846=PATH of cifar10-test-exact846.npz.\n'
  )


def test_a_signal_while_a_sweeps_run_is_being_started_reaches_that_run():
  """Ctrl-C to a local sweep before its run's process exists (the sweep is starting it) is passed on once it does;
  one that comes while the run is up is passed on at once."""
  with sweep.ForwardedSignals() as signals:
    os.kill(os.getpid(), signal.SIGINT)  # Handled by the sweep: no run yet.
    child = signals.start([sys.executable, '-c', 'import time; time.sleep(60)'])
    assert child.wait(timeout=30) == -signal.SIGINT and signals.signalled
  with sweep.ForwardedSignals() as signals:
    script = 'import signal, sys, time\nsignal.signal(signal.SIGINT, lambda *a: sys.exit(3))\n'
    script += 'print(1, flush=True)\ntime.sleep(60)'
    child = signals.start([sys.executable, '-c', script], stdout=subprocess.PIPE, text=True)
    child.stdout.readline()  # Its handler is in place.
    os.kill(os.getpid(), signal.SIGINT)
    assert child.wait(timeout=30) == 3 and signals.signalled
