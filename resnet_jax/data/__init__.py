"""Datasets, each behind the interface of data/dataset.py. Every source yields uint8 images (N, H, W, 3) and int32
labels; nothing here imports TensorFlow except the tfds sources, and those only when they are used."""

from resnet_jax.data import cifar10, imagenet
from resnet_jax.data.dataset import Dataset, EvalSplit
from resnet_jax.errors import ConfigError, Setting

DATASETS = {'cifar10': cifar10.Cifar10, 'imagenet2012': imagenet.Imagenet}
SPLITS = {'cifar10': cifar10.checked_splits, 'imagenet2012': imagenet.checked_splits}


def create_dataset(config, mesh) -> Dataset:
  """The dataset of config.dataset.name, loaded; training batches are laid out over `mesh`."""
  if config.dataset.name not in DATASETS:
    raise ConfigError(
        f'Unknown dataset {config.dataset.name!r}: set ',
        Setting('dataset.name'),
        f' to one of {", ".join(DATASETS)}.',
    )
  return DATASETS[config.dataset.name](config, mesh)


def check_data(config) -> None:
  """Refuses the data of config.dataset where training on it would refuse it, building nothing for a device: the
  splits are read as training reads them (an image folder decoded, and cached for the runs that follow)."""
  SPLITS[config.dataset.name](config)


__all__ = ['Dataset', 'EvalSplit', 'check_data', 'create_dataset']
