"""Training: TrainState, pure train_step / eval_step, and train_and_evaluate(config, workdir)."""
import functools
import signal
import time
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import logging
from clu import metrics

from resnet_jax import parallel
from resnet_jax.checkpoint import Checkpoints
from resnet_jax.data import cifar10, on_device
from resnet_jax.errors import ConfigError
from resnet_jax.models import create_model, model_name
from resnet_jax.optim import create_optimizer, learning_rate_schedule
from resnet_jax.writers import MetricsWriter


class NonFiniteLossError(RuntimeError):
  """The loss became NaN or infinite; the newest checkpoint is the last good state."""


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any
  batch_stats: Any
  opt_state: Any


@flax.struct.dataclass
class Metrics(metrics.Collection):
  loss: metrics.Average.from_output('loss')
  accuracy: metrics.Accuracy


@flax.struct.dataclass
class Data:
  """Every split on the devices, and the normalisation from the training images."""
  train: on_device.Split
  evals: dict[str, on_device.Split]
  norm: on_device.Normalization


def summary(collection: Metrics) -> dict[str, float]:
  values = collection.compute()
  return {'loss': float(values['loss']), 'top1_error': 100 * (1 - float(values['accuracy']))}


def cross_entropy(logits, labels, label_smoothing: float):
  targets = optax.smooth_labels(jax.nn.one_hot(labels, logits.shape[-1]), label_smoothing)
  return optax.softmax_cross_entropy(logits, targets)


def create_train_state(model, tx, image_size: int, seed: int) -> TrainState:
  variables = model.init(jax.random.key(seed), jnp.zeros((1, image_size, image_size, 3)), train=False)
  return TrainState(step=jnp.zeros((), jnp.int32), params=variables['params'],
                    batch_stats=variables['batch_stats'], opt_state=tx.init(variables['params']))


