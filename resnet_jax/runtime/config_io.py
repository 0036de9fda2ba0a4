"""Configs outside of launch.py's flags: a dataset's config file and variant, `KEY=VALUE` overrides, and a
workdir's saved config.json, read in one place and brought to today's form (upgrade)."""
import ast
import difflib
import functools
import importlib
import json
import os

import ml_collections

import configs
from resnet_jax.errors import ConfigError

CONFIG_FILES = {'cifar10': 'cifar10', 'imagenet2012': 'imagenet'}  # dataset.name -> its config file.
DATASETS = tuple(CONFIG_FILES.values())  # The config files of configs/.


def config_file(dataset: str) -> str:
  """The path of the config file of a dataset: configs/cifar10.py, configs/imagenet.py."""
  return os.path.join(os.path.dirname(configs.__file__), f'{dataset}.py')


def named_config(dataset: str, variant: str) -> ml_collections.ConfigDict:
  """The config of a dataset's config file and a variant, as `--config=configs/DATASET.py:VARIANT` gives it."""
  if dataset not in DATASETS:
    raise ConfigError(f'There is no config file of {dataset!r}: use one of {", ".join(DATASETS)}.')
  return importlib.import_module(f'configs.{dataset}').get_config(variant)


def flatten(tree: dict, prefix: str = '') -> dict:
  """{'a': {'b': 1}} -> {'a.b': 1}."""
  flat = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      flat.update(flatten(value, f'{prefix}{key}.'))
    else:
      flat[prefix + key] = value
  return flat


# Paths, given relative to where a command runs; runs and reads take them absolute, and config.json saves them so.
PATH_KEYS = ('dataset.dir', 'dataset.cache_dir')


def absolute_paths(overrides) -> tuple[str, ...]:
  """'KEY=VALUE' overrides with the values of PATH_KEYS made absolute from the current directory."""
  result = []
  for override in overrides:
    key, _, value = override.partition('=')
    result.append(f'{key}={os.path.abspath(os.path.expanduser(value))}' if key in PATH_KEYS and value else override)
  return tuple(result)


