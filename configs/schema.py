"""The schema of the configs, written once: each field's type (its value in its config file), every choice set,
range and cross-field rule, checked once per program (check); KEY=VALUE overrides parsed as their field's type
(apply_overrides); and a saved config.json brought to today's fields (upgrade).

The one rule not here is the depths a network family has: that is the table of depths itself
(resnet_jax/models/depths.py), which refuses others when the model is built.
"""

import ast
import difflib
import functools
import math

import configs
from configs.common import ConfigError, Setting

SOURCES = {'cifar10': ('download', 'folder', 'tfds'), 'imagenet2012': ('folder', 'tfds')}  # dataset.source
# key -> the values it may take.
CHOICES = {
    'dataset.name': tuple(SOURCES),
    'model.family': ('cifar', 'imagenet'),
    'model.shortcut': ('A', 'B', 'C', 'none'),
    'model.bottleneck_stride': ('1x1', '3x3'),
    'model.dtype': ('float32', 'bfloat16'),
    'compute.replica_axis': ('auto', 'vmap', 'map'),
    'compute.block_loop': ('auto', 'scan', 'unroll'),
    'compute.conv_gradients': ('auto', 'xla', 'standard_layout'),
    'dataset.normalization': ('per_pixel_mean', 'per_channel'),
    'dataset.augmentation': ('paper', 'random_resized_crop'),
    'dataset.decoder': ('auto', 'pil', 'simplejpeg'),
    'eval.protocol': ('center_crop', 'ten_crop', 'multi_scale'),
    'optimizer.name': ('sgd',),
    'schedule.name': ('step', 'cosine'),
    'schedule.unit': ('steps', 'epochs'),
    'schedule.warmup': ('constant', 'linear'),
}
# key -> (lowest, highest): numbers that must be finite and lie in [lowest, highest]; None: unbounded.
SEED_LIMIT = 2**31 - 1  # A seed is a 32-bit signed integer on the devices.
RANGES = {
    'seed': (0, SEED_LIMIT),
    'batch_size': (1, None),
    'num_replicas': (1, None),
    'init_replica': (0, None),
    'grad_accum_steps': (1, None),
    'bn_stats_batches': (1, SEED_LIMIT),  # A step number on the devices: int32.
    'eval_batch_size': (1, None),
    'total_steps': (1, None),
    'log_every_steps': (1, None),
    'eval_every_steps': (1, None),
    'checkpoint_every_steps': (1, None),
    'keep_checkpoints': (1, None),
    'optimizer.learning_rate': (0, None),
    'optimizer.momentum': (0, 1),
    'optimizer.weight_decay': (0, None),
    'optimizer.label_smoothing': (0, None),
    'schedule.decay': (0, None),
    'schedule.warmup_length': (0, None),
    'schedule.warmup_factor': (0, None),
    'model.bn_group_size': (0, None),
    'model.width_multiplier': (1, None),
    'dataset.crop_padding': (0, None),
    'dataset.workers': (1, None),
    'dataset.mean_samples': (1, None),
    'dataset.image_size': (1, None),
    'dataset.num_classes': (2, None),
    'dataset.train_size': (1, None),
}
# Fields a config.json saved before they existed lacks, and the value that run had: key -> value.
BEFORE = {'dataset.decoder': 'pil'}
# Fields that have moved since a config.json was first saved: old key -> today's.
MOVED = {
    'replica_axis': 'compute.replica_axis',
    'model.block_loop': 'compute.block_loop',
    'model.conv_gradients': 'compute.conv_gradients',
}
TYPE_NAMES = {
    bool: 'True or False',
    int: 'an integer',
    float: 'a number',
    str: 'a string',
    tuple: 'a list',
    list: 'a list',
}


def flatten(tree, prefix: str = '') -> dict:
  """{'a': {'b': 1}} -> {'a.b': 1}, of a dict or a ConfigDict."""
  tree = tree.to_dict() if hasattr(tree, 'to_dict') else tree
  flat = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      flat.update(flatten(value, f'{prefix}{key}.'))
    else:
      flat[prefix + key] = value
  return flat


