"""The GPU window's command end to end on the CPU at a tiny budget: Table 6's nets trained, the report rebuilt, and
the next window finding them recorded."""

import os
import subprocess
import sys

from tests.helpers import ROOT, tiny_data


def test_gpu_window_trains_table6_nets_then_skips_them(image_folder, tmp_path):
  """A CPU dry run of the GPU command: ResNet-8 with 2 seeds for 2 steps, the report rebuilt; a second window
  finds it recorded."""
  args = [
      sys.executable,
      'experiments/gpu_window.py',
      f'--root={tmp_path}',
      '--depths=8',
      '--replicas=2',
      '--steps=2',
      '--nobenchmark',
      '--noreplica_benchmark',
      '--budget_seconds=600',
      *tiny_data(image_folder, tmp_path / 'cache', '--set='),
  ]
  env = {**os.environ, 'JAX_PLATFORMS': 'cpu'}
  plan = subprocess.run(args + ['--dry_run'], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert plan.returncode == 0 and plan.stdout.startswith('resnet8-A-x2: whole, estimated'), plan.stderr[-2000:]
  first = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
  assert first.returncode == 0, first.stderr[-3000:]
  assert 'resnet8-A-x2: done' in first.stdout and 'every unit is recorded' in first.stdout
  assert os.path.exists(tmp_path / 'report' / 'table6_cifar10.md')
  second = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
  assert second.returncode == 0 and 'resnet8-A-x2: recorded.' in second.stdout, second.stderr[-3000:]
