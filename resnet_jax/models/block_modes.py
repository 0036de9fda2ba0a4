"""Run-time control of blocks: per-block modes, and reordering blocks of the same shape.

Neither needs recompiling: modes are an int32 array input to the model, and a reordering is a gather on the
stacked parameters of a stage's scanned blocks.
"""
import enum

import jax
import jax.numpy as jnp
import numpy as np


class BlockMode(enum.IntEnum):
  """What one block does, chosen per call by the model's `block_modes` input (one entry per block)."""
  KEEP = 0  # The block as trained.
  DELETE = 1  # The residual branch is removed: the block computes its shortcut alone (Veit et al. 2016).
  RESIDUAL_ONLY = 2  # Forward unchanged; the gradient flows back through the residual branch only.
  SKIP_ONLY = 3  # Forward unchanged; the gradient flows back through the shortcut only.


def apply_mode(mode, x: jax.Array, residual: jax.Array, skip: jax.Array | None, activate, changes_shape: bool):
  """A block's output under `mode` (None: KEEP, without the switching ops): activate(skip + residual), with the
  residual branch removed (DELETE) or one path's gradient stopped (RESIDUAL_ONLY, SKIP_ONLY).

  A plain block (skip None) computes activate(residual); DELETE skips it (out = x) where its shape allows.
  """
  if skip is None:
    out = activate(residual)
    if mode is not None and not changes_shape:
      out = jnp.where(mode == BlockMode.DELETE, x, out)
    return out
  if mode is not None:
    residual = jnp.where(mode == BlockMode.SKIP_ONLY, jax.lax.stop_gradient(residual), residual)
    residual = jnp.where(mode == BlockMode.DELETE, jnp.zeros_like(residual), residual)
    skip = jnp.where(mode == BlockMode.RESIDUAL_ONLY, jax.lax.stop_gradient(skip), skip)
  return activate(skip + residual)


def keep_all(num_blocks: int) -> np.ndarray:
  return np.full((num_blocks,), BlockMode.KEEP, np.int32)


def reorder_stage(variables, stage: str, order):
  """Permutes the scanned blocks of `stage` (e.g. 'stage2'): block i of the result is block order[i] of the input.

  Only the stage's scanned blocks, which all share one shape, are permuted; a transition block stays first.
  `order` may be a traced array, so a jitted evaluation runs any order without recompiling.
  """
  order = jnp.asarray(order)

  def permute(collection):
    stage_vars = dict(collection[stage])
    stage_vars['blocks'] = jax.tree.map(lambda v: jnp.take(v, order, axis=0), stage_vars['blocks'])
    return {**collection, stage: stage_vars}

  return {name: permute(collection) if stage in collection else collection
          for name, collection in variables.items()}
