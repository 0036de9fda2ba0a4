"""A trained network to study: a workdir's config and newest checkpoint, its blocks, and its held-out error under
any block modes or block order. Modes are an input of the compiled evaluation and an order is a gather of the
stacked parameters, so neither recompiles."""
import copy
import dataclasses

import numpy as np

from resnet_jax import replicas
from resnet_jax.errors import ConfigError
from resnet_jax.evaluation import Evaluator, model_predict
from resnet_jax.models import model_name, reorder_stage
from resnet_jax.models.blocks import is_residual
from resnet_jax.models.depths import Architecture
from resnet_jax.runtime.console import say
from resnet_jax.trained import TrainedWorkdir


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
      blocks.append(BlockInfo(offset + position, stage, position, changes_shape,
                              is_residual(shortcut) or not changes_shape))
  return blocks


class TrainedNet:
  """A net of a workdir's newest checkpoint (trained.TrainedWorkdir), and its error on the held-out split
  (CIFAR-10's test set, ImageNet's val under eval.protocol).

  `overrides` ('KEY=VALUE') adjust the saved config, e.g. where the data is on this machine. Of a workdir of
  several replicas (config.num_replicas), `replica` chooses the net (0 by default).
  """

  def __init__(self, workdir: str, overrides=(), mesh=None, replica: int | None = None):
    self.workdir = workdir
    self.opened = TrainedWorkdir(workdir, overrides, mesh)
    self.config, self.model, self.step = self.opened.config, self.opened.model, self.opened.step
    self.dataset, self.mesh, nets = self.opened.dataset, self.opened.mesh, self.opened.nets
    if replica is not None and not 0 <= replica < nets:
      self.close()
      raise ConfigError(f'{workdir} holds {nets} replica{replicas.of_several(nets, "s")}: choose --replica from 0 '
                        f'to {nets - 1}.')
    self.residual = is_residual(self.config.model.shortcut)
    self.blocks = describe_blocks(self.model.arch, self.config.model.shortcut)
    held_out = 'test' if self.config.dataset.name == 'cifar10' else 'val'
    self.split = next(s for s in self.dataset.eval_splits() if s.name == held_out)
    self.evaluator = Evaluator(model_predict(self.model), self.mesh)  # Of one net: the one chosen.
    self._choose(replica or 0)
    say(f'Studying {self.name} at step {self.step} of {workdir}, compute dtype {self.config.model.dtype}.')

  def _choose(self, replica: int) -> None:
    self.replica, self.seed = replica, self.config.seed + replica
    nets = self.opened.nets
    self.name = model_name(self.config.model) + replicas.of_several(nets, f'-replica{replica}')
    self._variables = replicas.of_net(self.opened.variables, replica, nets)

  def of_replica(self, replica: int) -> 'TrainedNet':
    """Net `replica` of this workdir, sharing this one's checkpoint, data and compiled evaluation (close either)."""
    other = copy.copy(self)
    other._choose(replica)
    return other

  @property
  def variables(self):
    return self._variables

  def error(self, block_modes=None, variables=None, split=None) -> dict[str, float]:
    """Loss, top-1 and top-5 error (%) of the net with `block_modes` (one BlockMode per block) and `variables`
    (by default the trained ones), on `split` (an EvalSplit; by default the held-out split)."""
    return self.evaluator(self.variables if variables is None else variables, split or self.split, block_modes)[0]

  def training_batches(self):
    """(step inputs, make_batch(inputs, step)) of this net's training stream, from step 0: what its own training
    drew."""
    stream = (replicas.inputs_of_net(inputs, self.replica, self.dataset.inputs_per_replica)
              for inputs in self.dataset.stream(0))
    return stream, lambda inputs, step: self.dataset.batch(inputs, step, self.seed)

  def reordered(self, order) -> dict:
    """The variables with block i computed by block order[i], where `order` permutes blocks of the same shape only
    (the scanned blocks of each stage among themselves)."""
    order = np.asarray(order)
    variables = self.variables
    for stage, (size, offset) in enumerate(zip(self.model.arch.stage_sizes, self.model.arch.stage_offsets())):
      first = offset + int(self.model.arch.has_transition(stage))
      local = order[first:offset + size] - first
      if sorted(local) != list(range(len(local))):
        raise ValueError(f'order {order.tolist()} moves a block out of stage {stage + 1}\'s same-shape blocks.')
      if np.any(local != np.arange(len(local))):
        variables = reorder_stage(variables, f'stage{stage + 1}', local)
    return variables

  def close(self) -> None:
    self.opened.close()
