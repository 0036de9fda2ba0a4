"""The optimizer and learning-rate schedule of a config, from optax."""
import optax

from resnet_jax.errors import ConfigError


def learning_rate_schedule(config) -> optax.Schedule:
  """config.schedule.name: 'step' (the paper's: lr x decay at each boundary) or 'cosine'; then a warm-up.

  Warm-up for config.schedule.warmup_steps: 'constant' at lr x warmup_factor (the paper's ResNet-110: 0.01 for
  400 iterations) or 'linear' from 0.
  """
  c, lr = config.schedule, config.optimizer.learning_rate
  if c.name == 'step':
    main = optax.piecewise_constant_schedule(lr, {int(b): c.decay for b in c.boundaries})
  elif c.name == 'cosine':
    decay = optax.cosine_decay_schedule(lr, max(config.total_steps - c.warmup_steps, 1))
    main = lambda step: decay(step - c.warmup_steps)
  else:
    raise ConfigError(f"Unknown schedule {c.name!r}: set --config.schedule.name to 'step' or 'cosine'.")
  if not c.warmup_steps:
    return main
  if c.warmup == 'constant':
    warmup = optax.constant_schedule(lr * c.warmup_factor)
  elif c.warmup == 'linear':
    warmup = optax.linear_schedule(0.0, lr, c.warmup_steps)
  else:
    raise ConfigError(f"Unknown warm-up {c.warmup!r}: set --config.schedule.warmup to 'constant' or 'linear'.")
  # join_schedules restarts the count at the boundary; `main` reads the absolute step.
  return optax.join_schedules([warmup, lambda step: main(step + c.warmup_steps)], [c.warmup_steps])


def create_optimizer(config) -> optax.GradientTransformation:
  """SGD with momentum and L2 weight decay on every parameter, as torch.optim.SGD(weight_decay=...) applies it."""
  c = config.optimizer
  if c.name != 'sgd':
    raise ConfigError(f"Unknown optimizer {c.name!r}: set --config.optimizer.name to 'sgd'.")
  return optax.chain(optax.add_decayed_weights(c.weight_decay),
                     optax.sgd(learning_rate_schedule(config), momentum=c.momentum, nesterov=c.nesterov))
