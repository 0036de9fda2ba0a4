"""ml_collections configs: one file per dataset, the network chosen after the colon (configs/cifar10.py:resnet56),
and the schema they are checked against (schema.py)."""

import importlib
import os

import ml_collections

from configs.common import ConfigError

FILES = {'cifar10': 'cifar10', 'imagenet2012': 'imagenet'}  # dataset.name -> its config file.


def path(file: str) -> str:
  """The path of a config file: configs/cifar10.py, configs/imagenet.py."""
  return os.path.join(os.path.dirname(__file__), f'{file}.py')


def named(file: str, variant: str = '') -> ml_collections.ConfigDict:
  """The config of a config file and a variant, as --config=configs/FILE.py:VARIANT gives it ('': its default)."""
  if file not in FILES.values():
    raise ConfigError(f'There is no config file of {file!r}: use one of {", ".join(FILES.values())}.')
  module = importlib.import_module(f'configs.{file}')
  return module.get_config(variant) if variant else module.get_config()
