"""The GPU window's recipe exactly as docs/gpu_window.md gives it, on a stand-in for the GPU machine's image: a venv of
tests/device_image.txt (Python 3.12, jax 0.11.2, the image's packages; no ml-collections, clu, tfds or TensorFlow),
the wheels carried by experiments/gpu_window_prepare.sh installed --no-index by experiments/gpu_window.sh, in a copy
of the checkout (the device gets one), without network (a network namespace of its own), on the CPU."""

import csv
import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile

import pytest

from tests.helpers import ROOT

IMAGE = os.path.join(ROOT, 'tests', 'device_image.txt')
SHARED = os.path.join(ROOT, '..', 'shared', 'datasets')
# The tiny window: every unit of the real one (the step benchmark, Table 6's runs with replicas, the report with the
# JPEG table), at sizes the CPU runs in minutes.
TINY = [
    '--budget_seconds=900',
    '--depths=8',
    '--replicas=2',
    '--steps=2',
    '--set=batch_size=16',
    '--set=eval_batch_size=500',
    '--benchmark_net=cifar10:resnet8',
    '--benchmark_batch=16',
    '--benchmark_dtype=float32',
    '--replica_benchmark_net=cifar10:resnet8',
    '--replica_benchmark_batch=16',
]


def image_packages() -> set[str]:
  """The names of the packages the device image holds, from the comment block of device_image.txt."""
  with open(IMAGE) as f:
    text = f.read()
  listed = re.search(r'# Packages: (.*?)\n(?!#)', text, re.S).group(1)
  return {normalize(name) for name in re.sub(r'\n# ?', ' ', listed).replace(',', ' ').split()}


def normalize(name: str) -> str:
  return re.sub(r'[-_.]+', '-', name).lower()


@pytest.fixture(scope='module')
def device_image():
  """The bin/ of a venv of device_image.txt, built once per version of that file (under .cache/)."""
  with open(IMAGE, 'rb') as f:
    venv = os.path.join(ROOT, '.cache', f'device-image-{hashlib.sha256(f.read()).hexdigest()[:12]}')
  if not os.path.exists(os.path.join(venv, 'ready')):
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run(['python3.12', '-m', 'venv', venv], check=True)
    subprocess.run(
        [os.path.join(venv, 'bin', 'pip'), 'install', '-q', '--disable-pip-version-check', '-r', IMAGE], check=True
    )
    open(os.path.join(venv, 'ready'), 'w').close()
  return os.path.join(venv, 'bin')


def checkout_copy(destination) -> str:
  """What a device call sends: the tracked files and the untracked ones git does not ignore."""
  listed = (
      subprocess.run(['git', 'ls-files', '-co', '--exclude-standard', '-z'], cwd=ROOT, capture_output=True, check=True)
      .stdout.decode()
      .split('\0')
  )
  for name in filter(None, listed):
    if os.path.isfile(os.path.join(ROOT, name)):
      os.makedirs(os.path.dirname(os.path.join(destination, name)), exist_ok=True)
      shutil.copy2(os.path.join(ROOT, name), os.path.join(destination, name))
  return str(destination)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(SHARED), reason='../shared/datasets (the carried CIFAR-10) is not here')
