"""CIFAR-10 in memory: train, test and optionally the paper's 45k/5k train/val split, from tfds or a folder; and
the dataset the training loop and evaluation read."""
import itertools
import socket

import numpy as np

from resnet_jax.data import folder, on_device
from resnet_jax.data.dataset import EvalSplit, array_split
from resnet_jax.errors import ConfigError

VAL_SIZE = 5000  # He et al. 2015 Section 4.2: "a 45k/5k train/val split".


FOLDER_FLAGS = ('--config.dataset.source=folder --config.dataset.dir=PATH (a folder or .tar.gz of '
                'train/<class>/*.jpg and test/<class>/*.jpg)')
DOWNLOAD_HOST = 'www.cs.toronto.edu'  # Where tfds's cifar10 builder downloads from.


def _check_online(host: str = DOWNLOAD_HOST, timeout: float = 5.0) -> None:
  """Refuses at once where tfds's download cannot connect (it would retry for minutes, then leave a half-written
  incomplete.* directory)."""
  try:
    socket.create_connection((host, 443), timeout=timeout).close()
  except OSError as e:
    raise ConfigError(f'dataset.source=tfds needs to download CIFAR-10 from {host}, which is unreachable here '
                      f'({e}). Offline, use an image folder: {FOLDER_FLAGS}.') from None


def _from_tfds(data_dir: str | None) -> dict[str, np.ndarray]:
  import tensorflow_datasets as tfds  # Only this source needs TensorFlow.
  builder = tfds.builder('cifar10', data_dir=data_dir)
  if not builder.is_prepared():
    _check_online()
    builder.download_and_prepare()
  arrays = {}
  for split in ('train', 'test'):
    data = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
    arrays[f'{split}_images'], arrays[f'{split}_labels'] = data['image'], data['label'].astype(np.int32)
  return arrays


def load(config) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """{'train': (images, labels), 'test': ..., and 'val' if config.val_split} as uint8 and int32 arrays."""
  if config.source == 'tfds':
    arrays = _from_tfds(config.dir or None)
  elif config.source == 'folder':
    if not config.dir:
      raise ConfigError(f'dataset.source=folder needs the folder: {FOLDER_FLAGS}.')
    arrays = folder.load(config.dir, ('train', 'test'), config.cache_dir)
    if len(arrays['classes']) != config.num_classes:
      raise ConfigError(f'{config.dir} has {len(arrays["classes"])} class folders ({", ".join(arrays["classes"])}) '
                        f'but dataset.num_classes is {config.num_classes}: point dataset.dir at a folder of '
                        f'{config.num_classes} classes, or set --config.dataset.num_classes.')
  else:
    raise ConfigError(f"Unknown dataset.source {config.source!r}: use 'tfds' or 'folder'.")
  splits = {split: (arrays[f'{split}_images'], arrays[f'{split}_labels']) for split in ('train', 'test')}
  if splits['train'][0].shape[1:] != (32, 32, 3):
    raise ConfigError(f'CIFAR-10 images are 32x32x3; {config.dir} holds {splits["train"][0].shape[1:]}.')
  if config.val_split:
    images, labels = splits['train']
    order = np.random.default_rng(0).permutation(len(labels))  # One fixed split for every run.
    train, val = order[:-VAL_SIZE], order[-VAL_SIZE:]
    splits['train'], splits['val'] = (images[train], labels[train]), (images[val], labels[val])
  return splits


class Cifar10:
  """CIFAR-10 (data/dataset.py's interface): the training set replicated on every device, where each step gathers
  and augments its batch; the held-out splits from the host, as they are (32x32, one view)."""
  inputs_per_replica = False  # The replicas share the training set on the devices.

  def __init__(self, config, mesh):
    self.config, self.mesh = config, mesh
    splits = load(config.dataset)
    images, labels = splits.pop('train')
    if len(labels) < config.batch_size:
      raise ConfigError(f'batch_size {config.batch_size} exceeds the {len(labels)} training images.')
    self.train = on_device.put(images, labels, mesh)
    self.norm = on_device.normalization(images, config.dataset.normalization)
    self.held_out = splits

  def stream(self, start_step: int):
    del start_step  # The batch is a function of the step, drawn on the device.
    return itertools.repeat({'train': self.train, 'norm': self.norm})

  def batch(self, inputs, step, seed):
    c = self.config
    return on_device.train_batch(inputs['train'], inputs['norm'], step, seed, c.batch_size, c.dataset.crop_padding,
                                 self.mesh)

  def eval_splits(self, protocol: str | None = None) -> list[EvalSplit]:
    del protocol  # CIFAR is tested on the 32x32 images as they are.
    c = self.config
    return [array_split(name, images, labels, self.norm, c.eval_batch_size)
            for name, (images, labels) in self.held_out.items()]

  def close(self) -> None:
    pass
