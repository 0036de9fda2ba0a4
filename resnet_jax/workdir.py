"""A run's workdir: its config.json (read in today's form, written once the checkpoints are known to be the config's),
model.json (what the run trains: its network's name, parameters and multiply-adds), one writer (the lock), what it
holds, and what a resumed run may change.

A workdir belongs to one network and one set of settings: a run of another network there, or under other settings
than RESUMABLE, is refused. Training holds its lock (workdir/.lock, released by the kernel however the process
ends). Reading a workdir (evaluation, the studies, the report) changes nothing in it.
"""

import errno
import fcntl
import json
import logging
import os
import socket
import tempfile

import jax
import ml_collections

from configs import schema
from configs.common import value_text
from resnet_jax import replicas
from resnet_jax.errors import Argument, ConfigError, Setting, WriteError
from resnet_jax.models import model_name
from resnet_jax.optim import steps_per_epoch, warmup_steps

log = logging.getLogger(__name__)

# What a resumed run may change: how long it runs and how often it logs, evaluates and saves, how it is computed, and
# where this machine keeps the data and how it decodes it. Every other setting changes what is trained, so a
# workdir keeps the one it began with.
RESUMABLE = (
    'total_steps',
    'num_epochs',
    'log_every_steps',
    'eval_every_steps',
    'checkpoint_every_steps',
    'keep_checkpoints',
    'profile_steps',
    'bn_stats_batches',
    'eval_batch_size',
    'compute',
    'dataset.dir',
    'dataset.cache_dir',
    'dataset.workers',
    'dataset.decoder',
    'eval',
)
# Keys of what_trains that are not config fields: what several fields come to.
DERIVED = ('schedule.warmup_steps', 'steps_per_epoch')
# What a read of a trained workdir (evaluation, the studies) may change in its config: where the data is on this
# machine and how it is decoded, how it is evaluated, and how many batches precise BN statistics take. Nothing that
# would make the checkpoint another network's.
READ_OVERRIDABLE = (
    'dataset.source',
    'dataset.dir',
    'dataset.cache_dir',
    'dataset.workers',
    'dataset.decoder',
    'eval.protocol',
    'eval.scales',
    'eval_batch_size',
    'bn_stats_batches',
)
# Of those, the keys that only a read of the training stream uses (precise BN statistics): evaluation refuses them.
STREAM_ONLY = ('dataset.decoder', 'bn_stats_batches')


def step_dirs(workdir: str) -> list[int]:
  """The steps of workdir's checkpoints, by their directory names."""
  directory = os.path.join(workdir, 'checkpoints')
  return sorted(int(name) for name in os.listdir(directory) if name.isdigit()) if os.path.isdir(directory) else []


def holdings(workdir: str) -> str | None:
  """What workdir holds of a run: 'checkpoints', 'metrics' (rows, no checkpoint yet), or None (nothing)."""
  rows = os.path.join(workdir, 'metrics.jsonl')
  return (
      'checkpoints'
      if step_dirs(workdir)
      else ('metrics' if os.path.exists(rows) and os.path.getsize(rows) > 0 else None)
  )


def read_config(workdir: str) -> dict:
  """workdir/config.json as a dict, in today's form (schema.upgrade; the fields it lacked, at their defaults, are
  named in one warning)."""
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(workdir):
    raise ConfigError(f'{workdir} does not exist: name the workdir of a trained run.')
  if not os.path.isdir(workdir):
    raise ConfigError(f'{workdir} is a file, not a workdir: name the folder of a trained run.')
  if not os.path.exists(path):
    raise ConfigError(f'{workdir} has no config.json: it is not the workdir of a run (training writes one there).')
  try:
    with open(path) as f:
      config, lacking = schema.upgrade(json.load(f), path)
  except ConfigError:
    raise
  except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
    raise ConfigError(
        f'{path} is not a readable config.json ({type(e).__name__}: {e}): restore it, or move {workdir} aside.'
    ) from None
  if lacking:
    before = [f'{key}={value_text(schema.BEFORE[key])}' for key in lacking if key in schema.BEFORE]
    read = [] if len(before) == len(lacking) else ['at their defaults']
    if before:
      read.append(f'as {", ".join(before)}, what its run had')
    log.warning('%s lacks %s (older than those fields): read %s.', path, ', '.join(lacking), ', and '.join(read))
  return config


