"""A sweep as a SLURM array: one task per unfinished run, each finishing by itself across time limits.

A task is one run: `srun` starts one training process per GPU (JAX's layout under SLURM: each process takes the
GPU numbered by its SLURM_LOCALID), or one process on a partition without GPUs. SLURM signals the task's script
(USR1) `signal_seconds` before the time limit; the script passes SIGTERM to the run, which saves a checkpoint and
exits 0, and the script requeues the task, which resumes from that checkpoint; the output file is appended to
across attempts. Preemption and `scontrol requeue` send SIGTERM to the run themselves (it saves) and requeue the
task. `scancel` (SIGTERM to everything) saves too and leaves the task CANCELLED; SIGTERM to the script alone
(`scancel --batch --signal=TERM`) saves and ends it with exit status 143, so that SLURM records no COMPLETED.
"""

import dataclasses
import os
import re
import shlex
import subprocess

from resnet_jax.errors import Argument, ConfigError

# SLURM's time formats: minutes, minutes:seconds, hours:minutes:seconds, days-hours[:minutes[:seconds]].
_TIME = re.compile(r'(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?')


def time_seconds(text: str) -> int:
  """Seconds of a SLURM time limit ('90', '1:30:00', '2-12', '1-00:30:00')."""
  match = _TIME.fullmatch(text)
  if not match:
    raise ConfigError(
        Argument('time'),
        f'={text!r} is not a SLURM time: give minutes, HH:MM:SS or D-HH:MM:SS (e.g. ',
        Argument('time', '24:00:00'),
        ').',
    )
  days, first, second, third = match.groups()
  if days is not None:  # days-hours[:minutes[:seconds]]
    hours, minutes, seconds = int(first), int(second or 0), int(third or 0)
  elif third is not None:  # hours:minutes:seconds
    hours, minutes, seconds = int(first), int(second), int(third)
  else:  # minutes[:seconds]
    hours, minutes, seconds = 0, int(first), int(second or 0)
  return ((int(days or 0) * 24 + hours) * 60 + minutes) * 60 + seconds


# The sbatch options the array file writes, and the Resources field that sets each (None: the file's own).
OWN_OPTIONS = {
    'time': 'time',
    'nodes': 'nodes',
    'ntasks': 'gpus',
    'ntasks-per-node': 'gpus',
    'gpus': 'gpus',
    'gpus-per-node': 'gpus',
    'gpus-per-task': 'gpus',
    'gres': 'gpus',
    'cpus-per-task': 'cpus',
    'mem': 'mem',
    'partition': 'partition',
    'account': 'account',
    'qos': 'qos',
    'constraint': 'constraint',
    'signal': 'signal_seconds',
    'job-name': None,
    'array': None,
    'requeue': None,
    'no-requeue': None,
    'open-mode': None,
    'output': None,
    'error': None,
    'chdir': None,
    'wrap': None,
    'parsable': None,
    'test-only': None,
    'wait': None,
}


SIGNAL_LIMIT = 65535  # The most seconds before the time limit that sbatch's --signal takes.


def sbatch_word(text: str) -> str:
  """`text` as one word of an #SBATCH line, as sbatch splits them: in double quotes where it holds a blank, with
  backslashes before its quotes, backslashes and # (which would end the line)."""
  if '\n' in text:
    raise ConfigError(f'{text!r} holds a line break, which no #SBATCH line can: give it without one.')
  if not re.search(r'[\s"\\#]', text):
    return text
  return '"' + re.sub(r'(["\\#])', r'\\\1', text) + '"'


@dataclasses.dataclass(frozen=True)
class Resources:
  """What each task asks of the cluster; empty strings and 0 GPUs write no directive. The messages of check() name
  the fields as Arguments (a sweep's command line gives them as --slurm_FIELD)."""

  time: str = '24:00:00'
  nodes: int = 1
  gpus: int = 1  # Per node: one training process per GPU; 0: one process and no GPU directive.
  cpus: int = 8  # Per process.
  mem: str = ''  # Per node, as --mem takes it: '64G'.
  partition: str = ''
  account: str = ''
  qos: str = ''
  constraint: str = ''
  option: tuple[str, ...] = ()  # Further #SBATCH lines, e.g. '--exclusive'.
  signal_seconds: int = 180  # The warning before the time limit: time to reach a save.

  def check(self) -> None:
    if not 0 <= self.signal_seconds <= SIGNAL_LIMIT:
      raise ConfigError(
          Argument('signal_seconds', self.signal_seconds),
          f' is beyond what SLURM takes (0 to {SIGNAL_LIMIT} s): give at most {SIGNAL_LIMIT}.',
      )
    limit = time_seconds(self.time)
    if self.signal_seconds >= limit:
      raise ConfigError(
          Argument('signal_seconds', self.signal_seconds),
          ' leaves no time to train within ',
          Argument('time', self.time),
          f' ({limit} s): lower it, or raise the time limit.',
      )
    if self.mem and not re.fullmatch(r'\d+[KMGT]?', self.mem):
      raise ConfigError(Argument('mem'), f'={self.mem!r} is not a SLURM memory size: give e.g. 64G or 500M.')
    for name in ('partition', 'account', 'qos', 'constraint'):
      if re.search(r'\s', getattr(self, name)):
        raise ConfigError(Argument(name), f'={getattr(self, name)!r} holds a space: give one SLURM name.')
    for option in self.option:
      if not option.startswith('--') or '\n' in option:
        raise ConfigError(
            Argument('option'),
            f'={option!r} is not an sbatch option: give it as sbatch takes it, e.g. ',
            Argument('option', '--exclusive'),
            ' or ',
            Argument('option', '--mail-type=END'),
            '.',
        )
      name = option[2:].partition('=')[0]
      if re.search(r'\s', name):
        raise ConfigError(
            Argument('option', option), ' holds more than one option: give each as its own ', Argument('option'), '.'
        )
      if name in OWN_OPTIONS:
        field = OWN_OPTIONS[name]
        raise ConfigError(
            Argument('option', option),
            ' sets what the sweep writes itself: ',
            *(
                ('use ', Argument(field), ' (one process per GPU)' if name.startswith('ntasks') else '')
                if field
                else ('it is how each task logs and finishes by itself; leave it out',)
            ),
            '.',
        )

  @property
  def processes_per_node(self) -> int:
    return max(self.gpus, 1)

  def directives(self) -> list[str]:
    named = {
        'partition': self.partition,
        'account': self.account,
        'qos': self.qos,
        'constraint': self.constraint,
        'mem': self.mem,
    }
    return [
        f'--nodes={self.nodes}',
        f'--ntasks-per-node={self.processes_per_node}',
        *([f'--gpus-per-node={self.gpus}'] if self.gpus else []),
        f'--cpus-per-task={self.cpus}',
        f'--time={self.time}',
        f'--signal=B:USR1@{self.signal_seconds}',
        '--requeue',
        '--open-mode=append',
        *(f'--{key}={value}' for key, value in named.items() if value),
        *self.option,
    ]


