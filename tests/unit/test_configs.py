"""Configs and names: every named variant builds and summarizes, the papers' defaults, bad names refused."""

import re
import subprocess
import sys

import pytest

from resnet_jax.errors import ConfigError
from resnet_jax.models import create_model, model_name, summary
from tests.helpers import ROOT, get_config

CIFAR = [f'resnet{d}' for d in (20, 32, 44, 56, 110, 1202)] + [f'plain{d}' for d in (20, 32, 44, 56, 110)]
IMAGENET = [f'resnet{d}' for d in (18, 34, 50, 101, 152)] + ['plain18', 'plain34']


@pytest.mark.parametrize(
    'name',
    [f'cifar10:{v}' for v in CIFAR]
    + [f'imagenet:{v}' for v in IMAGENET]
    + ['cifar10:resnet56-B', 'cifar10:resnet20-C', 'imagenet:resnet34-A', 'imagenet:resnet34-C'],
)
def test_every_named_variant_summarizes(name):
  facts = summary(get_config(name))
  variant = name.split(':')[1]
  default = 'A' if name.startswith('cifar10') else 'B'
  assert facts['name'] == (variant if variant.startswith('plain') or '-' in variant else f'{variant}-{default}')
  assert facts['params'] > 0 and facts['macs'] > 0


def test_defaults_follow_the_paper():
  assert get_config('cifar10:resnet56').model.shortcut == 'A'
  assert get_config('imagenet:resnet34').model.shortcut == 'B'
  assert get_config('imagenet:plain34').model.shortcut == 'none'
  assert get_config('imagenet:resnet50').model.bottleneck_stride == '1x1'


def test_name_follows_overrides():
  config = get_config('imagenet:resnet50', depth=101, bottleneck_stride='3x3', preact=True)
  assert model_name(config.model) == 'preact-resnet101-B-v1.5'


@pytest.mark.parametrize(
    'name,message',
    [
        ('cifar10:resnet57', '6n+2'),
        ('cifar10:resnet20-D', 'shortcut'),
        ('cifar10:plain20-A', 'no shortcut'),
        ('cifar10:vgg16', 'Unknown network'),
        ('imagenet:resnet42', 'depth'),
    ],
)
def test_bad_names_are_config_errors(name, message):
  """The configs refuse names they cannot parse, the table of depths those it lacks, as the model is built."""
  with pytest.raises(ConfigError, match=re.escape(message)):
    create_model(get_config(name))


def test_a_depth_of_no_network_names_its_setting():
  with pytest.raises(ConfigError) as raised:
    create_model(get_config('cifar10:resnet20', depth=21))
  assert str(raised.value) == (
      'CIFAR ResNets have depth 6n+2 (20, 32, 44, 56, 110, 1202, ...), not 21: set model.depth to one of them.'
  )


def test_models_import_no_tensorflow():
  code = 'import sys, resnet_jax.models, configs.cifar10; print("tensorflow" in sys.modules)'
  result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True)
  assert result.stdout.strip() == 'False', result.stderr