def with_absolute_paths(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """config with its PATH_KEYS (those set) made absolute from the current directory."""
  for key in PATH_KEYS:
    node, field = node_and_field(config, key)
    if node.get(field):
      node[field] = os.path.abspath(os.path.expanduser(node[field]))
  return config


def flag_value(value) -> str:
  """value as --config.KEY= takes it, pasted into a shell: (32000,48000), 0.1, true, folder."""
  if isinstance(value, (list, tuple)):
    return f'({",".join(map(str, value))}{"," if len(value) == 1 else ""})'
  return value if isinstance(value, str) else json.dumps(value)


def node_and_field(config, key: str):
  """(the node holding a dotted key, the key's last part): 'model.depth' -> (config.model, 'depth'); a KeyError
  or AttributeError where config has no such node."""
  parent, _, field = key.rpartition('.')
  return (config[parent] if parent else config), field


def override_key(override: str) -> str:
  """The KEY of a 'KEY=VALUE' override; anything else is refused."""
  key, sep, _ = override.partition('=')
  if not sep or not key:
    raise ConfigError(f'Override {override!r} is not KEY=VALUE (e.g. dataset.dir=/data/cifar10.tar.gz).')
  return key


def apply_overrides(config: ml_collections.ConfigDict, overrides) -> ml_collections.ConfigDict:
  """Sets each 'dotted.key=value' of `overrides`; the value is parsed as the field's type (a Python literal for
  tuples and lists, True/False for booleans)."""
  for override in overrides:
    key, text = override_key(override), override.partition('=')[2]
    try:
      node, field = node_and_field(config, key)
      old = node[field]
    except (KeyError, AttributeError):
      near = difflib.get_close_matches(key, flatten(config.to_dict()), 1)
      raise ConfigError(f'Override {override!r}: the config has no field {key!r}.'
                        + (f' Did you mean {near[0]}?' if near else '')) from None
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
    raise ConfigError(f'{key}={text!r} is not {_TYPE_NAMES.get(type(old), "a valid value")}: set --config.{key} to '
                      f'one, e.g. --config.{key}={flag_value(old)}.') from None


# What a read of a trained workdir (evaluation, the studies) may change in its config: where the data is on this
# machine, and how it is evaluated. Nothing that would make the checkpoint another network's.
READ_OVERRIDABLE = ('dataset.source', 'dataset.dir', 'dataset.cache_dir', 'dataset.workers', 'eval.protocol',
                    'eval.scales', 'eval_batch_size')


def read_overridable(saved: dict) -> list[str]:
  """The keys of READ_OVERRIDABLE that a saved config has (CIFAR-10's has no eval section)."""
  held = flatten(saved)
  return [key for key in READ_OVERRIDABLE if key in held]


def workdir_config(workdir: str, overrides=()) -> ml_collections.ConfigDict:
  """The config a workdir was trained with (its config.json), with `overrides` of READ_OVERRIDABLE keys applied
  (e.g. where its data is on this machine)."""
  return workdir_configs(workdir, overrides)[1]


def workdir_configs(workdir: str, overrides=()) -> tuple[ml_collections.ConfigDict, ml_collections.ConfigDict]:
  """(as trained, as read) from one read of workdir/config.json: the config as saved, and with `overrides` (of
  READ_OVERRIDABLE keys) applied."""
  saved = saved_config(workdir)
  settable, held = read_overridable(saved), flatten(saved)
  for override in overrides:
    key = override_key(override)
    if key not in settable:
      whose = "the trained run's own, read from" if key in held else 'not a field of'
      raise ConfigError(f'{key} is {whose} {os.path.join(workdir, "config.json")}; reading this workdir may set only '
                        f'{", ".join(settable)}.')
  return ml_collections.ConfigDict(saved), apply_overrides(ml_collections.ConfigDict(saved), overrides)


def saved_config(workdir: str) -> dict:
  """workdir/config.json as a dict, in today's form (upgrade): the one reader of a workdir's config."""
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    raise ConfigError(f'{workdir} has no config.json: it is not the workdir of a run (launch.py --workdir=...).')
  try:
    with open(path) as f:
      config = json.load(f)
    check_types(config, path)
    return check_fields(upgrade(config), path)
  except ConfigError:
    raise
  except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
    raise ConfigError(f'{path} is not a readable config.json ({type(e).__name__}: {e}): restore it, or move '
                      f'{workdir} aside.') from None


def check_types(config: dict, path: str) -> None:
  """Refuses a saved config (a config.json at `path`, as json.load gives it) whose dataset has no config file, or
  with a value of another type than that config file gives the field: a config.json edited by hand."""
  dataset = config.get('dataset') if isinstance(config.get('dataset'), dict) else {}
  name = CONFIG_FILES.get(dataset.get('name'))
  if name is None:
    raise ConfigError(f'{path} has dataset.name={dataset.get("name")!r}, not one of {", ".join(CONFIG_FILES)}: '
                      'restore it.')
  expected = _file_fields(name)
  sections = {key.rpartition('.')[0] for key in expected}
  for key, value in flatten(config).items():
    if key in sections:
      raise ConfigError(f'{path} has {key}={value!r} where configs/{name}.py has a section of fields: restore it.')
    if key in expected and not _same_type(value, expected[key]):
      raise ConfigError(f'{path} has {key}={value!r}, not {_TYPE_NAMES.get(type(expected[key]), "a value")} as '
                        f'configs/{name}.py gives it (e.g. {expected[key]!r}): restore it.')


def check_fields(config: dict, path: str) -> dict:
  """config (in today's form) if it has the fields of its config file, no more and no fewer; else refuses the
  first it lacks or adds: a config.json edited by hand."""
  name = CONFIG_FILES[config['dataset']['name']]
  expected, held = set(_file_fields(name)), set(flatten(config))
  if added := sorted(held - expected):
    raise ConfigError(f'{path} has {added[0]}, which configs/{name}.py has no field of: remove it (a misspelt '
                      'field is read as nothing), or restore the file.')
  if lacking := sorted(expected - held):
    raise ConfigError(f'{path} lacks {lacking[0]}, a field of configs/{name}.py: restore it.')
  return config


@functools.cache
def _file_fields(name: str) -> dict:
  """The fields of config file configs/<name>.py, flat, with their values in its default variant (built once;
  read, never changed)."""
  return flatten(importlib.import_module(f'configs.{name}').get_config().to_dict())


_TYPE_NAMES = {bool: 'True or False', int: 'an integer', float: 'a number', str: 'a string', tuple: 'a list',
               list: 'a list'}


def _same_type(value, expected) -> bool:
  """Whether a saved value fits a field whose config-file value is `expected`: of its type, or None (which
  ml_collections lets any field hold); JSON saves tuples as lists, and a float field may hold an integer."""
  if expected is None or value is None:
    return True
  if isinstance(expected, bool) or isinstance(value, bool):
    return isinstance(value, bool) and isinstance(expected, bool)
  if isinstance(expected, float):
    return isinstance(value, (int, float))
  if isinstance(expected, (tuple, list)):
    return isinstance(value, (tuple, list))
  return isinstance(value, type(expected))


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
