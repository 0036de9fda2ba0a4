"""The one entry point: python launch.py --config=configs/cifar10.py:resnet56 --workdir=DIR [--config.KEY=VALUE].

Modes: train (the default: trains and evaluates, resuming from DIR's newest checkpoint), eval (evaluates DIR's
newest checkpoint; for ImageNet under --config.eval.protocol), summary (the network's parameters and
multiply-adds, ending in one JSON line), config (prints the resolved config, overrides applied, and exits);
summary and config of --workdir=DIR alone read DIR's config.json.

Progress and results go to stdout; the libraries' logs to DIR/train.log (--alsologtostderr: on stderr too).
"""
import json
import os
import sys

from absl import flags
from ml_collections import config_flags

from resnet_jax.errors import ConfigError, WriteError
from resnet_jax.runtime import cli

config_flags.DEFINE_config_file('config', None, 'A config file and variant: configs/DATASET.py:NETWORK (eval: '
                                'optional, the workdir\'s config.json is read).',
                                lock_config=True)
flags.DEFINE_enum('mode', 'train', ['train', 'eval', 'summary', 'config'],
                  'train, eval (the newest checkpoint), summary (parameters, multiply-adds) or config (print it).')
flags.DEFINE_string('workdir', None, 'Directory for checkpoints, metrics and the saved config (train).')
flags.DEFINE_bool('multihost', False, 'Call jax.distributed.initialize() (automatic on SLURM and Cloud TPU).')
flags.DEFINE_string('coordinator_address', None, 'host:port of process 0, for a hand-made multi-process run.')
flags.DEFINE_integer('num_processes', None, 'Number of processes, with --coordinator_address.')
flags.DEFINE_integer('process_id', None, 'This process, 0..num_processes-1, with --coordinator_address.')
FLAGS = flags.FLAGS


def summary(config) -> None:
  from resnet_jax.tools.summary import summarize
  overview, facts = summarize(config)
  print(overview)
  print(json.dumps(facts))


def show_config(config) -> None:
  """The config as JSON, and under "derived" what the run computes from it (not config fields)."""
  from resnet_jax import optim
  from resnet_jax.models import create_model, model_name
  from resnet_jax.runtime import auto
  create_model(auto.resolve(config))  # Refuses bad model settings.
  derived = {'network': model_name(config.model), 'steps_per_epoch': optim.steps_per_epoch(config),
             'warmup_steps': optim.warmup_steps(config)}
  print(json.dumps({**json.loads(config.to_json()), 'derived': derived}, indent=2))


def train(config) -> None:
  from resnet_jax import train as training
  from resnet_jax.runtime.config_io import with_absolute_paths
  with_absolute_paths(config)  # config.json names the data wherever the workdir is read from.
  _initialize(config)
  try:
    training.train_and_evaluate(config, FLAGS.workdir)
  except (training.NonFiniteLossError, WriteError) as e:
    print(f'error: {e}', file=sys.stderr, flush=True)
    os._exit(1)  # Not sys.exit: the failed save's background threads would print their own tracebacks at exit.
  except KeyboardInterrupt as e:
    print(f'error: Stopped at once by {cli.interruption(e)}, saving nothing (once training has begun, a single '
          'Ctrl-C saves); run the same command to resume from the newest checkpoint, if any.', file=sys.stderr,
          flush=True)
    os._exit(130 if cli.interruption(e) == 'Ctrl-C' else 143)


def evaluate(config) -> None:
  """The workdir's newest checkpoint, under the workdir's own config.json; the command line may set only where
  the data is and how to evaluate (config_io.READ_OVERRIDABLE)."""
  from resnet_jax.limits import validate
  from resnet_jax.models import model_name
  from resnet_jax.runtime import config_io
  from resnet_jax.trained import evaluate_workdir
  _require_workdir()
  cli.set_keys_with(cli.reading_workdir(cli.config_flag))
  overrides = command_line_overrides()
  configs = config_io.workdir_configs(FLAGS.workdir, overrides)  # (as trained, as read): its one read.
  saved = configs[1]
  if config is not None and model_settings(config) != model_settings(saved):
    raise ConfigError(f'{FLAGS.workdir} was trained as {model_name(saved.model)}, not {model_name(config.model)}: '
                      'drop --config (the workdir\'s config.json is read) or name that network.')
  validate(saved)  # Before JAX starts: a bad saved value is the first thing said.
  _initialize(saved)
  protocol = saved.eval.protocol if 'eval' in saved else None
  print(json.dumps(evaluate_workdir(FLAGS.workdir, overrides, protocol, configs)))


def model_settings(config) -> dict:
  """The model fields of config that decide what is trained (checkpoint.what_trains), flat."""
  from resnet_jax.checkpoint import what_trains
  return {k: v for k, v in what_trains(json.loads(config.to_json())).items() if k.startswith('model.')}


def command_line_overrides() -> tuple[str, ...]:
  """The --config.KEY=VALUE arguments, as KEY=VALUE, their paths absolute (config_io.absolute_paths)."""
  from resnet_jax.runtime.config_io import absolute_paths
  return absolute_paths(arg.removeprefix('--config.') for arg in sys.argv[1:] if arg.startswith('--config.'))


def _require_workdir() -> None:
  if not FLAGS.workdir:
    raise ConfigError(f'--mode={FLAGS.mode} needs --workdir=DIR (checkpoints, metrics and TensorBoard events).')


def _initialize(config) -> None:
  """Starts JAX (on every process of a multi-host run) and says what the run of `config` runs on."""
  _require_workdir()
  from resnet_jax import parallel
  from resnet_jax.runtime import environment
  parallel.initialize(FLAGS.multihost, FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)
  environment.announce(config.model.dtype)


def main() -> None:
  if FLAGS.config is None and FLAGS.mode in ('summary', 'config') and FLAGS.workdir:  # A trained run's own.
    from resnet_jax.runtime.config_io import workdir_config
    FLAGS.config = workdir_config(FLAGS.workdir)
  if FLAGS.config is None and FLAGS.mode != 'eval':
    raise ConfigError(f'--mode={FLAGS.mode} needs --config=configs/DATASET.py:NETWORK, e.g. '
                      '--config=configs/cifar10.py:resnet20.')
  if FLAGS.mode != 'eval':  # Eval checks the workdir's own config.
    from resnet_jax.limits import validate
    validate(FLAGS.config)  # Every mode refuses what training would; training checks the batch's split later.
  {'summary': summary, 'train': train, 'eval': evaluate, 'config': show_config}[FLAGS.mode](FLAGS.config)


if __name__ == '__main__':
  cli.run(main)
