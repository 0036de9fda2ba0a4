"""The training-step and convolution benchmarks on tiny configurations (their numbers mean nothing here;
docs/benchmarks.md has the measured ones), and the PyTorch reference nets they compare with."""
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import pytest

from resnet_jax.models import architecture, count_params
from resnet_jax.tools import pipeline_speed, tables
from tests.helpers import ROOT, build, markdown_rows

torch = pytest.importorskip('torch')
from resnet_jax.tools import torch_reference  # noqa: E402


@pytest.mark.parametrize('name,family,shortcut', [('cifar10:resnet20', 'cifar', 'A'),
                                                  ('imagenet:resnet18', 'imagenet', 'B'),
                                                  ('imagenet:resnet50', 'imagenet', 'B')])
def test_torch_reference_has_our_parameter_count(name, family, shortcut):
  config, _, variables = build(name)
  net = torch_reference.TorchResNet(architecture(family, config.model.depth), config.dataset.num_classes, shortcut)
  assert sum(p.numel() for p in net.parameters()) == count_params(variables['params'])


def test_torch_reference_option_a_pads_the_subsampled_identity():
  x = torch.arange(2 * 4 * 4 * 4, dtype=torch.float32).reshape(2, 4, 4, 4)
  out = torch_reference._option_a(x, 2, 8)
  assert out.shape == (2, 8, 2, 2) and torch.equal(out[:, :4], x[:, :, ::2, ::2]) and not out[:, 4:].any()


@pytest.mark.slow
def test_step_benchmark_reports_each_implementation(tmp_path):
  out = tmp_path / 'step.json'
  env = {**os.environ, 'JAX_PLATFORMS': 'cpu', 'XLA_FLAGS': ''}
  done = subprocess.run(
      [sys.executable, 'experiments/benchmark.py', '--bench=step', '--nets=cifar10:resnet14', '--batch=8',
       '--warmup=1', '--window=1', '--repeats=2', '--notorch_compile', '--host_devices=2', '--replicas=1,2',
       f'--out={out}'],
      cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-3000:]
  results = json.loads(out.read_text())
  assert results['devices'] == 2 and results['platform'] == 'cpu' and results['peak_flops'] > 0
  assert results['host_memory_retained']  # A CPU-only run, as launch.py's.
  assert all(r['page_faults_per_step'] >= 0 and r['system_seconds_per_step'] >= 0 and r['peak_resident_bytes'] > 0
             for r in results['rows'])
  ours, *theirs, two = results['rows']
  assert [r['implementation'] for r in theirs] == ['torch eager', 'torch channels_last']
  assert (ours['replicas'], two['replicas'], theirs[0]['replicas']) == (1, 2, 1)
  assert (ours['replica_axis'], two['replica_axis']) == (None, 'map')  # replica_axis=auto on the CPU.
  assert two['model_flops'] == pytest.approx(2 * ours['model_flops'])  # Two nets' steps in one.
  assert 0.85 < two['xla_flops'] / two['model_flops'] < 1.05
  assert ours['network'] == 'resnet14-A' and ours['images_per_sec'] > 0 and ours['compile_seconds'] > 0
  assert ours['vs_best_torch'] == pytest.approx(
      ours['images_per_sec'] / max(r['images_per_sec'] for r in theirs))
  # XLA's count of the (unrolled) step: forward, and the backward's input and weight gradients, ~3x the forward.
  assert 0.85 < ours['xla_flops'] / ours['model_flops'] < 1.05
  table = markdown_rows(done.stdout)
  assert [row[:5] for row in table[-4:]] == [['resnet14-A', '8', 'float32', '1', ours['implementation']],
                                            ['resnet14-A', '8', 'float32', '1', 'torch eager'],
                                            ['resnet14-A', '8', 'float32', '1', 'torch channels_last'],
                                            ['resnet14-A', '8', 'float32', '2', two['implementation']]]
  assert ours['implementation'] == 'resnet_jax (scan, standard-layout conv gradients)'
  assert two['implementation'] == 'resnet_jax (scan, standard-layout conv gradients, replicas by map)'


def test_matmul_peak_is_measured():
  from resnet_jax.tools.benchmarking import matmul_flops_per_second
  assert matmul_flops_per_second(64, jnp.float32, repeats=2) > 0
  assert jax.default_backend() == 'cpu'


