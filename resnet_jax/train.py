"""Training: TrainState, the pure train_step, and train_and_evaluate(config, workdir)."""
import functools
import json
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
from jax.experimental import multihost_utils

from resnet_jax import memory, parallel, replicas
from resnet_jax.checkpoint import Checkpoints, check_writable
from resnet_jax.data import create_dataset
from resnet_jax.errors import ConfigError
from resnet_jax.evaluation import Evaluator, model_predict
from resnet_jax.limits import check_limits
from resnet_jax.models import create_model, model_name
from resnet_jax.optim import create_optimizer, learning_rate_schedule
from resnet_jax.runtime import console
from resnet_jax.runtime.console import say
from resnet_jax.runtime.progress import StepClock, duration
from resnet_jax.writers import MetricsWriter, evaluations


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


def summary(collection: Metrics) -> list[dict[str, float]]:
  """Loss and top-1 error (%) of each net: one, or the replicas of a stacked collection."""
  stacked = np.ndim(collection.loss.count)
  nets = [replicas.take(collection, k) for k in range(len(collection.loss.count))] if stacked else [collection]
  return [{'loss': float(values['loss']), 'top1_error': 100 * (1 - float(values['accuracy']))}
          for values in (net.compute() for net in nets)]


def cross_entropy(logits, labels, label_smoothing: float):
  targets = optax.smooth_labels(jax.nn.one_hot(labels, logits.shape[-1]), label_smoothing)
  return optax.softmax_cross_entropy(logits, targets)


def create_train_state(model, tx, image_size: int, seed: int) -> TrainState:
  variables = model.init(jax.random.key(seed), jnp.zeros((1, image_size, image_size, 3)), train=False)
  return TrainState(step=jnp.zeros((), jnp.int32), params=variables['params'],
                    batch_stats=variables['batch_stats'], opt_state=tx.init(variables['params']))


def train_step(state: TrainState, running: Metrics, inputs, seed, *, model, tx, config, make_batch):
  """One SGD step on make_batch(inputs, state.step, seed); returns the new state and the running metrics with
  its."""
  batch = make_batch(inputs, state.step, seed)

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


def init_state(model, tx, config, mesh) -> TrainState:
  """The initial state of config's nets (a leading replica axis where num_replicas > 1), replicated over the mesh."""
  create = functools.partial(create_train_state, model, tx, config.dataset.image_size)
  seeds = replicas.seeds(config)
  init = (lambda: create(seeds[0])) if len(seeds) == 1 else (lambda: jax.vmap(create)(jnp.asarray(seeds)))
  return jax.jit(init, out_shardings=parallel.replicated(mesh))()


def empty_metrics(config, mesh):
  """A jitted () -> empty running metrics of config's nets (one per replica), replicated over the mesh."""
  nets = replicas.count(config)
  empty = Metrics.empty if nets == 1 else lambda: jax.vmap(lambda _: Metrics.empty())(jnp.arange(nets))
  return jax.jit(empty, out_shardings=parallel.replicated(mesh))


def step_seeds(config):
  """The seeds argument of jit_train_step's step: config.seed, or the replicas' seeds as an array."""
  seeds = replicas.seeds(config)
  return seeds[0] if len(seeds) == 1 else jnp.asarray(seeds, jnp.int32)


def jit_train_step(model, tx, config, make_batch, inputs_per_replica: bool = False):
  """The jitted step of config's nets: (state, running, inputs, seeds) -> (state, running), state donated.

  With num_replicas > 1, train_step over the replica axis (replicas.axis: vmap or map) of the state, the metrics and
  the seeds (and of the inputs where each replica has its own: a list of them, stacked here).
  """
  step = functools.partial(train_step, model=model, tx=tx, config=config, make_batch=make_batch)
  if replicas.count(config) > 1:
    vectorised = replicas.over_replicas(step, (0, 0, 0 if inputs_per_replica else None, 0), replicas.axis(config))

    def step(state, running, inputs, seeds):
      if inputs_per_replica:
        inputs = jax.tree.map(lambda *per_replica: jnp.stack(per_replica), *inputs)
      return vectorised(state, running, inputs, seeds)
  return jax.jit(step, donate_argnums=(0, 1))