def test_the_readme_recipe_runs_on_the_device_image(device_image, tmp_path):
  frozen = subprocess.run(
      [os.path.join(device_image, 'pip'), 'list', '--format=freeze'], capture_output=True, text=True, check=True
  ).stdout
  installed = {normalize(line.split('==')[0]) for line in frozen.split()}
  assert installed - image_packages() - {'pip'} == set()  # Nothing the image lacks.
  assert not {'ml-collections', 'clu', 'tensorflow', 'tensorflow-cpu', 'tensorflow-datasets'} & installed
  repo = checkout_copy(tmp_path / 'repo')
  with open(os.path.join(ROOT, 'docs', 'gpu_window.md')) as f:
    recipe = f.read()
  assert '\n    bash experiments/gpu_window_prepare.sh' in recipe  # Its two commands.
  assert '\n    bash experiments/gpu_window.sh --budget_seconds=' in recipe
  prepared = subprocess.run(
      ['bash', 'experiments/gpu_window_prepare.sh'],
      cwd=repo,
      capture_output=True,
      text=True,
      env={**os.environ, 'DATASETS': SHARED},
  )
  assert prepared.returncode == 0 and prepared.stdout.startswith('Ready: '), prepared.stderr
  carried = sorted(os.listdir(os.path.join(repo, '.whl')))
  assert len(carried) == 5 and sum(os.path.getsize(os.path.join(repo, '.whl', w)) for w in carried) < 4e6

  out = tmp_path / 'out'
  out.mkdir()
  env = {
      'PATH': f'{device_image}:/usr/bin:/bin',
      'HOME': str(tmp_path / 'home'),
      'OUT': str(out),
      'SITE': str(tmp_path / 'site'),
      'XLA_FLAGS': '--xla_backend_optimization_level=0',  # The CPU compiles as in every test (tests/conftest.py).
  }

  def window(*args):
    return subprocess.run(
        ['unshare', '--net', 'bash', 'experiments/gpu_window.sh', *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )

  plan = window(*TINY, '--dry_run')
  assert plan.returncode == 0, plan.stdout[-2000:] + plan.stderr[-3000:]
  assert [line.split(':')[:2] for line in plan.stdout.splitlines()[-3:]] == [
      ['benchmark resnet8 float32', ' whole, estimated 0'],
      ['benchmark resnet8 float32 replicas 1,2', ' whole, estimated 0'],
      ['resnet8-A-x2', ' whole, estimated 0'],
  ]
  ran = window(*TINY)
  assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
  for unit in ('benchmark resnet8 float32', 'benchmark resnet8 float32 replicas 1,2', 'resnet8-A-x2', 'report'):
    assert f'{unit}: done' in ran.stdout, ran.stdout
  assert 'every unit is recorded' in ran.stdout
  with tarfile.open(out / 'paper.tar.gz') as tar:
    names = set(tar.getnames())
  root = 'workdirs/paper'
  assert {
      f'{root}/cifar10/resnet8-A-x2/metrics.jsonl',
      f'{root}/report/table6_cifar10.md',
      f'{root}/report/jpeg_offset_cifar10.md',
      f'{root}/benchmarks/step_resnet8_float32_16.json',
      f'{root}/benchmarks/step_resnet8_float32_16_replicas1-2.json',
  } <= names
  assert any(name.startswith(f'{root}/cifar10/resnet8-A-x2/tensorboard/events.') for name in names)
  with tarfile.open(out / 'paper.tar.gz') as tar:  # Each seed's errors, from one restore of its workdir.
    table = list(csv.DictReader(io.TextIOWrapper(tar.extractfile(f'{root}/report/jpeg_offset_cifar10.csv'))))
  assert [row['network'] for row in table] == ['resnet8-A']
  for column in ('error % (846 originals)', 'error % (846 JPEG twins)'):
    best, spread = table[0][column].split(' ')  # Two seeds: best (mean±std).
    mean, std = map(float, spread.strip('()').split('±'))
    assert 0 <= float(best) <= mean <= 100 and std >= 0

  # The next window, on a fresh machine, resumes from what came back: everything is recorded.
  shutil.copy(out / 'paper.tar.gz', tmp_path / 'previous.tar.gz')
  os.makedirs(tmp_path / 'returned')
  shutil.copy(tmp_path / 'previous.tar.gz', tmp_path / 'returned' / 'paper.tar.gz')
  shutil.rmtree(os.path.join(repo, 'workdirs'))
  prepared = subprocess.run(
      ['bash', 'experiments/gpu_window_prepare.sh', str(tmp_path / 'returned')],
      cwd=repo,
      capture_output=True,
      text=True,
      env={**os.environ, 'DATASETS': SHARED},
  )
  assert prepared.returncode == 0 and '1 previous results' in prepared.stdout, prepared.stderr
  again = window(*TINY, '--dry_run')
  assert again.returncode == 0 and 'resnet8-A-x2: recorded' in again.stdout, again.stdout + again.stderr[-2000:]
