"""A trained workdir, opened read-only, for evaluation, the studies and the report: its config (config.json, read once,
with what a read may set: where the data is, how to evaluate), model, newest variables and step, data, and the
error of one of its nets under any block modes, block order or split. Nothing of training is built (no optimizer,
schedule or training state) and nothing in the workdir changes but the rows evaluate() appends to metrics.jsonl."""

import copy
import dataclasses
import functools
import os

import numpy as np

from configs import schema
from resnet_jax import bn_stats, checkpoint, compute, parallel, replicas, workdir as workdirs
from resnet_jax.data import create_dataset
from resnet_jax.errors import Argument, ConfigError
from resnet_jax.evaluation import Evaluator, evaluate_splits, model_predict
from resnet_jax.models import abstract_variables, create_model, model_name, reorder_stage
from resnet_jax.models.blocks import is_residual
from resnet_jax.models.depths import Architecture
from resnet_jax.progress import Progress
from resnet_jax.writers import MetricsWriter


@dataclasses.dataclass(frozen=True)
class BlockInfo:
  index: int  # In network order.
  stage: int  # 0-based.
  position: int  # Within its stage; the stage's scanned blocks follow its transition block, if any.
  changes_shape: bool  # A transition block: it downsamples or widens, so its shortcut is not the identity.
  deletable: bool  # Deleting it leaves a network: any residual block; a plain block only where shapes allow.

  @property
  def label(self) -> str:
    return f'{self.stage + 1}.{self.position + 1}'


def describe_blocks(arch: Architecture, shortcut: str) -> list[BlockInfo]:
  blocks = []
  for stage, (size, offset) in enumerate(zip(arch.stage_sizes, arch.stage_offsets())):
    for position in range(size):
      changes_shape = arch.changes_shape(stage, position)
      blocks.append(
          BlockInfo(offset + position, stage, position, changes_shape, is_residual(shortcut) or not changes_shape)
      )
  return blocks


@dataclasses.dataclass(frozen=True)
class Restored:
  """A workdir's newest checkpoint, read: every net's variables, its step, which BN statistics they hold, and when
  orbax committed it (what tells it from another checkpoint saved under the same step)."""

  variables: dict
  step: int
  bn_stats: str
  committed: int


def restore_nets(workdir: str, config, mesh, precise_bn: bool = True) -> Restored:
  """The newest checkpoint of `workdir`, trained with `config`, read-only and replicated over `mesh`; with the
  precise BN statistics kept for that checkpoint, where there are and `precise_bn` (bn_stats.py)."""
  shapes = replicas.stacked_shapes(
      abstract_variables(create_model(config), config.dataset.image_size), replicas.count(config)
  )
  network, sharding = model_name(config.model), parallel.replicated(mesh)
  checkpoints = checkpoint.Checkpoints(workdir, network, read_only=True)
  try:
    variables, step = checkpoints.restore_variables(shapes, sharding)
    committed = checkpoints.committed(step)
  finally:
    checkpoints.close()
  if not precise_bn:
    return Restored(variables, step, bn_stats.RUNNING, committed)
  precise, statistics = bn_stats.read(workdir, network, step, committed, shapes['batch_stats'], sharding)
  return Restored(variables if precise is None else {**variables, 'batch_stats': precise}, step, statistics, committed)


