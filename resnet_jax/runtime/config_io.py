"""Configs outside of launch.py's flags: a named config file and variant, `KEY=VALUE` overrides, a workdir's
saved config."""
import ast
import importlib.util
import json
import os

import ml_collections

from configs.common import ConfigError as ConfigFileError
from resnet_jax.errors import ConfigError

CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'configs')


def config_file(dataset: str) -> str:
  """The path of the repository's config file of a dataset: configs/cifar10.py, configs/imagenet.py."""
  return os.path.join(CONFIGS, f'{dataset}.py')


def named_config(path: str, variant: str) -> ml_collections.ConfigDict:
  """The config of a config file and a variant, as `--config=PATH:VARIANT` gives it (the file is loaded by path,
  as ml_collections' config flags load it)."""
  spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
  if spec is None or not os.path.isfile(path):
    raise ConfigError(f'{path} is not a config file: use configs/cifar10.py or configs/imagenet.py.')
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  try:
    return module.get_config(variant)
  except ConfigFileError as e:  # The config files' own: configs/ imports nothing from resnet_jax.
    raise ConfigError(str(e)) from None


def apply_overrides(config: ml_collections.ConfigDict, overrides) -> ml_collections.ConfigDict:
  """Sets each 'dotted.key=value' of `overrides`; the value is parsed as the field's type (a Python literal for
  tuples and lists, True/False for booleans)."""
  for override in overrides:
    key, sep, text = override.partition('=')
    if not sep:
      raise ConfigError(f'Override {override!r} is not KEY=VALUE (e.g. dataset.dir=/data/cifar10.tar.gz).')
    parent, _, field = key.rpartition('.')
    try:
      node = config[parent] if parent else config
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
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    raise ConfigError(f'{workdir} has no config.json: it is not the workdir of a run (launch.py --workdir=...).')
  for override in overrides:
    key = override.partition('=')[0]
    if key not in READ_OVERRIDABLE:
      raise ConfigError(f'{key} is the trained run\'s own, read from {path}; reading a workdir may set only '
                        f'{", ".join(READ_OVERRIDABLE)}.')
  with open(path) as f:
    trained = upgrade(ml_collections.ConfigDict(json.load(f)))
  return trained, apply_overrides(ml_collections.ConfigDict(trained.to_dict()), overrides)


def upgrade(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """A config.json saved before steps_per_epoch became derived (optim.steps_per_epoch) in today's form: the same
  number of steps per epoch, from dataset.train_size."""
  if 'steps_per_epoch' in config and 'train_size' not in config.dataset:
    config.dataset.train_size = config.steps_per_epoch * config.batch_size
    del config['steps_per_epoch']
  return config