def read_configs(workdir: str, overrides=()) -> tuple[ml_collections.ConfigDict, ml_collections.ConfigDict]:
  """(as trained, as read) from one read of workdir/config.json: the config as saved, and with `overrides`
  ('KEY=VALUE' of READ_OVERRIDABLE keys that it has) applied."""
  if isinstance(overrides, str):
    raise TypeError(f'overrides is a sequence of KEY=VALUE strings, not one string: ({overrides!r},)')
  saved = read_config(workdir)
  held = schema.flatten(saved)
  settable = [key for key in READ_OVERRIDABLE if key in held]
  for override in overrides:
    key, sep, _ = override.partition('=')
    if sep and key and key not in settable:
      whose = "the trained run's own, read from" if key in held else 'not a field of'
      raise ConfigError(
          f'{key} is {whose} {os.path.join(workdir, "config.json")}; reading this workdir may set only '
          f'{", ".join(settable)}.'
      )
  read = schema.apply_overrides(ml_collections.ConfigDict(saved), overrides)
  return ml_collections.ConfigDict(saved), read


def write_config(workdir: str, config) -> None:
  """Writes workdir/config.json (process 0), atomically: other processes may be reading the old one."""
  _write_json(os.path.join(workdir, 'config.json'), config.to_json(indent=2))


def write_model(workdir: str, facts: dict) -> None:
  """Writes workdir/model.json (process 0): the network's name, parameters and multiply-adds (models.summary)."""
  _write_json(os.path.join(workdir, 'model.json'), json.dumps(facts, indent=2))


def read_model(workdir: str) -> dict | None:
  """workdir/model.json (models.summary of its network, as its run recorded it), or None where none was recorded."""
  try:
    with open(os.path.join(workdir, 'model.json')) as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


def _write_json(path: str, text: str) -> None:
  if jax.process_index() != 0:
    return
  try:
    with open(path + '.tmp', 'w') as f:
      f.write(text)
    os.replace(path + '.tmp', path)
  except OSError as e:
    raise WriteError(f'Could not write {path} ({e.strerror or e}): free space or fix permissions there.') from None


def what_trains(config: dict) -> dict:
  """The settings of a config (as config.json holds it, in today's form) that decide what is trained, flat: all
  but RESUMABLE, with the warm-up as the steps it lasts (schedule.warmup_length and warmup_min_depth come to that,
  and without a warm-up its form does not matter), dataset.train_size as the steps of an epoch where the schedule
  counts epochs (elsewhere it decides nothing), and total_steps where the schedule is a cosine over them."""
  tree = ml_collections.ConfigDict(config)
  flat = {
      key: value
      for key, value in schema.flatten(tree).items()
      if not any(key == r or key.startswith(r + '.') for r in RESUMABLE)
  }
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
  """(key, saved value, new value) of each setting of what_trains that both configs hold and that differs."""
  old, new = what_trains(saved), what_trains(config)
  return [(key, old[key], new[key]) for key in sorted(old.keys() & new.keys()) if old[key] != new[key]]


PATH_ROOM = 256  # The bytes a path leaves for what is written below it (checkpoints/STEP/default/ and orbax's files).


def check_writable(path: str, named=None, fix: str = 'name a writable directory') -> None:
  """Refuses a directory to write (`named` in the messages: by default Argument('workdir', path)) that cannot be
  written (a file, a read-only place), leaving nothing behind; `fix` says what to do where it is read-only."""
  named = named or Argument('workdir', path)
  if os.path.exists(path) and not os.path.isdir(path):
    raise ConfigError(named, ' is a file, not a directory: name a directory.')
  existing = os.path.abspath(path)
  while not os.path.exists(existing):
    if os.path.islink(existing):
      raise ConfigError(
          named, f': {existing} is a link to {os.readlink(existing)}, which does not exist: make it, or name another.'
      )
    existing = os.path.dirname(existing)
  room = os.pathconf(existing, 'PC_PATH_MAX') - PATH_ROOM
  longest = max(len(part.encode()) for part in os.path.abspath(path).split(os.sep))
  if len(os.path.abspath(path).encode()) > room or longest > os.pathconf(existing, 'PC_NAME_MAX'):
    raise ConfigError(
        named,
        f' is too long for the files written in it (at most {room} bytes in all, each name at most '
        f'{os.pathconf(existing, "PC_NAME_MAX")}): name a shorter path.',
    )
  try:
    os.rmdir(tempfile.mkdtemp(dir=existing))
  except OSError as e:
    why = 'it takes no new folders' if e.errno == errno.ENOENT else e.strerror or e
    raise ConfigError(named, f' cannot be written ({existing}: {why}): {fix}.') from None


