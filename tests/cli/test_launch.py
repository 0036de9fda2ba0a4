"""launch.py as a new user meets it, run through its main function in this process: pinned installs that fit the
job, what a run runs on, failing fast offline, the config and summary modes, a workdir's own config; and every
program's --help, each in a process of its own; a path the terminal cannot encode."""

import ast
import importlib
import json
import os
import re
import shlex
import socket
import subprocess
import sys

import jax
import pytest

from resnet_jax.errors import ConfigError
from resnet_jax.runtime import cli, environment
from tests.helpers import ROOT, assert_refused, run


def requirements(name: str) -> dict[str, str]:
  """{package: pinned version} of a requirements file, and the list of its -r includes under '-r'."""
  pins = {}
  with open(os.path.join(ROOT, name)) as f:
    for line in f:
      line = line.split('#')[0].strip()
      if line.startswith('-r '):
        pins.setdefault('-r', []).append(line[3:])
      elif line:
        package, sep, version = line.partition('==')
        assert sep, f'{name}: {line!r} is not pinned exactly'
        pins[package.lower()] = version
  return pins


def test_requirements_are_pinned_and_fit_the_job():
  main, tests, cuda = (requirements(f) for f in ('requirements.txt', 'requirements-test.txt', 'requirements-cuda.txt'))
  assert 'torch' not in main and 'pytest' not in main  # The main job needs neither.
  assert not {'tensorflow', 'tensorflow-cpu', 'tensorflow-datasets'} & set(main)  # Only dataset.source=tfds does.
  assert set(requirements('requirements-tfds.txt')) == {'tensorflow-datasets', 'tensorflow-cpu'}
  assert tests['-r'] == ['requirements.txt', 'requirements-tfds.txt'] and cuda['-r'] == ['requirements.txt']
  assert 'torch' in tests and 'pytest' in tests
  assert main['jax'] == main['jaxlib'] == cuda['jax[cuda13]']  # One JAX, CPU or CUDA.
  assert f'"jax[tpu]=={main["jax"]}"' in environment.INSTALL['TPU']
  assert environment.version_tuple(main['jax']) >= environment.LOWEST_JAX
  with open(os.path.join(ROOT, 'README.md')) as f:
    readme = f.read()
  for command in (
      'python3.12 -m venv .venv && .venv/bin/pip install -r requirements.txt -e . && .venv/bin/python launch.py',
      'python3.12 -m venv .venv && .venv/bin/pip install -r requirements-test.txt -e . && '
      ".venv/bin/python -m pytest -q -m '' tests",
      environment.INSTALL['NVIDIA GPU'],
  ):
    assert command in readme
  with open(os.path.join(ROOT, '.ci', 'run')) as f:
    ci = f.read()
  assert ".venv/bin/pip install -r requirements-test.txt -e . && .venv/bin/python -m pytest -q -m '' tests" in ci


def test_lowest_jax_is_checked():
  environment.check_jax_version()  # The installed one.
  environment.check_jax_version('0.11.2')
  environment.check_jax_version('0.12.0.1')
  with pytest.raises(ConfigError, match='jax 0.11.1 is older than 0.11.2'):
    environment.check_jax_version('0.11.1')


def test_run_says_what_it_runs_on():
  line = environment.describe('bfloat16')
  assert line.startswith('Running on cpu: 8 devices (cpu), 8 of them local, in 1 process;')
  assert f'jax {jax.__version__}' in line and 'compute dtype bfloat16' in line


def test_an_unused_accelerator_is_named_with_its_fix(tmp_path):
  assert environment.accelerator_on_host(str(tmp_path)) is None
  (tmp_path / 'dev').mkdir()
  (tmp_path / 'dev' / 'accel0').touch()
  assert environment.accelerator_on_host(str(tmp_path)) == 'TPU'
  (tmp_path / 'dev' / 'nvidia0').touch()
  assert environment.accelerator_on_host(str(tmp_path)) == 'NVIDIA GPU'
  warning = environment.unused_accelerator('cpu', 'NVIDIA GPU', '')
  assert 'JAX runs on the CPU' in warning and 'pip install -r requirements-cuda.txt' in warning
  assert 'jax[tpu]' in environment.unused_accelerator('cpu', 'TPU', '')
  assert environment.unused_accelerator('gpu', 'NVIDIA GPU', '') is None  # JAX uses it.
  assert environment.unused_accelerator('cpu', 'NVIDIA GPU', 'cpu') is None  # The CPU was asked for.
  assert environment.unused_accelerator('cpu', None, '') is None


def test_offline_the_download_fails_at_once_naming_the_folder_source(tmp_path, monkeypatch):
  """No network (every outside connection refused): one error line, exit 2, nothing written."""

  def unreachable(address, *args, **kwargs):
    raise OSError(101, 'Network is unreachable (blocked by the test)')

  monkeypatch.setattr(socket, 'create_connection', unreachable)
  data, workdir = tmp_path / 'data', tmp_path / 'work'
  done = run(
      'launch',
      '--config=configs/cifar10.py:resnet8',
      f'--workdir={workdir}',
      f'--config.dataset.dir={data}',
      f'--config.dataset.cache_dir={data}',
      '--config.dataset.source=download',
  )
  assert_refused(done, '--config.dataset.source=folder --config.dataset.dir=PATH', workdir)
  assert not data.exists()