def train_step(state: TrainState, running: Metrics, data: Data, *, model, tx, config, mesh):
  """One SGD step on the batch of state.step; returns the new state and the running metrics with this step's."""
  batch = on_device.train_batch(data.train, data.norm, state.step, config.seed, config.batch_size,
                                config.dataset.crop_padding, mesh)

  def loss_fn(params):
    logits, updates = model.apply({'params': params, 'batch_stats': state.batch_stats}, batch['image'],
                                  train=True, mutable=['batch_stats'])
    loss = cross_entropy(logits, batch['label'], config.optimizer.label_smoothing).mean()
    return loss, (logits, updates['batch_stats'])

  (loss, (logits, batch_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  state = TrainState(step=state.step + 1, params=optax.apply_updates(state.params, updates),
                     batch_stats=batch_stats, opt_state=opt_state)
  return state, running.merge(Metrics.single_from_model_output(loss=loss, logits=logits, labels=batch['label']))


def eval_step(state: TrainState, running: Metrics, split: on_device.Split, norm, index, *, model, batch_size,
              mesh) -> Metrics:
  batch = on_device.eval_batch(split, norm, index, batch_size, mesh)
  logits = model.apply({'params': state.params, 'batch_stats': state.batch_stats}, batch['image'], train=False)
  mask = batch['label'] >= 0
  labels = jnp.maximum(batch['label'], 0)
  loss = cross_entropy(logits, labels, 0.0)
  return running.merge(Metrics.single_from_model_output(loss=loss, logits=logits, labels=labels, mask=mask))


def validate(config, mesh) -> None:
  """Refuses bad settings before anything is loaded, compiled or overwritten."""
  create_model(config)
  parallel.check_batch_size(config.batch_size, mesh)
  parallel.check_batch_size(config.eval_batch_size, mesh, 'eval_batch_size')
  group = config.model.bn_group_size
  per_device = config.batch_size // mesh.devices.size
  if group and per_device % group:
    raise ConfigError(f'model.bn_group_size={group} does not divide the {per_device} images per device: '
                      'set it to a divisor, or 0 for statistics over the whole batch.')
  for name in ('total_steps', 'log_every_steps', 'eval_every_steps', 'checkpoint_every_steps'):
    if config[name] <= 0:
      raise ConfigError(f'{name} must be positive, not {config[name]}.')
  learning_rate_schedule(config)


def load_data(config, mesh) -> Data:
  if config.dataset.name != 'cifar10':
    raise ConfigError(f'Training reads CIFAR-10 only so far, not {config.dataset.name}: use configs/cifar10.py.')
  splits = cifar10.load(config.dataset)
  images, labels = splits.pop('train')
  if len(labels) < config.batch_size:
    raise ConfigError(f'batch_size {config.batch_size} exceeds the {len(labels)} training images.')
  return Data(train=on_device.put(images, labels, mesh),
              evals={name: on_device.put(*split, mesh, config.eval_batch_size) for name, split in splits.items()},
              norm=on_device.normalization(images, config.dataset.normalization))


def evaluate(eval_fn, state, data: Data, batch_size: int) -> dict[str, dict[str, float]]:
  results = {}
  for name, split in data.evals.items():
    running = Metrics.empty()
    for index in range(split.labels.shape[0] // batch_size):
      running = eval_fn(state, running, split, data.norm, jnp.int32(index))
    results[name] = summary(running)
  return results


class Preemption:
  """Turns SIGTERM into a flag the loop reads: save a checkpoint, then exit cleanly."""

  def __init__(self):
    self.requested = False
    signal.signal(signal.SIGTERM, self._handle)

  def _handle(self, signum, frame):
    del signum, frame
    logging.warning('SIGTERM: saving a checkpoint and exiting.')
    self.requested = True


def train_and_evaluate(config, workdir: str, mesh=None) -> TrainState:
  """Trains config's network, resuming from the newest checkpoint in workdir; returns the final state.

  The mesh defaults to every device of every process.
  """
  mesh = mesh or parallel.make_mesh()
  validate(config, mesh)
  data = load_data(config, mesh)
  checkpoints = Checkpoints(workdir, config, config.keep_checkpoints)
  model, tx = create_model(config), create_optimizer(config)
  schedule = learning_rate_schedule(config)
  replicated = parallel.replicated(mesh)

  init = jax.jit(functools.partial(create_train_state, model, tx, config.dataset.image_size, config.seed),
                 out_shardings=replicated)
  empty = jax.jit(Metrics.empty, out_shardings=replicated)
  (state, running), start = checkpoints.restore_newest((init(), empty()))
  logging.info('%s on %d devices (%d processes): %s from step %d.', model_name(config.model), jax.device_count(),
               jax.process_count(), 'resuming' if start else 'starting', start)

  step_fn = jax.jit(functools.partial(train_step, model=model, tx=tx, config=config, mesh=mesh),
                    donate_argnums=(0, 1))
  eval_fn = jax.jit(functools.partial(eval_step, model=model, batch_size=config.eval_batch_size, mesh=mesh))
  writer = MetricsWriter(workdir, start)
  preemption = Preemption()
  window_start, window_time = start, time.time()
  total = config.total_steps
  try:
    for step in range(start + 1, total + 1):
      state, running = step_fn(state, running, data)
      preempted = preemption.requested  # Read once: a signal may land at any line below.
      last = step == total or preempted
      if step % config.log_every_steps == 0 or last or step % config.checkpoint_every_steps == 0:
        train = summary(running)  # Waits for the device: also the finiteness check before any save.
        if not np.isfinite(train['loss']):
          raise NonFiniteLossError(f'The training loss is {train["loss"]} at step {step}; the newest checkpoint '
                                   f'({checkpoints.manager.latest_step()}) is the last good state.')
      if step % config.log_every_steps == 0 or last:
        rate = (step - window_start) / (time.time() - window_time)
        writer.write(step, 'train', {**train, 'learning_rate': schedule(step - 1),
                                     'images_per_sec': rate * config.batch_size})
        logging.info('step %d/%d: loss %.4f, top-1 error %.2f%%, %.1f steps/s, ETA %s', step, total,
                     train['loss'], train['top1_error'], rate, _duration((total - step) / rate))
        running = empty()
        window_start, window_time = step, time.time()
      if step % config.eval_every_steps == 0 or step == total:
        for split, values in evaluate(eval_fn, state, data, config.eval_batch_size).items():
          writer.write(step, split, values)
          logging.info('step %d: %s loss %.4f, top-1 error %.2f%%', step, split, values['loss'],
                       values['top1_error'])
      if step % config.checkpoint_every_steps == 0 or last:
        checkpoints.save(step, (state, running), force=True)
      if preempted:
        break
  finally:
    checkpoints.close()
    writer.close()
  return state


def _duration(seconds: float) -> str:
  minutes, seconds = divmod(int(seconds), 60)
  hours, minutes = divmod(minutes, 60)
  return f'{hours}:{minutes:02d}:{seconds:02d}'
