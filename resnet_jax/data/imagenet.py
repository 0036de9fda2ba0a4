"""ImageNet (ILSVRC 2012) as random-access splits of JPEG bytes, from an image folder or a prepared tfds dataset;
and the dataset the training loop and evaluation read.

Folder layout: <dir>/train/<wnid>/*.JPEG and <dir>/val/<wnid>/*.JPEG (classes are the sorted train wnids).
tfds: <dir> is the tfds data_dir holding imagenet2012 prepared in the array_record format (random access).
"""

import dataclasses
import hashlib
import json
import logging
import os
from concurrent import futures
from typing import Callable

import jax
import numpy as np

from resnet_jax import parallel, replicas
from resnet_jax.data import augment, decode, folder, host, on_device, protocols
from resnet_jax.data.dataset import EvalSplit, check_training_images, import_tfds, process_share
from resnet_jax.errors import ConfigError, Setting

log = logging.getLogger(__name__)


def tfds_fix(data_dir: str) -> tuple:
  """How to prepare imagenet2012 for tfds in `data_dir`, as a ConfigError's parts."""
  return (
      f'put ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar in {data_dir}/downloads/manual and run `tfds '
      f'build imagenet2012 --data_dir={data_dir} --file_format=array_record`, or use ',
      Setting('dataset.source', 'folder'),
  )


@dataclasses.dataclass(frozen=True)
class Encoded:
  """One split of encoded images: read(i) gives example i's bytes; labels[i] its class; name(i) says which image it
  is (its file, or its record)."""

  read: Callable[[int], bytes]
  labels: np.ndarray
  name: Callable[[int], str]

  def __len__(self) -> int:
    return len(self.labels)


def _folder_split(root: str, split: str, classes: list[str] | None) -> tuple[Encoded, list[str]]:
  path = os.path.join(root, split)
  if not os.path.isdir(path):
    raise ConfigError(
        f'{root} has no {split}/ folder: ImageNet folders are laid out as {root}/{{train,val}}/<wnid>/<image>.JPEG.'
    )
  found = sorted(entry.name for entry in os.scandir(path) if entry.is_dir())
  if not found:
    raise ConfigError(
        f'{path} has no class folders. The validation tar extracts flat: sort its images into '
        '<wnid>/ folders first (e.g. with the ILSVRC devkit ground truth or valprep.sh).'
    )
  classes = classes or found
  if unknown := sorted(set(found) - set(classes)):
    raise ConfigError(f'{path} has classes {unknown[:5]} that train/ lacks.')
  files, labels = [], []
  for label, cls in enumerate(classes):
    names = sorted(os.listdir(os.path.join(path, cls))) if cls in found else []
    names = [name for name in names if name.lower().endswith(folder.IMAGE_SUFFIXES)]
    files += [os.path.join(path, cls, name) for name in names]
    labels += [label] * len(names)
  if not files:
    raise ConfigError(f'{path} holds no images (.JPEG, .jpg, .png).')

  def read(i: int) -> bytes:
    with open(files[i], 'rb') as f:
      return f.read()

  return Encoded(read, np.array(labels, np.int32), lambda i: files[int(i)]), classes