def check_trainable(workdir: str) -> None:
  """Refuses a workdir where training could not write all it writes there: itself (check_writable), a folder in it
  (checkpoints/, tensorboard/, a checkpoint's own), or a file it appends to, which must be a file that can be
  written. Reads, writes nothing."""
  check_writable(workdir)
  if not os.path.isdir(workdir):
    return
  appended = [name for name in os.listdir(workdir) if name in ('metrics.jsonl', '.lock') or name.endswith('.log')]
  for path in [os.path.join(workdir, name) for name in appended]:
    if os.path.isdir(path):
      raise ConfigError(f'{path} is a directory where training writes a file: move it aside.')
    if not os.access(path, os.W_OK):
      _unwritable(path)
  if path := unwritable_folder(workdir):
    _unwritable(path)


def unwritable_folder(root: str) -> str | None:
  """The first folder of root's tree, root included, that cannot be written; None where every one can (or there is
  no root)."""
  for parent, subfolders, _ in os.walk(root):
    for path in [parent, *(os.path.join(parent, name) for name in subfolders)]:
      if not os.access(path, os.W_OK | os.X_OK):
        return path
  return None


def _unwritable(path: str):
  raise ConfigError(
      f'{path} cannot be written: make it writable (chmod u+w), or train into another ', Argument('workdir'), '.'
  )


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
      raise ConfigError(
          f'{workdir} is being trained by {holder}: wait for it to end, stop it, or use another ',
          Argument('workdir'),
          '.',
      ) from None
    self.file.seek(0)
    self.file.truncate()
    self.file.write(f'process {os.getpid()} on {socket.gethostname()}')
    self.file.flush()

  def release(self) -> None:
    self.file.close()  # Closing the file releases the lock.


def check_owner(workdir: str, config) -> list[str]:
  """Refuses a workdir that holds another network's run, or one trained under settings other than config's (but
  RESUMABLE); reads, writes nothing. Returns what a resumed run is to be told: where the data or its decoder
  changed (the run logs it, into its train.log)."""
  held = holdings(workdir)
  if not held or not os.path.exists(os.path.join(workdir, 'config.json')):
    return []
  saved = read_config(workdir)
  theirs, mine = model_name(ml_collections.ConfigDict(saved['model'])), model_name(config.model)
  if theirs != mine:
    raise ConfigError(
        f'{workdir} holds {held} of {theirs}, not of {mine} (the network its config.json names; if '
        'that file was edited, restore it): train this network into another ',
        Argument('workdir'),
        '.',
    )
  if (nets := replicas.count(saved)) != replicas.count(config):
    raise ConfigError(
        f'{workdir} holds {held} of {nets} replicas, not {replicas.count(config)}: set ',
        Setting('num_replicas', nets),
        ', or use another ',
        Argument('workdir'),
        '.',
    )
  notices = []
  moved = saved['dataset'].get('dir'), config.dataset.get('dir')
  if moved[0] != moved[1]:
    notices.append(
        f'{workdir} was trained on dataset.dir={moved[0]}; resuming it on {moved[1]}, which must hold the same data.'
    )
  decoders = saved['dataset'].get('decoder'), config.dataset.get('decoder')
  if decoders[0] != decoders[1]:
    notices.append(
        f'{workdir} was trained with dataset.decoder={decoders[0]} up to step {(step_dirs(workdir) or [0])[-1]}; it '
        f'resumes with {decoders[1]}: the same crops from here on, with slightly other pixels.'
    )
  if changed := changed_settings(saved, json.loads(config.to_json())):
    key, was, now = changed[0]
    more = f' (and {", ".join(k for k, _, _ in changed[1:])})' if len(changed) > 1 else ''
    if any(k in DERIVED for k, _, _ in changed):
      fixes = [f'the settings of {os.path.join(workdir, "config.json")}']
    else:
      fixes = [part for k, v, _ in changed for part in (' ', Setting(k, v))][1:]
    raise ConfigError(
        f'{workdir} was trained with {key}={value_text(was)}, not {value_text(now)}{more}: resume it with ',
        *fixes,
        ', or train into another ',
        Argument('workdir'),
        '.',
    )
  return notices


def lock(workdir: str) -> WorkdirLock | None:
  """The workdir, made where it is missing and locked for this process's training (process 0; others: None)."""
  if jax.process_index() != 0:
    return None
  try:
    os.makedirs(workdir, exist_ok=True)
    return WorkdirLock(workdir)
  except OSError as e:
    raise ConfigError(
        f'Cannot write the workdir {workdir} ({e.strerror or e}): use a writable ', Argument('workdir'), '.'
    ) from None
