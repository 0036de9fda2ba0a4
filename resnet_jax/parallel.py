"""Data parallelism: one mesh axis 'data' over every device of every host, and multi-host set-up.

jit over this mesh with the batch sharded along 'data' and the state replicated is what jax.pmap compiles to
(pmap is in maintenance mode in today's JAX); the same program runs on one device, many, or many hosts.
"""

import logging
import os

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from resnet_jax.errors import ConfigError

DATA = 'data'
log = logging.getLogger(__name__)


def cluster_detected(environ=os.environ) -> bool:
  """Whether this process is one task of a multi-task SLURM step (srun) or a multi-host Cloud TPU slice. A SLURM
  allocation of several tasks entered without srun (the batch script itself, salloc's shell) is refused."""
  tasks = int(environ.get('SLURM_NTASKS', '1'))
  if tasks > 1 and 'SLURM_STEP_NUM_TASKS' not in environ:
    raise ConfigError(
        f'This SLURM job has {tasks} tasks, but this process was not started by srun: start one '
        'process per task with `srun python launch.py ...` (or ask for --ntasks=1).'
    )
  slurm = int(environ.get('SLURM_STEP_NUM_TASKS', '1')) > 1
  tpu_pod = ',' in environ.get('TPU_WORKER_HOSTNAMES', '')
  return slurm or tpu_pod


def initialize(
    multihost: bool,
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> None:
  """jax.distributed.initialize() when asked, given a coordinator, or on a detected cluster; else nothing."""
  if not (multihost or coordinator_address or cluster_detected()):
    return
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')  # Lets CPU processes talk (tests, laptops).
  jax.distributed.initialize(coordinator_address, num_processes, process_id)
  log.debug(
      'Process %d of %d; %d local and %d global devices.',
      jax.process_index(),
      jax.process_count(),
      jax.local_device_count(),
      jax.device_count(),
  )


def make_mesh(devices=None) -> Mesh:
  return Mesh(np.array(devices or jax.devices()), (DATA,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, PartitionSpec())


def replicate(array: np.ndarray, mesh: Mesh) -> jax.Array:
  """A host array (the same on every process) as a global array with a full copy on every device."""
  return jax.make_array_from_callback(array.shape, replicated(mesh), lambda index: array[index])


def shard_batch(x: jax.Array, mesh: Mesh) -> jax.Array:
  """Inside jit: lay x out split along its first axis over the 'data' axis."""
  return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, PartitionSpec(DATA)))