def validate(config, mesh) -> None:
  """Refuses bad numbers, an unknown replica_axis and batch sizes that do not split over the mesh (the model,
  optimizer and schedule refuse their own settings when built)."""
  check_limits(config)
  replicas.axis(config)
  parallel.check_batch_size(config.batch_size, mesh)
  parallel.check_batch_size(config.eval_batch_size, mesh, 'eval_batch_size')
  group = config.model.bn_group_size
  per_device = config.batch_size // mesh.devices.size
  if group and per_device % group:
    raise ConfigError(f'model.bn_group_size={group} does not divide the {per_device} images per device: set '
                      f'--config.batch_size={group * mesh.devices.size} ({group} per device on '
                      f'{mesh.devices.size}), --config.model.bn_group_size to a divisor of {per_device}, or to 0 for '
                      'statistics over the whole batch.')


class Preemption:
  """While the context lasts, SIGTERM and SIGINT (Ctrl-C) are a request the loop reads: save a checkpoint, then
  exit cleanly. A second Ctrl-C acts as it did before (KeyboardInterrupt); SIGTERM, which a cluster may send more
  than once (SLURM's warning, then its time limit), stays a request: SIGKILL is a cluster's way to stop at once."""

  SIGNALS = (signal.SIGTERM, signal.SIGINT)

  def __enter__(self):
    self.requested = False
    self._previous = {signum: signal.signal(signum, self._handle) for signum in self.SIGNALS}
    return self

  def __exit__(self, *exc_info):
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)

  def _handle(self, signum, frame):
    del frame
    again = ' (again)' if self.requested else ''
    self.requested = True
    if signum == signal.SIGINT:
      logging.warning('SIGINT: saving a checkpoint and exiting; press Ctrl-C again to stop at once.')
      signal.signal(signum, self._previous[signum])
    else:
      logging.warning('SIGTERM%s: saving a checkpoint and exiting.', again)

  def stop_at(self, step: int, every: int) -> bool:
    """Whether to stop after `step`. One process stops at once; several agree at each multiple of `every` (all of
    them stop there if any was signalled), so that none waits in a collective the others left."""
    if jax.process_count() == 1:
      return self.requested
    if step % every:
      return False
    return bool(multihost_utils.process_allgather(np.int32(self.requested)).max())


class Run:
  """A network's training in a workdir: the model, schedule, optimizer, dataset, evaluator and checkpoints, each
  built once before anything is compiled, and the restored state.

  read_only: to evaluate or study the workdir's newest checkpoint, changing nothing in it but metrics.jsonl.
  """

  def __init__(self, config, workdir: str, mesh=None, read_only: bool = False):
    self.config, self.mesh = config, mesh or parallel.make_mesh()
    self.model = create_model(config)  # First: a depth that names no network is the error to report.
    validate(config, self.mesh)
    self.schedule = learning_rate_schedule(config)
    self.tx = create_optimizer(config, self.schedule)
    if not read_only:
      one_net = functools.partial(create_train_state, self.model, self.tx, config.dataset.image_size, config.seed)
      memory.check_fits(config, self.model, self.mesh, jax.eval_shape(one_net))
    if read_only:
      Checkpoints.require(workdir)
    elif jax.process_index() == 0:
      check_writable(workdir)
    self.replicas = replicas.count(config)
    self.dataset = create_dataset(config, self.mesh)
    self.evaluator = Evaluator(model_predict(self.model), self.mesh, self.replicas if self.replicas > 1 else 0,
                               replicas.axis(config))
    self.checkpoints = Checkpoints(workdir, config, config.keep_checkpoints, read_only)
    self.empty = empty_metrics(config, self.mesh)
    initial = (init_state(self.model, self.tx, config, self.mesh), self.empty())
    (self.state, self.running), self.step = self.checkpoints.restore_newest(initial)
    if not read_only:
      if self.step > config.total_steps:
        self.close()
        raise ConfigError(f'{workdir} is at step {self.step}, past --config.total_steps={config.total_steps}: give '
                          f'--config.total_steps={self.step} or more, or train into another --workdir.')
      self.checkpoints.write_config(config)

  @property
  def variables(self):
    return {'params': self.state.params, 'batch_stats': self.state.batch_stats}

  def evaluate(self, writer: MetricsWriter, protocol: str | None = None) -> dict[str, list[dict[str, float]]]:
    """Evaluates every held-out split (under `protocol`: ImageNet's), writes and prints the results: per split, one
    result per net (the replicas)."""
    began = time.perf_counter()
    results = {}
    for split in self.dataset.eval_splits(protocol):
      values = self.evaluator(self.variables, split)
      results[split.name] = values if self.replicas > 1 else [values]
    seconds = time.perf_counter() - began
    for split, per_net in results.items():
      for replica, values in enumerate(per_net):
        writer.write(self.step, split, {**values, **({'protocol': protocol} if protocol else {})},
                     replica if self.replicas > 1 else None)
      say(f'eval at step {self.step}: {split}{f" ({protocol})" if protocol else ""}  '
          f'{metric_line(per_net, ("loss", "top1_error", "top5_error"))}  ({seconds:.1f} s)')
    return results

  def close(self) -> None:
    self.dataset.close()
    self.checkpoints.close()


