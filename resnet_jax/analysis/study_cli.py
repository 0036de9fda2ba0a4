"""The flags every study script shares: the trained workdirs, overrides of their configs, the replica to study."""
import contextlib

from absl import flags

from resnet_jax.analysis.study import TrainedNet
from resnet_jax.errors import ConfigError
from resnet_jax.models import model_name
from resnet_jax.runtime import cli
from resnet_jax.runtime.config_io import absolute_paths, saved_config, workdir_config

flags.DEFINE_list('workdirs', None, 'Trained workdirs to study.', required=True)
flags.register_validator('workdirs', lambda workdirs: workdirs is None or bool(workdirs),
                         message='--workdirs names no workdir: give one or more, separated by commas.')
flags.DEFINE_multi_string('set', [], 'Override of the saved configs, KEY=VALUE (e.g. dataset.dir=PATH).')
flags.DEFINE_integer('replica', None, 'Of a workdir of several replicas (config.num_replicas): the net to study; '
                     'default 0.', lower_bound=0)
FLAGS = flags.FLAGS
cli.set_keys_with(cli.reading_workdir(cli.set_flag))


def saved_configs(names_to_workdirs: dict) -> dict:
  """name -> the config.json its workdir was trained with (without this study's --set)."""
  return {name: saved_config(workdir) for name, workdir in names_to_workdirs.items()}


def trained_nets():
  """Each --workdirs net as a TrainedNet, opened in turn and closed after its study; two workdirs of one network are
  refused before any is opened (the tables name nets by network)."""
  held = {}
  for workdir in FLAGS.workdirs:
    name = model_name(workdir_config(workdir, absolute_paths(FLAGS.set)).model)
    if name in held:
      raise ConfigError(f'--workdirs names {held[name]} and {workdir}, both of {name}: the tables name nets by '
                        'network, so study them one at a time, each with its own --out.')
    held[name] = workdir
  for workdir in FLAGS.workdirs:
    with contextlib.closing(TrainedNet(workdir, absolute_paths(FLAGS.set), replica=FLAGS.replica)) as trained:
      yield trained