def _tfds_splits(data_dir: str) -> dict[str, Encoded]:
  tfds = import_tfds()
  fix = tfds_fix(data_dir or '~/tensorflow_datasets')
  builder = tfds.builder('imagenet2012', data_dir=data_dir or None)
  info_file = os.path.join(str(builder.data_path), 'dataset_info.json')
  if not os.path.exists(info_file):
    raise ConfigError(f'imagenet2012 is not prepared in {builder.data_path}: ', *fix, '.')
  with open(info_file) as f:
    info = json.load(f)
  if info.get('fileFormat', 'tfrecord') != 'array_record':
    raise ConfigError(
        f'imagenet2012 in {builder.data_path} is prepared as {info.get("fileFormat", "tfrecord")}, '
        'which has no random access: ',
        *fix,
        '.',
    )
  splits = {}
  for split, name in (('train', 'train'), ('validation', 'val')):
    try:
      source = tfds.data_source(
          'imagenet2012',
          split=split,
          data_dir=data_dir or None,
          download=False,
          decoders={'image': tfds.decode.SkipDecoding()},
      )
      labels = _cached_labels(source, os.path.join(str(builder.data_path), f'resnet_jax_{split}_labels.npy'))
    except Exception as e:  # noqa: BLE001 -- a half-prepared dataset fails in many ways; all mean: prepare it.
      raise ConfigError(
          f'imagenet2012 in {builder.data_path} is incomplete ({type(e).__name__}: {str(e)[:200]}): ', *fix, '.'
      ) from e
    splits[name] = Encoded(
        lambda i, source=source: source[int(i)]['image'],
        labels,
        lambda i, split=split: f'record {int(i)} of imagenet2012 {split} in {builder.data_path}',
    )
  return splits


def _cached_labels(source, path: str) -> np.ndarray:
  """The split's labels; reading them means reading every record, so they are cached beside the data."""
  if os.path.exists(path):
    return np.load(path)
  labels = np.array([source[i]['label'] for i in range(len(source))], np.int32)
  try:
    np.save(path, labels)
  except OSError:
    pass  # A read-only data dir: read them again next time.
  return labels


def load(config) -> dict[str, Encoded]:
  """{'train', 'val'} of config.dataset (source 'folder' or 'tfds', dir)."""
  if config.source == 'folder':
    if not config.dir or not os.path.isdir(config.dir):
      relative = '' if not config.dir or os.path.isabs(config.dir) else f' (relative, taken from {os.getcwd()})'
      raise ConfigError(
          f'ImageNet folder {config.dir!r}{relative} does not exist: set ',
          Setting('dataset.dir'),
          ' to a folder of train/<wnid>/*.JPEG and val/<wnid>/*.JPEG.',
      )
    train, classes = _folder_split(config.dir, 'train', None)
    val, _ = _folder_split(config.dir, 'val', classes)
    splits = {'train': train, 'val': val}
  elif config.source == 'tfds':
    splits = _tfds_splits(config.dir)
  else:
    raise ConfigError(
        f'Unknown dataset.source {config.source!r}: set ', Setting('dataset.source'), " to 'folder' or 'tfds'."
    )
  if (classes := int(splits['train'].labels.max()) + 1) > config.num_classes:
    raise ConfigError(
        f'{config.dir} has {classes} classes, more than dataset.num_classes={config.num_classes}: '
        f'point dataset.dir at a folder of {config.num_classes}, or, to train a new net on these, set ',
        Setting('dataset.num_classes', classes),
        '.',
    )
  return splits


def mean_image(split: Encoded, size: int, samples: int, cache_dir: str, workers: int) -> np.ndarray:
  """The per-pixel mean (size, size, 3) in [0, 1] of the central crops of `samples` training images.

  A fixed sample (the first of a permutation with seed 0), so every run and host gets the same; cached.
  """
  chosen = np.sort(np.random.default_rng(0).permutation(len(split))[:samples])
  key = hashlib.sha1(chosen.tobytes() + b''.join(split.read(int(i))[:64] for i in chosen[:8])).hexdigest()[:16]
  cache = os.path.join(cache_dir, f'imagenet-mean-{size}-{samples}-{key}.npy')
  if os.path.exists(cache):
    return np.load(cache)
  log.info('Estimating the per-pixel mean from %d training images (once; cached as %s).', len(chosen), cache)
  with futures.ThreadPoolExecutor(workers) as pool:
    crop = lambda i: decode.named(split.name(i), augment.center_crop, split.read(int(i)), size)
    total = sum((view.astype(np.float64) for view in pool.map(crop, chosen)), np.zeros((size, size, 3)))
  mean = (total / len(chosen) / 255).astype(np.float32)
  os.makedirs(cache_dir, exist_ok=True)
  partial = f'{cache}.{os.getpid()}.tmp.npy'
  np.save(partial, mean)
  os.replace(partial, cache)
  return mean


