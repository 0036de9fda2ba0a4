"""Per-block modes: what each block does in one call (kept, deleted, or one path's gradient stopped), applied in one
place (apply_mode). Modes are an int32 array input of the model (one entry per block), so changing them does not
recompile; the arrays the studies pass are built here."""

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


def mode_array(
    num_blocks: int, chosen=(), mode: BlockMode = BlockMode.KEEP, others: BlockMode = BlockMode.KEEP
) -> np.ndarray:
  """The model's block_modes input: `mode` for the blocks in `chosen` (indices in network order), `others` for the
  rest."""
  modes = np.full((num_blocks,), others, np.int32)
  modes[list(chosen)] = mode
  return modes


def keep_all(num_blocks: int) -> np.ndarray:
  """Every block as trained."""
  return mode_array(num_blocks)


def modes_deleting(num_blocks: int, deleted) -> np.ndarray:
  """The blocks in `deleted` deleted (Veit et al. 2016, Section 4), the others kept."""
  return mode_array(num_blocks, deleted, BlockMode.DELETE)


def routed_modes(num_blocks: int, residual) -> np.ndarray:
  """Gradient through the residual branch of the blocks in `residual`, through the shortcut of the others (the
  paths of one length, Veit et al. 2016, Section 6)."""
  return mode_array(num_blocks, residual, BlockMode.RESIDUAL_ONLY, BlockMode.SKIP_ONLY)