def unflatten(flat: dict) -> dict:
  """{'a.b': 1} -> {'a': {'b': 1}}."""
  tree = {}
  for key, value in flat.items():
    *sections, field = key.split('.')
    node = tree
    for section in sections:
      node = node.setdefault(section, {})
    node[field] = value
  return tree


def check(config, devices: int | None = None) -> None:
  """Refuses a config that breaks a rule of the schema: a choice not among CHOICES (or SOURCES), a number out of
  its RANGES, and the cross-field rules below; with `devices`, also batches that do not split over them."""
  flat = flatten(config)
  for key, (lowest, highest) in RANGES.items():
    if key in flat:
      value = flat[key]
      bounds = f'at least {lowest}' + (f' and at most {highest}' if highest is not None else '')
      if (
          isinstance(value, bool)
          or not isinstance(value, (int, float))
          or not math.isfinite(value)
          or not (lowest <= value and (highest is None or value <= highest))
      ):
        raise ConfigError(f'{key} must be a finite number {bounds}, not {value!r}: set ', Setting(key), '.')
  choices = {**CHOICES, 'dataset.source': SOURCES.get(flat['dataset.name'], ())}
  for key, allowed in choices.items():
    if key in flat and flat[key] not in allowed:
      raise ConfigError(f'{key} must be one of {", ".join(allowed)}, not {flat[key]!r}: set ', Setting(key), '.')
  if flat['seed'] + flat['num_replicas'] - 1 > SEED_LIMIT:
    raise ConfigError(
        f"seed={flat['seed']} leaves no room for the seeds of {flat['num_replicas']} replicas (seed .. seed + "
        f'{flat["num_replicas"] - 1}, at most {SEED_LIMIT}): set ',
        Setting('seed', 0),
        ', say.',
    )
  if flat['optimizer.label_smoothing'] >= 1:
    raise ConfigError(
        'optimizer.label_smoothing must be below 1 (at 1 every target is uniform and holds no label): set ',
        Setting('optimizer.label_smoothing', 0.1),
        ', say.',
    )
  size = flat['dataset.image_size']
  if flat.get('dataset.crop_padding', 0) >= size:
    raise ConfigError(
        f'dataset.crop_padding must be below the image size, {size} (a crop could then hold no pixel '
        f'of the image), not {flat["dataset.crop_padding"]}: set ',
        Setting('dataset.crop_padding', 4),
        ', say.',
    )
  if flat['dataset.name'] == 'cifar10' and size != 32:
    raise ConfigError(
        f'dataset.image_size is 32 for CIFAR-10, whose images are 32x32, not {size}: set ',
        Setting('dataset.image_size', 32),
        '.',
    )
  _check_increasing('schedule.boundaries', flat['schedule.boundaries'], (32000, 48000))
  if 'dataset.scale_range' in flat:
    _check_increasing('dataset.scale_range', flat['dataset.scale_range'], (256, 480), equal=True)
    if len(flat['dataset.scale_range']) != 2 or flat['dataset.scale_range'][0] < size:
      raise ConfigError(
          f'dataset.scale_range is (shortest, longest) shorter side, neither below the crop of '
          f'{size}, not {tuple(flat["dataset.scale_range"])}: set ',
          Setting('dataset.scale_range', (max(256, size), max(480, size))),
          ', say.',
      )
  if 'eval.scales' in flat:
    _check_increasing('eval.scales', flat['eval.scales'], (224, 256, 384, 480, 640))
  _check_profile(flat)
  if flat['init_replica'] and not flat['init_from']:
    raise ConfigError(
        f'init_replica={flat["init_replica"]} picks a net of init_from, which is not set: set ',
        Setting('init_from', 'WORKDIR'),
        ', or leave init_replica at 0.',
    )
  if devices:
    _check_devices(flat, devices)


