"""A config file with a bug of its own (tests/cli/test_bad_input.py): its error is named with its line."""

from configs import cifar10


def get_config():
  return cifar10.get_config(f'resnet{int("twenty")}')
