"""Configs outside of launch.py's flags: a named config file and variant, `KEY=VALUE` overrides, a workdir's
saved config."""
import ast
import importlib
import json
import os

import ml_collections

from resnet_jax.errors import ConfigError


def named_config(config_file: str, variant: str) -> ml_collections.ConfigDict:
  """The config of `configs/DATASET.py` and a variant, as `--config=configs/DATASET.py:VARIANT` gives it."""
  module = os.path.splitext(os.path.normpath(config_file))[0].replace(os.sep, '.')
  return importlib.import_module(module).get_config(variant)


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
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    raise ConfigError(f'{workdir} has no config.json: it is not the workdir of a run (launch.py --workdir=...).')
  for override in overrides:
    key = override.partition('=')[0]
    if key not in READ_OVERRIDABLE:
      raise ConfigError(f'{key} is the trained run\'s own, read from {path}; reading a workdir may set only '
                        f'{", ".join(READ_OVERRIDABLE)}.')
  with open(path) as f:
    return apply_overrides(ml_collections.ConfigDict(json.load(f)), overrides)
