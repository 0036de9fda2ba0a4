"""launch.py as a new user meets it: pinned installs that fit the job, what a run runs on, failing fast offline, a
terminal worth reading, and help that helps."""
import ast
import json
import os
import re
import shlex
import subprocess
import sys
import time
import types

import jax
import pytest

from resnet_jax import train
from resnet_jax.errors import ConfigError
from resnet_jax.runtime import environment, progress
from tests.helpers import ROOT, launch, rows, tiny_config


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
  main, tests, cuda = (requirements(f) for f in ('requirements.txt', 'requirements-test.txt',
                                                 'requirements-cuda.txt'))
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
  for command in ('python3.12 -m venv .venv && .venv/bin/pip install -r requirements.txt -e . && .venv/bin/python '
                  'launch.py', 'python3.12 -m venv .venv && .venv/bin/pip install -r requirements-test.txt -e . && '
                  ".venv/bin/python -m pytest -q -m '' tests", environment.INSTALL['NVIDIA GPU']):
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


BLOCK_NETWORK = '''
import socket
_connect = socket.socket.connect
def connect(self, address):
  if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in ('127.0.0.1', '::1', 'localhost'):
    raise OSError(101, 'Network is unreachable (blocked by the test)')
  return _connect(self, address)
socket.socket.connect = connect
'''


def one_error_line(stderr: str) -> str:
  """The last line of stderr, checked to be its only `error:` line, with no traceback before it."""
  assert 'Traceback' not in stderr and [line for line in stderr.splitlines() if line.startswith('error:')] == [
      stderr.strip().splitlines()[-1]], stderr[-3000:]
  return stderr.strip().splitlines()[-1]


@pytest.mark.parametrize('source', ['download', 'tfds'])
def test_offline_fails_at_once_naming_the_folder_source(source, tmp_path):
  """No network (every outside connection refused), the default source or tfds: one error line, exit 2, nothing
  written."""
  (tmp_path / 'site').mkdir()
  (tmp_path / 'site' / 'sitecustomize.py').write_text(BLOCK_NETWORK)
  data, workdir = tmp_path / 'data', tmp_path / 'work'
  process = launch('--config=configs/cifar10.py:resnet8', f'--workdir={workdir}', f'--config.dataset.dir={data}',
                   f'--config.dataset.cache_dir={data}', f'--config.dataset.source={source}',
                   env={'PYTHONPATH': f'{tmp_path / "site"}{os.pathsep}{ROOT}'})
  stdout, stderr = process.communicate(timeout=300)
  assert process.returncode == 2, stderr[-3000:]
  assert '--config.dataset.source=folder --config.dataset.dir=PATH' in one_error_line(stderr)
  assert not data.exists() and not workdir.exists()


def test_tfds_without_tensorflow_datasets_names_the_install(tmp_path):
  """The main job installs no tfds: dataset.source=tfds without it is one error line naming the install command."""
  (tmp_path / 'site').mkdir()
  (tmp_path / 'site' / 'sitecustomize.py').write_text("import sys\nsys.modules['tensorflow_datasets'] = None\n")
  process = launch('--config=configs/cifar10.py:resnet8', f'--workdir={tmp_path / "work"}',
                   '--config.dataset.source=tfds', env={'PYTHONPATH': f'{tmp_path / "site"}{os.pathsep}{ROOT}'})
  _, stderr = process.communicate(timeout=300)
  assert process.returncode == 2
  assert 'needs tensorflow-datasets' in one_error_line(stderr) and 'pip install -r requirements-tfds.txt' in stderr


def test_step_clock_counts_training_time_only(monkeypatch):
  now = [0.0]
  monkeypatch.setattr(time, 'perf_counter', lambda: now[0])
  clock = progress.StepClock(0)
  now[0] = 30.0  # Compiling and the first step.
  clock.start(1, overhead=False)
  now[0] = 32.0  # Steps 2..11.
  clock.stop(11)
  now[0] = 37.0  # An evaluation.
  clock.start(11)
  now[0] = 39.0  # Steps 12..21.
  assert clock.window(21) == 20 / 4
  assert clock.eta(5.0, 100) == pytest.approx(100 * (1 / 5 + 5 / 20))  # Steps, and evaluation time per step.
  assert clock.window(21) is None and clock.eta(None, 100) is None  # No step timed since.


@pytest.mark.slow
def test_throughput_excludes_evaluation_and_checkpointing(image_folder, tmp_path, monkeypatch, capsys):
  """With each evaluation and checkpoint 1000 s longer on the loop's clock, images/s stays what the steps alone
  reach; counting them it would be at most 32 images / 1000 s."""
  offset = [0.0]
  monkeypatch.setattr(progress, 'time', types.SimpleNamespace(perf_counter=lambda: time.perf_counter() + offset[0],
                                                              time=time.time))

  def slower(work):
    def run(*args, **kwargs):
      offset[0] += 1000.0
      return work(*args, **kwargs)
    return run

  monkeypatch.setattr(train.Run, 'evaluate', slower(train.Run.evaluate))
  monkeypatch.setattr(train.Checkpoints, 'save', slower(train.Checkpoints.save))
  config = tiny_config(image_folder, tmp_path / 'cache', total_steps=6, log_every_steps=2, eval_every_steps=2,
                       checkpoint_every_steps=2)
  train.train_and_evaluate(config, str(tmp_path / 'work'))
  train_rows = [r for r in rows(tmp_path / 'work', drop=()) if r['split'] == 'train']
  assert [r['step'] for r in train_rows] == [2, 4, 6]
  assert all(r['images_per_sec'] > 1.0 for r in train_rows), train_rows
  lines = capsys.readouterr().out.splitlines()
  assert any(re.fullmatch(r'step 4/6  loss \d+\.\d{4}  error +\d+\.\d\d%  [\d,]+ images/s, ETA \d:\d\d:\d\d', line)
             for line in lines), lines


