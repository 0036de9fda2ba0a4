"""Small image folders held in memory: root/<split>/<class>/<image>, as a directory or a .tar.gz of one.

Decoded once, then cached as .npz beside nothing the user owns: under cache_dir, keyed by the source's path and
the name, size and modification time of every entry under it (of the archive itself, for a .tar.gz), so that
replacing an image or emptying a class folder decodes again.
"""

import collections
import hashlib
import io
import logging
import os
import tarfile

import numpy as np
from PIL import Image, UnidentifiedImageError

from resnet_jax.errors import ConfigError, Setting
from resnet_jax.progress import Progress

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.gif', '.tif', '.tiff')


def _listdir(path: str) -> list[str]:
  try:
    return sorted(os.listdir(path))
  except OSError as e:
    raise _unreadable(path, e) from None


def _unreadable(path: str, error: OSError) -> ConfigError:
  return ConfigError(f'{path} cannot be read ({error.strerror or error}): make it readable, or remove it.')


def _entries(source: str):
  """Yields (split, class name, file name, bytes reader) for every file under source's class folders, and
  (split, class name, None, None) for every class folder, empty or not."""
  if os.path.isdir(source):
    for split in _listdir(source):
      if not os.path.isdir(os.path.join(source, split)):
        continue
      for cls in _listdir(os.path.join(source, split)):
        folder = os.path.join(source, split, cls)
        if os.path.isdir(folder):
          yield split, cls, None, None
          for name in _listdir(folder):
            path = os.path.join(folder, name)
            if os.path.islink(path) and not os.path.exists(path):
              raise ConfigError(f'{path} is a link to nothing ({os.readlink(path)}): fix or remove it.')
            if os.path.isfile(path):  # Not a folder that happens to be named like an image.
              yield split, cls, name, lambda path=path: _read(path)
    return
  try:
    with tarfile.open(source, 'r:*') as tar:
      for member in tar:
        parts = member.name.strip('./').split('/')
        if member.isdir() and len(parts) >= 2:
          yield parts[-2], parts[-1], None, None
        elif member.isfile() and len(parts) >= 3:
          with tar.extractfile(member) as f:
            data = f.read()
          yield parts[-3], parts[-2], parts[-1], lambda data=data: data
  except (tarfile.TarError, EOFError, OSError) as e:
    raise ConfigError(f'{source} is not a readable image folder or .tar.gz ({e}): point dataset.dir at one.') from None


def _read(path: str) -> bytes:
  try:
    with open(path, 'rb') as f:
      return f.read()
  except OSError as e:
    raise _unreadable(path, e) from None


def _decode_image(data: bytes, path: str) -> np.ndarray:
  """uint8 H,W,3; a 16-bit grey image keeps its top 8 bits (PIL's convert would clip it at 255)."""
  try:
    with Image.open(io.BytesIO(data)) as image:
      if image.mode.startswith('I;16'):
        return np.repeat((np.asarray(image) >> 8).astype(np.uint8)[..., None], 3, axis=-1)
      if image.mode in ('I', 'F'):  # 32-bit integers or floats: no one range maps them to 8 bits.
        raise ConfigError(
            f'{path} holds 32-bit {"floats" if image.mode == "F" else "integers"} (PIL mode '
            f'{image.mode}), which have no one 8-bit reading: convert it to an 8- or 16-bit image.'
        )
      return np.asarray(image.convert('RGB'))
  except UnidentifiedImageError:
    raise ConfigError(f'{path} is not an image of a format PIL reads: replace or remove it.') from None
  except (OSError, SyntaxError, ValueError) as e:  # PIL's errors for corrupt or truncated files.
    raise ConfigError(f'{path} is not a readable image ({e}): replace or remove it.') from None