# dataset.augmentation -> (encoded image, generator, dataset config, decoder) -> uint8 training view.
AUGMENTATIONS = {
    'paper': lambda data, rng, d, dec: augment.paper_train(data, rng, d.image_size, tuple(d.scale_range), decoder=dec),
    'random_resized_crop': lambda data, rng, d, dec: augment.random_resized_crop(data, rng, d.image_size, decoder=dec),
}
# ImageNet's per-channel statistics in [0, 1] units, as torchvision's pretrained models expect.
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def checked_splits(config) -> dict[str, Encoded]:
  """load(config.dataset), refused where its training images cannot make config's batches."""
  splits = load(config.dataset)
  check_training_images(config, len(splits['train']))
  return splits


class Imagenet:
  """ImageNet (data/dataset.py's interface): decoded by dataset.decoder and augmented on the host (data/host.py),
  the step adds lighting and normalizes; `val` is tested under a protocol of data/protocols.py."""

  def __init__(self, config, mesh):
    self.config, self.mesh = config, mesh
    d = config.dataset
    self.splits = checked_splits(config)
    self.decoder = None  # The training images' (dataset.decoder), made with the first training stream.
    if d.normalization == 'per_pixel_mean':
      mean = mean_image(self.splits['train'], d.image_size, d.mean_samples, d.cache_dir, d.workers)
      self.norm = on_device.Normalization(mean, np.ones((3,), np.float32))
    else:
      self.norm = on_device.Normalization(np.array(IMAGENET_MEAN, np.float32), np.array(IMAGENET_STD, np.float32))
    self._streams = []

  def transform(self, data: bytes, rng: np.random.Generator):
    d = self.config.dataset
    image = AUGMENTATIONS[d.augmentation](data, rng, d, self.decoder)
    return image, augment.lighting(rng) if d.lighting else np.zeros(3, np.float32)

  inputs_per_replica = True  # Each net's host stream has its own order and views.

  def stream(self, start_step: int):
    """The step inputs from start_step + 1 on; their host streams stop when this generator is closed or dropped
    (a study that reads a few batches), or when the dataset is."""
    config = self.config
    self.decoder = self.decoder or decode.decoder(decode.resolve(config.dataset.decoder))
    streams = [
        host.TrainStream(
            self.splits['train'], self.transform, seed, config.batch_size, start_step, self.mesh, config.dataset.workers
        )
        for seed in replicas.seeds(config)
    ]
    self._streams += streams
    return self._steps(streams, jax.device_put(self.norm, parallel.replicated(self.mesh)))

  def _steps(self, streams, norm):
    try:
      for step in zip(*streams):
        yield [{**batch, 'norm': norm} for batch in step]
    finally:
      for stream in streams:
        stream.close()
      self._streams = [s for s in self._streams if s not in streams]

  def batch(self, inputs, step, seed):
    del step, seed  # The host stream drew them.
    image = on_device.normalize(inputs['image'], inputs['norm'], inputs['lighting'])
    return {'image': parallel.shard_batch(image, self.mesh), 'label': inputs['label']}

  def eval_splits(self, protocol: str | None = None) -> list[EvalSplit]:
    config, split = self.config, self.splits['val']
    view_sets = protocols.view_sets(
        protocol or config.eval.protocol, config.dataset.image_size, tuple(config.eval.scales)
    )
    mine = process_share(len(split))
    pixels = config.eval_batch_size * config.dataset.image_size**2
    batches = lambda: protocols.view_batches(split, mine, view_sets, pixels, config.dataset.workers)
    return [EvalSplit('val', split.labels[mine], sum(v.count for v in view_sets), self.norm, batches)]

  def close(self) -> None:
    for stream in self._streams:
      stream.close()
    if self.decoder and self.decoder.fallbacks:
      log.warning(
          'Pillow decoded %d training views of images that %s could not read (the first: %s).',
          self.decoder.fallbacks,
          self.decoder.name,
          self.decoder.first_failure,
      )
