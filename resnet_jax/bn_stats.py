"""Precise BN statistics: each BatchNorm layer's mean and variance recomputed over N training batches, in place of
the running averages training kept (He et al. 2015 compute them "on the ImageNet training set" before fine-tuning;
after a block is deleted, the layers above it see other inputs than their running averages describe).

The net runs in training mode on the batches of its own training stream, each layer normalising with its batch's
statistics (over its BN groups) as in training. A layer's precise mean and variance are the equal-weight means over
the N batches of what its running averages average with decaying weights: its groups' means and variances.

They are kept in the workdir's bn_stats/ folder under the step of the checkpoint they were computed from, and a
workdir's nets are read with them while that checkpoint is its newest (trained.restore_nets).
"""

import os

import jax
import jax.numpy as jnp

from resnet_jax import checkpoint, compute

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


def write(workdir: str, network: str, step: int, batch_stats, metadata: dict) -> None:
  """Keeps `batch_stats` (of every net of checkpoint `step`) as the workdir's precise statistics, with `metadata`
  (describe's), in place of any kept before."""
  store = checkpoint.Checkpoints(workdir, network, folder=FOLDER)
  try:
    store.replace(step, batch_stats, metadata)
  finally:
    store.close()


def read(workdir: str, network: str, step: int, shapes, sharding) -> tuple[dict | None, str]:
  """(batch_stats, which statistics) of the precise statistics kept for checkpoint `step`, restored to `shapes`
  (abstract batch_stats of every net) with `sharding`; (None, why not) where none were kept for that step."""
  if not os.path.isdir(os.path.join(workdir, FOLDER)):
    return None, RUNNING
  store = checkpoint.Checkpoints(workdir, network, read_only=True, folder=FOLDER)
  try:
    kept = store.newest()
    if kept != step:
      return None, RUNNING + ('' if kept is None else f' ({FOLDER}/ holds the precise statistics of step {kept})')
    target = jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding), shapes)
    batch_stats, _ = store.restore_newest(target)
    return batch_stats, describe(store.metadata(step))
  finally:
    store.close()
