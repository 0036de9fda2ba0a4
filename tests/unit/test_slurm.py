"""The SLURM array file (tools/slurm.py) and the SLURM facts a run reads, without a cluster; the file against a real
one is tests/infra/test_slurm_cluster.py."""

import os
import shutil
import signal
import subprocess

import pytest

from resnet_jax import parallel
from resnet_jax.errors import ConfigError
from resnet_jax.preemption import Preemption
from resnet_jax.runtime import environment, sweep_cli
from resnet_jax.tools import slurm
from tests.helpers import ROOT

COMMANDS = [
    [
        '/venv/bin/python',
        '/repo/launch.py',
        '--config=/repo/configs/cifar10.py:resnet20',
        '--workdir=/runs/cifar10/resnet20-A',
        '--config.schedule.boundaries=(2, 3)',
    ]
]


@pytest.mark.parametrize(
    'text, seconds',
    [('90', 5400), ('5:30', 330), ('1:30:00', 5400), ('2-12', 216000), ('1-00:30', 88200), ('1-00:00:10', 86410)],
)
def test_slurm_times(text, seconds):
  assert slurm.time_seconds(text) == seconds


@pytest.mark.parametrize(
    'resources, message',
    [
        (slurm.Resources(time='1:00:00x'), "--slurm_time='1:00:00x' is not a SLURM time"),
        (slurm.Resources(time='3', signal_seconds=180), '--slurm_signal_seconds=180 leaves no time to train within'),
        (slurm.Resources(mem='64 GB'), "--slurm_mem='64 GB' is not a SLURM memory size"),
        (slurm.Resources(partition='gpu a100'), "--slurm_partition='gpu a100' holds a space"),
        (slurm.Resources(option=('exclusive',)), "--slurm_option='exclusive' is not an sbatch option"),
        (
            slurm.Resources(option=('--time=1',)),
            '--slurm_option=--time=1 sets what the sweep writes itself: use --slurm_time',
        ),
        (
            slurm.Resources(option=('--exclusive --comment=x',)),
            '--slurm_option=--exclusive --comment=x holds more than one option: give each as its own --slurm_option',
        ),
        (
            slurm.Resources(option=('--error=/tmp/x',)),
            '--slurm_option=--error=/tmp/x sets what the sweep writes itself',
        ),
        (slurm.Resources(option=('--wrap=echo hi',)), '--slurm_option=--wrap=echo hi sets what the sweep writes'),
        (
            slurm.Resources(option=('--array=0-5',)),
            '--slurm_option=--array=0-5 sets what the sweep writes itself: it is how each task logs and finishes',
        ),
    ],
)
def test_bad_resources_are_refused_naming_the_flag(resources, message):
  """Each names the field it refuses, which the sweeps' command line names as its flag."""
  with pytest.raises(ConfigError) as refused:
    resources.check()
  assert refused.value.render(sweep_cli.dialect).startswith(message)


def directives(resources) -> list[str]:
  script = slurm.array_script('sweep_cifar10', COMMANDS, resources, '/repo', '/runs/slurm')
  return [line.removeprefix('#SBATCH ') for line in script.splitlines() if line.startswith('#SBATCH')]


def test_one_process_per_gpu_and_only_the_directives_given():
  gpus = directives(slurm.Resources(nodes=2, gpus=8, cpus=6, mem='500G', account='lab', option=('--exclusive',)))
  assert gpus == [
      '--job-name=sweep_cifar10',
      '--array=0-0',
      '--nodes=2',
      '--ntasks-per-node=8',
      '--gpus-per-node=8',
      '--cpus-per-task=6',
      '--time=24:00:00',
      '--signal=B:USR1@180',
      '--requeue',
      '--open-mode=append',
      '--account=lab',
      '--mem=500G',
      '--exclusive',
      '--output=/runs/slurm/sweep_cifar10-%A_%a.out',
  ]
  cpu = directives(slurm.Resources(gpus=0, cpus=2, partition='cpu', qos='low', constraint='x'))
  assert '--ntasks-per-node=1' in cpu and not [d for d in cpu if 'gpu' in d]
  assert ['--partition=cpu', '--qos=low', '--constraint=x'] == [
      d for d in cpu if d.split('=')[0] in ('--partition', '--qos', '--constraint')
  ]


