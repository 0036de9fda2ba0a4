"""Starting a run from a trained net (config.init_from), as He et al. 2015 start detection from their ImageNet nets:
every parameter and BN statistic of the source whose path and shape match the new net's is loaded; a classifier of
another class count starts anew, as does anything the source lacks; the step and the optimizer start from zero.
The source (a workdir of this codebase, or one experiments/convert_torchvision.py wrote) is only read.

A plan is made from the shapes alone, before anything is built or written, so that every mistake in the source is
found first; the variables are read when the run starts, and never again: a resumed run continues from its own.
"""

import dataclasses

import jax
import jax.numpy as jnp
from flax import traverse_util

from configs.common import value_text
from resnet_jax import checkpoint, parallel, replicas, workdir as workdirs
from resnet_jax.errors import ConfigError, Setting
from resnet_jax.models import abstract_variables, create_model, model_name
from resnet_jax.trained import restore_nets

HEAD = 'fc'  # The classifier, which may have another class count than the source's.
# The model fields that decide the layers' shapes: what a source of another network differs in.
ARCHITECTURE = ('family', 'depth', 'shortcut', 'width_multiplier', 'bottleneck_stride', 'preact')


@dataclasses.dataclass(frozen=True)
class Plan:
  source: str  # The workdir.
  network: str  # The source's network, as model_name gives it.
  replica: int
  config: object  # The source's config.json, as trained.
  loaded: tuple[tuple[str, ...], ...]  # Variable paths ('params', 'stage1', ...) taken from the source.
  fresh: tuple[tuple[str, ...], ...]  # Those that start anew.

  def summary(self, step: int, statistics: str) -> str:
    fresh = ', '.join('.'.join(path[1:]) for path in self.fresh[:4]) + (', ...' if len(self.fresh) > 4 else '')
    return (
        f'Started from {self.source} ({self.network}, step {step:,}'
        + replicas.of_several(replicas.count(self.config), f', replica {self.replica}')
        + f'): {len(self.loaded)} of {len(self.loaded) + len(self.fresh)} tensors loaded'
        + (f'; initialised anew: {fresh}' if self.fresh else '')
        + f'; BN statistics: {statistics}.'
    )


def _shapes(variables) -> dict:
  return {path: leaf.shape for path, leaf in traverse_util.flatten_dict(variables).items()}


def plan(config) -> Plan | None:
  """How config.init_from starts config's net (None where it is ''), from shapes alone; refuses a source that
  cannot: not a trained workdir, a replica it lacks, or another network (a layer of another shape than the
  classifier: another depth, width or family; their layers share their names)."""
  source = config.init_from
  if not source:
    return None
  trained, _ = workdirs.read_configs(source)
  nets = replicas.count(trained)
  if not 0 <= config.init_replica < nets:
    held = 'one net' if nets == 1 else f'{nets} replicas'
    raise ConfigError(
        f'init_from={source} holds {held}: set ',
        Setting('init_replica', 0) if nets == 1 else Setting('init_replica'),
        '' if nets == 1 else f' from 0 to {nets - 1}',
        '.',
    )
  checkpoint.require(source)
  ours, theirs = (_shapes(abstract_variables(create_model(c), c.dataset.image_size)) for c in (config, trained))
  network, target = model_name(trained.model), model_name(config.model)
  loaded, fresh = [], []
  for path, shape in sorted(ours.items(), key=lambda item: item[0][0] != 'params'):  # Parameters first.
    if theirs.get(path) == shape:
      loaded.append(path)
    elif path not in theirs or path[1] == HEAD:
      fresh.append(path)
    else:
      differ = [
          f'model.{key}={value_text(trained.model[key])}'
          for key in ARCHITECTURE
          if trained.model.get(key) != config.model.get(key)
      ]
      raise ConfigError(
          f'init_from={source} holds {network} ({", ".join(differ) or "other layers"}), whose {"/".join(path)} is '
          f"{theirs[path]}, not the {shape} of this run's {target}: start from a workdir of the same network (its "
          'classifier may differ).'
      )
  return Plan(source, network, config.init_replica, trained, tuple(loaded), tuple(fresh))


def start(plan: Plan, state, nets: int, mesh):
  """(state, what was loaded: plan.summary): `state` (a new run's TrainState of `nets` nets, replicated over `mesh`)
  with the planned variables of the source's net, its precise BN statistics where it has them; every net of the run
  starts from it."""
  restored = restore_nets(plan.source, plan.config, mesh)
  saved = traverse_util.flatten_dict(replicas.of_net(restored.variables, plan.replica, replicas.count(plan.config)))
  ours = traverse_util.flatten_dict({'params': state.params, 'batch_stats': state.batch_stats})
  for path in plan.loaded:
    ours[path] = jnp.broadcast_to(saved[path], ours[path].shape) if nets > 1 else saved[path]
  variables = jax.device_put(traverse_util.unflatten_dict(ours), parallel.replicated(mesh))
  summary = plan.summary(restored.step, restored.bn_stats)
  return state.replace(params=variables['params'], batch_stats=variables['batch_stats']), summary