def _check_increasing(key: str, values, example: tuple, equal: bool = False) -> None:
  """Refuses `values` (of the field `key`) that are not positive numbers, increasing (or equal where `equal`)."""
  values = list(values)
  ordered = values == sorted(values) if equal else values == sorted(set(values))
  if (
      not values
      or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in values)
      or (not ordered)
  ):
    raise ConfigError(
        f'{key} must be increasing positive numbers, not {tuple(values)}: set ', Setting(key, example), ', say.'
    )


def _check_profile(flat: dict) -> None:
  """Refuses profile_steps that are not () or (START, COUNT) of steps the run takes."""
  steps = tuple(flat['profile_steps'])
  if steps and not (
      len(steps) == 2
      and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in steps)
      and steps[0] + steps[1] - 1 <= flat['total_steps']
  ):
    raise ConfigError(
        f'profile_steps is (START, COUNT): COUNT steps from step START, within the {flat["total_steps"]} steps of the '
        f'run, not {steps}: set ',
        Setting('profile_steps', (min(10, flat['total_steps']), 1)),
        ', say, or () for no trace.',
    )


def _check_devices(flat: dict, devices: int) -> None:
  accum = flat['grad_accum_steps']
  for key, parts in (('batch_size', accum * devices), ('eval_batch_size', devices)):
    if flat[key] % parts:
      into = f' in {accum} micro-batches (grad_accum_steps)' if key == 'batch_size' and accum > 1 else ''
      raise ConfigError(
          f'The global {key} {flat[key]} does not split{into} over {devices} device{"s" if devices > 1 else ""}: set ',
          Setting(key),
          f' to a multiple of {parts}.',
      )
  group, per_device = flat['model.bn_group_size'], flat['batch_size'] // (accum * devices)
  if group and per_device % group:
    micro = ' of each micro-batch' if accum > 1 else ''
    raise ConfigError(
        f'model.bn_group_size={group} does not divide the {per_device} images per device{micro}: set ',
        Setting('batch_size', group * devices * accum),
        f' ({group} per device on {devices}{f", {accum} micro-batches" if accum > 1 else ""}), ',
        Setting('model.bn_group_size'),
        f' to a divisor of {per_device}, or to 0 for statistics over the whole {"micro-" if accum > 1 else ""}batch.',
    )


def node_and_field(config, key: str):
  """(the node holding a dotted key, the key's last part): 'model.depth' -> (config.model, 'depth'); a KeyError or
  AttributeError where config has no such node."""
  parent, _, field = key.rpartition('.')
  node = config
  for section in filter(None, parent.split('.')):
    node = node[section]
  return node, field


def apply_overrides(config, overrides):
  """config with each 'KEY=VALUE' of `overrides` set, VALUE parsed as its field's type (a Python literal for
  tuples and lists, True/False for booleans); returns config."""
  for override in overrides:
    key, sep, text = override.partition('=')
    if not sep or not key:
      raise ConfigError(f'{override!r} is not KEY=VALUE (e.g. dataset.dir=/data/cifar10.tar.gz).')
    try:
      node, field = node_and_field(config, key)
      old = node[field]
    except (KeyError, AttributeError, TypeError):
      raise _unknown(config, key) from None
    if hasattr(old, 'to_dict'):
      raise ConfigError(
          f'{key} is a section of the config, not a field: set its fields, e.g. ',
          Setting(f'{key}.{next(iter(old))}'),
          '.',
      )
    node[field] = parse(key, text, old)
  return config


def _unknown(config, key: str) -> ConfigError:
  """The error of a key the config lacks: its section, or its field, with the keys it may have meant."""
  keys = flatten(config)
  sections = {k.rpartition('.')[0] for k in keys}
  parent, _, field = key.rpartition('.')
  if parent and parent not in sections:
    return ConfigError(f'The config has no section {parent!r} (it has {", ".join(sorted(filter(None, sections)))}).')
  near = [k for k in keys if k.rpartition('.')[2] == field] or [
      f'{parent}.{s}'.lstrip('.') for s in _near(field, [k.rpartition('.')[2] for k in keys if k.startswith(parent)])
  ]
  return ConfigError(f'The config has no field {key!r}.', *((' Did you mean ', Setting(near[0]), '?') if near else ()))