@pytest.mark.skipif(shutil.which('shellcheck') is None, reason='shellcheck is not installed (.ci/slurm installs it)')
def test_the_array_file_and_the_docs_scripts_are_clean_under_shellcheck(tmp_path):
  path = tmp_path / 'sweep.sbatch'
  slurm.write_array(str(path), 'sweep_cifar10', COMMANDS * 2, slurm.Resources(), '/repo with space')
  assert (tmp_path / 'slurm').is_dir()
  scripts = [str(path), *(os.path.join(ROOT, 'docs', name) for name in ('slurm.sh', 'slurm_imagenet.sh'))]
  done = subprocess.run(['shellcheck', *scripts], capture_output=True, text=True)
  assert done.returncode == 0, done.stdout


def test_an_array_of_no_runs_removes_the_old_file(tmp_path):
  path = tmp_path / 'sweep.sbatch'
  slurm.write_array(str(path), 'sweep', COMMANDS, slurm.Resources(), '/repo')
  assert path.exists()
  slurm.write_array(str(path), 'sweep', [], slurm.Resources(), '/repo')
  assert not path.exists()


def test_a_multi_task_allocation_without_srun_is_refused():
  batch = {'SLURM_JOB_ID': '7', 'SLURM_NTASKS': '2', 'SLURM_PROCID': '0'}
  with pytest.raises(ConfigError, match='this process was not started by srun: start one process per task with'):
    parallel.cluster_detected(batch)
  assert parallel.cluster_detected({**batch, 'SLURM_STEP_NUM_TASKS': '2'})
  assert not parallel.cluster_detected({**batch, 'SLURM_NTASKS': '1', 'SLURM_STEP_NUM_TASKS': '1'})
  assert not parallel.cluster_detected({})


def test_gpus_granted_but_unused_are_named():
  one_task_per_node = {'SLURM_STEP_TASKS_PER_NODE': '1(x2)', 'SLURM_NODEID': '1', 'SLURM_GPUS_ON_NODE': '8'}
  assert 'SLURM granted this node 8 GPUs, but its 1 task uses 1' in environment.unused_slurm_gpus(one_task_per_node, 1)
  assert environment.unused_slurm_gpus({**one_task_per_node, 'SLURM_STEP_TASKS_PER_NODE': '8(x2)'}, 1) is None
  assert environment.unused_slurm_gpus({'SLURM_GPUS_ON_NODE': '8'}, 8) is None  # One process, every GPU.
  assert environment.unused_slurm_gpus(one_task_per_node, 0) is None  # Not on GPUs.
  assert environment.slurm_tasks_on_node({'SLURM_STEP_TASKS_PER_NODE': '4(x2),3', 'SLURM_NODEID': '2'}) == 3


def test_imagenet_decodes_with_the_cpus_slurm_granted(monkeypatch):
  from configs import common, imagenet

  monkeypatch.setenv('SLURM_CPUS_PER_TASK', '1')
  assert common.usable_cpus() == 1 and imagenet.get_config('resnet50').dataset.workers == 1
  monkeypatch.delenv('SLURM_CPUS_PER_TASK')
  assert imagenet.get_config('resnet50').dataset.workers == len(os.sched_getaffinity(0))


def test_sigterm_again_stays_a_request_to_save():
  with Preemption() as preemption:
    os.kill(os.getpid(), signal.SIGTERM)
    os.kill(os.getpid(), signal.SIGTERM)  # SLURM's warning, then its time limit: still saving, not killed.
    assert preemption.requested
