"""workdir.py: what a resumed run may change, a workdir's owner, its lock, and what a run records of its network."""

import json
import os
import subprocess
import sys

import pytest

from resnet_jax import workdir
from resnet_jax.errors import ConfigError
from resnet_jax.models import summary
from tests.helpers import get_config, read_only, tiny_config


def saved(config) -> dict:
  return json.loads(config.to_json())


def test_what_trains_leaves_out_what_a_resumed_run_may_change():
  config = get_config('cifar10:resnet20')
  other = get_config('cifar10:resnet20')
  other.update(log_every_steps=7, eval_batch_size=50)
  other.dataset.dir = '/elsewhere'
  other.compute.update(replica_axis='vmap', block_loop='unroll')  # How it is computed, not what.
  assert workdir.changed_settings(saved(config), saved(other)) == []
  other.optimizer.learning_rate = 0.5
  assert workdir.changed_settings(saved(config), saved(other)) == [('optimizer.learning_rate', 0.1, 0.5)]
  assert 'log_every_steps' not in workdir.what_trains(saved(config))


def test_a_warm_up_counts_in_steps_whatever_its_form():
  shallow = get_config('cifar10:resnet20')
  assert workdir.what_trains(saved(shallow))['schedule.warmup_steps'] == 0
  shallow.schedule.warmup = 'linear'  # No warm-up at this depth: its form decides nothing.
  assert workdir.changed_settings(saved(get_config('cifar10:resnet20')), saved(shallow)) == []


def trained_with(folder, config, steps=(2,)):
  """A workdir that holds config's run: its config.json and checkpoint folders (empty: only their names count)."""
  workdir.write_config(str(folder), config)
  for step in steps:
    os.makedirs(folder / 'checkpoints' / str(step))


def test_a_workdir_keeps_its_network_replicas_and_settings(tmp_path):
  config = tiny_config('/data', tmp_path / 'cache')
  trained_with(tmp_path, config)
  workdir.check_owner(str(tmp_path), config)
  other = tiny_config('/data', tmp_path / 'cache')
  other.model.depth = 14
  with pytest.raises(
      ConfigError,
      match='holds checkpoints of resnet8-A, not of resnet14-A .*: train this network into another workdir.$',
  ):
    workdir.check_owner(str(tmp_path), other)
  with pytest.raises(
      ConfigError, match='holds checkpoints of 1 replicas, not 3: set num_replicas=1, or use another workdir.$'
  ):
    workdir.check_owner(str(tmp_path), tiny_config('/data', tmp_path / 'cache', num_replicas=3))
  zero_init = tiny_config('/data', tmp_path / 'cache')
  zero_init.model.zero_init_residual = True  # The same name, resnet8-A: the field is named.
  with pytest.raises(
      ConfigError,
      match='trained with model.zero_init_residual=false, not true: resume it with '
      'model.zero_init_residual=false, or train into another workdir.$',
  ):
    workdir.check_owner(str(tmp_path), zero_init)
  with pytest.raises(ConfigError, match=r'resume it with schedule.boundaries=\(32000,48000\), or'):  # As printed.
    workdir.check_owner(str(tmp_path), tiny_config('/data', tmp_path / 'cache', schedule={'boundaries': (2, 3)}))
  longer = tiny_config('/data', tmp_path / 'cache', total_steps=100, log_every_steps=7)
  workdir.check_owner(str(tmp_path), longer)  # What a resumed run may change.


def test_one_training_process_per_workdir(tmp_path):
  first = workdir.lock(str(tmp_path / 'w'))
  with pytest.raises(ConfigError, match=f'is being trained by process {os.getpid()} on '):
    workdir.lock(str(tmp_path / 'w'))
  first.release()
  workdir.lock(str(tmp_path / 'w')).release()  # Released with the first.


def test_a_killed_trainers_lock_does_not_block(tmp_path):
  os.makedirs(tmp_path / 'w')
  holder = subprocess.Popen(
      [
          sys.executable,
          '-c',
          'import fcntl, sys, time; f = open(sys.argv[1], "a+"); '
          'fcntl.flock(f, fcntl.LOCK_EX); f.write("process 1 on elsewhere"); f.flush(); '
          'print("locked", flush=True); time.sleep(600)',
          str(tmp_path / 'w' / '.lock'),
      ],
      stdout=subprocess.PIPE,
      text=True,
  )
  assert holder.stdout.readline().strip() == 'locked'
  with pytest.raises(ConfigError, match='is being trained by process 1 on elsewhere'):
    workdir.lock(str(tmp_path / 'w'))
  holder.kill()
  holder.wait()
  workdir.lock(str(tmp_path / 'w')).release()  # The kernel released the dead one's lock.


def test_a_workdir_that_cannot_be_written_is_named(tmp_path):
  (tmp_path / 'file').write_text('')
  with pytest.raises(ConfigError, match='^workdir=.*file is a file, not a directory: name a directory.$'):
    workdir.check_writable(str(tmp_path / 'file'))
  with pytest.raises(ConfigError, match='cannot be written'):
    workdir.check_writable('/proc/resnet_jax')
  (tmp_path / 'link').symlink_to(tmp_path / 'gone')
  for path in (tmp_path / 'link', tmp_path / 'link' / 'run'):
    with pytest.raises(ConfigError, match=f'link is a link to {tmp_path}/gone, which does not exist: make it, or'):
      workdir.check_writable(str(path))
  for deep in (tmp_path.joinpath(*['d' * 100] * 40), tmp_path / ('n' * 300)):  # The whole, or one name, too long.
    with pytest.raises(ConfigError, match='is too long for the files written in it .*: name a shorter path.$'):
      workdir.check_writable(str(deep))
  assert sorted(os.listdir(tmp_path)) == ['file', 'link']


def test_a_workdir_training_could_not_write_all_it_writes_in_is_refused(tmp_path):
  w = tmp_path / 'w'
  (w / 'checkpoints' / '5').mkdir(parents=True)
  (w / 'metrics.jsonl').write_text('')
  workdir.check_trainable(str(w))
  with read_only(w / 'checkpoints' / '5'):  # Keeping fewer checkpoints deletes it.
    with pytest.raises(ConfigError, match=f'^{w}/checkpoints/5 cannot be written: make it writable .* another workdir'):
      workdir.check_trainable(str(w))
  (w / 'metrics.jsonl').unlink()
  (w / 'metrics.jsonl').mkdir()
  with pytest.raises(ConfigError, match='metrics.jsonl is a directory where training writes a file: move it aside.$'):
    workdir.check_trainable(str(w))


def test_a_run_records_its_network(tmp_path):
  config = get_config('cifar10:resnet20')
  assert workdir.read_model(str(tmp_path)) is None  # Trained before model.json: none recorded.
  workdir.write_model(str(tmp_path), summary(config))
  assert workdir.read_model(str(tmp_path)) == {
      'name': 'resnet20-A',
      'params': 269_722,
      'macs': summary(config)['macs'],
      'image_size': 32,
  }
