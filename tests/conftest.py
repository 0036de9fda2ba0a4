"""Tests run on the CPU, split into 8 devices for the multi-device ones."""
import os
import signal

import pytest

os.environ.setdefault('XLA_FLAGS', '--xla_force_host_platform_device_count=8')
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
# Ctrl-C as in a terminal, also where the tests were started with SIGINT ignored (a shell's background job): Python
# keeps an inherited SIG_IGN, and so does every program a test starts (exec resets a handler, not an ignore).
signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope='module')
def image_folder(tmp_path_factory):
  """10 classes of 32x32 PNGs, 8 train and 4 test images each, brighter by class."""
  from tests.helpers import write_image_folder
  return write_image_folder(tmp_path_factory.mktemp('folder'), {'train': 8, 'test': 4},
                            [f'class{k}' for k in range(10)], [(32, 32)], '.png', brightness=25)


@pytest.fixture(scope='module')
def imagenet_folder(tmp_path_factory):
  """4 classes (wnid folders) of JPEGs of 6 sizes and aspect ratios, 6 train and 3 val images each."""
  from tests.helpers import write_image_folder
  return write_image_folder(tmp_path_factory.mktemp('imagenet'), {'train': 6, 'val': 3},
                            [f'n0{k}' for k in range(4)],
                            [(80, 60), (60, 90), (100, 100), (120, 70), (70, 110), (90, 64)], '.JPEG', brightness=50)
