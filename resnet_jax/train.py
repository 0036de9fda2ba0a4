"""Training: train_and_evaluate(config, workdir) builds a Run (the model, optimizer, data, evaluator and
checkpoints of a workdir, and its restored state) and runs the loop of train_step.py's step, with evaluations,
checkpoints and a clean stop on a signal. Its lines (progress, ETA, evaluations) are logged: a program shows them."""

import logging
import os
import shutil
import time

import jax
import numpy as np

from configs import schema
from resnet_jax import compute, init_from, memory, parallel, replicas, workdir as workdirs
from resnet_jax.checkpoint import Checkpoints
from resnet_jax.data import create_dataset, decode
from resnet_jax.errors import Argument, ConfigError, NonFiniteLossError, Setting
from resnet_jax.evaluation import Evaluator, evaluate_splits, model_predict
from resnet_jax.models import create_model, model_name, summary
from resnet_jax.optim import create_optimizer, learning_rate_schedule
from resnet_jax.preemption import Preemption
from resnet_jax.progress import StepClock, evaluations_left, final_line, progress_line
from resnet_jax.train_step import TrainState, abstract_state, empty_metrics, init_state, jit_train_step
from resnet_jax.train_step import summary as running_summary
from resnet_jax.writers import MetricsWriter, log_file

log = logging.getLogger(__name__)


class Run:
  """A network's training in a workdir. The config and the workdir are checked first, nothing built or written;
  then the model, schedule, optimizer, dataset, evaluator and checkpoints are built once, and the state restored."""

  def __init__(self, config, workdir: str, mesh=None):
    self.config, self.workdir, self.mesh = config, workdir, mesh or parallel.make_mesh()
    new = not os.path.exists(workdir)
    if 'decoder' in config.dataset:  # The decoder that runs is the one config.json records.
      config.dataset.decoder = decode.resolve(config.dataset.decoder)
    self.model = create_model(config)  # A depth of no network is the first mistake to name.
    schema.check(config, self.mesh.devices.size)
    self.schedule = learning_rate_schedule(config)
    self.tx = create_optimizer(config, self.schedule)
    memory.check_fits(config, self.model, self.mesh, abstract_state(self.model, self.tx, config))
    # Where a new run starts, from shapes alone: refused before anything is made. A resumed run starts from its own.
    self.init_plan = None if workdirs.step_dirs(workdir) else init_from.plan(config)
    if jax.process_index() == 0:
      workdirs.check_trainable(workdir)
    self.notices = workdirs.check_owner(workdir, config)  # Said once the run logs into its train.log.
    if (saved := workdirs.step_dirs(workdir)) and saved[-1] > config.total_steps:
      raise ConfigError(
          f'{workdir} is at step {saved[-1]}, past ',
          Setting('total_steps', config.total_steps),
          ': give ',
          Setting('total_steps', saved[-1]),
          ' or more, or train into another ',
          Argument('workdir'),
          '.',
      )

    self.nets = replicas.count(config)
    self.dataset = create_dataset(config, self.mesh)
    self.lock, self.checkpoints = None, None
    try:
      self.evaluator = Evaluator(model_predict(self.model), self.mesh, self.nets, compute.of(config))
      self.lock = workdirs.lock(workdir)
      self.checkpoints = Checkpoints(workdir, model_name(config.model), config.keep_checkpoints)
      self.empty = empty_metrics(config, self.mesh)
      initial = (init_state(self.model, self.tx, config, self.mesh), self.empty())
      (self.state, self.running), self.step = self.checkpoints.restore_newest(initial)
      self.started_from = None  # What a run that starts from another's loaded: said in its train.log.
      if self.step == 0 and self.init_plan:
        self.state, self.started_from = init_from.start(self.init_plan, self.state, self.nets, self.mesh)
      workdirs.write_config(workdir, config)
      if workdirs.read_model(workdir) is None:
        workdirs.write_model(workdir, summary(config))
    except BaseException:  # Refused, failed or stopped while being built: a workdir made for it is removed.
      self.close()
      if new and jax.process_index() == 0:
        shutil.rmtree(workdir, ignore_errors=True)
      raise

  @property
  def variables(self):
    return {'params': self.state.params, 'batch_stats': self.state.batch_stats}

  def evaluate(self, writer: MetricsWriter) -> dict[str, list[dict[str, float]]]:
    """Evaluates every held-out split, writes and logs the results: per split, one result per net."""
    return evaluate_splits(self.evaluator, self.variables, self.dataset, self.step, writer)

  def close(self) -> None:
    self.dataset.close()
    try:
      if self.checkpoints:
        self.checkpoints.close()
    finally:
      if self.lock:
        self.lock.release()


class Profile:
  """A jax.profiler trace of config.profile_steps = (START, COUNT): COUNT steps from step START, written into the
  workdir's tensorboard/ folder (TensorBoard's profile plugin and Perfetto read it). A run resumed past START
  traces nothing."""

  def __init__(self, workdir: str, steps, start: int):
    self.folder = os.path.join(workdir, 'tensorboard')
    self.first, count = tuple(steps) or (0, 0)
    self.last, self.tracing = self.first + count - 1, False
    if steps and self.first <= start:
      log.info('profile_steps=%s: the run resumes at step %d, past step %d: no trace.', tuple(steps), start, self.first)
      self.first = 0

  def before(self, step: int) -> None:
    if step == self.first:
      jax.profiler.start_trace(self.folder)
      self.tracing = True

  def after(self, step: int, state) -> None:
    if self.tracing and step == self.last:
      jax.block_until_ready(state)
      self.close()
      steps = f'step {self.first}' if self.first == self.last else f'steps {self.first}-{self.last}'
      log.info(
          'Profiler trace of %s in %s: tensorboard --logdir=%s (its Profile tab) or Perfetto.',
          steps,
          self.folder,
          self.folder,
      )

  def close(self) -> None:
    if self.tracing:
      jax.profiler.stop_trace()
      self.tracing = False


