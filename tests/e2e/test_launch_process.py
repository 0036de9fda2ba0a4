"""launch.py as a process: its terminal (progress, ETA, results; the libraries' logs in the run's log file),
throughput that leaves evaluation and checkpoints out, and the tfds sources offline or unprepared (tfds brings
TensorFlow: a process of its own)."""

import logging
import os
import re
import time
import types

import jax
import pytest

from resnet_jax import checkpoint, progress, train
from tests.helpers import ROOT, launch, rows, tiny_config, tiny_data

BLOCK_NETWORK = """
import socket
_connect = socket.socket.connect
def connect(self, address):
  if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in ('127.0.0.1', '::1', 'localhost'):
    raise OSError(101, 'Network is unreachable (blocked by the test)')
  return _connect(self, address)
socket.socket.connect = connect
"""


def one_error_line(stderr: str) -> str:
  """The last line of stderr, checked to be its only `error:` line, with no traceback before it."""
  assert 'Traceback' not in stderr and [line for line in stderr.splitlines() if line.startswith('error:')] == [
      stderr.strip().splitlines()[-1]
  ], stderr[-3000:]
  return stderr.strip().splitlines()[-1]


@pytest.mark.parametrize('source', ['tfds'])
def test_offline_fails_at_once_naming_the_folder_source(source, tmp_path):
  """No network (every outside connection refused), the default source or tfds: one error line, exit 2, nothing
  written."""
  (tmp_path / 'site').mkdir()
  (tmp_path / 'site' / 'sitecustomize.py').write_text(BLOCK_NETWORK)
  data, workdir = tmp_path / 'data', tmp_path / 'work'
  process = launch(
      '--config=configs/cifar10.py:resnet8',
      f'--workdir={workdir}',
      f'--config.dataset.dir={data}',
      f'--config.dataset.cache_dir={data}',
      f'--config.dataset.source={source}',
      env={'PYTHONPATH': f'{tmp_path / "site"}{os.pathsep}{ROOT}'},
  )
  stdout, stderr = process.communicate(timeout=300)
  assert process.returncode == 2, stderr[-3000:]
  assert '--config.dataset.source=folder --config.dataset.dir=PATH' in one_error_line(stderr)
  assert not data.exists() and not workdir.exists()


def test_unprepared_tfds_names_the_fix(imagenet_folder, tmp_path):
  workdir = tmp_path / 'w'
  process = launch(
      '--config=configs/imagenet.py:resnet18',
      f'--workdir={workdir}',
      '--config.dataset.source=tfds',
      f'--config.dataset.dir={tmp_path / "tfds"}',
  )
  _, stderr = process.communicate(timeout=300)
  assert process.returncode == 2, stderr[-2000:]
  last = stderr.strip().splitlines()[-1]
  assert 'imagenet2012 is not prepared' in last and 'downloads/manual' in last and 'Traceback' not in stderr


def test_throughput_excludes_evaluation_and_checkpointing(image_folder, tmp_path, monkeypatch, caplog):
  """With each evaluation and checkpoint 1000 s longer on the loop's clock, images/s stays what the steps alone
  reach; counting them it would be at most 32 images / 1000 s."""
  offset = [0.0]
  monkeypatch.setattr(
      progress, 'time', types.SimpleNamespace(perf_counter=lambda: time.perf_counter() + offset[0], time=time.time)
  )

  def slower(work):
    def run(*args, **kwargs):
      offset[0] += 1000.0
      return work(*args, **kwargs)

    return run

  monkeypatch.setattr(train.Run, 'evaluate', slower(train.Run.evaluate))
  monkeypatch.setattr(checkpoint.Checkpoints, 'save', slower(checkpoint.Checkpoints.save))
  config = tiny_config(
      image_folder, tmp_path / 'cache', total_steps=6, log_every_steps=2, eval_every_steps=2, checkpoint_every_steps=2
  )
  with caplog.at_level(logging.INFO, logger='resnet_jax'):
    train.train_and_evaluate(config, str(tmp_path / 'work'))
  train_rows = [r for r in rows(tmp_path / 'work', drop=()) if r['split'] == 'train']
  assert [r['step'] for r in train_rows] == [2, 4, 6]
  assert all(r['images_per_sec'] > 1.0 for r in train_rows), train_rows
  lines = caplog.messages
  # Before the first evaluation the ETA cannot count the evaluations; after it, each to come at its time.
  assert any(re.fullmatch(r'step 2/6 .* images/s, ETA \d:\d\d:\d\d and 3 evaluations', line) for line in lines)
  four = [
      re.fullmatch(r'step 4/6  loss \d+\.\d{4}  error +\d+\.\d\d%  [\d,]+ images/s, ETA (\d):(\d\d):(\d\d)', line)
      for line in lines
  ]
  hours, minutes, seconds = next(map(int, match.groups()) for match in four if match)
  assert hours * 3600 + minutes * 60 + seconds >= 2000, lines  # The evaluations at steps 4 and 6.


def test_terminal_shows_progress_and_results_and_keeps_library_logs_in_the_log_file(image_folder, tmp_path):
  args = [
      '--config=configs/cifar10.py:resnet8',
      *tiny_data(image_folder, tmp_path / 'cache'),
      '--config.total_steps=4',
      '--config.log_every_steps=2',
      '--config.eval_every_steps=2',
      '--config.checkpoint_every_steps=2',
  ]
  quiet = launch(*args, f'--workdir={tmp_path / "quiet"}')
  stdout, stderr = quiet.communicate(timeout=300)
  assert quiet.returncode == 0, stderr[-3000:]
  lines = stdout.splitlines()
  assert lines[0].startswith('Running on cpu: ') and f'jax {jax.__version__}' in lines[0]
  assert [line.split('  ')[0] for line in lines if line.startswith('step ')] == ['step 2/4', 'step 4/4']
  assert sum(line.startswith('eval at step ') and ': test  loss ' in line for line in lines) == 2
  assert re.fullmatch(
      rf'Done in \d:\d\d:\d\d: test error \d+\.\d\d% \(best \d+\.\d\d% at step [24]\)\. Results '
      rf'in {re.escape(str(tmp_path / "quiet"))}: metrics.jsonl, checkpoints/, tensorboard/, '
      r'train.log\.',
      lines[-1],
  )
  assert os.listdir(tmp_path / 'quiet' / 'tensorboard')
  assert not re.search(r'^[IW]\d{4} ', stderr, re.M) and 'oneDNN' not in stderr, stderr  # No INFO chatter.
  with open(tmp_path / 'quiet' / 'train.log') as f:
    log = f.read()
  assert 'orbax' in log and 'step 4/4' in log  # The libraries' INFO logs, and the run's own lines.

  verbose = launch(*args, f'--workdir={tmp_path / "verbose"}', '--alsologtostderr')
  _, stderr = verbose.communicate(timeout=300)
  assert verbose.returncode == 0 and re.search(r'^I\d{4} .*orbax', stderr, re.M), stderr[-3000:]
