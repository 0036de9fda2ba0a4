"""The torchvision converter as a process, its closing hint pasted into a shell."""

import os
import shlex
import subprocess
import sys

import pytest

from tests.helpers import ROOT

torch = pytest.importorskip('torch')
from tests.unit.test_convert import random_torch_net  # noqa: E402


def test_the_converters_closing_hint_runs_as_printed(tmp_path):
  """The printed eval command, pasted, reads the converted workdir's config.json (here it reaches the data
  folder, which this test leaves absent) instead of failing on its flags."""
  weights, workdir = tmp_path / 'resnet18.pth', tmp_path / 'converted workdir'
  torch.save(random_torch_net(18).state_dict(), weights)
  env = {**os.environ, 'JAX_PLATFORMS': 'cpu'}
  done = subprocess.run(
      [
          sys.executable,
          'experiments/convert_torchvision.py',
          f'--torchvision={weights}',
          '--config=configs/imagenet.py:resnet18,modern',
          f'--config.dataset.dir={tmp_path / "nodata"}',
          f'--workdir={workdir}',
      ],
      cwd=ROOT,
      text=True,
      capture_output=True,
      timeout=300,
      env=env,
  )
  assert done.returncode == 0, done.stderr[-3000:]
  hint = done.stdout.strip().splitlines()[-1].split('evaluate with: ')[1]
  assert hint.startswith('python launch.py --mode=eval --workdir=')
  pasted = subprocess.run(
      hint.replace('python', shlex.quote(sys.executable), 1),
      shell=True,
      cwd=ROOT,
      text=True,
      capture_output=True,
      timeout=300,
      env=env,
  )
  assert pasted.returncode == 2 and pasted.stderr.strip().splitlines()[-1].startswith('error: '), pasted.stderr
  assert str(tmp_path / 'nodata') in pasted.stderr.strip().splitlines()[-1], pasted.stderr[-2000:]
