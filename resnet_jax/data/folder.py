"""Small image folders held in memory: root/<split>/<class>/<image>, as a directory or a .tar.gz of one.

Decoded once, then cached as .npz beside nothing the user owns: under cache_dir, keyed by the source's path, size
and modification time.
"""
import hashlib
import io
import os
import tarfile

import numpy as np
from PIL import Image

from resnet_jax.console import say
from resnet_jax.errors import ConfigError

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


def _entries(source: str):
  """Yields (split, class name, file name, bytes reader) for every image under source."""
  if os.path.isdir(source):
    for split in sorted(os.listdir(source)):
      for cls in sorted(os.listdir(os.path.join(source, split))) if os.path.isdir(
          os.path.join(source, split)) else ():
        folder = os.path.join(source, split, cls)
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else ():
          yield split, cls, name, lambda path=os.path.join(folder, name): open(path, 'rb').read()
    return
  with tarfile.open(source, 'r:*') as tar:
    for member in tar:
      parts = member.name.strip('./').split('/')
      if member.isfile() and len(parts) >= 3:
        data = tar.extractfile(member).read()
        yield parts[-3], parts[-2], parts[-1], lambda data=data: data


def _decode(source: str, splits: tuple[str, ...]) -> dict[str, np.ndarray]:
  files = {split: [] for split in splits}
  for split, cls, name, read in _entries(source):
    if split in files and name.lower().endswith(IMAGE_SUFFIXES):
      files[split].append((cls, name, read()))
  layout = f'{source}/{{{",".join(splits)}}}/<class>/<image>.jpg'
  missing = [split for split in splits if not files[split]]
  if missing:
    raise ConfigError(f'{source} is not an image folder of the expected layout {layout}: no images in split(s) '
                      f'{missing}. Point dataset.dir at such a folder or .tar.gz.')
  classes = sorted({cls for cls, _, _ in files[splits[0]]})
  arrays = {'classes': np.array(classes)}
  for split in splits:
    items = sorted(files[split], key=lambda item: (item[0], item[1]))
    if unknown := {cls for cls, _, _ in items} - set(classes):
      raise ConfigError(f'{source}/{split} has classes {sorted(unknown)} that {splits[0]} lacks.')
    arrays[f'{split}_images'] = np.stack([np.asarray(Image.open(io.BytesIO(data)).convert('RGB'))
                                          for _, _, data in items])
    arrays[f'{split}_labels'] = np.array([classes.index(cls) for cls, _, _ in items], np.int32)
  return arrays


def load(source: str, splits: tuple[str, ...], cache_dir: str) -> dict[str, np.ndarray]:
  """{'classes', '<split>_images' (uint8 N,H,W,3), '<split>_labels' (int32)} of an image folder or tarball."""
  if not os.path.exists(source):
    raise ConfigError(f'Dataset {source} does not exist: set --config.dataset.dir to an image folder or .tar.gz '
                      'laid out as <root>/{train,test}/<class>/<image>.')
  stat = os.stat(source)
  key = hashlib.sha1(f'{os.path.abspath(source)}:{stat.st_size}:{stat.st_mtime_ns}:{splits}'.encode()).hexdigest()
  cache = os.path.join(cache_dir, f'{os.path.basename(source.rstrip("/"))}-{key[:16]}.npz')
  if os.path.exists(cache):
    with np.load(cache) as arrays:
      return dict(arrays)
  say(f'Decoding {source} (once; cached as {cache}).')
  arrays = _decode(source, splits)
  os.makedirs(cache_dir, exist_ok=True)
  partial = f'{cache}.{os.getpid()}.tmp.npz'
  np.savez(partial, **arrays)
  os.replace(partial, cache)  # Atomic: a concurrent or killed run never reads half a cache.
  return arrays
