"""Checkpoints with orbax: save every N steps and at the end, keep the last K, resume from the newest readable one.

A workdir belongs to one network: its config.json names it, and a run of another network there is refused. It has
one writer: training holds its lock (workdir/.lock, released by the kernel when the process ends, however it
ends). Evaluation and the studies open it read-only: they write no config, move nothing, and need a checkpoint.
"""
import fcntl
import json
import os
import socket
import tempfile

import jax
import ml_collections
import orbax.checkpoint as ocp
from absl import logging

from resnet_jax import replicas
from resnet_jax.errors import ConfigError, WriteError
from resnet_jax.models import model_name
from resnet_jax.optim import steps_per_epoch, warmup_steps
from resnet_jax.runtime.config_io import flag_value, flatten, saved_config


def step_dirs(workdir: str) -> list[int]:
  """The steps of workdir's checkpoints, by their directory names."""
  directory = os.path.join(workdir, 'checkpoints')
  return sorted(int(name) for name in os.listdir(directory) if name.isdigit()) if os.path.isdir(directory) else []


# What a resumed run may change: how long it runs and how often it logs, evaluates and saves, and where this
# machine keeps the data. Every other setting changes what is trained, so a workdir keeps the one it began with.
RESUMABLE = ('total_steps', 'num_epochs', 'log_every_steps', 'eval_every_steps', 'checkpoint_every_steps',
             'keep_checkpoints', 'eval_batch_size', 'replica_axis', 'model.block_loop', 'model.conv_gradients',
             'dataset.dir', 'dataset.cache_dir', 'dataset.workers', 'eval')


# Keys of what_trains that are not config fields: what several fields come to.
DERIVED = ('schedule.warmup_steps', 'steps_per_epoch')


def what_trains(config: dict) -> dict:
  """The settings of a config (as config.json holds it, in today's form) that decide what is trained, flat: all
  but RESUMABLE,
  with the warm-up as the steps it lasts (schedule.warmup_length and warmup_min_depth come to that, and without
  a warm-up its form does not matter), dataset.train_size as the steps of an epoch where the schedule counts
  epochs (elsewhere it decides nothing), and total_steps where the schedule is a cosine over them."""
  tree = ml_collections.ConfigDict(config)
  flat = {key: value for key, value in flatten(tree.to_dict()).items()
          if not any(key == r or key.startswith(r + '.') for r in RESUMABLE)}
  for key in ('schedule.warmup_length', 'schedule.warmup_min_depth', 'dataset.train_size'):
    flat.pop(key, None)
  flat['schedule.warmup_steps'] = warmup_steps(tree)
  if not flat['schedule.warmup_steps']:
    flat.pop('schedule.warmup', None)
    flat.pop('schedule.warmup_factor', None)
  if tree.schedule.unit == 'epochs':
    flat['steps_per_epoch'] = steps_per_epoch(tree)
  if tree.schedule.name == 'cosine':
    flat['total_steps'] = tree.total_steps
  return flat


def changed_settings(saved: dict, config: dict) -> list[tuple[str, object, object]]:
  """(key, saved value, new value) of each setting of what_trains that both configs hold and that differs (a
  config.json older than a setting lacks it: the setting's default was then the only behaviour)."""
  old, new = what_trains(saved), what_trains(config)
  return [(key, old[key], new[key]) for key in sorted(old.keys() & new.keys()) if old[key] != new[key]]


def holdings(workdir: str) -> str | None:
  """What workdir holds of a run: 'checkpoints', 'metrics' (rows, no checkpoint yet), or None (nothing)."""
  rows = os.path.join(workdir, 'metrics.jsonl')
  return 'checkpoints' if step_dirs(workdir) else (
      'metrics' if os.path.exists(rows) and os.path.getsize(rows) > 0 else None)


def _shapes(tree) -> list[tuple[int, ...]]:
  return sorted(tuple(leaf.shape) for leaf in jax.tree.leaves(tree))


