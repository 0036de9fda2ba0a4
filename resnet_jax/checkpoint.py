"""Checkpoints with orbax: save in the background every N steps and at the end, keep the last K, restore the newest
that reads. One that does not read is skipped (and, unless read-only, moved aside to <step>.unreadable); one of
another structure is refused: it is another network's."""

import logging
import os

import jax
import orbax.checkpoint as ocp

from resnet_jax.errors import Argument, ConfigError, WriteError
from resnet_jax.workdir import step_dirs

log = logging.getLogger(__name__)
ITEM = 'default'  # A checkpoint's one item, in <step>/default, as orbax names a single item.


def _registry() -> ocp.handlers.DefaultCheckpointHandlerRegistry:
  registry = ocp.handlers.DefaultCheckpointHandlerRegistry()
  registry.add(ITEM, ocp.args.StandardSave)
  registry.add(ITEM, ocp.args.StandardRestore)
  return registry


def require(workdir: str) -> None:
  """Refuses a workdir without checkpoints, before anything is loaded to read them."""
  if not step_dirs(workdir):
    raise ConfigError(
        f'{workdir} holds no checkpoints: train there first, or convert weights into it '
        '(experiments/convert_torchvision.py).'
    )


class Checkpoints:
  """The checkpoints of a workdir (of the network `network`, which the messages name), in its folder `folder`. Items
  are pytrees of jax arrays, restored with the target's shardings; read_only: nothing in the workdir changes."""

  def __init__(self, workdir: str, network: str, keep: int = 1, read_only: bool = False, folder: str = 'checkpoints'):
    self.workdir, self.network, self.read_only, self.failed = workdir, network, read_only, False
    self.resumes = folder == 'checkpoints'  # Training resumes from these: a failed write names the newest whole one.
    self.directory = os.path.abspath(os.path.join(workdir, folder))
    self.manager = ocp.CheckpointManager(
        self.directory,
        handler_registry=_registry(),
        options=ocp.CheckpointManagerOptions(
            preservation_policy=ocp.checkpoint_managers.LatestN(keep),
            create=not read_only,
            read_only=read_only,
            cleanup_tmp_directories=not read_only,  # A failed save's remains.
            enable_async_checkpointing=True,
        ),
    )

  def save(self, step: int, item, force: bool = False, metadata: dict | None = None) -> None:
    """Saves in the background, with `metadata` (JSON) beside it; a write that failed (this one's or the previous
    one's: disk full, permissions) raises WriteError, naming the newest checkpoint that was written whole."""
    try:
      self.manager.save(step, args=ocp.args.StandardSave(item), force=force, custom_metadata=metadata)
    except Exception as e:  # noqa: BLE001 -- orbax reports a failed background write as any of several types.
      self.failed = True
      raise WriteError(self._failure(e)) from None

  def _failure(self, error: Exception) -> str:
    whole = step_dirs(self.workdir)
    return (
        f'Could not write a checkpoint in {self.directory} ({" ".join(str(error).split())[:300]}): free space '
        'or fix permissions there, then run the same command'
        + (f' to resume from the newest whole checkpoint ({whole[-1] if whole else "none"}).' if self.resumes else '.')
    )

  def newest(self):
    """The newest step saved, or None."""
    return self.manager.latest_step()

  def committed(self, step: int) -> int:
    """When checkpoint `step` was committed (ns since the epoch): what tells it from another of the same step."""
    return self.manager.metadata(step).commit_timestamp_nsecs

  def metadata(self, step: int) -> dict:
    """The metadata saved with checkpoint `step`."""
    return dict(self.manager.metadata(step).custom_metadata or {})

  def restore_newest(self, target):
    """(item, step) from the newest checkpoint that reads; (target, 0) if none (read-only: refused).

    A checkpoint whose arrays have other shapes than the target's is refused (another network's). One that does
    not read is skipped, and, unless read-only, moved aside to <step>.unreadable, kept for inspection.
    """
    for step in sorted(self.manager.all_steps(), reverse=True):
      try:
        return self.manager.restore(step, args=ocp.args.StandardRestore(target)), step
      except Exception as e:  # noqa: BLE001 -- any failure to read means: try the one before.
        self._refuse_other_structure(step, target)
        log.warning(
            'Checkpoint %d in %s is unreadable (%s: %s); falling back to the one before.',
            step,
            self.directory,
            type(e).__name__,
            str(e)[:200],
        )
        if not self.read_only and jax.process_index() == 0:
          self._move_aside(step)
        self.manager.reload()
    if self.read_only:
      raise self._none_reads()
    return target, 0

  def _none_reads(self) -> ConfigError:
    return ConfigError(f'No checkpoint in {self.directory} reads: train there again, or restore a copy.')

  def _saved_tree(self, step: int):
    """The abstract pytree of checkpoint `step` (its metadata), or None where that does not read."""
    try:
      saved = self.manager.item_metadata(step)
    except Exception:  # noqa: BLE001 -- unreadable: restore_newest names it and falls back.
      return None
    return None if saved is None else getattr(saved, 'tree', saved)

  def restore_variables(self, variables, sharding):
    """(variables, step) of the newest checkpoint that reads, read-only: its params and batch_stats, restored to
    the shapes of `variables` (abstract, as jax.eval_shape gives them) with `sharding`. The rest of the saved
    state (the optimizer's, the running metrics) is read as saved, whatever optimizer wrote it, and dropped."""

    def sharded(tree):
      return jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding), tree)

    target = None
    for step in sorted(self.manager.all_steps(), reverse=True):
      if (saved := self._saved_tree(step)) is not None:  # None: unreadable, or its metadata file is missing.
        state, running = sharded(saved)
        target = [{**state, **sharded(variables)}, running]
        break
    if target is None:
      raise self._none_reads()
    (state, _), step = self.restore_newest(target)
    return {'params': state['params'], 'batch_stats': state['batch_stats']}, step

  def _refuse_other_structure(self, step: int, target) -> None:
    saved = self._saved_tree(step)
    if saved and _shapes(saved) != _shapes(target):
      raise ConfigError(
          f'Checkpoint {step} in {self.directory} holds arrays of other shapes than the network of '
          f'this config, {self.network}: ',
          *(
              (
                  f"the workdir's config.json names {self.network} but its checkpoints are another "
                  "network's: restore the config.json it was trained with.",
              )
              if self.read_only
              else ('use the config it was trained with, or another ', Argument('workdir'), '.')
          ),
      )

  def _move_aside(self, step: int) -> None:
    aside, n = os.path.join(self.directory, f'{step}.unreadable'), 1
    while os.path.exists(aside):
      aside, n = os.path.join(self.directory, f'{step}.unreadable.{n}'), n + 1
    os.replace(os.path.join(self.directory, str(step)), aside)

  def close(self) -> None:
    """Waits for the last save; a failed one raises WriteError (unless one was raised already)."""
    try:
      self.manager.wait_until_finished()
      self.manager.close()
    except Exception as e:  # noqa: BLE001 -- as in save().
      if not self.failed:
        self.failed = True
        raise WriteError(self._failure(e)) from None


def _shapes(tree) -> list[tuple[int, ...]]:
  return sorted(tuple(leaf.shape) for leaf in jax.tree.leaves(tree))
