"""Benchmarks. --bench=pipeline: the ImageNet host pipeline alone (decode + augmentation), images/s.

  python experiments/benchmark.py --bench=pipeline --out=docs/pipeline.json

Generated JPEGs of ImageNet's typical size (about 400x350, about 110 KB). For each transform: images/s on one
thread (= per core) and on a pool of --threads threads; the median of --repeats passes over the images.
"""
import io
import json
import os
import platform
import statistics
import sys
import time
from concurrent import futures

import numpy as np
from absl import app, flags
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from resnet_jax.data import augment  # noqa: E402

flags.DEFINE_enum('bench', 'pipeline', ['pipeline'], 'What to measure.')
flags.DEFINE_integer('images', 200, 'Generated JPEGs.')
flags.DEFINE_integer('repeats', 5, 'Passes over the images; the median is reported.')
flags.DEFINE_integer('threads', os.cpu_count() or 1, 'Threads of the pool.')
flags.DEFINE_string('out', None, 'Write the results as JSON here.')
FLAGS = flags.FLAGS

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
    base = 128 + 80 * np.sin(x[..., None] / rng.uniform(10, 40) + y[..., None] / rng.uniform(10, 40)
                              + rng.uniform(0, 6, 3))
    pixels = np.clip(base + rng.normal(0, 45, (height, width, 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, 'JPEG', quality=92)
    out.append(buffer.getvalue())
  return out


def rate(transform, jpegs, threads: int, repeats: int) -> float:
  def one(i):
    transform(jpegs[i], np.random.default_rng(i))
  times = []
  with futures.ThreadPoolExecutor(threads) as pool:
    list(pool.map(one, range(min(len(jpegs), 20))))  # Warm-up.
    for _ in range(repeats):
      start = time.perf_counter()
      list(pool.map(one, range(len(jpegs))))
      times.append(time.perf_counter() - start)
  return len(jpegs) / statistics.median(times)


def pipeline() -> dict:
  jpegs = imagenet_like_jpegs(FLAGS.images)
  sizes = [Image.open(io.BytesIO(j)).size for j in jpegs]
  results = {'images': len(jpegs), 'mean_kb': float(np.mean([len(j) for j in jpegs]) / 1024),
             'mean_size': [float(np.mean([s[0] for s in sizes])), float(np.mean([s[1] for s in sizes]))],
             'threads': FLAGS.threads, 'cpu': platform.processor() or platform.machine(),
             'cores': os.cpu_count(), 'rows': []}
  for name, transform in TRANSFORMS.items():
    one = rate(transform, jpegs, 1, FLAGS.repeats)
    pool = rate(transform, jpegs, FLAGS.threads, FLAGS.repeats)
    results['rows'].append({'transform': name, 'per_core': one, 'pool': pool})
  print(f'{len(jpegs)} JPEGs, mean {results["mean_kb"]:.0f} KB, mean {results["mean_size"][0]:.0f}x'
        f'{results["mean_size"][1]:.0f}; {FLAGS.threads} threads on {os.cpu_count()} cores')
  print(f'| transform | images/s, 1 thread | images/s, {FLAGS.threads} threads |\n|---|---:|---:|')
  for row in results['rows']:
    print(f'| {row["transform"]} | {row["per_core"]:.0f} | {row["pool"]:.0f} |')
  return results


def main(argv) -> None:
  del argv
  results = {'pipeline': pipeline}[FLAGS.bench]()
  if FLAGS.out:
    with open(FLAGS.out, 'w') as f:
      json.dump(results, f, indent=2)


if __name__ == '__main__':
  app.run(main)
