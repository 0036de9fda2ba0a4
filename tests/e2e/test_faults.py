"""Faults end to end: signals that save and resume to the same run, a read-only workdir evaluated, another network's
checkpoints left as they are, a full disk, a loss that is no longer finite, a signal while a program starts or a run
is built. docs/bad_input.md lists the cases and the tests that hold them."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from resnet_jax import train
from resnet_jax import workdir as workdirs
from resnet_jax.errors import ConfigError, NonFiniteLossError
from resnet_jax.train import train_and_evaluate
from tests.helpers import ROOT, launch, read_only, rows, tiny_config

NET = '--config=configs/cifar10.py:resnet8'


def test_eval_of_a_read_only_workdir_prints_the_result_and_records_nothing(trained, tmp_path):
  workdir, _ = trained
  copy = tmp_path / 'copy'
  shutil.copytree(workdir, copy)
  before = (copy / 'metrics.jsonl').read_text()
  with read_only(copy):
    done = launch('--mode=eval', f'--workdir={copy}', '--alsologtostderr')
    stdout, stderr = done.communicate(timeout=300)
  assert done.returncode == 0, stderr[-3000:]
  assert json.loads(stdout.splitlines()[-1])['test']['top1_error'] >= 0
  assert 'cannot be written' in stderr and (copy / 'metrics.jsonl').read_text() == before


def test_another_networks_checkpoints_are_refused_not_moved(trained, image_folder, tmp_path):
  workdir, cache = trained
  other = tmp_path / 'other'
  os.makedirs(other)
  subprocess.run(['cp', '-r', os.path.join(workdir, 'checkpoints'), str(other)], check=True)  # No config.json.
  config = tiny_config(image_folder, cache)
  config.model.depth = 14
  with pytest.raises(ConfigError, match='holds arrays of other shapes than the network of this config'):
    train_and_evaluate(config, str(other))
  assert sorted(os.listdir(other / 'checkpoints')) == sorted(os.listdir(os.path.join(workdir, 'checkpoints')))
  assert not (other / 'config.json').exists() and not (other / 'metrics.jsonl').exists()  # Neither written.


def signal_run_args(image_folder, cache):
  return [
      NET,
      '--config.dataset.source=folder',
      f'--config.dataset.dir={image_folder}',
      f'--config.dataset.cache_dir={cache}',
      '--config.batch_size=16',
      '--config.total_steps=40',
      '--config.log_every_steps=1',
      '--config.eval_every_steps=20',
      '--config.checkpoint_every_steps=1000',
  ]


@pytest.fixture(scope='module')
def unstopped(image_folder, tmp_path_factory):
  """The rows of the run the signalled ones stop and resume, never stopped."""
  tmp = tmp_path_factory.mktemp('unstopped')
  whole = launch(*signal_run_args(image_folder, tmp / 'cache'), f'--workdir={tmp / "whole"}')
  assert whole.communicate(timeout=300)[0] and whole.returncode == 0
  return rows(tmp / 'whole')


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGINT])
def test_a_signal_saves_and_the_resumed_run_matches_an_unstopped_one(signum, image_folder, unstopped, tmp_path):
  args = signal_run_args(image_folder, tmp_path / 'cache')
  stopped = tmp_path / 'stopped'
  process = launch(*args, f'--workdir={stopped}')
  metrics, deadline = stopped / 'metrics.jsonl', time.time() + 300
  while not (metrics.exists() and metrics.read_text().count('\n') >= 3) and time.time() < deadline:
    time.sleep(0.2)
  process.send_signal(signum)
  stdout, stderr = process.communicate(timeout=120)
  assert process.returncode == 0 and 'Traceback' not in stderr, stderr[-3000:]
  saved = workdirs.step_dirs(str(stopped))
  assert len(saved) == 1 and saved[0] < 40 and 'Stopped by a signal at step' in stdout
  resumed = launch(*args, f'--workdir={stopped}')
  assert resumed.communicate(timeout=300)[0] and resumed.returncode == 0
  assert rows(stopped) == unstopped


def test_sigterm_during_the_first_compile_saves_after_the_first_step(image_folder, tmp_path):
  process = launch(
      NET,
      '--config.dataset.source=folder',
      f'--config.dataset.dir={image_folder}',
      f'--config.dataset.cache_dir={tmp_path / "cache"}',
      '--config.batch_size=16',
      '--config.total_steps=40',
      f'--workdir={tmp_path / "w"}',
  )
  for line in process.stdout:  # Printed once the run is built, just before the step is compiled.
    if ': starting from step 0 of 40' in line:
      break
  process.send_signal(signal.SIGTERM)
  stdout, stderr = process.communicate(timeout=120)
  assert process.returncode == 0 and 'Traceback' not in stderr, stderr[-3000:]
  assert 'Stopped by a signal at step 1, checkpoint saved' in stdout
  assert workdirs.step_dirs(str(tmp_path / 'w')) == [1]


@pytest.fixture
def small_disk(tmp_path):
  """A 1.5 MB tmpfs (room for two ResNet-8 checkpoints), where this process may mount one (as root, as in CI)."""
  disk = tmp_path / 'disk'
  disk.mkdir()
  if subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1500k', 'tmpfs', str(disk)], capture_output=True).returncode:
    pytest.skip('mounting a tmpfs needs root')
  yield disk
  subprocess.run(['umount', str(disk)], check=True)


def test_a_full_disk_ends_in_one_line_and_keeps_the_last_checkpoint(small_disk, image_folder, tmp_path):
  args = [
      NET,
      '--config.dataset.source=folder',
      f'--config.dataset.dir={image_folder}',
      f'--config.dataset.cache_dir={tmp_path / "cache"}',
      '--config.batch_size=16',
      '--config.total_steps=10',
      '--config.log_every_steps=2',
      '--config.eval_every_steps=100',
      '--config.checkpoint_every_steps=2',
  ]
  full = launch(*args, f'--workdir={small_disk / "w"}')
  _, stderr = full.communicate(timeout=300)
  saved = workdirs.step_dirs(str(small_disk / 'w'))
  assert full.returncode == 1 and stderr.strip().splitlines() == [stderr.strip()], stderr[-3000:]
  assert stderr.startswith('error: Could not write a checkpoint') and f'checkpoint ({saved[-1]})' in stderr
  shutil.copytree(small_disk / 'w', tmp_path / 'w')  # Room again: the run resumes from what was kept.
  resumed = launch(*args, f'--workdir={tmp_path / "w"}')
  stdout, stderr = resumed.communicate(timeout=300)
  assert resumed.returncode == 0 and f'resuming at step {saved[-1]}' in stdout, stderr[-3000:]


def test_a_non_finite_loss_before_any_checkpoint_says_so(image_folder, tmp_path):
  config = tiny_config(
      image_folder, tmp_path / 'cache', total_steps=40, checkpoint_every_steps=1000, eval_every_steps=1000
  )
  config.optimizer.learning_rate = 1e12
  with pytest.raises(NonFiniteLossError, match='no checkpoint was saved before: lower the learning rate'):
    train_and_evaluate(config, str(tmp_path / 'w'))
  assert workdirs.step_dirs(str(tmp_path / 'w')) == []


def catches_sigterm(pid: int) -> bool:
  """Whether process `pid` has a handler of its own for SIGTERM (its SigCgt mask)."""
  with open(f'/proc/{pid}/status') as f:
    caught = int(next(line for line in f if line.startswith('SigCgt:')).split()[1], 16)
  return bool(caught & 1 << (signal.SIGTERM - 1))


@pytest.mark.parametrize(
    'program, signum',
    [
        (['launch.py', NET, '--mode=config'], signal.SIGINT),
        (['experiments/layer_deletion.py', '--workdirs=x'], signal.SIGTERM),
    ],
)
def test_a_signal_while_a_program_starts_ends_it_in_one_line(program, signum):
  """From its first import on (when SIGTERM has its handler), a signal ends the program in one line."""
  process = subprocess.Popen(
      [sys.executable, *program], cwd=ROOT, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
  )
  deadline = time.monotonic() + 60
  while not catches_sigterm(process.pid) and time.monotonic() < deadline:
    time.sleep(0.002)
  process.send_signal(signum)
  stderr = process.communicate(timeout=120)[1]
  assert process.returncode == 128 + signum, stderr
  which = 'SIGTERM' if signum == signal.SIGTERM else 'Ctrl-C'
  assert [line for line in stderr.splitlines() if line.strip()] == [
      f'error: Stopped by {which} while starting: nothing was done.'
  ], stderr


def test_a_run_stopped_while_it_is_built_leaves_no_workdir_it_made(image_folder, tmp_path, monkeypatch):
  def interrupted(*args, **kwargs):
    raise KeyboardInterrupt  # What Ctrl-C does before training begins.

  monkeypatch.setattr(train, 'init_state', interrupted)
  config = tiny_config(image_folder, tmp_path / 'cache')
  with pytest.raises(KeyboardInterrupt):
    train_and_evaluate(config, str(tmp_path / 'new'))
  assert not (tmp_path / 'new').exists()
  (tmp_path / 'old').mkdir()
  (tmp_path / 'old' / 'notes.txt').write_text('mine')
  with pytest.raises(KeyboardInterrupt):
    train_and_evaluate(config, str(tmp_path / 'old'))
  assert (tmp_path / 'old' / 'notes.txt').read_text() == 'mine'  # A workdir it did not make stays.