def _near(word: str, names: list[str]) -> list[str]:
  """The one of `names` that `word` most likely means: one it begins, a near spelling of it, or of its beginning
  (widht: width_multiplier)."""
  beginnings = {name[: len(word)]: name for name in reversed(names)}
  return (
      [name for name in names if name.startswith(word)][:1]
      or difflib.get_close_matches(word, names, 1, 0.6)
      or [beginnings[b] for b in difflib.get_close_matches(word, beginnings, 1, 0.75)]
  )


def parse(key: str, text: str, like):
  """`text` as a value of the field `key`, whose value now is `like`."""
  try:
    if isinstance(like, bool):
      if text not in ('True', 'False', 'true', 'false'):
        raise ValueError(text)
      return text.lower() == 'true'
    if isinstance(like, (int, float)):
      return type(like)(text)
    if isinstance(like, (tuple, list)):
      value = ast.literal_eval(text)
      return type(like)(value if isinstance(value, (tuple, list)) else (value,))
    return text
  except (ValueError, SyntaxError, TypeError):
    raise ConfigError(
        Setting(key, text),
        f' is not {TYPE_NAMES.get(type(like), "a valid value")}: set ',
        Setting(key),
        ' to one, e.g. ',
        Setting(key, like),
        '.',
    ) from None


@functools.cache
def defaults(file: str) -> dict:
  """The fields of configs/<file>.py, flat, with their values in its default variant (read, never changed)."""
  return flatten(configs.named(file))


def upgrade(saved: dict, path: str) -> tuple[dict, list[str]]:
  """A saved config.json (as json.load gives it, from `path`) in today's form, and the fields it lacked: moved
  fields (MOVED) in their place, each field it lacks at the value its run had (BEFORE), else its config file's
  default. A file of another dataset, a value of another type than its field's, or a field its config file does not
  have is refused: an edit by hand."""
  dataset = saved.get('dataset') if isinstance(saved.get('dataset'), dict) else {}
  file = configs.FILES.get(dataset.get('name'))
  if file is None:
    raise ConfigError(
        f'{path} has dataset.name={dataset.get("name")!r}, not one of {", ".join(configs.FILES)}: restore it.'
    )
  expected, flat = defaults(file), flatten(saved)
  if 'steps_per_epoch' in flat and 'dataset.train_size' not in flat:  # Derived now: optim.steps_per_epoch.
    flat['dataset.train_size'] = flat.pop('steps_per_epoch') * flat['batch_size']
  for old, new in MOVED.items():
    if old in flat and new not in flat:
      flat[new] = flat.pop(old)
  sections = {key.rpartition('.')[0] for key in expected}
  for key, value in flat.items():
    if key in sections:
      raise ConfigError(f'{path} has {key}={value!r} where configs/{file}.py has a section of fields: restore it.')
    if key in expected and not _same_type(value, expected[key]):
      raise ConfigError(
          f'{path} has {key}={value!r}, not {TYPE_NAMES.get(type(expected[key]), "a value")} as '
          f'configs/{file}.py gives it (e.g. {expected[key]!r}): restore it.'
      )
  if added := sorted(set(flat) - set(expected)):
    raise ConfigError(
        f'{path} has {added[0]}, which configs/{file}.py has no field of: remove it (a misspelt field '
        'is read as nothing), or restore the file.'
    )
  lacking = sorted(set(expected) - set(flat))
  return unflatten({**flat, **{key: BEFORE.get(key, expected[key]) for key in lacking}}), lacking


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


__all__ = [
    'CHOICES',
    'MOVED',
    'RANGES',
    'SOURCES',
    'apply_overrides',
    'check',
    'defaults',
    'flatten',
    'node_and_field',
    'parse',
    'unflatten',
    'upgrade',
]
