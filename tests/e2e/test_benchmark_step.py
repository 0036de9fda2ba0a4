"""The step benchmark end to end, as its own process (the host split into 2 devices): each implementation, each
--conv_gradients and replica count, and where each step's time went."""

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT, markdown_rows

pytest.importorskip('torch')


def test_step_benchmark_reports_each_implementation(tmp_path):
  out = tmp_path / 'step.json'
  env = {**os.environ, 'JAX_PLATFORMS': 'cpu', 'XLA_FLAGS': '--xla_backend_optimization_level=0'}  # As conftest.py.
  done = subprocess.run(
      [
          sys.executable,
          'experiments/benchmark.py',
          '--bench=step',
          '--nets=cifar10:resnet8',
          '--batch=8',
          '--warmup=1',
          '--window=1',
          '--repeats=2',
          '--notorch_compile',
          '--host_devices=2',
          '--replicas=1,2',
          '--conv_gradients=auto,xla',
          '--profile',
          f'--out={out}',
      ],
      cwd=ROOT,
      env=env,
      capture_output=True,
      text=True,
      timeout=600,
  )
  assert done.returncode == 0, done.stderr[-3000:]
  results = json.loads(out.read_text())
  assert results['devices'] == 2 and results['platform'] == 'cpu' and results['peak_flops'] > 0
  assert results['host_memory_retained']  # A CPU-only run, as launch.py's.
  assert all(
      r['page_faults_per_step'] >= 0 and r['system_seconds_per_step'] >= 0 and r['peak_resident_bytes'] > 0
      for r in results['rows']
  )
  ours, *theirs, two, xla, xla_two = results['rows']
  assert [r['implementation'] for r in theirs] == ['torch eager', 'torch channels_last']
  # Each --conv_gradients timed in the same run: 'auto' is standard_layout in a scan on the CPU, 'xla' unrolled.
  assert [r['implementation'] for r in (ours, two, xla, xla_two)] == [
      'resnet_jax (scan, standard-layout conv gradients)',
      'resnet_jax (scan, standard-layout conv gradients, replicas by map)',
      'resnet_jax (unrolled, XLA conv gradients)',
      'resnet_jax (unrolled, XLA conv gradients, replicas by map)',
  ]
  assert all(
      r['vs_best_torch'] == pytest.approx(r['images_per_sec'] / max(t['images_per_sec'] for t in theirs))
      for r in (xla, xla_two)
  )
  assert (ours['replicas'], two['replicas'], theirs[0]['replicas']) == (1, 2, 1)
  assert (ours['replica_axis'], two['replica_axis']) == (None, 'map')  # replica_axis=auto on the CPU.
  assert two['model_flops'] == pytest.approx(2 * ours['model_flops'])  # Two nets' steps in one.
  assert 0.85 < two['xla_flops'] / two['model_flops'] < 1.05
  assert ours['network'] == 'resnet8-A' and ours['images_per_sec'] > 0 and ours['compile_seconds'] > 0
  assert ours['vs_best_torch'] == pytest.approx(ours['images_per_sec'] / max(r['images_per_sec'] for r in theirs))
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
  assert [row[3:5] for row in table[-6:]] == [
      ['1', ours['implementation']],
      ['1', 'torch eager'],
      ['1', 'torch channels_last'],
      ['2', two['implementation']],
      ['1', xla['implementation']],
      ['2', xla_two['implementation']],
  ]


def test_each_set_of_xla_flags_is_timed_in_a_process_of_its_own(tmp_path):
  out, flag = tmp_path / 'step.json', '--xla_cpu_experimental_ynn_fusion_type=reduce'
  env = {**os.environ, 'JAX_PLATFORMS': 'cpu', 'XLA_FLAGS': '--xla_backend_optimization_level=0'}  # As conftest.py.
  benchmark = lambda *flags: subprocess.run(
      [
          sys.executable,
          'experiments/benchmark.py',
          '--bench=step',
          '--nets=cifar10:resnet8',
          '--batch=8',
          '--warmup=0',
          '--window=1',
          '--repeats=1',
          '--notorch',
          *flags,
      ],
      cwd=ROOT,
      env=env,
      capture_output=True,
      text=True,
      timeout=600,
  )
  done = benchmark(f'--xla_flags={flag}', f'--out={out}')
  assert done.returncode == 0, done.stderr[-3000:]
  ours, flagged = json.loads(out.read_text())['rows']
  assert 'xla_flags' not in ours and flagged['xla_flags'] == flag
  assert flagged['implementation'] == f'{ours["implementation"]} + {flag}'
  assert flagged['images_per_sec'] > 0 and flagged['model_flops'] == ours['model_flops']
  assert f"XLA_FLAGS='--xla_backend_optimization_level=0 {flag}'" in done.stdout
  refused = benchmark('--xla_flags=--xla_no_such_flag=1')
  assert refused.returncode == 2 and refused.stderr.strip().splitlines()[-1].startswith(
      'error: --xla_flags=--xla_no_such_flag=1: the run under those flags failed ('
  ), refused.stderr[-2000:]
