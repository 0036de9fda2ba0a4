"""Two local processes of four CPU devices each train like one process of eight, and resume together."""
import os
import socket

from resnet_jax import parallel
from resnet_jax.train import train_and_evaluate
from tests.helpers import launch, rows, tiny_config


def free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def train_on_two_processes(folder, cache_dir, workdir, total_steps):
  port = free_port()
  processes = [
      launch('--config=configs/cifar10.py:resnet8', f'--workdir={workdir}', '--config.dataset.source=folder',
             f'--config.dataset.dir={folder}', f'--config.dataset.cache_dir={cache_dir}',
             '--config.batch_size=16', '--config.eval_batch_size=40', f'--config.total_steps={total_steps}',
             '--config.log_every_steps=1', '--config.eval_every_steps=2', '--config.checkpoint_every_steps=2',
             f'--coordinator_address=localhost:{port}', '--num_processes=2', f'--process_id={i}',
             env={'XLA_FLAGS': '--xla_force_host_platform_device_count=4'})
      for i in range(2)]
  for process in processes:
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]
    assert 'on 8 devices (2 processes)' in stderr


def test_two_processes_of_four_devices_match_one_of_eight(image_folder, tmp_path):
  two = tmp_path / 'two'
  train_on_two_processes(image_folder, tmp_path / 'cache', two, total_steps=2)
  train_on_two_processes(image_folder, tmp_path / 'cache', two, total_steps=4)  # Resumes from step 2.
  assert sorted(os.listdir(two / 'checkpoints')) == ['2', '4']
  one = tmp_path / 'one'
  train_and_evaluate(tiny_config(image_folder, tmp_path / 'cache', total_steps=4, eval_every_steps=2), str(one),
                     parallel.make_mesh())
  got, want = rows(two), rows(one)
  assert [(r['step'], r['split']) for r in got] == [(r['step'], r['split']) for r in want]
  for g, w in zip(got, want):
    assert abs(g['loss'] - w['loss']) <= 1e-5 * abs(w['loss']), (g, w)
    assert g['top1_error'] == w['top1_error']
