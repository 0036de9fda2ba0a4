"""Checkpoints with orbax: save every N steps and at the end, keep the last K, resume from the newest readable one.

A workdir belongs to one network: its config.json names it, and a run of another network there is refused.
"""
import json
import os

import jax
import ml_collections
import orbax.checkpoint as ocp
from absl import logging

from resnet_jax.errors import ConfigError
from resnet_jax.models import model_name


class Checkpoints:
  """The checkpoints of a workdir. Items are pytrees of jax arrays; restored with the target's shardings."""

  def __init__(self, workdir: str, config, keep: int):
    self.directory = os.path.abspath(os.path.join(workdir, 'checkpoints'))
    self._check_workdir(workdir, config)
    self.manager = ocp.CheckpointManager(self.directory, options=ocp.CheckpointManagerOptions(
        max_to_keep=keep, create=True, enable_async_checkpointing=True))

  def _check_workdir(self, workdir: str, config) -> None:
    saved = os.path.join(workdir, 'config.json')
    has_checkpoints = os.path.isdir(self.directory) and any(
        name.isdigit() for name in os.listdir(self.directory))
    if has_checkpoints and os.path.exists(saved):
      with open(saved) as f:
        theirs = json.load(f)['model']
      ours = json.loads(config.model.to_json())
      if theirs != ours:
        raise ConfigError(f'{workdir} holds checkpoints of {model_name(ml_collections.ConfigDict(theirs))}, not of '
                          f'{model_name(config.model)}: use another --workdir, or delete that one.')
    if jax.process_index() == 0:
      os.makedirs(workdir, exist_ok=True)
      with open(saved + '.tmp', 'w') as f:  # Atomic: other processes may be reading the old one.
        f.write(config.to_json(indent=2))
      os.replace(saved + '.tmp', saved)

  def save(self, step: int, item, force: bool = False) -> None:
    self.manager.save(step, args=ocp.args.StandardSave(item), force=force)

  def restore_newest(self, target):
    """(item, step) from the newest checkpoint that reads; (target, 0) if none.

    A checkpoint that does not read is moved aside to <step>.unreadable, kept for inspection.
    """
    for step in sorted(self.manager.all_steps(), reverse=True):
      try:
        return self.manager.restore(step, args=ocp.args.StandardRestore(target)), step
      except Exception as e:  # noqa: BLE001 -- any failure to read means: try the one before.
        logging.warning('Checkpoint %d in %s is unreadable (%s: %s); falling back to the one before.',
                        step, self.directory, type(e).__name__, str(e)[:200])
        if jax.process_index() == 0:
          os.replace(os.path.join(self.directory, str(step)), os.path.join(self.directory, f'{step}.unreadable'))
        self.manager.reload()
    return target, 0

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()