def test_conv_benchmark_times_each_convolution_beside_torch(tmp_path):
  out = tmp_path / 'conv.json'
  done = subprocess.run(
      [sys.executable, 'experiments/benchmark.py', '--bench=conv', '--batch=2', '--layers=8:4,4:8', '--repeats=2',
       f'--out={out}'], cwd=ROOT, env={**os.environ, 'JAX_PLATFORMS': 'cpu', 'XLA_FLAGS': ''}, capture_output=True,
      text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-3000:]
  results = json.loads(out.read_text())
  assert results['host_memory_retained'] and results['batch'] == 2
  rows = results['rows']
  assert [(r['operation'], r['implementation']) for r in rows[:8]] == [
      ('forward', 'XLA'), ('input gradient', 'XLA'), ('kernel gradient', 'XLA'),
      ('input gradient', 'standard layout'), ('kernel gradient', 'standard layout'),
      ('forward', 'torch channels_last'), ('input gradient', 'torch channels_last'),
      ('kernel gradient', 'torch channels_last')]
  assert [r['input'] for r in rows] == ['2x8x8x4'] * 10 + ['2x4x4x8'] * 10
  # The replica axis: 2 nets' forward passes by vmap (a grouped convolution) and by map, against 2 of torch's.
  assert [(r['operation'], r['implementation']) for r in rows[8:10]] == [
      ('forward of 2 replicas', 'replicas by vmap'), ('forward of 2 replicas', 'replicas by map')]
  for r in rows[8:10]:
    assert r['flops'] == 2 * rows[0]['flops'] and r['vs_torch'] == pytest.approx(2 * rows[5]['seconds'] / r['seconds'])
  torch_seconds = {r['operation']: r['seconds'] for r in rows[5:8]}
  for r in rows[:8]:
    assert r['flops'] == 2 * 2 * 8 * 8 * 4 * 4 * 9 and r['flops_per_second'] == pytest.approx(r['flops'] / r['seconds'])
    assert r['vs_torch'] == pytest.approx(torch_seconds[r['operation']] / r['seconds'])
  last = markdown_rows(done.stdout)[-1]
  assert last[:3] == ['2x4x4x8', 'forward of 2 replicas', 'replicas by map']
  assert float(last[3]) == pytest.approx(1e3 * rows[-1]['seconds'], abs=0.01)


def test_pipeline_benchmark_times_each_transform(tmp_path):
  out = tmp_path / 'pipeline.json'
  done = subprocess.run(
      [sys.executable, 'experiments/benchmark.py', '--bench=pipeline', '--images=3', '--threads=2', '--repeats=1',
       f'--out={out}'], cwd=ROOT, env={**os.environ, 'JAX_PLATFORMS': 'cpu'}, capture_output=True, text=True,
      timeout=300)
  assert done.returncode == 0, done.stderr[-3000:]
  results = json.loads(out.read_text())
  assert results['images'] == 3 and results['threads'] == 2 and 300 < results['mean_size'][0] < 460
  assert [r['transform'] for r in results['rows']] == list(pipeline_speed.TRANSFORMS)
  assert all(r['per_core'] > 0 and r['pool'] > 0 for r in results['rows'])
  table = markdown_rows(done.stdout)
  assert [row[0] for row in table[-3:]] == list(pipeline_speed.TRANSFORMS)
  assert [float(row[1]) for row in table[-3:]] == [round(r['per_core']) for r in results['rows']]


def test_markdown_table_formats_missing_cells_as_a_dash():
  columns = [('name', False, tables.text('name')), ('ms', True, tables.cell('seconds', 1, 1e3, ' ms'))]
  assert tables.markdown_table(columns, [{'name': 'a', 'seconds': 0.0123}, {'name': 'b', 'seconds': None}]) == (
      '| name | ms |\n|---|---:|\n| a | 12.3 ms |\n| b | - |')


@pytest.mark.parametrize('args,message', [
    (['--bench=conv', '--layers=8x16'], '--layers takes SIZE:CHANNELS of each layer'),
    (['--nets=resnet8'], '--nets takes DATASET:VARIANT of each net'),
    (['--window=0'], 'flag --window=0: 0 is not a positive integer'),
    (['--bench=pipeline', '--images=0'], 'flag --images=0'),
    (['--out=/tmp'], '--out=/tmp is a directory: name a file'),
    (['--batch=4,4'], '--batch takes one positive integer for every net'),
    (['--nets=cifar10:resnet9', '--notorch', '--batch=2', '--peak_tflops=1'],
     'not 9: set --nets=DATASET:VARIANT (a variant of another model.depth)'),
    (['--nets=cifar10:resnet8', '--dtypes=float17', '--notorch', '--batch=2', '--peak_tflops=1'],
     "Unknown dtype 'float17': set --dtypes"),
])
def test_bad_benchmark_flags_end_in_one_error_line(args, message):
  done = subprocess.run([sys.executable, 'experiments/benchmark.py', *args], cwd=ROOT, capture_output=True,
                        text=True, timeout=300, env={**os.environ, 'JAX_PLATFORMS': 'cpu'})
  assert done.returncode == 2 and 'Traceback' not in done.stderr, done.stderr[-3000:]
  assert done.stderr.strip().splitlines()[-1].startswith('error: ') and message in done.stderr, done.stderr[-3000:]