class TrainedNet:
  """Net `replica` of a workdir's newest checkpoint (of a workdir of several seeds, config.num_replicas; replica k
  has seed config.seed + k), its data, and its error on the held-out split (CIFAR-10's test set, ImageNet's val
  under eval.protocol).

  `overrides` ('KEY=VALUE' of workdir.READ_OVERRIDABLE) say where the data is on this machine and how to evaluate;
  `configs`, workdir.read_configs(workdir, overrides) where the caller has read them. Its BN statistics
  (`bn_stats`, which they are) are the precise ones kept for the checkpoint where there are and `precise_bn`, else
  the running averages.
  """

  def __init__(self, workdir: str, overrides=(), replica: int = 0, mesh=None, configs=None, precise_bn: bool = True):
    self.workdir = workdir
    self.trained_config, self.config = configs or workdirs.read_configs(workdir, overrides)
    self.mesh = mesh or parallel.make_mesh()
    self.model = create_model(self.config)  # A depth of no network is the first mistake to name.
    schema.check(self.config, self.mesh.devices.size)
    self.nets = replicas.count(self.config)
    if not 0 <= replica < self.nets:
      raise ConfigError(
          f'{workdir} holds {self.nets} replica{replicas.of_several(self.nets, "s")}: choose ',
          Argument('replica'),
          f' from 0 to {self.nets - 1}.',
      )
    checkpoint.require(workdir)
    self.dataset = create_dataset(self.config, self.mesh)
    try:
      restored = restore_nets(workdir, self.config, self.mesh, precise_bn)
    except BaseException:
      self.dataset.close()
      raise
    self.all_variables, self.step, self.bn_stats = restored.variables, restored.step, restored.bn_stats
    self.committed = restored.committed
    self.compute = compute.of(self.config)
    self.residual = is_residual(self.config.model.shortcut)
    self.blocks = describe_blocks(self.model.arch, self.config.model.shortcut)
    held_out = 'test' if self.config.dataset.name == 'cifar10' else 'val'
    self.split = next(s for s in self.dataset.eval_splits() if s.name == held_out)
    self._choose(replica)

  def _choose(self, replica: int) -> None:
    self.replica, self.seed = replica, self.config.seed + replica
    self.name = model_name(self.config.model) + replicas.of_several(self.nets, f'-replica{replica}')
    self.variables = replicas.of_net(self.all_variables, replica, self.nets)

  def of_replica(self, replica: int) -> 'TrainedNet':
    """Net `replica` of this workdir, sharing this one's checkpoint, data and compiled evaluation (close either)."""
    other = copy.copy(self)
    other._choose(replica)
    return other

  @functools.cached_property
  def evaluator(self) -> Evaluator:
    """The evaluator of one net (the one chosen), compiled on first use."""
    return Evaluator(model_predict(self.model), self.mesh, 1, self.compute)

  @functools.cached_property
  def all_nets(self) -> Evaluator:
    """The evaluator of every net of the workdir in one program, compiled on first use."""
    return Evaluator(model_predict(self.model), self.mesh, self.nets, self.compute)

  def scores(self) -> np.ndarray | None:
    """Per net of the workdir, each held-out image's log mean softmax score over its views: Evaluator.scores."""
    return self.all_nets.scores(self.all_variables, self.split)

  def error(self, block_modes=None, variables=None, split=None) -> dict[str, float]:
    """Loss, top-1 and top-5 error (%) of the net with `block_modes` (one BlockMode per block) and `variables`
    (by default the trained ones), on `split` (an EvalSplit; by default the held-out split)."""
    return self.evaluator(self.variables if variables is None else variables, split or self.split, block_modes)[0]

  @property
  def other_data(self) -> str:
    """The data's dataset.dir (absolute) where it is not the data the net was trained on (by real path); '' where
    it is."""
    trained, here = (c.dataset.dir if c.dataset.get('dir') else '' for c in (self.trained_config, self.config))
    return os.path.abspath(here) if os.path.realpath(here) != os.path.realpath(trained) else ''

  def evaluate(self, protocol: str | None = None) -> dict[str, list[dict[str, float]]]:
    """Evaluates every net on the held-out splits (under `protocol`, for ImageNet) and appends the results to
    metrics.jsonl, marked with the data's dataset_dir where it is not the data trained on. Per split, one result
    per net."""
    marks = {'dataset_dir': self.other_data} if self.other_data else {}
    if self.bn_stats != bn_stats.RUNNING:
      marks['bn_stats'] = self.bn_stats
    writer = MetricsWriter(self.workdir, self.step, evaluation=True, marks=marks)
    try:
      return evaluate_splits(self.all_nets, self.all_variables, self.dataset, self.step, writer, protocol)
    finally:
      writer.close()

  @functools.cached_property
  def _batch_statistics(self):
    return bn_stats.batch_statistics(self.model, self.dataset.batch, self.compute)

  def precise_bn(self, batches: int, block_modes=None, variables=None, progress=None) -> dict:
    """The net's `variables` (by default the ones read) with BN statistics recomputed over its first `batches`
    training batches, the net run with `block_modes` (bn_stats.py); `progress` counts the batches."""
    if block_modes is not None:
      block_modes = parallel.replicate(np.asarray(block_modes, np.int32), self.mesh)
    variables = self.variables if variables is None else variables
    stream, _ = self.training_batches()
    return bn_stats.recompute(self._batch_statistics, variables, stream, self.seed, batches, block_modes, progress)

  def training_batches(self):
    """(step inputs, make_batch(inputs, step)) of this net's training stream, from step 0: what its own training
    drew."""
    stream = (
        replicas.inputs_of_net(inputs, self.replica, self.dataset.inputs_per_replica)
        for inputs in self.dataset.stream(0)
    )
    return stream, lambda inputs, step: self.dataset.batch(inputs, step, self.seed)

  def reordered(self, order) -> dict:
    """The variables with block i computed by block order[i], where `order` permutes blocks of the same shape only
    (the scanned blocks of each stage among themselves)."""
    order = np.asarray(order)
    variables, arch = self.variables, self.model.arch
    for stage, (size, offset) in enumerate(zip(arch.stage_sizes, arch.stage_offsets())):
      first = offset + int(arch.has_transition(stage))
      local = order[first : offset + size] - first
      if sorted(local) != list(range(len(local))):
        raise ValueError(f"order {order.tolist()} moves a block out of stage {stage + 1}'s same-shape blocks.")
      if np.any(local != np.arange(len(local))):
        variables = reorder_stage(variables, f'stage{stage + 1}', local)
    return variables

  def close(self) -> None:
    self.dataset.close()


