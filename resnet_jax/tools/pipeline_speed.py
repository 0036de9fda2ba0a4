"""The ImageNet host pipeline's speed alone (decode + augmentation, data/augment.py) on generated JPEGs of
ImageNet's typical size (about 400x350, about 110 KB): images/s on one thread (= per core) and on a pool."""

import io
import statistics
import time
from concurrent import futures

import numpy as np
from PIL import Image

from resnet_jax.data import augment
from resnet_jax.tools.tables import cell, text

TRANSFORMS = {
    'paper (scale 256-480, crop, flip)': lambda data, rng: augment.paper_train(data, rng),
    'random_resized_crop + flip': lambda data, rng: augment.random_resized_crop(data, rng),
    'eval center_crop': lambda data, rng: augment.center_crop(data),
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


def pipeline_rates(images: int, threads: int, repeats: int) -> dict:
  """The JPEGs' count, mean file size and image size, and a row per transform of TRANSFORMS: images/s on one
  thread ('per_core') and on `threads` ('pool')."""
  jpegs = imagenet_like_jpegs(images)
  sizes = [Image.open(io.BytesIO(j)).size for j in jpegs]
  return {
      'images': len(jpegs),
      'mean_kb': float(np.mean([len(j) for j in jpegs]) / 1024),
      'mean_size': [float(np.mean([s[0] for s in sizes])), float(np.mean([s[1] for s in sizes]))],
      'threads': threads,
      'rows': [
          {
              'transform': name,
              'per_core': images_per_second(transform, jpegs, 1, repeats),
              'pool': images_per_second(transform, jpegs, threads, repeats),
          }
          for name, transform in TRANSFORMS.items()
      ],
  }


def columns(threads: int) -> list:
  """The pipeline table's columns (tables.markdown_table)."""
  return [
      ('transform', False, text('transform')),
      ('images/s, 1 thread', True, cell('per_core', 0)),
      (f'images/s, {threads} threads', True, cell('pool', 0)),
  ]
