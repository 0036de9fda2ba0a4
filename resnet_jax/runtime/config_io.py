"""Configs outside of launch.py's flags: a dataset's config file and variant, `KEY=VALUE` overrides, and a
workdir's saved config.json, read in one place and brought to today's form (upgrade)."""
import ast
import importlib
import json
import os

import ml_collections

import configs
from resnet_jax.errors import ConfigError

DATASETS = ('cifar10', 'imagenet')  # The config files of configs/.


def config_file(dataset: str) -> str:
  """The path of the config file of a dataset: configs/cifar10.py, configs/imagenet.py."""
  return os.path.join(os.path.dirname(configs.__file__), f'{dataset}.py')


def named_config(dataset: str, variant: str) -> ml_collections.ConfigDict:
  """The config of a dataset's config file and a variant, as `--config=configs/DATASET.py:VARIANT` gives it."""
  if dataset not in DATASETS:
    raise ConfigError(f'There is no config file of {dataset!r}: use one of {", ".join(DATASETS)}.')
  return importlib.import_module(f'configs.{dataset}').get_config(variant)


def node_and_field(config, key: str):
  """(the node holding a dotted key, the key's last part): 'model.depth' -> (config.model, 'depth'); a KeyError
  or AttributeError where config has no such node."""
  parent, _, field = key.rpartition('.')
  return (config[parent] if parent else config), field


def apply_overrides(config: ml_collections.ConfigDict, overrides) -> ml_collections.ConfigDict:
  """Sets each 'dotted.key=value' of `overrides`; the value is parsed as the field's type (a Python literal for
  tuples and lists, True/False for booleans)."""
  for override in overrides:
    key, sep, text = override.partition('=')
    if not sep:
      raise ConfigError(f'Override {override!r} is not KEY=VALUE (e.g. dataset.dir=/data/cifar10.tar.gz).')
    try:
      node, field = node_and_field(config, key)
      old = node[field]
    except (KeyError, AttributeError):
      raise ConfigError(f'Override {override!r}: the config has no field {key!r}.') from None
    node[field] = _parse(text, old, key)
  return config


def _parse(text: str, old, key: str):
  try:
    if isinstance(old, bool):
      if text not in ('True', 'False', 'true', 'false'):
        raise ValueError(text)
      return text.lower() == 'true'
    if isinstance(old, (int, float)):
      return type(old)(text)
    if isinstance(old, (tuple, list)):
      return type(old)(ast.literal_eval(text))
    return text
  except (ValueError, SyntaxError):
    raise ConfigError(f'{key}={text!r} is not a valid {type(old).__name__}.') from None


# What a read of a trained workdir (evaluation, the studies) may change in its config: where the data is on this
# machine, and how it is evaluated. Nothing that would make the checkpoint another network's.
READ_OVERRIDABLE = ('dataset.source', 'dataset.dir', 'dataset.cache_dir', 'dataset.workers', 'eval.protocol',
                    'eval.scales', 'eval_batch_size')


def workdir_config(workdir: str, overrides=()) -> ml_collections.ConfigDict:
  """The config a workdir was trained with (its config.json), with `overrides` of READ_OVERRIDABLE keys applied
  (e.g. where its data is on this machine)."""
  return workdir_configs(workdir, overrides)[1]


def workdir_configs(workdir: str, overrides=()) -> tuple[ml_collections.ConfigDict, ml_collections.ConfigDict]:
  """(as trained, as read) from one read of workdir/config.json: the config as saved, and with `overrides` (of
  READ_OVERRIDABLE keys) applied."""
  saved = saved_config(workdir)
  for override in overrides:
    key = override.partition('=')[0]
    if key not in READ_OVERRIDABLE:
      raise ConfigError(f'{key} is the trained run\'s own, read from {os.path.join(workdir, "config.json")}; '
                        f'reading a workdir may set only {", ".join(READ_OVERRIDABLE)}.')
  return ml_collections.ConfigDict(saved), apply_overrides(ml_collections.ConfigDict(saved), overrides)


def saved_config(workdir: str) -> dict:
  """workdir/config.json as a dict, in today's form (upgrade): the one reader of a workdir's config."""
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    raise ConfigError(f'{workdir} has no config.json: it is not the workdir of a run (launch.py --workdir=...).')
  try:
    with open(path) as f:
      return upgrade(json.load(f))
  except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
    raise ConfigError(f'{path} is not a readable config.json ({type(e).__name__}: {e}): restore it, or move '
                      f'{workdir} aside.') from None


# Fields added to the config since the first config.json was saved, with what was then the only behaviour.
ADDED_FIELDS = {'num_replicas': 1, 'replica_axis': 'auto', 'schedule.warmup_min_depth': 0,
                'model.conv_gradients': 'auto'}


def upgrade(config: dict) -> dict:
  """A saved config (as json.load gives it) in today's form: each of ADDED_FIELDS it lacks set to what was then
  the only behaviour, and steps_per_epoch (now derived: optim.steps_per_epoch) as the dataset.train_size of as
  many steps per epoch."""
  for key, value in ADDED_FIELDS.items():
    node, field = node_and_field(config, key)
    node.setdefault(field, value)
  if 'steps_per_epoch' in config and 'train_size' not in config['dataset']:
    config['dataset']['train_size'] = config['steps_per_epoch'] * config['batch_size']
    del config['steps_per_epoch']
  return config