def train_and_evaluate(config, workdir: str, mesh=None) -> TrainState:
  """Trains config's network, resuming from the newest checkpoint in workdir; returns the final state.

  The mesh defaults to every device of every process. Progress goes to stdout, every log to workdir/train.log.
  """
  began = time.perf_counter()
  with Preemption() as preemption:  # From the start: a signal during the build or the compile saves after a step.
    run = Run(config, workdir, mesh)
    log_name = 'train.log' if jax.process_index() == 0 else f'train.{jax.process_index()}.log'
    os.makedirs(workdir, exist_ok=True)  # Process 0 made it; another host may not share its file system.
    with console.log_file(os.path.join(workdir, log_name)):
      try:
        state = _train(run, workdir, began, preemption)
      finally:
        run.close()
  return state


def _train(run: Run, workdir: str, began: float, preemption: Preemption) -> TrainState:
  config, start, total = run.config, run.step, run.config.total_steps
  say(f'{model_name(config.model)}: {"resuming at" if start else "starting from"} step {start} of {total}, '
      f'batch {config.batch_size}, in {workdir}.')
  step_fn = jit_train_step(run.model, run.tx, config, run.dataset.batch, run.dataset.inputs_per_replica)
  seeds = step_seeds(config)
  writer = MetricsWriter(workdir, start)
  clock = StepClock(start)
  state, running = run.state, run.running

  def outside_training(step, work):
    """work(), with the clock stopped: first the device finishes the steps dispatched so far."""
    jax.block_until_ready(state)
    clock.stop(step)
    result = work()
    clock.start(step)
    return result

  try:
    for step, inputs in zip(range(start + 1, total + 1), run.dataset.stream(start)):
      state, running = step_fn(state, running, inputs, seeds)
      if step == start + 1:  # Compiled (and ran once) the step: not part of the training time.
        jax.block_until_ready(state)
        say(f'Compiled the training step and ran step {step} in {time.perf_counter() - began:.1f} s '
            '(with start-up and data loading).')
        clock.start(step, overhead=False)
      preempted = preemption.stop_at(step, config.log_every_steps)  # Once: a signal may land at any line below.
      # A stop between log steps writes no row: the running metrics are saved with the state, and the resumed run
      # logs the same rows as one never stopped.
      logged = step % config.log_every_steps == 0 or step == total
      if logged or preempted or step % config.checkpoint_every_steps == 0:
        train = summary(running)  # Waits for the device: also the finiteness check before any save.
        if not all(np.isfinite(net['loss']) for net in train):
          newest = run.checkpoints.manager.latest_step()
          losses = ', '.join(str(net['loss']) for net in train)
          raise NonFiniteLossError(f'The training loss is {losses} at step {step}; ' + (
              f'the newest checkpoint ({newest}) is the last good state.' if newest is not None else
              'no checkpoint was saved before: lower the learning rate, or add warm-up.'))
      if logged:
        rate = clock.window(step)
        timed = {'images_per_sec': rate * config.batch_size} if rate else {}
        for replica, net in enumerate(train):
          writer.write(step, 'train', {**net, 'learning_rate': run.schedule(step - 1), **timed},
                       replica if run.replicas > 1 else None)
        say(progress_line(step, total, train, rate, config.batch_size * run.replicas,
                          clock.eta(rate, total - step)))
        running = run.empty()
      run.state, run.step = state, step
      if step % config.eval_every_steps == 0 or step == total:
        outside_training(step, lambda: run.evaluate(writer))
      if step % config.checkpoint_every_steps == 0 or step == total or preempted:
        outside_training(step, lambda: run.checkpoints.save(step, (state, running), force=True))
      if preempted:
        say(f'Stopped by a signal at step {step}, checkpoint saved: run the same command to resume.')
        break
  finally:
    writer.close()
  if run.step == total:
    say(final_line(workdir, time.perf_counter() - began))
  return state


