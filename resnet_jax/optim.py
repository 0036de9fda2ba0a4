"""The optimizer and learning-rate schedule of a config, from optax."""
import optax

from resnet_jax.errors import ConfigError


def learning_rate_schedule(config) -> optax.Schedule:
  """config.schedule.name: 'step' (the paper's: lr x decay at each boundary) or 'cosine'; then a warm-up.

  Warm-up for config.schedule.warmup_length: 'constant' at lr x warmup_factor (the paper's ResNet-110: 0.01 for
  400 iterations) or 'linear' from 0. Boundaries and warm-up count schedule.unit: 'steps' or 'epochs'.
  """
  c, lr = config.schedule, config.optimizer.learning_rate
  if c.unit not in ('steps', 'epochs'):
    raise ConfigError(f"Unknown schedule.unit {c.unit!r}: use 'steps' or 'epochs'.")
  per_unit = config.steps_per_epoch if c.unit == 'epochs' else 1
  warmup_steps = round(c.warmup_length * per_unit)
  if c.name == 'step':
    main = optax.piecewise_constant_schedule(lr, {round(b * per_unit): c.decay for b in c.boundaries})
  elif c.name == 'cosine':
    decay = optax.cosine_decay_schedule(lr, max(config.total_steps - warmup_steps, 1))
    main = lambda step: decay(step - warmup_steps)
  else:
    raise ConfigError(f"Unknown schedule {c.name!r}: set --config.schedule.name to 'step' or 'cosine'.")
  if not warmup_steps:
    return main
  if c.warmup == 'constant':
    warmup = optax.constant_schedule(lr * c.warmup_factor)
  elif c.warmup == 'linear':
    warmup = optax.linear_schedule(0.0, lr, warmup_steps)
  else:
    raise ConfigError(f"Unknown warm-up {c.warmup!r}: set --config.schedule.warmup to 'constant' or 'linear'.")
  # join_schedules restarts the count at the boundary; `main` reads the absolute step.
  return optax.join_schedules([warmup, lambda step: main(step + warmup_steps)], [warmup_steps])


def create_optimizer(config) -> optax.GradientTransformation:
  """SGD with momentum and L2 weight decay on every parameter, as torch.optim.SGD(weight_decay=...) applies it."""
  c = config.optimizer
  if c.name != 'sgd':
    raise ConfigError(f"Unknown optimizer {c.name!r}: set --config.optimizer.name to 'sgd'.")
  return optax.chain(optax.add_decayed_weights(c.weight_decay),
                     optax.sgd(learning_rate_schedule(config), momentum=c.momentum, nesterov=c.nesterov))