@pytest.mark.slow
def test_terminal_shows_progress_and_results_and_keeps_library_logs_in_the_log_file(image_folder, tmp_path):
  args = ['--config=configs/cifar10.py:resnet8', '--config.dataset.source=folder',
          f'--config.dataset.dir={image_folder}', f'--config.dataset.cache_dir={tmp_path / "cache"}',
          '--config.batch_size=16', '--config.eval_batch_size=40', '--config.total_steps=4',
          '--config.log_every_steps=2', '--config.eval_every_steps=2', '--config.checkpoint_every_steps=2']
  quiet = launch(*args, f'--workdir={tmp_path / "quiet"}')
  stdout, stderr = quiet.communicate(timeout=300)
  assert quiet.returncode == 0, stderr[-3000:]
  lines = stdout.splitlines()
  assert lines[0].startswith('Running on cpu: ') and f'jax {jax.__version__}' in lines[0]
  assert [line.split('  ')[0] for line in lines if line.startswith('step ')] == ['step 2/4', 'step 4/4']
  assert sum(line.startswith('eval at step ') and ': test  loss ' in line for line in lines) == 2
  assert re.fullmatch(rf'Done in \d:\d\d:\d\d: test error \d+\.\d\d% \(best \d+\.\d\d% at step [24]\)\. Results '
                      rf'in {re.escape(str(tmp_path / "quiet"))}: metrics.jsonl, checkpoints/, tensorboard/, '
                      r'train.log\.', lines[-1])
  assert os.listdir(tmp_path / 'quiet' / 'tensorboard')
  assert not re.search(r'^[IW]\d{4} ', stderr, re.M) and 'oneDNN' not in stderr, stderr  # No INFO chatter.
  with open(tmp_path / 'quiet' / 'train.log') as f:
    log = f.read()
  assert 'orbax' in log and 'step 4/4' in log  # The libraries' INFO logs, and the run's own lines.

  verbose = launch(*args, f'--workdir={tmp_path / "verbose"}', '--alsologtostderr')
  _, stderr = verbose.communicate(timeout=300)
  assert verbose.returncode == 0 and re.search(r'^I\d{4} .*orbax', stderr, re.M), stderr[-3000:]


def test_mode_config_prints_the_resolved_config():
  process = launch('--config=configs/cifar10.py:resnet20', '--config.model.depth=110', '--mode=config')
  stdout, stderr = process.communicate(timeout=120)
  assert process.returncode == 0, stderr
  config = json.loads(stdout)
  assert config['model']['depth'] == 110 and config['batch_size'] == 128 and stdout.count('\n') > 20
  assert config['derived'] == {'network': 'resnet110-A', 'steps_per_epoch': 390, 'warmup_steps': 400}


@pytest.mark.parametrize('name', sorted(n for n in os.listdir(os.path.join(ROOT, 'experiments'))
                                        if n.endswith('.py')))
def test_experiment_help_lists_its_flags(name):
  done = subprocess.run([sys.executable, os.path.join('experiments', name), '--help'], cwd=ROOT, text=True,
                        capture_output=True, timeout=120, env={**os.environ, 'JAX_PLATFORMS': 'cpu'})
  assert done.returncode in (0, 1) and not done.stderr, done.stderr  # absl's --help exits with 1.
  with open(os.path.join(ROOT, 'experiments', name)) as f:
    source = f.read()
  own = re.findall(r"flags\.DEFINE_\w+\('(\w+)'", source)
  sweep = ['steps', 'set', 'root', 'launcher', 'dataset', 'out'] if 'sweep_cli.run' in source else []
  for flag in own + sweep + ['alsologtostderr']:
    assert re.search(rf'--(\[no\])?{flag}\b', done.stdout), (flag, done.stdout)
  for line in ast.get_docstring(ast.parse(source)).splitlines():  # The usage as written, backslashes and all.
    assert line.strip() in done.stdout


def test_printed_commands_are_what_a_shell_accepts(tmp_path):
  done = subprocess.run([sys.executable, 'experiments/depth_ablation.py', '--launcher=print', '--depths=20',
                         '--steps=40', f'--root={tmp_path}'], cwd=ROOT, text=True, capture_output=True, timeout=120,
                        env={**os.environ, 'JAX_PLATFORMS': 'cpu'})
  assert done.returncode == 0, done.stderr
  commands = [shlex.split(line) for line in done.stdout.splitlines()]
  assert len(commands) == 2
  for command in commands:
    assert '--config.schedule.boundaries=(20, 30)' in command, command  # One argument, spaces and all.