def evaluate_workdir(workdir: str, overrides=(), protocol: str | None = None, configs=None) -> dict:
  """Evaluates the newest checkpoint of workdir (its config.json with `overrides`, or `configs` as TrainedNet takes
  them; under `protocol`, for ImageNet) and appends the results to its metrics.jsonl. Per split, the results of
  its net, or the list of its replicas'; under 'bn_stats', which BN statistics they used."""
  trained = TrainedNet(workdir, overrides, configs=configs)
  try:
    results = {split: replicas.one_or_all(per_net) for split, per_net in trained.evaluate(protocol).items()}
    return {**results, 'bn_stats': trained.bn_stats}
  finally:
    trained.close()


def precise_bn_workdir(workdir: str, overrides=(), configs=None) -> dict:
  """Recomputes the BN statistics of every net of workdir's newest checkpoint over config.bn_stats_batches of its
  training batches and keeps them in its bn_stats/ folder (bn_stats.py). Returns the step, which statistics were
  computed, and under the held-out split's name the error of its net (or the list of its replicas') with the
  running averages ('running') and with the precise statistics ('precise')."""
  bn_stats.check_writable(workdir)
  trained = TrainedNet(workdir, overrides, configs=configs, precise_bn=False)
  try:
    batches, network = trained.config.bn_stats_batches, model_name(trained.config.model)
    progress = Progress(f'{network}: precise BN statistics', batches * trained.nets)
    per_net = [trained.of_replica(k).precise_bn(batches, progress=progress)['batch_stats'] for k in range(trained.nets)]
    precise = {**trained.all_variables, 'batch_stats': replicas.stack(per_net)}
    metadata = {'batches': batches, 'images': batches * trained.config.batch_size, 'data': trained.other_data}
    bn_stats.write(workdir, network, trained.step, trained.committed, precise['batch_stats'], metadata)
    return {
        'step': trained.step,
        'bn_stats': bn_stats.describe(metadata),
        trained.split.name: {
            statistics: replicas.one_or_all(trained.all_nets(variables, trained.split))
            for statistics, variables in (('running', trained.all_variables), ('precise', precise))
        },
    }
  finally:
    trained.close()