def _decode(source: str, splits: tuple[str, ...]) -> dict[str, np.ndarray]:
  files = {split: [] for split in splits}
  folders = {split: set() for split in splits}
  skipped = []
  for split, cls, name, read in _entries(source):
    if split not in files:
      continue
    folders[split].add(cls)
    if name and name.lower().endswith(IMAGE_SUFFIXES):
      files[split].append((cls, name, read()))
    elif name:
      skipped.append(f'{split}/{cls}/{name}')
  if skipped:
    log.info(
        '%s: skipped %d files that are not images (%s), e.g. %s.',
        source,
        len(skipped),
        ', '.join(IMAGE_SUFFIXES),
        ', '.join(sorted(skipped)[:3]),
    )
  layout = f'{source}/{{{",".join(splits)}}}/<class>/<image>.jpg'
  missing = [split for split in splits if not files[split]]
  if missing:
    raise ConfigError(
        f'{source} is not an image folder of the expected layout {layout}: no images in split(s) '
        f'{missing}. Point dataset.dir at such a folder or .tar.gz.'
    )
  classes = sorted(folders[splits[0]])
  arrays, size = {'classes': np.array(classes)}, None
  decoding = Progress(f'Decoding {source}: images', sum(len(files[split]) for split in splits))
  for split in splits:
    items = sorted(files[split], key=lambda item: (item[0], item[1]))
    if unknown := folders[split] - set(classes):
      raise ConfigError(
          f'{source}/{split} has classes {sorted(unknown)} that {splits[0]} lacks: give {splits[0]} images of '
          f'them, or remove them from {split}.'
      )
    if empty := sorted(set(classes) - {cls for cls, _, _ in items}):
      raise ConfigError(f'{source}/{split} has no images of class(es) {empty}: fill or remove those folders.')
    paths = [f'{source}/{split}/{cls}/{name}' for cls, name, _ in items]
    images = []
    for (_, _, data), path in zip(items, paths):
      images.append(_decode_image(data, path))
      decoding.update()
    size = size or collections.Counter(image.shape for image in images).most_common(1)[0][0]  # The first split's.
    for path, image in zip(paths, images):
      if image.shape != size:
        (h, w, _), (h0, w0, _) = image.shape, size
        common = sum(other.shape == size for other in images)
        most = f'most {split} images are {w0}x{h0} ({common} of {len(images)})' if split == splits[0] else None
        raise ConfigError(
            f'{path} is {w}x{h} pixels, but {most or f"the {splits[0]} images are {w0}x{h0}"}: every image must '
            'have the same size.'
        )
    arrays[f'{split}_images'] = np.stack(images)
    arrays[f'{split}_labels'] = np.array([classes.index(cls) for cls, _, _ in items], np.int32)
  return arrays


def fingerprint(source: str) -> str:
  """A hash of source's path and of the name, size and modification time of every entry under it."""
  digest = hashlib.sha1(os.path.abspath(source).encode())
  walk = os.walk(source, followlinks=True) if os.path.isdir(source) else [('', [], [source])]
  for root, dirs, names in walk:  # Through linked folders: a linked class folder's images count.
    dirs.sort()
    for name in sorted(dirs + names):
      path = os.path.join(root, name)
      stat = os.stat(path) if os.path.exists(path) else os.lstat(path)  # A link to nothing: refused when read.
      digest.update(f'{os.path.relpath(path, source)}:{stat.st_size}:{stat.st_mtime_ns}\n'.encode())
  return digest.hexdigest()


def load(source: str, splits: tuple[str, ...], cache_dir: str) -> dict[str, np.ndarray]:
  """{'classes', '<split>_images' (uint8 N,H,W,3), '<split>_labels' (int32)} of an image folder or tarball."""
  if not os.path.exists(source):
    relative = '' if os.path.isabs(source) else f' (a relative path, taken from {os.getcwd()})'
    raise ConfigError(
        f'Dataset {source}{relative} does not exist: set ',
        Setting('dataset.dir'),
        ' to an image folder or .tar.gz laid out as <root>/{train,test}/<class>/<image>.',
    )
  key = hashlib.sha1(f'{fingerprint(source)}:{splits}'.encode()).hexdigest()
  cache = os.path.join(cache_dir, f'{os.path.basename(source.rstrip("/"))}-{key[:16]}.npz')
  if os.path.exists(cache):
    with np.load(cache) as arrays:
      return dict(arrays)
  log.info('Decoding %s (once; cached as %s).', source, cache)
  arrays = _decode(source, splits)
  partial = f'{cache}.{os.getpid()}.tmp.npz'
  try:
    os.makedirs(cache_dir, exist_ok=True)
    np.savez(partial, **arrays)
    os.replace(partial, cache)  # Atomic: a concurrent or killed run never reads half a cache.
  except OSError as e:
    log.warning(
        'Could not cache the decoded images in %s (%s): they are decoded again next time; set '
        'dataset.cache_dir to a writable folder.',
        cache_dir,
        e.strerror or e,
    )
  return arrays


def read_images(source: str, paths) -> np.ndarray:
  """The images at `paths` ('<split>/<class>/<file>') of an image folder or tarball, decoded, in that order."""
  wanted, found = set(paths), {}
  for split, cls, name, read in _entries(source):
    path = f'{split}/{cls}/{name}'
    if name is not None and path in wanted:
      found[path] = _decode_image(read(), os.path.join(source, path))
  if missing := [p for p in paths if p not in found]:
    raise ConfigError(
        f'{source} lacks {len(missing)} of the images asked for ({", ".join(missing[:3])}...): point '
        'at the image folder or tarball they come from.'
    )
  return np.stack([found[p] for p in paths])
