"""Tests run on the CPU, split into 8 devices for the multi-device ones."""
import os
import sys

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault('XLA_FLAGS', '--xla_force_host_platform_device_count=8')
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope='module')
def image_folder(tmp_path_factory):
  """10 classes of 32x32 PNGs, 8 train and 4 test images each, coloured by class."""
  root = tmp_path_factory.mktemp('folder')
  rng = np.random.default_rng(0)
  for split, count in (('train', 8), ('test', 4)):
    for label in range(10):
      os.makedirs(root / split / f'class{label}')
      for i in range(count):
        pixels = np.clip(rng.normal(25 * label, 40, (32, 32, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(root / split / f'class{label}' / f'{i}.png')
  return str(root)
