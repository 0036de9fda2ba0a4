"""Sweeps on a real SLURM cluster (`.ci/slurm start`: one node, cgroup process tracking, no GPUs): array tasks that
finish by themselves across time limits and requeues, a manual stop, a two-task srun run, and a wrong launch.
Tiny nets on the CPU."""

import os
import re
import shlex
import shutil
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from resnet_jax.reproduce import sweep
from resnet_jax.tools import slurm
from tests.helpers import ROOT, host_devices, rows, tiny_data


def slurm_up() -> bool:
  if shutil.which('sinfo') is None:
    return False
  done = subprocess.run(['sinfo', '-h', '-o', '%T'], capture_output=True, text=True, timeout=30)
  return done.returncode == 0 and bool(set(done.stdout.split()) & {'idle', 'mixed', 'allocated'})


pytestmark = [
    pytest.mark.slow,
    pytest.mark.slurm,
    pytest.mark.skipif(not slurm_up(), reason='no SLURM cluster here: .ci/slurm start runs one'),
]

DONE = ('COMPLETED', 'CANCELLED', 'FAILED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'BOOT_FAIL', 'DEADLINE')
LONG_STEPS = 2000  # Longer than an attempt of --time=1 (the warning comes 20-50 s before the limit): 40 s alone.
ONE_MINUTE = slurm.Resources(time='1', gpus=0, cpus=1, signal_seconds=20)
TEN_MINUTES = slurm.Resources(time='10', gpus=0, cpus=1)


# One device: quicker to start, to step. Compiled as XLA does by default: the long runs here are mostly stepping.
ONE_DEVICE = {**os.environ, 'XLA_FLAGS': '--xla_force_host_platform_device_count=1'}


def sbatch(*args, env=ONE_DEVICE) -> str:
  """Submits with `env` as the job's environment (sbatch exports its own); the job's ID."""
  done = subprocess.run(['sbatch', '--parsable', *args], capture_output=True, text=True, cwd=ROOT, env=env, check=True)
  return done.stdout.strip().split(';')[0]


def job(job_id: str) -> dict[str, str]:
  """scontrol's record of a job (or array task, ID_TASK) as KEY -> value."""
  text = subprocess.run(['scontrol', 'show', 'job', '-o', job_id], capture_output=True, text=True, check=True).stdout
  return dict(re.findall(r'(\w+)=(\S*)', text))


def wait(job_id: str, timeout: float = 600) -> dict[str, str]:
  """The job's record once it has ended."""
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    record = job(job_id)
    if record['JobState'] in DONE:
      return record
    time.sleep(2)
  subprocess.run(['scancel', job_id])
  raise AssertionError(f'{job_id} still {record["JobState"]} after {timeout} s')


def wait_for_text(path, pattern: str, timeout: float = 300) -> None:
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    if os.path.exists(path) and re.search(pattern, open(path).read()):
      return
    time.sleep(1)
  raise AssertionError(f'{pattern!r} not in {path} after {timeout} s')


def final_state(workdir):
  """The newest checkpoint's arrays."""
  step = max(int(d) for d in os.listdir(os.path.join(workdir, 'checkpoints')) if d.isdigit())
  return ocp.StandardCheckpointer().restore(os.path.join(workdir, 'checkpoints', str(step), 'default'))


def final_eval(workdir):
  return [r for r in rows(workdir) if r['split'] == 'test'][-1]


def run_command(root, image_folder, cache, steps: int, name: str = 'resnet8') -> list[str]:
  overrides = (
      'dataset.source=folder',
      f'dataset.dir={image_folder}',
      f'dataset.cache_dir={cache}',
      'batch_size=16',
      'eval_batch_size=40',
      f'total_steps={steps}',
      'log_every_steps=50',
      f'eval_every_steps={steps}',
      'checkpoint_every_steps=400',
      'optimizer.learning_rate=0.01',
  )
  return sweep.Job('cifar10', name, overrides, str(root)).command(sys.executable)


def submit_array(tmp, name: str, command: list[str], resources: slurm.Resources) -> tuple[str, str]:
  """(array task ID, its output file) of a one-run array written by the sweep's generator."""
  path = str(tmp / f'{name}.sbatch')
  slurm.write_array(path, name, [command], resources, sweep.REPO)
  array = sbatch(path)
  return f'{array}_0', str(tmp / 'slurm' / f'{name}-{array}_0.out')


@pytest.fixture(scope='module')
def long_runs(image_folder, tmp_path_factory):
  """One run of LONG_STEPS three times at once: as two array tasks, one of --time=1, one to be requeued by hand,
  and uninterrupted outside SLURM. ({test: (task, output file, workdir)}, a function that waits for the
  uninterrupted run and returns its workdir)."""
  tmp = tmp_path_factory.mktemp('slurm')
  cache = tmp / 'cache'
  subprocess.run(
      run_command(tmp / 'warm', image_folder, cache, 1), check=True, capture_output=True, cwd=ROOT, env=ONE_DEVICE
  )
  runs = {}
  for test, resources in (('time_limit', ONE_MINUTE), ('requeue', TEN_MINUTES)):
    command = run_command(tmp / test, image_folder, cache, LONG_STEPS)
    runs[test] = (*submit_array(tmp, test, command, resources), command[3].split('=', 1)[1])
  command = run_command(tmp / 'reference', image_folder, cache, LONG_STEPS)
  reference = subprocess.Popen(
      command, cwd=ROOT, env=ONE_DEVICE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
  )

  def uninterrupted():
    assert reference.wait(timeout=600) == 0, reference.stderr.read()[-3000:]
    return command[3].split('=', 1)[1]

  yield runs, uninterrupted
  reference.kill()
  for task, _, _ in runs.values():
    subprocess.run(['scancel', task])


def assert_same_run(workdir, reference):
  assert final_eval(workdir) == final_eval(reference)
  jax.tree.map(np.testing.assert_array_equal, final_state(workdir), final_state(reference))


def test_scontrol_requeue_mid_run_resumes_to_the_same_result(long_runs):
  runs, uninterrupted = long_runs
  task, output, workdir = runs['requeue']
  wait_for_text(output, r'step +\d+/2000')
  subprocess.run(['scontrol', 'requeue', task], check=True)
  record = wait(task)
  log = open(output).read()
  assert record['JobState'] == 'COMPLETED' and int(record['Restarts']) >= 1, (record, log[-3000:])
  assert 'Stopped by a signal at step' in log and 'attempt 2,' in log
  assert_same_run(workdir, uninterrupted())


def test_a_task_stopped_at_its_time_limit_saves_requeues_itself_and_finishes(long_runs):
  runs, uninterrupted = long_runs
  task, output, workdir = runs['time_limit']
  record = wait(task)
  log = open(output).read()
  assert record['JobState'] == 'COMPLETED' and int(record['Restarts']) >= 1, (record, log[-3000:])
  assert 'the time limit is near' in log and 'checkpoint saved' in log and 'attempt 2,' in log
  assert sweep.load(workdir).finished
  assert_same_run(workdir, uninterrupted())


@pytest.mark.parametrize(
    'stop, state', [(['scancel'], 'CANCELLED'), (['scancel', '--batch', '--signal=TERM'], 'FAILED')]
)
def test_a_task_stopped_by_hand_saves_and_is_not_completed(stop, state, image_folder, tmp_path):
  """scancel (the documented stop): SIGTERM to everything. SIGTERM to the script alone: exit 143, not COMPLETED."""
  command = run_command(tmp_path / 'runs', image_folder, tmp_path / 'cache', LONG_STEPS)
  task, output = submit_array(tmp_path, 'stop', command, TEN_MINUTES)
  wait_for_text(output, r'step +\d+/2000')
  subprocess.run([*stop, task], check=True)
  record = wait(task)
  log = open(output).read()
  assert record['JobState'] == state and int(record['Restarts']) == 0, (record, log[-3000:])
  step = int(re.search(r'Stopped by a signal at step (\d+), checkpoint saved', log).group(1))
  saved = [int(d) for d in os.listdir(os.path.join(command[3].split('=', 1)[1], 'checkpoints')) if d.isdigit()]
  assert max(saved) == step < LONG_STEPS and 'stopped by SIGTERM, checkpoint saved' in log


def test_a_two_run_sweep_without_gpus_completes_and_reports(image_folder, tmp_path):
  root = tmp_path / 'paper'
  args = [
      sys.executable,
      'experiments/depth_ablation.py',
      f'--root={root}',
      '--depths=8',
      '--steps=4',
      *tiny_data(image_folder, tmp_path, '--set='),
  ]
  done = subprocess.run(
      [*args, '--launcher=slurm', '--slurm_gpus=0', '--slurm_cpus=1', '--slurm_time=10'],
      capture_output=True,
      text=True,
      cwd=ROOT,
      check=True,
  )
  path = str(root / 'depth_ablation_cifar10.sbatch')
  assert f'2 unfinished runs: sbatch {path}' in done.stdout
  assert 'gpus' not in open(path).read()
  array = sbatch(path)
  twice = subprocess.run([*args, '--launcher=slurm', '--slurm_gpus=0'], capture_output=True, text=True, cwd=ROOT)
  assert twice.returncode == 2 and twice.stderr.strip().splitlines()[-1].startswith(
      f'error: Array {array} of this sweep (depth_ablation_cifar10) still has tasks queued or running'
  ), twice.stderr
  for task in (f'{array}_0', f'{array}_1'):
    output = root / 'slurm' / f'depth_ablation_cifar10-{task}.out'
    assert wait(task)['JobState'] == 'COMPLETED', output.read_text()
  report = subprocess.run([*args, '--launcher=none'], capture_output=True, text=True, cwd=ROOT, check=True)
  assert os.path.exists(root / 'report' / 'table6_cifar10.csv'), report.stderr[-2000:]
  again = subprocess.run([*args, '--launcher=slurm'], capture_output=True, text=True, cwd=ROOT, check=True)
  assert 'All 2 runs have finished: nothing to submit.' in again.stdout and not os.path.exists(path)


def test_two_srun_tasks_train_like_one_process(image_folder, tmp_path):
  """Two tasks of 4 CPU devices each (jax.distributed from SLURM's environment) against one process of 8."""
  command = run_command(tmp_path / 'two', image_folder, tmp_path / 'cache', 4)
  env = {**os.environ, 'XLA_FLAGS': host_devices(4)}
  output = tmp_path / 'two.out'
  task = sbatch(
      '--ntasks=2',
      '--cpus-per-task=1',
      '--time=10',
      f'--output={output}',
      '--wrap',
      f'srun {shlex.join(command)}',
      env=env,
  )
  record = wait(task)
  log = output.read_text()
  assert record['JobState'] == 'COMPLETED', log[-3000:]
  assert '8 devices (cpu), 4 of them local, in 2 processes' in log
  one = run_command(tmp_path / 'one', image_folder, tmp_path / 'cache', 4)
  subprocess.run(one, check=True, capture_output=True, cwd=ROOT)
  got, want = rows(command[3].split('=', 1)[1]), rows(one[3].split('=', 1)[1])
  assert [(r['step'], r['split']) for r in got] == [(r['step'], r['split']) for r in want]
  np.testing.assert_allclose([r['loss'] for r in got], [r['loss'] for r in want], rtol=1e-5)


def test_a_multi_task_job_without_srun_is_one_error_line(image_folder, tmp_path):
  command = run_command(tmp_path / 'runs', image_folder, tmp_path / 'cache', 4)
  output = tmp_path / 'out'
  task = sbatch('--ntasks=2', '--cpus-per-task=1', '--time=10', f'--output={output}', '--wrap', shlex.join(command))
  record = wait(task)
  lines = output.read_text().strip().splitlines()
  assert record['JobState'] == 'FAILED' and record['ExitCode'] == '2:0', lines
  assert lines[-1].startswith('error: This SLURM job has 2 tasks, but this process was not started by srun'), lines
  assert not os.path.exists(command[3].split('=', 1)[1])


@pytest.mark.parametrize(
    'script, missing',
    [
        ('slurm.sh', 'Dataset {home}/data/cifar10.tar.gz does not exist'),
        ('slurm_imagenet.sh', "ImageNet folder '/data/imagenet' does not exist"),
    ],
)
def test_the_docs_scripts_run_from_any_directory(script, missing, tmp_path):
  """Submitted from elsewhere on one CPU (the GPU and node counts overridden), each finds its checkout and its venv
  and gets as far as the data, which is not here. The time limit stays above the scripts' warnings (--signal=TERM@180
  in slurm.sh, TERM@300 in slurm_imagenet.sh): under a shorter one SLURM sends the warning as the job starts."""
  output = tmp_path / 'out'
  task = subprocess.run(
      [
          'sbatch',
          '--parsable',
          '--gpus-per-node=0',
          '--nodes=1',
          '--ntasks-per-node=1',
          '--cpus-per-task=1',
          '--time=10',
          f'--output={output}',
          os.path.join(ROOT, 'docs', script),
      ],
      capture_output=True,
      text=True,
      cwd=tmp_path,
      env={**ONE_DEVICE, 'HOME': str(tmp_path)},
      check=True,
  ).stdout.strip()
  wait(task)
  errors = [line for line in output.read_text().splitlines() if line.startswith('error: ')]
  assert errors and errors[0].startswith(f'error: {missing.format(home=tmp_path)}'), output.read_text()[-3000:]


def test_sbatch_reads_each_directive_of_a_written_array_whole(tmp_path):
  """Values with blanks, quotes and a # in them, as sbatch itself reads the #SBATCH lines (a held array, its record,
  then cancelled)."""
  root = tmp_path / 'sweeps 10'
  comment = 'two words, "quoted" #3'
  resources = slurm.Resources(time='10', gpus=0, cpus=1, option=(f'--comment={comment}',))
  slurm.write_array(str(root / 'quoting.sbatch'), 'quoting', [['true']], resources, sweep.REPO)
  array = sbatch('--hold', str(root / 'quoting.sbatch'))
  try:
    record = subprocess.run(['scontrol', 'show', 'job', array], capture_output=True, text=True, check=True).stdout
  finally:
    subprocess.run(['scancel', array], check=True)
  assert f'Comment={comment}' in record and f'StdOut={root}/slurm/quoting-' in record, record
