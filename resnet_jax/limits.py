"""A config's checks before anything is built (training, evaluation, the studies and the sweeps): the ranges of its
numbers, the choices of its names, and batch sizes that split over the devices."""
import math

from resnet_jax import parallel
from resnet_jax.errors import ConfigError
from resnet_jax.runtime import auto
from resnet_jax.runtime.config_io import node_and_field

# (field, lowest, highest): numbers that must lie in [lowest, highest]; None: unbounded.
LIMITS = (('batch_size', 1, None), ('num_replicas', 1, None), ('eval_batch_size', 1, None), ('total_steps', 1, None),
          ('log_every_steps', 1, None), ('eval_every_steps', 1, None), ('checkpoint_every_steps', 1, None),
          ('keep_checkpoints', 1, None), ('optimizer.learning_rate', 0, None), ('optimizer.momentum', 0, 1),
          ('optimizer.weight_decay', 0, None), ('optimizer.label_smoothing', 0, None), ('schedule.decay', 0, None),
          ('schedule.warmup_length', 0, None), ('schedule.warmup_factor', 0, None), ('model.bn_group_size', 0, None),
          ('dataset.crop_padding', 0, None), ('dataset.workers', 1, None), ('dataset.mean_samples', 1, None),
          ('dataset.image_size', 1, None), ('dataset.num_classes', 2, None), ('dataset.train_size', 1, None))
# (field, choices): names that must be one of these.
CHOICES = (('dataset.normalization', ('per_pixel_mean', 'per_channel')),)


def validate(config, mesh=None) -> None:
  """Refuses bad numbers and names (check_limits), unknown choices of the 'auto' settings (runtime/auto.py), and,
  on a mesh, batch sizes that do not split over its devices (the model, optimizer and schedule refuse their own
  settings when built)."""
  check_limits(config)
  auto.check_choices(config)
  if mesh is None:
    return
  parallel.check_batch_size(config.batch_size, mesh)
  parallel.check_batch_size(config.eval_batch_size, mesh, 'eval_batch_size')
  group = config.model.bn_group_size
  per_device = config.batch_size // mesh.devices.size
  if group and per_device % group:
    raise ConfigError(f'model.bn_group_size={group} does not divide the {per_device} images per device: set '
                      f'--config.batch_size={group * mesh.devices.size} ({group} per device on '
                      f'{mesh.devices.size}), --config.model.bn_group_size to a divisor of {per_device}, or to 0 for '
                      'statistics over the whole batch.')


def check_limits(config) -> None:
  """Refuses a number out of its range or not finite (LIMITS), a name not among its choices (CHOICES), a label
  smoothing of 1 or more, a crop padding of the image's size, a CIFAR-10 image size other than its images', or
  schedule.boundaries that are not increasing numbers."""
  for key, lowest, highest in LIMITS:
    node, field = node_and_field(config, key)
    if field not in node:
      continue
    value = node[field]
    bounds = f'at least {lowest}' + (f' and at most {highest}' if highest is not None else '')
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not (
        lowest <= value and (highest is None or value <= highest)):
      raise ConfigError(f'{key} must be a finite number {bounds}, not {value!r}: set --config.{key}.')
  for key, choices in CHOICES:
    node, field = node_and_field(config, key)
    if field in node and node[field] not in choices:
      raise ConfigError(f'{key} must be one of {", ".join(choices)}, not {node[field]!r}: set --config.{key}.')
  if config.optimizer.label_smoothing >= 1:
    raise ConfigError('optimizer.label_smoothing must be below 1 (at 1 every target is uniform and holds no label): '
                      'set --config.optimizer.label_smoothing=0.1, say.')
  d = config.dataset
  if d.get('crop_padding', 0) >= d.image_size:
    raise ConfigError(f'dataset.crop_padding must be below the image size, {d.image_size} (a crop could then hold '
                      f'no pixel of the image), not {d.crop_padding}: set --config.dataset.crop_padding=4, say.')
  if d.name == 'cifar10' and d.image_size != 32:
    raise ConfigError(f'dataset.image_size is 32 for CIFAR-10, whose images are 32x32, not {d.image_size}: drop '
                      '--config.dataset.image_size.')
  boundaries = list(config.schedule.boundaries)
  if not all(isinstance(b, (int, float)) and not isinstance(b, bool) and b > 0 for b in boundaries) or (
      boundaries != sorted(set(boundaries))):
    raise ConfigError(f'schedule.boundaries must be increasing positive numbers, not {tuple(boundaries)}: set '
                      '--config.schedule.boundaries="(32000, 48000)", say.')