def check_writable(workdir: str, flag: str = '--workdir') -> None:
  """Refuses a directory to write (flag's) that cannot be written (a file, a read-only place), leaving nothing
  behind."""
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise ConfigError(f'{flag}={workdir} is a file, not a directory: name a directory.')
  existing = os.path.abspath(workdir)
  while not os.path.exists(existing):
    existing = os.path.dirname(existing)
  try:
    os.rmdir(tempfile.mkdtemp(dir=existing))
  except OSError as e:
    raise ConfigError(f'{flag}={workdir} cannot be written ({existing}: {e.strerror or e}): name a writable '
                      'directory.') from None


class WorkdirLock:
  """An exclusive lock on workdir/.lock for the life of this process's training; names its holder if taken."""

  def __init__(self, workdir: str):
    path = os.path.join(workdir, '.lock')
    self.file = open(path, 'a+')
    try:
      fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      self.file.seek(0)
      holder = self.file.read().strip() or 'another process'
      self.file.close()
      raise ConfigError(f'{workdir} is being trained by {holder}: wait for it to end, stop it, or use another '
                        '--workdir.') from None
    self.file.seek(0)
    self.file.truncate()
    self.file.write(f'process {os.getpid()} on {socket.gethostname()}\n')
    self.file.flush()

  def release(self) -> None:
    self.file.close()  # Closing the file releases the lock.


