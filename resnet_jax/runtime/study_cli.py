"""The command line of the studies of trained workdirs (experiments/layer_responses.py, layer_deletion.py): the
workdirs, what a read may set of their configs (--set), the replica to study, where the results go."""

import contextlib

from absl import flags

from resnet_jax import workdir
from resnet_jax.errors import ConfigError
from resnet_jax.models import model_name
from resnet_jax.runtime import cli, config_flags
from resnet_jax.runtime.console import say
from resnet_jax.trained import TrainedNet

flags.DEFINE_list('workdirs', None, 'Trained workdirs to study.')
flags.register_validator(
    'workdirs',
    lambda workdirs: workdirs is None or (bool(workdirs) and all(workdirs)),
    message='--workdirs names no workdir, or an empty one: give one or more, separated by commas.',
)
flags.DEFINE_integer(
    'replica',
    None,
    'Of a workdir of several replicas (config.num_replicas): the net to study; default 0.',
    lower_bound=0,
)
flags.DEFINE_integer('seed', 0, "Seed of the study's random draws (blocks, swaps, routes, orders).", lower_bound=0)
FLAGS = flags.FLAGS
cli.share('workdirs', 'replica', 'seed')
USES = ('set', 'out', 'workdirs', 'replica')
DIALECT = cli.reading(cli.set_dialect, workdir.READ_OVERRIDABLE)


def out(default: str = 'workdirs/report') -> str:
  """--out (by default `default`), checked writable: where the tables, CSVs, figures and record go."""
  return cli.out_folder(default)


def workdirs() -> list[str]:
  """--workdirs, which every study needs."""
  if FLAGS.workdirs is None:
    raise ConfigError('--workdirs is needed: name the trained workdirs to study, separated by commas.')
  return FLAGS.workdirs


def overrides() -> list[str]:
  """--set's KEY=VALUE, their paths made absolute."""
  return config_flags.absolute_paths(FLAGS.set)


def trained_nets():
  """Each --workdirs net as a TrainedNet (its config.json read once), opened in turn and closed after its study;
  two workdirs of one network are refused before any is opened (the tables name nets by network)."""
  paths, settings, held, read = workdirs(), overrides(), {}, {}
  for path in paths:
    read[path] = workdir.read_configs(path, settings)
    name = model_name(read[path][1].model)
    if name in held:
      raise ConfigError(
          f'--workdirs names {held[name]} and {path}, both of {name}: the tables name nets by '
          'network, so study them one at a time, each with its own --out.'
      )
    held[name] = path
  for path in paths:
    with contextlib.closing(TrainedNet(path, settings, FLAGS.replica or 0, configs=read[path])) as trained:
      say(f'Studying {trained.name} at step {trained.step} of {path}, compute dtype {trained.config.model.dtype}.')
      yield trained
