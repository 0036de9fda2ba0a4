"""The one entry point: python launch.py --config=configs/cifar10.py:resnet56 --workdir=DIR [--config.KEY=VALUE].

Modes: train (the default: trains and evaluates, resuming from DIR's newest checkpoint), eval (evaluates DIR's
newest checkpoint; for ImageNet under --config.eval.protocol), summary (the network's parameters and
multiply-adds, ending in one JSON line), config (prints the resolved config, overrides applied, and exits).

Progress and results go to stdout; the libraries' logs to DIR/train.log (--alsologtostderr: on stderr too).
"""
import json
import sys

from absl import flags, logging
from ml_collections import config_flags

from resnet_jax import cli
from resnet_jax.errors import ConfigError

config_flags.DEFINE_config_file('config', None, 'A config file and variant: configs/DATASET.py:NETWORK.',
                                lock_config=True)
flags.DEFINE_enum('mode', 'train', ['train', 'eval', 'summary', 'config'],
                  'train, eval (the newest checkpoint), summary (parameters, multiply-adds) or config (print it).')
flags.DEFINE_string('workdir', None, 'Directory for checkpoints, metrics and the saved config (train).')
flags.DEFINE_bool('multihost', False, 'Call jax.distributed.initialize() (automatic on SLURM and Cloud TPU).')
flags.DEFINE_string('coordinator_address', None, 'host:port of process 0, for a hand-made multi-process run.')
flags.DEFINE_integer('num_processes', None, 'Number of processes, with --coordinator_address.')
flags.DEFINE_integer('process_id', None, 'This process, 0..num_processes-1, with --coordinator_address.')
flags.mark_flags_as_required(['config'])
FLAGS = flags.FLAGS


def summary(config) -> None:
  from resnet_jax.summary import summarize
  overview, facts = summarize(config)
  print(overview)
  print(json.dumps(facts))


def show_config(config) -> None:
  print(config.to_json(indent=2))


def train(config) -> None:
  from resnet_jax import train as training
  _initialize()
  try:
    training.train_and_evaluate(config, FLAGS.workdir)
  except training.NonFiniteLossError as e:
    logging.error('%s', e)
    print(f'error: {e}', file=sys.stderr)
    sys.exit(1)


def evaluate(config) -> None:
  from resnet_jax import train as training
  _initialize()
  protocol = config.eval.protocol if 'eval' in config else None
  print(json.dumps(training.evaluate_workdir(config, FLAGS.workdir, protocol)))


def _initialize() -> None:
  if not FLAGS.workdir:
    raise ConfigError(f'--mode={FLAGS.mode} needs --workdir=DIR (checkpoints, metrics and TensorBoard events).')
  from resnet_jax import parallel, runtime
  parallel.initialize(FLAGS.multihost, FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)
  runtime.announce(FLAGS.config.model.dtype)


def main() -> None:
  {'summary': summary, 'train': train, 'eval': evaluate, 'config': show_config}[FLAGS.mode](FLAGS.config)


if __name__ == '__main__':
  cli.run(main)
