"""What a run runs on: the backend, devices, processes and JAX version, said in its first lines; a loud warning
when an accelerator sits unused (the installed JAX is CPU-only, or SLURM granted more GPUs than its tasks use); the
lowest JAX this code supports."""

import os
import re

import jax
from absl import logging

from resnet_jax.errors import ConfigError
from resnet_jax.runtime import console, host_memory

LOWEST_JAX = (0, 11, 2)  # The GPU machine's image; .ci/run runs the tests under it.

# What fixes a CPU-only JAX on a machine with an accelerator (README.md, "Set-up").
INSTALL = {
    'NVIDIA GPU': '.venv/bin/pip install -r requirements-cuda.txt -e .',
    'TPU': '.venv/bin/pip install -r requirements.txt -e . "jax[tpu]==0.12.0.1"',
}


def version_tuple(version: str) -> tuple[int, ...]:
  return tuple(int(part) for part in version.split('.')[:3] if part.isdigit())


def check_jax_version(version: str = jax.__version__) -> None:
  if version_tuple(version) < LOWEST_JAX:
    lowest = '.'.join(map(str, LOWEST_JAX))
    raise ConfigError(
        f'jax {version} is older than {lowest}, the lowest this code supports: install the pinned '
        'versions, .venv/bin/pip install -r requirements.txt.'
    )


def accelerator_on_host(root: str = '/') -> str | None:
  """'NVIDIA GPU' or 'TPU' where the host has one (its device files or driver), whatever JAX can use; else None."""

  def exists(path):
    return os.path.exists(os.path.join(root, path))

  if exists('dev/nvidia0') or exists('proc/driver/nvidia/version'):
    return 'NVIDIA GPU'
  if exists('dev/accel0') or (exists('dev/vfio/0') and 'TPU_ACCELERATOR_TYPE' in os.environ):
    return 'TPU'
  return None


def unused_accelerator(backend: str, accelerator: str | None, platforms: str) -> str | None:
  """The warning for a host whose accelerator JAX does not use, unless JAX_PLATFORMS asked for the CPU."""
  if backend != 'cpu' or accelerator is None or platforms == 'cpu':
    return None
  return (
      f'This machine has an {accelerator}, but JAX runs on the CPU: the installed jaxlib has no '
      f'{accelerator} support. Fix: {INSTALL[accelerator]}'
  )


def slurm_tasks_on_node(environ) -> int | None:
  """This SLURM step's tasks on this node, from SLURM_STEP_TASKS_PER_NODE ('8(x4)', '2,1') and SLURM_NODEID; None
  outside a step."""
  spec, node = environ.get('SLURM_STEP_TASKS_PER_NODE'), int(environ.get('SLURM_NODEID', '0'))
  if not spec:
    return None
  counts = []
  for count, times in re.findall(r'(\d+)(?:\(x(\d+)\))?', spec):
    counts += [int(count)] * int(times or 1)
  return counts[node] if node < len(counts) else None


def unused_slurm_gpus(environ, local_gpus: int) -> str | None:
  """The warning for a SLURM node whose granted GPUs (SLURM_GPUS_ON_NODE) outnumber those its tasks use:
  local_gpus per task (0 when JAX does not run on GPUs)."""
  granted, tasks = int(environ.get('SLURM_GPUS_ON_NODE', '0') or 0), slurm_tasks_on_node(environ) or 1
  if not local_gpus or local_gpus * tasks >= granted:
    return None
  return (
      f'SLURM granted this node {granted} GPUs, but its {tasks} task{"s" * (tasks > 1)} use{"s" * (tasks == 1)} '
      f'{local_gpus * tasks}: JAX gives each srun task one GPU. Run one task per GPU '
      f'(#SBATCH --ntasks-per-node={granted}), as docs/slurm.sh does.'
  )


def describe(dtype: str | None) -> str:
  """One line: backend, devices, processes, JAX version, compute dtype (where one net's run), and whether malloc
  keeps freed memory (runtime/host_memory.py)."""
  devices, processes = jax.device_count(), jax.process_count()
  kinds = ', '.join(sorted({d.device_kind for d in jax.devices()}))
  return (
      f'Running on {jax.default_backend()}: {devices} device{"s" * (devices > 1)} ({kinds}), '
      f'{jax.local_device_count()} of them local, in {processes} process{"es" * (processes > 1)}; '
      f'jax {jax.__version__}, jaxlib {jax.lib.__version__}'
      + (f'; compute dtype {dtype}, parameters float32' if dtype else '')
      + ('; malloc keeps freed memory (--retain_host_memory).' if host_memory.retained() else '.')
  )


def announce(dtype: str | None = None) -> None:
  """The first lines of a program that runs JAX (after parallel.initialize): what it runs on, and a warning if an
  accelerator is left unused. From here, process 0 alone speaks for the run."""
  console.speaks_for_the_run(jax.process_index() == 0)
  console.say(describe(dtype))
  warnings = (
      unused_accelerator(jax.default_backend(), accelerator_on_host(), os.environ.get('JAX_PLATFORMS', '')),
      unused_slurm_gpus(os.environ, jax.local_device_count() if jax.default_backend() == 'gpu' else 0),
  )
  for warning in filter(None, warnings):
    line = '!' * 100
    logging.warning('\n%s\n%s\n%s', line, warning, line)
