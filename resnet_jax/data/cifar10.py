"""CIFAR-10 in memory: train, test and optionally the paper's 45k/5k train/val split, from the authors' binary
archive (downloaded once), a folder, or tfds; and the dataset the training loop and evaluation read."""

import hashlib
import itertools
import logging
import os
import socket
import tarfile
import time
import urllib.parse
import urllib.request

import numpy as np

from resnet_jax.data import folder, on_device
from resnet_jax.data.dataset import EvalSplit, array_split, check_training_images, import_tfds
from resnet_jax.errors import ConfigError, Setting
from resnet_jax.progress import duration

log = logging.getLogger(__name__)
VAL_SIZE = 5000  # He et al. 2015 Section 4.2: "a 45k/5k train/val split".
# The settings of the folder source, as a ConfigError's parts.
FOLDER = (
    Setting('dataset.source', 'folder'),
    ' ',
    Setting('dataset.dir', 'PATH'),
    ' (a folder or .tar.gz of train/<class>/*.jpg and test/<class>/*.jpg)',
)
# The dataset authors' binary version (what tfds's cifar10 builder reads too): 170,052,171 bytes.
ARCHIVE_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'
ARCHIVE_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530'
BATCHES = {'train': [f'data_batch_{i}.bin' for i in range(1, 6)], 'test': ['test_batch.bin']}
RECORD_BYTES = 1 + 32 * 32 * 3  # A label, then the red, green and blue planes, each 32x32 row by row.


def _check_online(url: str, timeout: float = 5.0) -> None:
  """Refuses at once where the download cannot connect (tfds would retry for minutes, then leave a half-written
  incomplete.* directory)."""
  host = urllib.parse.urlsplit(url)
  try:
    socket.create_connection((host.hostname, host.port or (443 if host.scheme == 'https' else 80)), timeout).close()
  except OSError as e:
    raise ConfigError(
        f'CIFAR-10 downloads from {host.hostname}, which is unreachable here ({e}). Offline, use an image folder: ',
        *FOLDER,
        '.',
    ) from None


def _md5(path: str) -> str:
  digest = hashlib.md5()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      digest.update(chunk)
  return digest.hexdigest()


def download(cache_dir: str, url: str, md5: str) -> str:
  """The path of the archive at `url` (ARCHIVE_URL) under cache_dir, downloaded first where it is missing (to a .part
  file, renamed once its MD5 matches, so an interrupted download leaves nothing that looks whole)."""
  path = os.path.join(os.path.expanduser(cache_dir), os.path.basename(urllib.parse.urlsplit(url).path))
  if os.path.exists(path) and _md5(path) == md5:
    return path
  _check_online(url)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  log.info('Downloading CIFAR-10 from %s to %s (once).', url, path)
  try:
    with urllib.request.urlopen(url, timeout=60) as response, open(path + '.part', 'wb') as f:
      size, began = int(response.headers.get('Content-Length') or 0), time.monotonic()
      for chunk in iter(lambda: response.read(1 << 20), b''):
        f.write(chunk)
        done = f.tell()
        if done % (32 << 20) < len(chunk):  # Every 32 MB.
          left = (size - done) / done * (time.monotonic() - began)
          log.info('Downloaded %d of %d MB, %s left.', done >> 20, size >> 20, duration(left))
  except OSError as e:
    raise ConfigError(f'Could not download {url} ({e}): try again, or use an image folder: ', *FOLDER, '.') from None
  if (found := _md5(path + '.part')) != md5:
    os.remove(path + '.part')
    raise ConfigError(f'{url} gave a file of MD5 {found}, not {md5}: try again, or use an image folder: ', *FOLDER, '.')
  os.replace(path + '.part', path)
  return path


def read_archive(path: str) -> dict[str, np.ndarray]:
  """train_images, train_labels, test_images, test_labels of the binary archive at `path`."""
  arrays, not_the_archive = {}, f'{path} is not the CIFAR-10 binary archive: delete it to download it again'
  try:
    with tarfile.open(path, 'r:gz') as tar:
      members = {os.path.basename(m.name): m for m in tar if m.isfile()}
      if missing := [name for names in BATCHES.values() for name in names if name not in members]:
        raise ConfigError(f'{not_the_archive} (it lacks {missing}).')
      data = {
          split: b''.join(tar.extractfile(members[name]).read() for name in names) for split, names in BATCHES.items()
      }
  except (tarfile.TarError, EOFError, OSError) as e:
    raise ConfigError(f'{not_the_archive} ({e}).') from None
  for split, raw in data.items():
    if len(raw) % RECORD_BYTES:
      raise ConfigError(f'{not_the_archive} (its {split} records are not {RECORD_BYTES} bytes each).')
    records = np.frombuffer(raw, np.uint8).reshape(-1, RECORD_BYTES)
    arrays[f'{split}_labels'] = records[:, 0].astype(np.int32)
    arrays[f'{split}_images'] = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
  return arrays


