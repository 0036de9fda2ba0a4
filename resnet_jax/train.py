"""Training: TrainState, pure train_step / eval_step, and train_and_evaluate(config, workdir)."""
import functools
import os
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
from resnet_jax.errors import ConfigError
from resnet_jax.inputs import create_input
from resnet_jax.models import create_model, model_name
from resnet_jax.optim import create_optimizer, learning_rate_schedule
from resnet_jax.progress import duration
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


def train_step(state: TrainState, running: Metrics, inputs, *, model, tx, config, make_batch):
  """One SGD step on make_batch(inputs, state.step); returns the new state and the running metrics with its."""
  batch = make_batch(inputs, state.step)

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


class Preemption:
  """Turns SIGTERM into a flag the loop reads: save a checkpoint, then exit cleanly."""

  def __init__(self):
    self.requested = False
    signal.signal(signal.SIGTERM, self._handle)

  def _handle(self, signum, frame):
    del signum, frame
    logging.warning('SIGTERM: saving a checkpoint and exiting.')
    self.requested = True


class Run:
  """A network's training in a workdir: the model, optimizer, input and checkpoints, and the restored state."""

  def __init__(self, config, workdir: str, mesh=None):
    self.config, self.mesh = config, mesh or parallel.make_mesh()
    validate(config, self.mesh)
    self.model, self.tx = create_model(config), create_optimizer(config)
    self.input = create_input(config, self.mesh, self.model)
    self.checkpoints = Checkpoints(workdir, config, config.keep_checkpoints)
    replicated = parallel.replicated(self.mesh)
    init = jax.jit(functools.partial(create_train_state, self.model, self.tx, config.dataset.image_size,
                                     config.seed), out_shardings=replicated)
    self.empty = jax.jit(Metrics.empty, out_shardings=replicated)
    (self.state, self.running), self.step = self.checkpoints.restore_newest((init(), self.empty()))

  def evaluate(self, writer: MetricsWriter, protocol: str | None = None) -> dict[str, dict[str, float]]:
    results = self.input.evaluate(self.state, protocol)
    for split, values in results.items():
      writer.write(self.step, split, {**values, **({'protocol': protocol} if protocol else {})})
      logging.info('step %d: %s loss %.4f, top-1 error %.2f%%, top-5 error %.2f%%', self.step, split,
                   values['loss'], values['top1_error'], values['top5_error'])
    return results

  def close(self) -> None:
    self.input.close()
    self.checkpoints.close()


def train_and_evaluate(config, workdir: str, mesh=None) -> TrainState:
  """Trains config's network, resuming from the newest checkpoint in workdir; returns the final state.

  The mesh defaults to every device of every process.
  """
  run = Run(config, workdir, mesh)
  start, total = run.step, config.total_steps
  logging.info('%s on %d devices (%d processes): %s from step %d.', model_name(config.model), jax.device_count(),
               jax.process_count(), 'resuming' if start else 'starting', start)
  schedule = learning_rate_schedule(config)
  step_fn = jax.jit(functools.partial(train_step, model=run.model, tx=run.tx, config=config,
                                      make_batch=run.input.batch), donate_argnums=(0, 1))
  writer = MetricsWriter(workdir, start)
  preemption = Preemption()
  window_start, window_time = start, time.time()
  state, running = run.state, run.running
  try:
    for step, inputs in zip(range(start + 1, total + 1), run.input.stream(start)):
      state, running = step_fn(state, running, inputs)
      preempted = preemption.requested  # Read once: a signal may land at any line below.
      last = step == total or preempted
      if step % config.log_every_steps == 0 or last or step % config.checkpoint_every_steps == 0:
        train = summary(running)  # Waits for the device: also the finiteness check before any save.
        if not np.isfinite(train['loss']):
          raise NonFiniteLossError(f'The training loss is {train["loss"]} at step {step}; the newest checkpoint '
                                   f'({run.checkpoints.manager.latest_step()}) is the last good state.')
      if step % config.log_every_steps == 0 or last:
        rate = (step - window_start) / (time.time() - window_time)
        writer.write(step, 'train', {**train, 'learning_rate': schedule(step - 1),
                                     'images_per_sec': rate * config.batch_size})
        logging.info('step %d/%d: loss %.4f, top-1 error %.2f%%, %.1f steps/s, ETA %s', step, total,
                     train['loss'], train['top1_error'], rate, duration((total - step) / rate))
        running = run.empty()
        window_start, window_time = step, time.time()
      run.state, run.step = state, step
      if step % config.eval_every_steps == 0 or step == total:
        run.evaluate(writer)
      if step % config.checkpoint_every_steps == 0 or last:
        run.checkpoints.save(step, (state, running), force=True)
      if preempted:
        break
  finally:
    run.close()
    writer.close()
  return state


def evaluate_workdir(config, workdir: str, protocol: str | None = None) -> dict[str, dict[str, float]]:
  """Evaluates the newest checkpoint of workdir (under `protocol`, for ImageNet) and appends the results to its
  metrics.jsonl."""
  require_checkpoints(workdir)
  run = Run(config, workdir)
  writer = MetricsWriter(workdir, run.step, keep_later=True)
  try:
    return run.evaluate(writer, protocol)
  finally:
    run.close()
    writer.close()


def require_checkpoints(workdir: str) -> None:
  if not os.path.isdir(os.path.join(workdir, 'checkpoints')):
    raise ConfigError(f'{workdir} holds no checkpoints: train there first, or convert weights into it '
                      '(python -m resnet_jax.convert).')
