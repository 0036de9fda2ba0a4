"""The one entry point: python launch.py --config=configs/cifar10.py:resnet56 --workdir=DIR [--config.KEY=VALUE].

Modes: summary (the network's parameters and multiply-adds, ending in one JSON line).
"""
import json
import sys

from absl import app, flags
from ml_collections import config_flags

from resnet_jax.errors import ConfigError

config_flags.DEFINE_config_file('config', None, 'A config file and variant: configs/DATASET.py:NETWORK.',
                                lock_config=True)
flags.DEFINE_enum('mode', 'summary', ['summary'], 'What to do with the network the config names.')
flags.DEFINE_string('workdir', None, 'Directory for checkpoints, metrics and the saved config.')
flags.mark_flags_as_required(['config'])
FLAGS = flags.FLAGS


def summary(config) -> None:
  from resnet_jax.summary import summarize
  overview, facts = summarize(config)
  print(overview)
  print(json.dumps(facts))


def main(argv) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  try:
    {'summary': summary}[FLAGS.mode](FLAGS.config)
  except ConfigError as e:
    print(f'error: {e}', file=sys.stderr)
    sys.exit(2)


if __name__ == '__main__':
  app.run(main)