def _from_tfds(data_dir: str | None) -> dict[str, np.ndarray]:
  tfds = import_tfds()
  builder = tfds.builder('cifar10', data_dir=data_dir)
  if not builder.is_prepared():
    _check_online(ARCHIVE_URL)
    builder.download_and_prepare()
  arrays = {}
  for split in ('train', 'test'):
    data = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
    arrays[f'{split}_images'], arrays[f'{split}_labels'] = data['image'], data['label'].astype(np.int32)
  return arrays


def load(config) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """{'train': (images, labels), 'test': ..., and 'val' if config.val_split} as uint8 and int32 arrays."""
  if config.source == 'download':
    arrays = read_archive(download(config.cache_dir, ARCHIVE_URL, ARCHIVE_MD5))
  elif config.source == 'tfds':
    arrays = _from_tfds(config.dir or None)
  elif config.source == 'folder':
    if not config.dir:
      raise ConfigError('dataset.source=folder needs the folder: ', *FOLDER, '.')
    arrays = folder.load(config.dir, ('train', 'test'), config.cache_dir)
    if len(arrays['classes']) != config.num_classes:
      raise ConfigError(
          f'{config.dir} has {len(arrays["classes"])} class folders ({", ".join(arrays["classes"])}) '
          f'but dataset.num_classes is {config.num_classes}: point dataset.dir at a folder of '
          f'{config.num_classes} classes, or, to train a new net on these, set ',
          Setting('dataset.num_classes', len(arrays['classes'])),
          '.',
      )
  else:
    raise ConfigError(
        f'Unknown dataset.source {config.source!r}: set ',
        Setting('dataset.source'),
        " to 'download', 'folder' or 'tfds'.",
    )
  splits = {split: (arrays[f'{split}_images'], arrays[f'{split}_labels']) for split in ('train', 'test')}
  if splits['train'][0].shape[1:] != (32, 32, 3):
    h, w, _ = splits['train'][0].shape[1:]
    raise ConfigError(
        f'CIFAR-10 images are 32x32 pixels; {config.dir} holds {w}x{h}: resize them to 32x32, or '
        'train on them with configs/imagenet.py (which crops any size).'
    )
  if config.val_split:
    images, labels = splits['train']
    if len(labels) <= VAL_SIZE:
      raise ConfigError(
          f'dataset.val_split holds out {VAL_SIZE:,} training images, and {config.dir or "the data"} '
          f'has {len(labels):,}: set ',
          Setting('dataset.val_split', False),
          ', or use the full training set.',
      )
    order = np.random.default_rng(0).permutation(len(labels))  # One fixed split for every run.
    train, val = order[:-VAL_SIZE], order[-VAL_SIZE:]
    splits['train'], splits['val'] = (images[train], labels[train]), (images[val], labels[val])
  return splits


def checked_splits(config) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """load(config.dataset), refused where its training images cannot make config's batches."""
  splits = load(config.dataset)
  check_training_images(config, len(splits['train'][1]))
  return splits


class Cifar10:
  """CIFAR-10 (data/dataset.py's interface): the training set replicated on every device, where each step gathers
  and augments its batch; the held-out splits from the host, as they are (32x32, one view)."""

  inputs_per_replica = False  # The replicas share the training set on the devices.

  def __init__(self, config, mesh):
    self.config, self.mesh = config, mesh
    splits = checked_splits(config)
    images, labels = splits.pop('train')
    self.train = on_device.put(images, labels, mesh)
    self.norm = on_device.normalization(images, config.dataset.normalization)
    self.held_out = splits

  def stream(self, start_step: int):
    del start_step  # The batch is a function of the step, drawn on the device.
    return itertools.repeat({'train': self.train, 'norm': self.norm})

  def batch(self, inputs, step, seed):
    config = self.config
    return on_device.train_batch(
        inputs['train'], inputs['norm'], step, seed, config.batch_size, config.dataset.crop_padding, self.mesh
    )

  def eval_splits(self, protocol: str | None = None) -> list[EvalSplit]:
    del protocol  # CIFAR is tested on the 32x32 images as they are.
    return [
        array_split(name, images, labels, self.norm, self.config.eval_batch_size)
        for name, (images, labels) in self.held_out.items()
    ]

  def close(self) -> None:
    pass