def train_and_evaluate(config, workdir: str, mesh=None) -> TrainState:
  """Trains config's network, resuming from the newest checkpoint in workdir; returns the final state.

  The mesh defaults to every device of every process. Every log record goes to workdir/train.log.
  """
  began = time.perf_counter()
  with Preemption() as preemption:  # SIGTERM from the start: during the build or the compile, it saves after a step.
    run = Run(config, workdir, mesh)
    log_name = 'train.log' if jax.process_index() == 0 else f'train.{jax.process_index()}.log'
    os.makedirs(workdir, exist_ok=True)  # Process 0 made it; another host may not share its file system.
    with log_file(os.path.join(workdir, log_name)):
      try:
        state = _train(run, began, preemption)
      finally:
        run.close()
  return state


def _train(run: Run, began: float, preemption: Preemption) -> TrainState:
  config, workdir, start, total = run.config, run.workdir, run.step, run.config.total_steps
  log.info(
      '%s: %s step %d of %d, batch %d, in %s.',
      model_name(config.model),
      'resuming at' if start else 'starting from',
      start,
      total,
      config.batch_size,
      workdir,
  )
  if run.started_from:
    log.info('%s', run.started_from)
  if 'decoder' in config.dataset:
    log.info('Training images decoded by %s (dataset.decoder).', config.dataset.decoder)
  for notice in run.notices:
    log.warning('%s', notice)
  preemption.begin_training()
  step_fn = jit_train_step(
      run.model, run.tx, config, run.dataset.batch, run.dataset.inputs_per_replica, run.mesh.devices.size
  )
  profile = Profile(workdir, config.profile_steps, start)
  seeds = replicas.seed_argument(config)
  writer = MetricsWriter(workdir, start)
  clock = StepClock(start)
  state, running = run.state, run.running

  def outside_training(step, work, evaluation=False):
    """work(), with the clock stopped: first the device finishes the steps dispatched so far."""
    jax.block_until_ready(state)
    clock.stop(step)
    result = work()
    clock.start(step, evaluation=evaluation)
    return result

  try:
    for step, inputs in zip(range(start + 1, total + 1), run.dataset.stream(start)):
      profile.before(step)
      state, running = step_fn(state, running, inputs, seeds)
      profile.after(step, state)
      if step == start + 1:  # Compiled (and ran once) the step: not part of the training time.
        jax.block_until_ready(state)
        log.info(
            'Compiled the training step and ran step %d in %.1f s (with start-up and data loading).',
            step,
            time.perf_counter() - began,
        )
        clock.start(step, overhead=False)
      preempted = preemption.stop_at(step, config.log_every_steps)  # Once: a signal may land at any line below.
      # A stop between log steps writes no row: the running metrics are saved with the state, and the resumed run
      # logs the same rows as one never stopped.
      logged = step % config.log_every_steps == 0 or step == total
      if logged or preempted or step % config.checkpoint_every_steps == 0:
        train = running_summary(running, run.nets)  # Waits for the device: also the finiteness check before a save.
        if not all(np.isfinite(net['loss']) for net in train):
          newest = run.checkpoints.newest()
          losses = ', '.join(str(net['loss']) for net in train)
          raise NonFiniteLossError(
              f'The training loss is {losses} at step {step}; '
              + (
                  f'the newest checkpoint ({newest}) is the last good state.'
                  if newest is not None
                  else 'no checkpoint was saved before: lower the learning rate, or add warm-up.'
              )
          )
      if logged:
        rate = clock.window(step)
        timed = {'images_per_sec': rate * config.batch_size} if rate else {}
        for replica, net in enumerate(train):
          writer.write(
              step,
              'train',
              {**net, 'learning_rate': run.schedule(step - 1), **timed},
              replicas.label(replica, run.nets),
          )
        evaluations = evaluations_left(step, total, config.eval_every_steps)
        eta = clock.eta(rate, total - step, evaluations)
        untimed = evaluations if clock.evaluation_seconds is None else 0
        log.info('%s', progress_line(step, total, train, rate, config.batch_size * run.nets, eta, untimed))
        running = run.empty()
      run.state, run.step = state, step
      if step % config.eval_every_steps == 0 or step == total:
        outside_training(step, lambda: run.evaluate(writer), evaluation=True)
      if step % config.checkpoint_every_steps == 0 or step == total or preempted:
        outside_training(step, lambda: run.checkpoints.save(step, (state, running), force=True))
      if preempted:
        log.info('Stopped by a signal at step %d, checkpoint saved: run the same command to resume.', step)
        break
  finally:
    profile.close()
    writer.close()
  if run.step == total:
    log.info('%s', final_line(workdir, time.perf_counter() - began))
  return state
