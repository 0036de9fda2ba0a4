"""The ImageNet host pipeline's speed alone (decode + augmentation, data/augment.py) with each decoder of
data/decode.py, on generated JPEGs of ImageNet's typical size (about 400x350, about 110 KB) and on natural images
(the 846 original-pixel CIFAR-10 test images, upscaled to that size): images/s on one thread (= per core) and on a
pool, and how far each decoder's views are from Pillow's."""

import io
import statistics
import time
from concurrent import futures

import numpy as np
from PIL import Image

from resnet_jax.data import augment, decode
from resnet_jax.tools.tables import cell, text

TRANSFORMS = {
    'paper (scale 256-480, crop, flip)': lambda data, rng, dec: augment.paper_train(data, rng, decoder=dec),
    'random_resized_crop + flip': lambda data, rng, dec: augment.random_resized_crop(data, rng, decoder=dec),
    'eval center_crop': lambda data, rng, dec: augment.center_crop(data, decoder=dec),
}


def imagenet_like_jpegs(count: int) -> list[bytes]:
  """Smooth colour fields with texture: JPEGs of about ImageNet's size and file size."""
  rng = np.random.default_rng(0)
  out = []
  for _ in range(count):
    width, height = int(rng.integers(360, 440)), int(rng.integers(320, 380))
    y, x = np.mgrid[:height, :width]
    base = 128 + 80 * np.sin(
        x[..., None] / rng.uniform(10, 40) + y[..., None] / rng.uniform(10, 40) + rng.uniform(0, 6, 3)
    )
    pixels = np.clip(base + rng.normal(0, 45, (height, width, 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, 'JPEG', quality=92)
    out.append(buffer.getvalue())
  return out


def upscaled_jpegs(images: np.ndarray, count: int) -> list[bytes]:
  """The first `count` of `images` (N, h, w, 3) uint8, resized by Pillow's bicubic to about ImageNet's size
  (400x350) and saved as JPEGs of quality 92."""
  out = []
  for pixels in images[:count]:
    buffer = io.BytesIO()
    Image.fromarray(pixels).resize((400, 350), Image.BICUBIC).save(buffer, 'JPEG', quality=92)
    out.append(buffer.getvalue())
  return out


def images_per_second(transform, jpegs: list[bytes], threads: int, repeats: int) -> float:
  """transform(jpeg, rng) over every JPEG on a pool of `threads`: the median of `repeats` passes, after a
  warm-up."""

  def one(i):
    transform(jpegs[i], np.random.default_rng(i))

  times = []
  with futures.ThreadPoolExecutor(threads) as pool:
    list(pool.map(one, range(min(len(jpegs), 20))))
    for _ in range(repeats):
      start = time.perf_counter()
      list(pool.map(one, range(len(jpegs))))
      times.append(time.perf_counter() - start)
  return len(jpegs) / statistics.median(times)


def difference(transform, jpegs: list[bytes], decoder) -> tuple[float, int]:
  """(mean, max) absolute difference of `decoder`'s views from Pillow's, each JPEG with the same generator."""
  diffs = [
      np.abs(
          transform(j, np.random.default_rng(i), decoder).astype(np.int16)
          - transform(j, np.random.default_rng(i), decode.PIL)
      )
      for i, j in enumerate(jpegs)
  ]
  return float(np.mean([d.mean() for d in diffs])), int(max(d.max() for d in diffs))


def describe(jpegs: list[bytes]) -> dict:
  """The JPEGs' count, mean file size (KB) and mean image size (width, height)."""
  sizes = [Image.open(io.BytesIO(j)).size for j in jpegs]
  return {
      'images': len(jpegs),
      'mean_kb': float(np.mean([len(j) for j in jpegs]) / 1024),
      'mean_size': [float(np.mean([s[0] for s in sizes])), float(np.mean([s[1] for s in sizes]))],
  }


def pipeline_rates(image_sets: dict[str, list[bytes]], decoders: list[str], threads: int, repeats: int) -> dict:
  """For each set of JPEGs, decoder (a dataset.decoder; 'auto' resolved) and transform of TRANSFORMS, a row:
  images/s on one thread ('per_core'; 'per_core_vs_pil': over Pillow's, where decoders has 'pil') and on `threads`
  ('pool'), and the mean and max absolute difference of its views from Pillow's ('mean_diff', 'max_diff'); and each
  set's description."""
  rows = []
  for name in decoders:
    resolved = decode.resolve(name)
    decoder = decode.decoder(resolved)
    for images, jpegs in image_sets.items():
      for transform_name, transform in TRANSFORMS.items():
        fn = lambda data, rng, t=transform: t(data, rng, decoder)
        mean_diff, max_diff = difference(transform, jpegs, decoder)
        rows.append(
            {
                'images': images,
                'decoder': name if name == resolved else f'{name} ({resolved})',
                'transform': transform_name,
                'per_core': images_per_second(fn, jpegs, 1, repeats),
                'pool': images_per_second(fn, jpegs, threads, repeats),
                'mean_diff': mean_diff,
                'max_diff': max_diff,
            }
        )
  pillow = {(r['images'], r['transform']): r['per_core'] for r in rows if r['decoder'] == 'pil'}
  for row in rows:
    if (key := (row['images'], row['transform'])) in pillow:
      row['per_core_vs_pil'] = row['per_core'] / pillow[key]
  return {'threads': threads, 'image_sets': {k: describe(v) for k, v in image_sets.items()}, 'rows': rows}


def columns(threads: int) -> list:
  """The pipeline table's columns (tables.markdown_table)."""
  return [
      ('images', False, text('images')),
      ('decoder', False, text('decoder')),
      ('transform', False, text('transform')),
      ('images/s, 1 thread', True, cell('per_core', 0)),
      ("x Pillow's, 1 thread", True, cell('per_core_vs_pil', 2)),
      (f'images/s, {threads} threads', True, cell('pool', 0)),
      ("mean |diff| from Pillow's", True, cell('mean_diff', 2)),
      ('max |diff|', True, cell('max_diff', 0)),
  ]
