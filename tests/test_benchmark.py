"""The training-step and convolution benchmarks on tiny configurations (their numbers mean nothing here;
docs/benchmarks.md has the measured ones), and the PyTorch reference nets they compare with."""
import json
import os
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import pytest

from resnet_jax.models import architecture, count_params
from resnet_jax.tools import pipeline_speed, step_profile, tables
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
       '--conv_gradients=auto,xla', '--profile', f'--out={out}'],
      cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-3000:]
  results = json.loads(out.read_text())
  assert results['devices'] == 2 and results['platform'] == 'cpu' and results['peak_flops'] > 0
  assert results['host_memory_retained']  # A CPU-only run, as launch.py's.
  assert all(r['page_faults_per_step'] >= 0 and r['system_seconds_per_step'] >= 0 and r['peak_resident_bytes'] > 0
             for r in results['rows'])
  ours, *theirs, two, xla, xla_two = results['rows']
  assert [r['implementation'] for r in theirs] == ['torch eager', 'torch channels_last']
  # Each --conv_gradients timed in the same run: 'auto' is standard_layout in a scan on the CPU, 'xla' unrolled.
  assert [r['implementation'] for r in (ours, two, xla, xla_two)] == [
      'resnet_jax (scan, standard-layout conv gradients)',
      'resnet_jax (scan, standard-layout conv gradients, replicas by map)',
      'resnet_jax (unrolled, XLA conv gradients)', 'resnet_jax (unrolled, XLA conv gradients, replicas by map)']
  assert all(r['vs_best_torch'] == pytest.approx(r['images_per_sec'] / max(t['images_per_sec'] for t in theirs))
             for r in (xla, xla_two))
  assert (ours['replicas'], two['replicas'], theirs[0]['replicas']) == (1, 2, 1)
  assert (ours['replica_axis'], two['replica_axis']) == (None, 'map')  # replica_axis=auto on the CPU.
  assert two['model_flops'] == pytest.approx(2 * ours['model_flops'])  # Two nets' steps in one.
  assert 0.85 < two['xla_flops'] / two['model_flops'] < 1.05
  assert ours['network'] == 'resnet14-A' and ours['images_per_sec'] > 0 and ours['compile_seconds'] > 0
  assert ours['vs_best_torch'] == pytest.approx(
      ours['images_per_sec'] / max(r['images_per_sec'] for r in theirs))
  # XLA's count of the (unrolled) step: forward, and the backward's input and weight gradients, ~3x the forward.
  assert 0.85 < ours['xla_flops'] / ours['model_flops'] < 1.05
  # --profile: where each JAX step's time went, by kind of XLA operation, its convolutions among them.
  for r in (ours, two, xla, xla_two):
    kinds = r['seconds_by_kind']
    assert all(seconds > 0 for seconds in kinds.values()) and any('conv' in kind for kind in kinds), kinds
    assert f'{r["implementation"]}: {1e3 * r["step_seconds"]:.1f} ms per step' in done.stdout
  assert '| XLA operation kind | ms per step | share |' in done.stdout
  assert 'torch eager' not in done.stdout.split('| XLA operation kind')[1]  # PyTorch's steps are not traced.
  table = markdown_rows(done.stdout.split('| XLA operation kind')[0])
  assert [row[3:5] for row in table[-6:]] == [['1', ours['implementation']], ['1', 'torch eager'],
                                             ['1', 'torch channels_last'], ['2', two['implementation']],
                                             ['1', xla['implementation']], ['2', xla_two['implementation']]]


def test_matmul_peak_is_measured():
  from resnet_jax.tools.benchmarking import matmul_flops_per_second
  assert matmul_flops_per_second(64, jnp.float32, repeats=2) > 0
  assert jax.default_backend() == 'cpu'


def test_conv_benchmark_times_each_convolution_beside_torch(tmp_path):
  out = tmp_path / 'conv.json'
  done = subprocess.run(
      [sys.executable, 'experiments/benchmark.py', '--bench=conv', '--batch=2', '--layers=8:4,4:8:1', '--repeats=2',
       f'--out={out}'], cwd=ROOT, env={**os.environ, 'JAX_PLATFORMS': 'cpu', 'XLA_FLAGS': ''}, capture_output=True,
      text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-3000:]
  results = json.loads(out.read_text())
  assert results['host_memory_retained'] and results['batch'] == 2 and results['xla_flags'] == ''
  routes = ['XLA', 'NCHW', 'tap products', 'patches product', 'XLA bfloat16', 'patches product bfloat16',
            'torch channels_last']
  three = ['forward', 'input gradient', 'kernel gradient']
  expected = [(operation, route) for route in routes for operation in three]
  expected[3:3] = [('input gradient', 'standard layout'), ('kernel gradient', 'standard layout')]
  expected += [('forward of 2 replicas', 'replicas by vmap'), ('forward of 2 replicas', 'replicas by map')]
  for layer, kernel, size, channels in (('2x8x8x4', 3, 8, 4), ('2x4x4x8', 1, 4, 8)):
    rows = [r for r in results['rows'] if r['input'] == layer]
    assert [(r['operation'], r['implementation']) for r in rows] == expected
    assert {r['kernel'] for r in rows} == {f'{kernel}x{kernel}'}
    torch_seconds = {r['operation']: r['seconds'] for r in rows if r['implementation'] == 'torch channels_last'}
    for r in rows[:-2]:
      assert r['flops'] == 2 * 2 * size * size * channels * channels * kernel * kernel
      assert r['flops_per_second'] == pytest.approx(r['flops'] / r['seconds'])
      assert r['vs_torch'] == pytest.approx(torch_seconds[r['operation']] / r['seconds'])
      # Each of JAX's computes what XLA's float32 convolution computes: to float32 rounding, or bfloat16's.
      bound = None if r['implementation'] == 'torch channels_last' else (
          2e-2 if 'bfloat16' in r['implementation'] else 1e-5)
      assert r['error'] is None if bound is None else 0 <= r['error'] < bound, r
    # The replica axis: 2 nets' forward passes by vmap (a grouped convolution) and by map, against 2 of torch's.
    for r in rows[-2:]:
      assert r['flops'] == 2 * rows[0]['flops'] and r['vs_torch'] == pytest.approx(
          2 * torch_seconds['forward'] / r['seconds'])
  last = markdown_rows(done.stdout)[-1]
  assert last[:4] == ['2x4x4x8', '1x1', 'forward of 2 replicas', 'replicas by map']
  assert float(last[4]) == pytest.approx(1e3 * results['rows'][-1]['seconds'], abs=0.01)


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