def array_script(name: str, commands: list[list[str]], resources: Resources, repo: str, log_dir: str) -> str:
  """The sbatch file of an array with one task per command (each run's launch.py command line)."""
  cases = '\n'.join(
      f'  {i}) srun --kill-on-bad-exit=1 {shlex.join(command)} & ;;' for i, command in enumerate(commands)
  )
  directives = '\n'.join(
      f'#SBATCH {sbatch_word(d)}'
      for d in [
          f'--job-name={name}',
          f'--array=0-{len(commands) - 1}',
          *resources.directives(),
          f'--output={os.path.join(log_dir, name)}-%A_%a.out',
      ]
  )
  return f"""#!/bin/bash
# {name}: {len(commands)} runs, one array task each. Submit: sbatch THIS_FILE (from any directory).
# {resources.signal_seconds} s before a task's time limit SLURM signals this script (USR1): the run saves a checkpoint,
# and the task goes back in the queue and resumes there, until the run has finished. Preemption and
# `scontrol requeue` resume the same way. Stop a task by hand with `scancel JOBID_TASK`: the run saves (within
# the cluster's KillWait) and the task ends CANCELLED. resnet_jax/tools/slurm.py wrote this file.
{directives}
cd {shlex.quote(repo)} || exit 1
export SRUN_CPUS_PER_TASK="$SLURM_CPUS_PER_TASK"  # srun (SLURM 22.05 on) does not inherit --cpus-per-task.
task="${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}"  # This task alone: the bare array job ID is every task.
echo "resnet_jax: task $task, attempt $((${{SLURM_RESTART_COUNT:-0}} + 1)), on $(hostname), $(date '+%F %T')"

# A signal to this script goes on to the run's processes (this task's steps) as SIGTERM: each saves and exits 0.
requeue=0
stopped=0
trap 'requeue=1; echo "resnet_jax: the time limit is near: stopping the run to requeue"
  scancel --signal=TERM "$task" 2> /dev/null' USR1
trap 'stopped=1; scancel --signal=TERM "$task" 2> /dev/null' TERM

case "$SLURM_ARRAY_TASK_ID" in
{cases}
  *) echo "resnet_jax: no run for array task $SLURM_ARRAY_TASK_ID" >&2; exit 2 ;;
esac
run=$!
while kill -0 "$run" 2> /dev/null; do
  wait "$run"  # Returns early when a signal is trapped; the loop waits on.
done
wait "$run"
status=$?
if [ "$requeue" = 1 ]; then  # Stopped for the time limit (exit 0: saved; else killed before it could save).
  echo "resnet_jax: the run stopped (exit $status); requeueing task $task to resume"
  scontrol requeue "$task"
elif [ "$stopped" = 1 ] && [ "$status" = 0 ]; then  # Saved, not finished: not a COMPLETED task.
  echo "resnet_jax: stopped by SIGTERM, checkpoint saved; run the sweep again to resume"
  status=143
fi
exit "$status"
"""


def live_arrays(name: str) -> list[str]:
  """The IDs of this user's arrays named `name` with a task still queued or running; none where SLURM's squeue is
  not installed (a file written on a machine that is not the cluster's)."""
  try:
    done = subprocess.run(
        [
            'squeue',
            '--me',
            '--noheader',
            f'--name={name}',
            '--format=%F',
            '--states=PENDING,RUNNING,SUSPENDED,REQUEUED,REQUEUE_HOLD,CONFIGURING,RESIZING',
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
  except (OSError, subprocess.TimeoutExpired):
    return []
  return sorted(set(done.stdout.split())) if done.returncode == 0 else []


def write_array(path: str, name: str, commands: list[list[str]], resources: Resources, repo: str) -> None:
  """Writes the array file to `path`, its tasks' output to <path's folder>/slurm/; no commands: removes a file
  left at `path` by an earlier call (its runs have all finished)."""
  if not commands:
    if os.path.exists(path):
      os.remove(path)
    return
  folder = os.path.dirname(os.path.abspath(path))
  script = array_script(name, commands, resources, repo, os.path.join(folder, 'slurm'))  # Refused: nothing written.
  os.makedirs(os.path.join(folder, 'slurm'), exist_ok=True)
  with open(path, 'w') as f:
    f.write(script)
