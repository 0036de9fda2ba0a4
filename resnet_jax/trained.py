"""A trained workdir opened read-only, for --mode=eval, the studies and the report tables: its config, model,
newest variables and step, data and evaluator. Nothing of training is built (no optimizer, schedule or training
state) and nothing in the workdir changes but the evaluation rows that evaluate() appends to metrics.jsonl."""
import functools
import os
import time

from resnet_jax import parallel, replicas
from resnet_jax.checkpoint import Checkpoints
from resnet_jax.data import create_dataset
from resnet_jax.evaluation import Evaluator, model_predict
from resnet_jax.limits import validate
from resnet_jax.models import abstract_variables, create_model
from resnet_jax.runtime import auto
from resnet_jax.runtime.config_io import workdir_configs
from resnet_jax.runtime.console import say
from resnet_jax.runtime.progress import metric_line
from resnet_jax.writers import MetricsWriter


def evaluate_splits(evaluator: Evaluator, variables, dataset, step: int, nets: int, writer: MetricsWriter,
                    protocol: str | None = None) -> dict[str, list[dict[str, float]]]:
  """Evaluates every held-out split of `dataset` (under `protocol`: ImageNet's), writes and prints the results: per
  split, one result per net."""
  began = time.perf_counter()
  results = {split.name: evaluator(variables, split) for split in dataset.eval_splits(protocol)}
  seconds = time.perf_counter() - began
  for split, per_net in results.items():
    for replica, values in enumerate(per_net):
      writer.write(step, split, {**values, **({'protocol': protocol} if protocol else {})},
                   replicas.label(replica, nets))
    say(f'eval at step {step}: {split}{f" ({protocol})" if protocol else ""}  '
        f'{metric_line(per_net, ("loss", "top1_error", "top5_error"))}  ({seconds:.1f} s)')
  return results


class TrainedWorkdir:
  """The newest checkpoint of a workdir and what evaluates it.

  config: the workdir's config.json, with `overrides` ('KEY=VALUE' of config_io.READ_OVERRIDABLE: where the data
  is on this machine, how to evaluate), or `configs`, config_io.workdir_configs(workdir, overrides) where the caller
  has read them; variables: of its `nets` nets (one, or the replicas stacked); evaluator: of all of them at once
  (evaluation.Evaluator), built on first use.
  """

  def __init__(self, workdir: str, overrides=(), mesh=None, configs=None):
    self.workdir = workdir
    self.trained_config, config = configs or workdir_configs(workdir, overrides)
    self.config = auto.resolve(config)
    self.mesh = mesh or parallel.make_mesh()
    self.model = create_model(self.config)  # A depth that names no network is the first error to report.
    validate(self.config, self.mesh)
    Checkpoints.require(workdir)
    self.nets = replicas.count(self.config)
    self.dataset = create_dataset(self.config, self.mesh)
    checkpoints = Checkpoints(workdir, self.config, 1, read_only=True)
    try:
      one_net = abstract_variables(self.model, self.config.dataset.image_size)
      self.variables, self.step = checkpoints.restore_variables(replicas.stacked_shapes(one_net, self.nets),
                                                                parallel.replicated(self.mesh))
    except Exception:
      self.dataset.close()
      raise
    finally:
      checkpoints.close()

  @functools.cached_property
  def evaluator(self) -> Evaluator:
    return Evaluator(model_predict(self.model), self.mesh, self.nets, replicas.axis(self.config))

  def evaluate(self, protocol: str | None = None) -> dict[str, list[dict[str, float]]]:
    """Evaluates the held-out splits (under `protocol`, for ImageNet) and appends the results to metrics.jsonl,
    marked with the data's dataset_dir where it is not the data trained on. Per split, one result per net."""
    trained, here = (os.path.abspath(c.dataset.dir) if c.dataset.get('dir') else ''
                     for c in (self.trained_config, self.config))
    writer = MetricsWriter(self.workdir, self.step, evaluation=True,
                           marks={'dataset_dir': here} if here != trained else {})
    try:
      return evaluate_splits(self.evaluator, self.variables, self.dataset, self.step, self.nets, writer, protocol)
    finally:
      writer.close()

  def close(self) -> None:
    self.dataset.close()


def evaluate_workdir(workdir: str, overrides=(), protocol: str | None = None, configs=None) -> dict:
  """Evaluates the newest checkpoint of workdir (its config.json with `overrides`, or `configs` as TrainedWorkdir
  takes them; under `protocol`, for ImageNet) and appends the results to its metrics.jsonl. Per split, the results
  of its net, or the list of its replicas'."""
  trained = TrainedWorkdir(workdir, overrides, configs=configs)
  try:
    return {split: replicas.one_or_all(per_net) for split, per_net in trained.evaluate(protocol).items()}
  finally:
    trained.close()
