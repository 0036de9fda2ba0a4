"""The optimizer and learning-rate schedule of a config, from optax."""

import jax
import optax

from resnet_jax.models.norm import is_bn_parameter


def steps_per_epoch(config) -> int:
  """Steps of one epoch of the recipe: dataset.train_size images (the paper's training set) in global batches."""
  return max(1, config.dataset.train_size // config.batch_size)


def steps_per_unit(config) -> int:
  """Steps per unit of schedule.boundaries and schedule.warmup_length (schedule.unit: 'steps' or 'epochs')."""
  return steps_per_epoch(config) if config.schedule.unit == 'epochs' else 1


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
  else:
    decay = optax.cosine_decay_schedule(lr, max(config.total_steps - warmup, 1))
    main = lambda step: decay(step - warmup)
  if not warmup:
    return main
  start = (
      optax.constant_schedule(lr * schedule.warmup_factor)
      if schedule.warmup == 'constant'
      else optax.linear_schedule(0.0, lr, warmup)
  )
  # join_schedules restarts the count at the boundary; `main` reads the absolute step.
  return optax.join_schedules([start, lambda step: main(step + warmup)], [warmup])


def create_optimizer(config, schedule: optax.Schedule) -> optax.GradientTransformation:
  """SGD with momentum and L2 weight decay on every parameter, as torch.optim.SGD(weight_decay=...) applies it,
  at the learning rates of `schedule` (learning_rate_schedule(config)); config.optimizer.name is 'sgd'. With
  model.frozen_bn, the BatchNorm layers' scales and offsets are not trained (their updates are zero)."""
  optimizer = config.optimizer
  sgd = optax.chain(
      optax.add_decayed_weights(optimizer.weight_decay),
      optax.sgd(schedule, momentum=optimizer.momentum, nesterov=optimizer.nesterov),
  )
  if not config.model.frozen_bn:
    return sgd
  labels = lambda params: jax.tree_util.tree_map_with_path(
      lambda path, _: 'frozen' if is_bn_parameter(path) else 'trained', params
  )
  return optax.multi_transform({'trained': sgd, 'frozen': optax.set_to_zero()}, labels)
