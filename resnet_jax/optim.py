"""The optimizer and learning-rate schedule of a config, from optax."""
import optax

from resnet_jax.errors import ConfigError


def steps_per_epoch(config) -> int:
  """Steps of one epoch of the recipe: dataset.train_size images (the paper's training set) in global batches."""
  return max(1, config.dataset.train_size // config.batch_size)


def steps_per_unit(config) -> int:
  """Steps per unit of schedule.boundaries and schedule.warmup_length (schedule.unit: 'steps' or 'epochs')."""
  unit = config.schedule.unit
  if unit not in ('steps', 'epochs'):
    raise ConfigError(f"Unknown schedule.unit {unit!r}: use 'steps' or 'epochs'.")
  return steps_per_epoch(config) if unit == 'epochs' else 1


def warmup_steps(config) -> int:
  """schedule.warmup_length in steps, for nets of depth schedule.warmup_min_depth and more (the paper warms up
  ResNet-110 and -1202 alone); 0 for shallower ones."""
  if config.model.depth < config.schedule.warmup_min_depth:
    return 0
  return round(config.schedule.warmup_length * steps_per_unit(config))


def learning_rate_schedule(config) -> optax.Schedule:
  """config.schedule.name: 'step' (the paper's: lr x decay at each boundary) or 'cosine'; then a warm-up.

  Warm-up for warmup_steps(config): 'constant' at lr x warmup_factor (the paper's ResNet-110: 0.01 for 400
  iterations) or 'linear' from 0. Boundaries and warm-up count schedule.unit: 'steps' or 'epochs'.
  """
  schedule, lr = config.schedule, config.optimizer.learning_rate
  per_unit, warmup = steps_per_unit(config), warmup_steps(config)
  if schedule.name == 'step':
    main = optax.piecewise_constant_schedule(lr, {round(b * per_unit): schedule.decay for b in schedule.boundaries})
  elif schedule.name == 'cosine':
    decay = optax.cosine_decay_schedule(lr, max(config.total_steps - warmup, 1))
    main = lambda step: decay(step - warmup)
  else:
    raise ConfigError(f"Unknown schedule {schedule.name!r}: set --config.schedule.name to 'step' or 'cosine'.")
  if schedule.warmup == 'constant':
    start = optax.constant_schedule(lr * schedule.warmup_factor)
  elif schedule.warmup == 'linear':
    start = optax.linear_schedule(0.0, lr, max(warmup, 1))
  else:
    raise ConfigError(f"Unknown warm-up {schedule.warmup!r}: set --config.schedule.warmup to 'constant' or 'linear'.")
  if not warmup:
    return main
  # join_schedules restarts the count at the boundary; `main` reads the absolute step.
  return optax.join_schedules([start, lambda step: main(step + warmup)], [warmup])


def create_optimizer(config, schedule: optax.Schedule) -> optax.GradientTransformation:
  """SGD with momentum and L2 weight decay on every parameter, as torch.optim.SGD(weight_decay=...) applies it,
  at the learning rates of `schedule` (learning_rate_schedule(config))."""
  optimizer = config.optimizer
  if optimizer.name != 'sgd':
    raise ConfigError(f"Unknown optimizer {optimizer.name!r}: set --config.optimizer.name to 'sgd'.")
  return optax.chain(optax.add_decayed_weights(optimizer.weight_decay),
                     optax.sgd(schedule, momentum=optimizer.momentum, nesterov=optimizer.nesterov))
