"""The tests run on the CPU, split into 8 devices for the multi-device ones, in tiers by folder: unit/ (the library
in this process), cli/ (the programs' main functions in this process, one subprocess each), e2e/ (trainings,
signals, sweeps) and infra/ (a real SLURM, the GPU machine's image, several processes). e2e and infra are marked
slow: `pytest -q tests` leaves them out, `-m ''` runs every tier.

Every process JAX starts here, this one and the programs the tests run, shares one persistent compilation cache
(.cache/jax): a program compiled once is not compiled again, in this run or the next. They compile at XLA's lowest
backend optimization: their programs are small and run briefly, so compiling is most of their time, and that
halves it."""

import os
import signal

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault('XLA_FLAGS', '--xla_force_host_platform_device_count=8 --xla_backend_optimization_level=0')
os.environ.setdefault('JAX_PLATFORMS', 'cpu')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
os.environ.setdefault('JAX_COMPILATION_CACHE_DIR', os.path.join(ROOT, '.cache', 'jax'))
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS', '0')
os.environ.setdefault('JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES', '-1')
# Ctrl-C as in a terminal, also where the tests were started with SIGINT ignored (a shell's background job): Python
# keeps an inherited SIG_IGN, and so does every program a test starts (exec resets a handler, not an ignore).
signal.signal(signal.SIGINT, signal.default_int_handler)
TIERS = {'e2e': 'end-to-end: trainings, signals, sweeps', 'infra': 'a real SLURM, the GPU image, several processes'}


def pytest_collection_modifyitems(items):
  """Marks the tests of e2e/ and infra/ with their tier, and slow: not in the default subset."""
  for item in items:
    tier = os.path.basename(os.path.dirname(str(item.fspath)))
    if tier in TIERS:
      item.add_marker(getattr(pytest.mark, tier))
      item.add_marker(pytest.mark.slow)


@pytest.fixture(scope='module')
def image_folder(tmp_path_factory):
  """10 classes of 32x32 PNGs, 8 train and 4 test images each, brighter by class."""
  from tests.helpers import write_image_folder

  return write_image_folder(
      tmp_path_factory.mktemp('folder'),
      {'train': 8, 'test': 4},
      [f'class{k}' for k in range(10)],
      [(32, 32)],
      '.png',
      brightness=25,
  )


@pytest.fixture(scope='module')
def imagenet_folder(tmp_path_factory):
  """4 classes (wnid folders) of JPEGs of 6 sizes and aspect ratios, 6 train and 3 val images each."""
  from tests.helpers import write_image_folder

  return write_image_folder(
      tmp_path_factory.mktemp('imagenet'),
      {'train': 6, 'val': 3},
      [f'n0{k}' for k in range(4)],
      [(80, 60), (60, 90), (100, 100), (120, 70), (70, 110), (90, 64)],
      '.JPEG',
      brightness=50,
  )


@pytest.fixture(scope='module')
def trained(image_folder, tmp_path_factory):
  """A ResNet-8 workdir trained for 2 steps, and the cache of its data."""
  from resnet_jax.train import train_and_evaluate
  from tests.helpers import tiny_config

  tmp = tmp_path_factory.mktemp('trained')
  config = tiny_config(image_folder, tmp / 'cache', total_steps=2, eval_every_steps=2, checkpoint_every_steps=2)
  train_and_evaluate(config, str(tmp / 'w'))
  return str(tmp / 'w'), str(tmp / 'cache')