class Checkpoints:
  """The checkpoints of a workdir. Items are pytrees of jax arrays; restored with the target's shardings.

  read_only: evaluation and studies (Checkpoints.require first): nothing in the workdir changes.
  """

  def __init__(self, workdir: str, config, keep: int, read_only: bool = False):
    self.workdir, self.read_only, self.config_model = workdir, read_only, config.model
    self.directory = os.path.abspath(os.path.join(workdir, 'checkpoints'))
    self.lock, self.failed = None, False
    if not read_only:
      self._take_workdir(workdir, config)
    self.manager = ocp.CheckpointManager(self.directory, item_handlers=ocp.StandardCheckpointHandler(),
                                         options=ocp.CheckpointManagerOptions(
                                             max_to_keep=keep, create=not read_only, read_only=read_only,
                                             cleanup_tmp_directories=not read_only,  # A failed save's remains.
                                             enable_async_checkpointing=True))

  @staticmethod
  def require(workdir: str) -> None:
    """Refuses a workdir without checkpoints, before anything is loaded to read them."""
    if not step_dirs(workdir):
      raise ConfigError(f'{workdir} holds no checkpoints: train there first, or convert weights into it '
                        '(python -m resnet_jax.tools.convert).')

  def _take_workdir(self, workdir: str, config) -> None:
    """Refuses another network's workdir, or one trained under other settings, and locks it (process 0)."""
    saved = os.path.join(workdir, 'config.json')
    held = holdings(workdir)
    if held and os.path.exists(saved):
      saved_settings = saved_config(workdir)
      theirs = model_name(ml_collections.ConfigDict(saved_settings['model']))
      if theirs != model_name(config.model):
        raise ConfigError(f'{workdir} holds {held} of {theirs}, not of {model_name(config.model)} (the network its '
                          'config.json names; if that file was edited, restore it): train this network into another '
                          '--workdir.')
      saved_replicas, nets = replicas.count(saved_settings), replicas.count(config)
      if saved_replicas != nets:
        raise ConfigError(f'{workdir} holds {held} of {saved_replicas} replicas, not {nets}: set '
                          f'--config.num_replicas={saved_replicas}, or use another --workdir.')
      moved = saved_settings['dataset'].get('dir'), config.dataset.get('dir')
      if moved[0] != moved[1]:
        logging.warning('%s was trained on dataset.dir=%s; resuming it on %s, which must hold the same data.',
                        workdir, *moved)
      changed = changed_settings(saved_settings, json.loads(config.to_json()))
      if changed:
        key, was, now = changed[0]
        more = f' (and {", ".join(k for k, _, _ in changed[1:])})' if len(changed) > 1 else ''
        fix = f'the settings of {saved}' if key in DERIVED else f'--config.{key}={flag_value(was)}'
        raise ConfigError(f'{workdir} was trained with {key}={flag_value(was)}, not {flag_value(now)}{more}: '
                          f'resume it with {fix}, or train into another --workdir.')
    if jax.process_index() == 0:
      try:
        os.makedirs(workdir, exist_ok=True)
        self.lock = WorkdirLock(workdir)
      except OSError as e:
        raise ConfigError(f'Cannot write the workdir {workdir} ({e.strerror or e}): use a writable '
                          '--workdir.') from None

  def write_config(self, config) -> None:
    """Writes workdir/config.json (process 0), once the checkpoints are known to be this config's."""
    if jax.process_index() != 0:
      return
    saved = os.path.join(self.workdir, 'config.json')
    try:
      with open(saved + '.tmp', 'w') as f:  # Atomic: other processes may be reading the old one.
        f.write(config.to_json(indent=2))
      os.replace(saved + '.tmp', saved)
    except OSError as e:
      raise WriteError(f'Could not write {saved} ({e.strerror or e}): free space or fix permissions there.') from None

  def save(self, step: int, item, force: bool = False) -> None:
    """Saves in the background; a write that failed (this one's or the previous one's: disk full, permissions)
    raises WriteError, naming the newest checkpoint that was written whole."""
    try:
      self.manager.save(step, args=ocp.args.StandardSave(item), force=force)
    except Exception as e:  # noqa: BLE001 -- orbax reports a failed background write as any of several types.
      self.failed = True
      raise WriteError(self._failure(e)) from None

  def _failure(self, error: Exception) -> str:
    whole = step_dirs(self.workdir)
    return (f'Could not write a checkpoint in {self.directory} ({" ".join(str(error).split())[:300]}): free space '
            f'or fix permissions there, then run the same command to resume from the newest whole checkpoint '
            f'({whole[-1] if whole else "none"}).')

  def restore_newest(self, target):
    """(item, step) from the newest checkpoint that reads; (target, 0) if none.

    A checkpoint whose arrays have other shapes than the target's is refused (another network's). One that does
    not read is skipped, and, unless read-only, moved aside to <step>.unreadable, kept for inspection.
    """
    for step in sorted(self.manager.all_steps(), reverse=True):
      try:
        return self.manager.restore(step, args=ocp.args.StandardRestore(target)), step
      except Exception as e:  # noqa: BLE001 -- any failure to read means: try the one before.
        self._refuse_other_structure(step, target)
        logging.warning('Checkpoint %d in %s is unreadable (%s: %s); falling back to the one before.',
                        step, self.directory, type(e).__name__, str(e)[:200])
        if not self.read_only and jax.process_index() == 0:
          self._move_aside(step)
        self.manager.reload()
    if self.read_only:
      raise self._none_reads()
    return target, 0

  def _none_reads(self) -> ConfigError:
    return ConfigError(f'No checkpoint in {self.directory} reads: train there again, or restore a copy.')

  def restore_variables(self, variables, sharding):
    """(variables, step) of the newest checkpoint that reads, read-only: its params and batch_stats, restored to
    the shapes of `variables` (abstract, as jax.eval_shape gives them) with `sharding`. The rest of the saved
    state (the optimizer's, the running metrics) is read as saved, whatever optimizer wrote it, and dropped."""
    def sharded(tree):
      return jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding), tree)

    target = None
    for step in sorted(self.manager.all_steps(), reverse=True):
      try:
        saved = self.manager.item_metadata(step)
      except Exception:  # noqa: BLE001 -- unreadable: restore_newest names it and falls back.
        continue
      if saved is not None:  # None: its metadata file is missing; likewise.
        state, running = sharded(getattr(saved, 'tree', saved))
        target = [{**state, **sharded(variables)}, running]
        break
    if target is None:
      raise self._none_reads()
    (state, _), step = self.restore_newest(target)
    return {'params': state['params'], 'batch_stats': state['batch_stats']}, step

  def _refuse_other_structure(self, step: int, target) -> None:
    try:
      saved = _shapes(self.manager.item_metadata(step))
    except Exception:  # noqa: BLE001 -- unreadable metadata: unreadable bytes, not another structure.
      return
    if saved and saved != _shapes(target):
      mine = model_name(self.config_model)
      raise ConfigError(f'Checkpoint {step} in {self.directory} holds arrays of other shapes than the network of '
                        f'this config, {mine}: ' + (
                            f'the workdir\'s config.json names {mine} but its checkpoints are another network\'s: '
                            'restore the config.json it was trained with.' if self.read_only else
                            'use the config it was trained with, or another --workdir.'))

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
    finally:
      if self.lock:
        self.lock.release()