def test_step_profile_sums_each_kind_of_operation_over_the_calls():
  x = jnp.ones((256, 256))
  compiled, out = jax.jit(lambda x: jnp.tanh(x @ x) @ x).lower(x).compile(), [None]
  seconds = step_profile.seconds_by_kind(compiled, lambda: out.__setitem__(0, compiled(x)),
                                         lambda: jax.block_until_ready(out[0]), 3)
  names = {line.split('=')[0].split('%')[-1].strip() for line in compiled.as_text().splitlines() if ' = ' in line}
  assert seconds and all(s > 0 for s in seconds.values()) and list(seconds.values()) == sorted(
      seconds.values(), reverse=True)
  # Kinds are the module's instruction names less their numbers: two products of one kind, whatever XLA fused.
  assert all(any(name == kind or name.rpartition('.')[0] == kind for name in names) for kind in seconds)
  # Seconds per call: two products of 256^3 multiply-adds take more than 10 microseconds and far less than a second.
  assert 1e-5 < sum(seconds.values()) < 1


def test_markdown_table_formats_missing_cells_as_a_dash():
  columns = [('name', False, tables.text('name')), ('ms', True, tables.cell('seconds', 1, 1e3, ' ms'))]
  assert tables.markdown_table(columns, [{'name': 'a', 'seconds': 0.0123}, {'name': 'b', 'seconds': None}]) == (
      '| name | ms |\n|---|---:|\n| a | 12.3 ms |\n| b | - |')


@pytest.mark.parametrize('args,message', [
    (['--bench=conv', '--layers=8x16'], '--layers takes SIZE:CHANNELS or SIZE:CHANNELS:KERNEL of each layer'),
    (['--bench=conv', '--layers=8:16:2'], 'KERNEL odd'),
    (['--conv_gradients=standard_layout,cudnn'], '--conv_gradients takes auto, xla, standard_layout, separated by'),
    (['--replica_axes=pmap'], '--replica_axes takes auto, vmap, map, separated by commas'),
    (['--nets=resnet8'], '--nets takes DATASET:VARIANT of each net'),
    (['--window=0'], 'flag --window=0: 0 is not a positive integer'),
    (['--bench=pipeline', '--images=0'], 'flag --images=0'),
    (['--out=/tmp'], '--out=/tmp is a directory: name a file'),
    (['--batch=4,4'], '--batch takes one positive integer for every net'),
    (['--bench=conv', '--batch=2,3'], '--batch takes one positive integer (--bench=conv times every layer at one'),
    (['--nets='], '--nets takes DATASET:VARIANT of each net, one or more'),
    (['--bench=conv', '--layers='], '--layers takes SIZE:CHANNELS or SIZE:CHANNELS:KERNEL of each layer, one or more'),
    (['--host_devices=-2'], 'flag --host_devices=-2: -2 is not'),
    (['--bench=conv', '--profile'], '--profile applies to --bench=step only: drop it, or set --bench=step.'),
    (['--bench=step', '--layers=4:4', '--notorch'], '--layers applies to --bench=conv only'),
    (['--bench=pipeline', '--batch=4'], '--batch applies to --bench=step and --bench=conv only'),
    (['--bench=conv', '--batch=2', '--layers=100000:64'], '--layers=100000:64:3 at --batch=2 needs at least'),
    (['--nets=cifar10:resnet8', '--batch=100000000', '--notorch', '--peak_tflops=1'],
     r're:resnet8-A at batch 100000000 needs at least .* GB per device .*: at most --batch=\d+ \(\d+ per device\) can'),
    (['--nets=cifar10:resnet9', '--notorch', '--batch=8', '--peak_tflops=1'],
     'not 9: set --nets=DATASET:VARIANT (a variant of another model.depth)'),
    (['--nets=cifar10:resnet8', '--dtypes=float17', '--notorch', '--batch=8', '--peak_tflops=1'],
     "Unknown dtype 'float17': set --dtypes"),
])
def test_bad_benchmark_flags_end_in_one_error_line(args, message):
  done = subprocess.run([sys.executable, 'experiments/benchmark.py', *args], cwd=ROOT, capture_output=True,
                        text=True, timeout=300, env={**os.environ, 'JAX_PLATFORMS': 'cpu'})
  assert done.returncode == 2 and 'Traceback' not in done.stderr, done.stderr[-3000:]
  last = done.stderr.strip().splitlines()[-1]
  found = re.search(message[3:], last) if message.startswith('re:') else message in last
  assert last.startswith('error: ') and found, done.stderr[-3000:]
