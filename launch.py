"""The one entry point: python launch.py --config=configs/cifar10.py:resnet56 --workdir=DIR [--config.KEY=VALUE].

Modes: train (the default: trains and evaluates, resuming from DIR's newest checkpoint), eval (evaluates DIR's
newest checkpoint; for ImageNet under --config.eval.protocol), bn_stats (recomputes its BN statistics over
--config.bn_stats_batches training batches, kept for eval and the studies of that checkpoint), summary (the
network's parameters and multiply-adds, ending in one JSON line), config (prints the config, overrides applied,
and exits); summary and config of --workdir=DIR alone read DIR's config.json.

Progress and results go to stdout; the libraries' logs to DIR/train.log (--alsologtostderr: on stderr too).
"""

from resnet_jax.runtime import startup  # noqa: F401 -- first: a signal while the program starts is one line.

import json

import ml_collections
from absl import flags

from configs import schema
from resnet_jax.errors import Argument, ConfigError
from resnet_jax.runtime import cli, config_flags, environment

flags.DEFINE_enum(
    'mode',
    'train',
    ['train', 'eval', 'bn_stats', 'summary', 'config'],
    'train, eval (the newest checkpoint), bn_stats (its precise BN statistics), summary (parameters, multiply-adds) '
    'or config (print it).',
)
flags.DEFINE_bool('multihost', False, 'Call jax.distributed.initialize() (automatic on SLURM and Cloud TPU).')
flags.DEFINE_string('coordinator_address', None, 'host:port of process 0, for a hand-made multi-process run.')
flags.DEFINE_integer('num_processes', None, 'Number of processes, with --coordinator_address.', lower_bound=1)
flags.DEFINE_integer('process_id', None, 'This process, 0..num_processes-1, with --coordinator_address.', lower_bound=0)
FLAGS = flags.FLAGS


def main() -> None:
  if FLAGS.mode in ('eval', 'bn_stats'):
    read_workdir()
    return
  config = command_line_config()
  {'summary': summary, 'train': train, 'config': show_config}[FLAGS.mode](config)


def command_line_config() -> ml_collections.ConfigDict:
  """The config of --config and its --config.KEY flags, or, for summary and config, --workdir's config.json."""
  if FLAGS.config is None and FLAGS.mode in ('summary', 'config') and FLAGS.workdir and not cli.CONFIG_OVERRIDES:
    from resnet_jax.workdir import read_config

    return ml_collections.ConfigDict(read_config(FLAGS.workdir))
  if FLAGS.config is None and not cli.CONFIG_OVERRIDES:
    raise ConfigError(
        f'--mode={FLAGS.mode} needs ',
        Argument('config', 'configs/DATASET.py:NETWORK'),
        ', e.g. ',
        Argument('config', 'configs/cifar10.py:resnet20'),
        '.',
    )
  return config_flags.load(FLAGS.config, cli.CONFIG_OVERRIDES)


def summary(config) -> None:
  """clu's parameter overview, then one JSON line: name, parameters, multiply-adds, image size."""
  from clu import parameter_overview

  from resnet_jax import models

  schema.check(config)
  variables = models.abstract_variables(models.create_model(config), config.dataset.image_size)
  print(parameter_overview.get_parameter_overview(variables['params'], include_stats=False))
  print(json.dumps(models.summary(config)))


def show_config(config) -> None:
  """The config as JSON, and under "derived" what the run computes from it (not config fields)."""
  from resnet_jax import models, optim

  schema.check(config)
  models.create_model(config)  # Refuses a depth of no network.
  derived = {
      'network': models.model_name(config.model),
      'steps_per_epoch': optim.steps_per_epoch(config),
      'warmup_steps': optim.warmup_steps(config),
  }
  print(json.dumps({**json.loads(config.to_json()), 'derived': derived}, indent=2))


def train(config) -> None:
  from resnet_jax.train import train_and_evaluate

  _start_jax(config.model.dtype)
  try:
    train_and_evaluate(config, FLAGS.workdir)
  except KeyboardInterrupt as e:  # A second Ctrl-C, or one before training began.
    raise type(e)(
        f'Stopped at once by {cli.interruption(e)}, saving nothing (once training has begun, a single '
        'Ctrl-C saves); run the same command to resume from the newest checkpoint, if any.'
    ) from None


def read_workdir() -> None:
  """eval or bn_stats of the workdir's newest checkpoint, under its own config.json; the command line may set only
  where the data is and how to evaluate (workdir.READ_OVERRIDABLE), with --config naming the network it was trained
  as. Ends in one JSON line: the errors, and which BN statistics gave them."""
  from resnet_jax import workdir
  from resnet_jax.models import model_name
  from resnet_jax.trained import evaluate_workdir, precise_bn_workdir

  cli.speak(cli.reading(cli.config_dialect, workdir.READ_OVERRIDABLE))
  _require_workdir()
  overrides = config_flags.absolute_paths(cli.CONFIG_OVERRIDES)
  configs = workdir.read_configs(FLAGS.workdir, overrides)  # (as trained, as read): its one read.
  if FLAGS.mode == 'eval' and (keys := [k for k in workdir.STREAM_ONLY for o in overrides if o.startswith(k + '=')]):
    raise ConfigError(
        f'--config.{keys[0]} is read by --mode=bn_stats alone (how it computes the precise BN statistics that '
        '--mode=eval uses; evaluation decodes with Pillow): drop it here.'
    )
  saved = configs[1]
  if FLAGS.config is not None:
    named = config_flags.load(FLAGS.config, ())
    if model_name(named.model) != model_name(saved.model):
      raise ConfigError(
          f'{FLAGS.workdir} was trained as {model_name(saved.model)}, not {model_name(named.model)}: drop ',
          Argument('config'),
          " (the workdir's config.json is read) or name that network.",
      )
  _start_jax(saved.model.dtype)
  if FLAGS.mode == 'bn_stats':
    try:
      print(json.dumps(precise_bn_workdir(FLAGS.workdir, overrides, configs)))
    except KeyboardInterrupt as e:
      raise type(e)(
          f'Stopped by {cli.interruption(e)}: {FLAGS.workdir} keeps the precise BN statistics it held, if any; run '
          'the same command to compute them.'
      ) from None
  else:
    protocol = saved.eval.protocol if 'eval' in saved else None
    print(json.dumps(evaluate_workdir(FLAGS.workdir, overrides, protocol, configs)))


def _require_workdir() -> None:
  if not FLAGS.workdir:
    raise ConfigError(
        f'--mode={FLAGS.mode} needs ', Argument('workdir', 'DIR'), ' (checkpoints, metrics and TensorBoard events).'
    )


def _start_jax(dtype: str) -> None:
  """Starts JAX (on every process of a multi-host run) and says what the run of compute dtype `dtype` runs on."""
  from resnet_jax import parallel

  _require_workdir()
  parallel.initialize(FLAGS.multihost, FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)
  environment.announce(dtype)


PROGRAM = cli.Program(main, uses=('config', 'workdir'), takes_config=True)

if __name__ == '__main__':
  PROGRAM.run()