# metric -> (label, format, unit) in the terminal's lines.
METRIC_FORMATS = {'loss': ('loss', '.4f', ''), 'top1_error': ('error', '5.2f', '%'),
                  'top5_error': ('top-5', '.2f', '%')}


def metric_line(per_net: list[dict], keys) -> str:
  """'loss 0.5123  error 12.34%': one net's values, or the mean ± std over the replicas."""
  parts = []
  for key in keys:
    label, spec, unit = METRIC_FORMATS[key]
    values = [net[key] for net in per_net]
    if len(values) == 1:
      parts.append(f'{label} {values[0]:{spec}}{unit}')
    else:
      mean, std = replicas.mean_std(values)
      parts.append(f'{label} {mean:{spec}}±{std:{spec.lstrip("5")}}{unit}')
  return '  '.join(parts) + (f'  (mean±std of {len(per_net)} replicas)' if len(per_net) > 1 else '')


def progress_line(step: int, total: int, train: list[dict], rate: float | None, images_per_step: int,
                  eta: float | None) -> str:
  speed = (f'{rate * images_per_step:,.0f} images/s, ETA {duration(eta)}' if rate else
           'images/s and ETA after the next log')
  return f'step {step:>{len(str(total))}}/{total}  {metric_line(train, ("loss", "top1_error"))}  {speed}'


def final_line(workdir: str, seconds: float) -> str:
  """Done: each evaluated split's final and best top-1 error (over every evaluation in metrics.jsonl); of
  replicas, the best and the mean ± std of their final errors."""
  parts = []
  for split, evals in evaluations(workdir).items():
    by_replica = {}
    for row in evals:
      by_replica.setdefault(row.get('replica'), []).append(row)
    if len(by_replica) == 1:
      best = min(evals, key=lambda row: row['top1_error'])
      parts.append(f'{split} error {evals[-1]["top1_error"]:.2f}% (best {best["top1_error"]:.2f}% at step '
                   f'{best["step"]})')
    else:
      finals = [rows[-1]['top1_error'] for rows in by_replica.values()]
      parts.append(f'{split} error {replicas.best_mean_std(finals)}% (best (mean±std) of {len(finals)} replicas)')
  written = [name for name in ('metrics.jsonl', 'checkpoints/', 'tensorboard/', 'train.log')
             if os.path.exists(os.path.join(workdir, name))]
  return (f'Done in {duration(seconds)}: {"; ".join(parts) or "no evaluation"}. Results in {workdir}: '
          f'{", ".join(written)}.')


def evaluate_workdir(config, workdir: str, protocol: str | None = None) -> dict:
  """Evaluates the newest checkpoint of workdir (under `protocol`, for ImageNet) and appends the results to its
  metrics.jsonl (marked with the data's dataset_dir where it is not the one trained on); config is the workdir's
  own (config_io.workdir_config). Per split, the results of its net, or the list of its replicas' results."""
  with open(os.path.join(workdir, 'config.json')) as f:
    trained_dir = json.load(f)['dataset'].get('dir')
  here = os.path.abspath(config.dataset.dir) if config.dataset.get('dir') else ''
  other_data = {'dataset_dir': here} if here != (os.path.abspath(trained_dir) if trained_dir else '') else {}
  run = Run(config, workdir, read_only=True)
  writer = MetricsWriter(workdir, run.step, evaluation=True, marks=other_data)
  try:
    results = run.evaluate(writer, protocol)
    return {split: per_net if run.replicas > 1 else per_net[0] for split, per_net in results.items()}
  finally:
    run.close()
    writer.close()
