"""Precise BN statistics: each BatchNorm layer's mean and variance recomputed over N training batches, in place of
the running averages training kept (He et al. 2015 compute them "on the ImageNet training set" before fine-tuning;
after a block is deleted, the layers above it see other inputs than their running averages describe).

The net runs in training mode on the batches of its own training stream, each layer normalising with its batch's
statistics (over its BN groups) as in training. A layer's precise mean and variance are the equal-weight means over
the N batches of what its running averages average with decaying weights: its groups' means and variances.

They are kept in the workdir's bn_stats/ folder under the step of the checkpoint they were computed from, and a
workdir's nets are read with them while that checkpoint is its newest (trained.restore_nets).
"""

import logging
import os
import shutil

import jax
import jax.numpy as jnp

from resnet_jax import checkpoint, compute, workdir as workdirs
from resnet_jax.errors import ConfigError

log = logging.getLogger(__name__)

FOLDER = 'bn_stats'
RUNNING = 'running averages'


def batch_statistics(model, make_batch, choices: compute.Compute = compute.Compute()):
  """A jitted (variables, step inputs, step, seed, block modes) -> the batch_stats of that one training batch (of the
  net of `seed`; make_batch(inputs, step, seed), the dataset's), computed as `choices` say."""
  measuring = model.clone(frozen_bn=False, bn_momentum=0.0)  # Running averages that keep the last batch's alone.

  def statistics(variables, inputs, step, seed, block_modes):
    images = make_batch(inputs, step, seed)['image']
    _, updated = measuring.apply(variables, images, train=True, block_modes=block_modes, mutable=['batch_stats'])
    return updated['batch_stats']

  return jax.jit(compute.traced_with(choices, statistics))


def recompute(measure, variables, stream, seed: int, batches: int, block_modes=None, progress=None) -> dict:
  """`variables` with their batch_stats the mean of `measure`'s (batch_statistics) over the training batches of
  steps 1..`batches` of `stream` (step inputs from step 1); `progress` (a progress.Progress) counts them."""
  total = None
  for step, inputs in zip(range(1, batches + 1), stream):
    stats = measure(variables, inputs, jnp.int32(step), jnp.int32(seed), block_modes)
    total = stats if total is None else jax.tree.map(jnp.add, total, stats)
    if progress:
      progress.update()
  return {**variables, 'batch_stats': jax.tree.map(lambda s: s / batches, total)}


def describe(metadata: dict) -> str:
  """Precise statistics as their metadata says what they were computed over: 'batches', 'images', and 'data',
  the dataset.dir of other data than the net was trained on ('' for its own)."""
  batches, images, data = metadata['batches'], metadata['images'], metadata.get('data')
  return (
      f'precise: {batches:,} training {"batch" if batches == 1 else "batches"} '
      f'({images:,} {"image" if images == 1 else "images"}{f" of {data}" if data else ""})'
  )


def check_writable(workdir: str) -> None:
  """Refuses a workdir where the statistics could not be kept, before they are computed: itself, or the folder or
  the files they replace, read-only; a file where the folder goes."""
  folder, fix = os.path.join(workdir, FOLDER), 'make it writable, or compute them in a writable copy of the workdir'
  if os.path.exists(folder) and not os.path.isdir(folder):
    raise ConfigError(f'{folder} is a file where the precise BN statistics go: move it aside.')
  workdirs.check_writable(workdir, workdir, fix)
  if path := workdirs.unwritable_folder(folder):
    raise ConfigError(f'{path} cannot be written: {fix}.')


def write(workdir: str, network: str, step: int, committed: int, batch_stats, metadata: dict) -> None:
  """Keeps `batch_stats` (of every net of checkpoint `step`, committed by orbax at `committed`) as the workdir's
  precise statistics, with `metadata` (describe's), in place of any kept before: those stay whole until the new
  ones are (written beside them, then swapped in)."""
  folder = os.path.join(workdir, FOLDER)
  fresh, old = f'{folder}.new', f'{folder}.old'
  primary = jax.process_index() == 0
  if primary:
    shutil.rmtree(fresh, ignore_errors=True)  # An interrupted write's.
  store = checkpoint.Checkpoints(workdir, network, folder=os.path.basename(fresh))
  try:
    store.save(step, batch_stats, force=True, metadata={**metadata, 'checkpoint': committed})
  finally:
    store.close()
  if primary:
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(folder):
      os.replace(folder, old)
    os.replace(fresh, folder)
    shutil.rmtree(old, ignore_errors=True)


def read(workdir: str, network: str, step: int, committed: int, shapes, sharding) -> tuple[dict | None, str]:
  """(batch_stats, which statistics) of the precise statistics kept for checkpoint `step` (committed by orbax at
  `committed`), restored to `shapes` (abstract batch_stats of every net) with `sharding`; (None, why not) where none
  were kept for that checkpoint, or they do not read."""
  folder, kept = os.path.join(workdir, FOLDER), None
  if not os.path.isdir(folder):
    return None, RUNNING
  store = checkpoint.Checkpoints(workdir, network, read_only=True, folder=FOLDER)
  try:
    kept = store.newest()
    if kept != step:
      return None, RUNNING + ('' if kept is None else f' ({FOLDER}/ holds the precise statistics of step {kept})')
    metadata = store.metadata(step)
    described = describe(metadata)  # A KeyError where the metadata were lost: they do not read.
    if metadata['checkpoint'] != committed:
      return None, f'{RUNNING} ({FOLDER}/ holds the precise statistics of an earlier checkpoint {step})'
    target = jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding), shapes)
    batch_stats, _ = store.restore_newest(target)
    return batch_stats, described
  except Exception as e:  # noqa: BLE001 -- damaged in any way: the running averages, and why.
    log.warning('The precise BN statistics in %s do not read (%s: %s).', folder, type(e).__name__, e)
    return None, f'{RUNNING} ({FOLDER}/{kept if kept is not None else ""} does not read: compute them again)'
  finally:
    store.close()