def test_tfds_without_tensorflow_datasets_names_the_install(tmp_path, monkeypatch):
  """The main job installs no tfds: dataset.source=tfds without it is one error line naming the install command."""
  monkeypatch.setitem(sys.modules, 'tensorflow_datasets', None)
  done = run(
      'launch', '--config=configs/cifar10.py:resnet8', f'--workdir={tmp_path / "work"}', '--config.dataset.source=tfds'
  )
  assert_refused(done, 'needs tensorflow-datasets', tmp_path / 'work')
  assert 'pip install -r requirements-tfds.txt' in done.stderr


def test_mode_config_prints_the_config():
  done = run('launch', '--config=configs/cifar10.py:resnet20', '--config.model.depth=110', '--mode=config')
  assert done.returncode == 0, done.stderr
  config = json.loads(done.stdout)
  assert config['model']['depth'] == 110 and config['batch_size'] == 128 and done.stdout.count('\n') > 20
  assert config['compute'] == {'replica_axis': 'auto', 'block_loop': 'auto', 'conv_gradients': 'auto'}
  assert config['derived'] == {'network': 'resnet110-A', 'steps_per_epoch': 390, 'warmup_steps': 400}


def test_launch_summary_prints_resnet50_json_last():
  done = run('launch', '--config=configs/imagenet.py:resnet50', '--mode=summary')
  assert done.returncode == 0, done.stderr
  facts = json.loads(done.stdout.strip().splitlines()[-1])
  assert facts == {'name': 'resnet50-B', 'params': 25_557_032, 'macs': facts['macs'], 'image_size': 224}
  assert 3.8e9 < facts['macs'] < 3.9e9
  assert 'stage4/blocks/conv3/kernel' in done.stdout  # clu's parameter overview.


def test_launch_overrides_and_bad_input():
  done = run('launch', '--config=configs/cifar10.py:resnet20', '--mode=summary', '--config.model.depth=110')
  assert json.loads(done.stdout.strip().splitlines()[-1])['name'] == 'resnet110-A'
  done = run('launch', '--config=configs/cifar10.py:resnet20', '--mode=summary', '--config.model.depth=111')
  assert_refused(done, 'error: CIFAR ResNets have depth 6n+2')
  assert done.stderr.strip() == (
      'error: CIFAR ResNets have depth 6n+2 (20, 32, 44, 56, 110, 1202, ...), not 111: set '
      '--config.model.depth to one of them.'
  )


def test_summary_and_config_of_a_workdir_read_its_config_json():
  recorded = os.path.join(ROOT, 'tests', 'data', 'recorded')
  done = run('launch', '--mode=summary', f'--workdir={recorded}')
  assert done.returncode == 0, done.stderr
  assert json.loads(done.stdout.strip().splitlines()[-1])['name'] == 'resnet8-B'
  done = run('launch', '--mode=config', f'--workdir={recorded}')
  assert done.returncode == 0 and json.loads(done.stdout)['dataset']['dir'] == '/tmp/fx/run/data'


def test_printed_commands_are_what_a_shell_accepts(tmp_path):
  done = run('depth_ablation', '--launcher=print', '--depths=20', '--steps=40', f'--root={tmp_path}')
  assert done.returncode == 0, done.stderr
  lines = done.stdout.splitlines()
  assert len(lines) == 2
  for line in lines:
    assert '--config.schedule.boundaries=(20, 30)' in shlex.split(line), line  # One argument, spaces and all.


PROGRAMS = ['launch.py'] + sorted(
    os.path.join('experiments', n) for n in os.listdir(os.path.join(ROOT, 'experiments')) if n.endswith('.py')
)


@pytest.mark.parametrize('program', PROGRAMS)
def test_each_program_runs_and_its_help_lists_its_flags(program):
  """Each program as a process of its own (the one subprocess of each here): --help lists its flags, the shared
  ones it takes included, and its usage as written."""
  done = subprocess.run(
      [sys.executable, program, '--help'],
      cwd=ROOT,
      text=True,
      capture_output=True,
      timeout=120,
      env={**os.environ, 'JAX_PLATFORMS': 'cpu'},
  )
  assert done.returncode == 0 and not done.stderr, done.stderr
  with open(os.path.join(ROOT, program)) as f:
    source = f.read()
  own = re.findall(r"flags\.DEFINE_\w+\('(\w+)'", source)
  uses = importlib.import_module(program.removesuffix('.py').replace('/', '.')).PROGRAM.uses
  for flag in own + list(uses) + ['alsologtostderr']:
    assert re.search(rf'--(\[no\])?{flag}\b', done.stdout), (flag, done.stdout)
  for flag in set(cli.SHARED) - set(uses) - set(own):  # Shared flags it refuses are not offered.
    assert not re.search(rf'--(\[no\])?{flag}\b', done.stdout), (flag, done.stdout)
  for line in ast.get_docstring(ast.parse(source)).splitlines():  # The usage as written, backslashes and all.
    assert line.strip() in done.stdout


def test_a_path_the_terminal_cannot_encode_is_shown_escaped():
  """A workdir named in letters the terminal's encoding lacks: its error line escapes them, with no traceback."""
  done = subprocess.run(
      [sys.executable, 'launch.py', '--config=configs/cifar10.py:resnet8', '--workdir=/proc/réseau'],
      cwd=ROOT,
      text=True,
      encoding='ascii',
      errors='strict',
      capture_output=True,
      timeout=120,
      env={**os.environ, 'JAX_PLATFORMS': 'cpu', 'LC_ALL': 'C', 'PYTHONIOENCODING': 'ascii'},
  )
  assert_refused(done, r'/proc/r\xe9seau cannot be written')
