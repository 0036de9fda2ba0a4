"""Training: train_and_evaluate(config, workdir) builds a Run (the model, optimizer, data, evaluator and
checkpoints of a workdir, and its restored state) and runs the loop of train_step.py's step, with evaluations,
checkpoints and a clean stop on a signal."""
import os
import time

import jax
import numpy as np

from resnet_jax import memory, parallel, replicas
from resnet_jax.checkpoint import Checkpoints, check_writable
from resnet_jax.data import create_dataset
from resnet_jax.errors import ConfigError
from resnet_jax.evaluation import Evaluator, model_predict
from resnet_jax.limits import validate
from resnet_jax.models import create_model, model_name
from resnet_jax.optim import create_optimizer, learning_rate_schedule
from resnet_jax.runtime import auto, console
from resnet_jax.runtime.console import say
from resnet_jax.runtime.preemption import Preemption
from resnet_jax.runtime.progress import StepClock, final_line, progress_line
from resnet_jax.train_step import TrainState, abstract_state, empty_metrics, init_state, jit_train_step, summary
from resnet_jax.trained import evaluate_splits
from resnet_jax.writers import MetricsWriter


class NonFiniteLossError(RuntimeError):
  """The loss became NaN or infinite; the newest checkpoint is the last good state."""


class Run:
  """A network's training in a workdir: the model, schedule, optimizer, dataset, evaluator and checkpoints, each
  built once before anything is compiled, and the restored state."""

  def __init__(self, config, workdir: str, mesh=None):
    saved, config = config, auto.resolve(config)  # config.json keeps 'auto', resolved anew where the run resumes.
    self.config, self.mesh = config, mesh or parallel.make_mesh()
    self.model = create_model(config)  # A depth that names no network is the first error to report.
    validate(config, self.mesh)
    self.schedule = learning_rate_schedule(config)
    self.tx = create_optimizer(config, self.schedule)
    memory.check_fits(config, self.model, self.mesh, abstract_state(self.model, self.tx, config))
    if jax.process_index() == 0:
      check_writable(workdir)
    self.nets = replicas.count(config)
    self.dataset = create_dataset(config, self.mesh)
    self.evaluator = Evaluator(model_predict(self.model), self.mesh, self.nets, replicas.axis(config))
    self.checkpoints = Checkpoints(workdir, saved, config.keep_checkpoints)
    self.empty = empty_metrics(config, self.mesh)
    initial = (init_state(self.model, self.tx, config, self.mesh), self.empty())
    (self.state, self.running), self.step = self.checkpoints.restore_newest(initial)
    if self.step > config.total_steps:
      self.close()
      raise ConfigError(f'{workdir} is at step {self.step}, past --config.total_steps={config.total_steps}: give '
                        f'--config.total_steps={self.step} or more, or train into another --workdir.')
    self.checkpoints.write_config(saved)

  @property
  def variables(self):
    return {'params': self.state.params, 'batch_stats': self.state.batch_stats}

  def evaluate(self, writer: MetricsWriter) -> dict[str, list[dict[str, float]]]:
    """Evaluates every held-out split, writes and prints the results: per split, one result per net."""
    return evaluate_splits(self.evaluator, self.variables, self.dataset, self.step, self.nets, writer)

  def close(self) -> None:
    self.dataset.close()
    self.checkpoints.close()

def train_and_evaluate(config, workdir: str, mesh=None) -> TrainState:
  """Trains config's network, resuming from the newest checkpoint in workdir; returns the final state.

  The mesh defaults to every device of every process. Progress goes to stdout, every log to workdir/train.log.
  """
  began = time.perf_counter()
  with Preemption() as preemption:  # SIGTERM from the start: during the build or the compile, it saves after a step.
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
  preemption.begin_training()
  step_fn = jit_train_step(run.model, run.tx, config, run.dataset.batch, run.dataset.inputs_per_replica)
  seeds = replicas.seed_argument(config)
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
        train = summary(running, run.nets)  # Waits for the device: also the finiteness check before any save.
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
                       replicas.label(replica, run.nets))
        say(progress_line(step, total, train, rate, config.batch_size * run.nets,
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
