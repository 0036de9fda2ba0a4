"""Configs, names, the summary mode of launch.py, and clear errors for bad input."""
import json
import os
import re
import subprocess
import sys

import pytest

import configs.common
from resnet_jax.errors import ConfigError
from resnet_jax.models import create_model, model_name
from resnet_jax.tools.summary import summarize
from tests.helpers import get_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CIFAR = [f'resnet{d}' for d in (20, 32, 44, 56, 110, 1202)] + [f'plain{d}' for d in (20, 32, 44, 56, 110)]
IMAGENET = [f'resnet{d}' for d in (18, 34, 50, 101, 152)] + ['plain18', 'plain34']


def launch(*args):
  env = {**os.environ, 'JAX_PLATFORMS': 'cpu'}
  return subprocess.run([sys.executable, 'launch.py', *args], cwd=ROOT, capture_output=True, text=True, env=env)


@pytest.mark.parametrize('name', [f'cifar10:{v}' for v in CIFAR] + [f'imagenet:{v}' for v in IMAGENET]
                         + ['cifar10:resnet56-B', 'cifar10:resnet20-C', 'imagenet:resnet34-A', 'imagenet:resnet34-C'])
def test_every_named_variant_summarizes(name):
  _, facts = summarize(get_config(name))
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


@pytest.mark.parametrize('name,message', [
    ('cifar10:resnet57', '6n+2'), ('cifar10:resnet20-D', 'shortcut'), ('cifar10:plain20-A', 'no shortcut'),
    ('cifar10:vgg16', 'Unknown network'), ('imagenet:resnet42', 'depth')])
def test_bad_names_are_config_errors(name, message):
  """The configs refuse names they cannot parse (configs.common.ConfigError), the model depths it lacks."""
  with pytest.raises((ConfigError, configs.common.ConfigError), match=re.escape(message)):
    create_model(get_config(name))


@pytest.mark.parametrize('overrides,message', [
    ({'shortcut': 'D'}, 'shortcut'), ({'bottleneck_stride': '2x2'}, 'bottleneck_stride'),
    ({'dtype': 'float16'}, 'dtype'), ({'family': 'mnist'}, 'family'), ({'depth': 21}, '6n+2')])
def test_bad_overrides_are_config_errors(overrides, message):
  with pytest.raises(ConfigError, match=re.escape(message)):
    create_model(get_config('cifar10:resnet20', **overrides))


def test_launch_summary_prints_resnet50_json_last():
  result = launch('--config=configs/imagenet.py:resnet50', '--mode=summary')
  assert result.returncode == 0, result.stderr
  facts = json.loads(result.stdout.strip().splitlines()[-1])
  assert facts == {'name': 'resnet50-B', 'params': 25_557_032, 'macs': facts['macs'], 'image_size': 224}
  assert 3.8e9 < facts['macs'] < 3.9e9
  assert 'stage4/blocks/conv3/kernel' in result.stdout  # clu's parameter overview.


def test_launch_overrides_and_bad_input():
  result = launch('--config=configs/cifar10.py:resnet20', '--mode=summary', '--config.model.depth=110')
  assert json.loads(result.stdout.strip().splitlines()[-1])['name'] == 'resnet110-A'
  result = launch('--config=configs/cifar10.py:resnet20', '--mode=summary', '--config.model.depth=111')
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1].startswith('error: CIFAR ResNets have depth 6n+2')
  assert 'Traceback' not in result.stderr


def test_summary_and_config_of_a_workdir_read_its_config_json():
  recorded = os.path.join(ROOT, 'tests', 'data', 'recorded')
  result = launch('--mode=summary', f'--workdir={recorded}')
  assert result.returncode == 0, result.stderr
  assert json.loads(result.stdout.strip().splitlines()[-1])['name'] == 'resnet8-B'
  result = launch('--mode=config', f'--workdir={recorded}')
  assert result.returncode == 0 and json.loads(result.stdout)['dataset']['dir'] == '/tmp/fx/run/data'


def test_models_import_no_tensorflow():
  code = 'import sys, resnet_jax.models, configs.cifar10; print("tensorflow" in sys.modules)'
  result = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True)
  assert result.stdout.strip() == 'False', result.stderr
