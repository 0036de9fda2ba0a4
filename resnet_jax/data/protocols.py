"""ImageNet's testing protocols (He et al. 2015, Section 3.4), as batches of views for evaluation:

  center_crop  shorter side 256, the central 224 crop (1 view);
  ten_crop     shorter side 256, the four corner and central 224 crops and their mirror images (10 views);
  multi_scale  the whole image, fully convolutional, at shorter side 224, 256, 384, 480 and 640 (5 views;
               eval.scales).

Views are decoded by Pillow (data/decode.py: EVAL_BOUND) on a thread pool, one batch ahead of the devices, in
batches of one shape each.
"""

import dataclasses
import functools
from concurrent import futures
from typing import Callable, Iterator

import numpy as np

from resnet_jax.data import augment, decode
from resnet_jax.data.dataset import ViewBatch
from resnet_jax.errors import ConfigError, Setting

PROTOCOLS = ('center_crop', 'ten_crop', 'multi_scale')


@dataclasses.dataclass(frozen=True)
class ViewSet:
  """`count` views of each image, of one shape (h, w), or of a shape that depends on the image's (width,
  height): what one pass over the images decodes."""

  count: int
  views: Callable[[bytes], np.ndarray]  # (count, h, w, 3) uint8.
  shape: tuple[int, int] | Callable[[int, int], tuple[int, int]]


def view_sets(protocol: str, size: int, scales: tuple[int, ...]) -> list[ViewSet]:
  """The view sets of a protocol, at crop `size` (center_crop, ten_crop) or at each of `scales` (multi_scale)."""
  if protocol == 'center_crop':
    return [ViewSet(1, lambda data: augment.center_crop(data, size)[None], (size, size))]
  if protocol == 'ten_crop':
    return [ViewSet(10, lambda data: augment.ten_crops(data, size), (size, size))]
  if protocol == 'multi_scale':
    return [
        ViewSet(
            1,
            lambda data, s=s: augment.full_image(data, s)[None],
            functools.partial(augment.full_image_shape, shorter=s),
        )
        for s in scales
    ]
  raise ConfigError(
      f'Unknown eval.protocol {protocol!r}: set ', Setting('eval.protocol'), f' to one of {", ".join(PROTOCOLS)}.'
  )


def view_batches(
    split, examples: np.ndarray, view_sets: list[ViewSet], pixels: int, workers: int
) -> Iterator[ViewBatch]:
  """The views of `examples` (indices into `split`: imagenet.Encoded) of each view set, in batches of one shape of
  about `pixels` pixels each; a batch's index counts positions in `examples`."""
  views = lambda view_set, i: decode.named(split.name(i), view_set.views, split.read(int(i)))
  with futures.ThreadPoolExecutor(workers) as pool:
    if any(callable(v.shape) for v in view_sets):  # Read the headers once, for every view set.
      sizes = list(pool.map(lambda i: decode.named(split.name(i), decode.PIL.size, split.read(int(i))), examples))
    for view_set in view_sets:
      groups = {}
      if callable(view_set.shape):
        for position, (width, height) in enumerate(sizes):
          groups.setdefault(view_set.shape(width, height), []).append(position)
      else:
        groups[view_set.shape] = list(range(len(examples)))
      for (h, w), positions in sorted(groups.items()):
        per_batch = max(1, pixels // (h * w) // view_set.count)
        chunks = [np.array(positions[i : i + per_batch]) for i in range(0, len(positions), per_batch)]
        submit = lambda chunk, v=view_set: [pool.submit(views, v, examples[i]) for i in chunk]
        pending = submit(chunks[0])
        for k, chunk in enumerate(chunks):
          decoded = np.concatenate([f.result() for f in pending])
          if k + 1 < len(chunks):  # The next chunk decodes while this one runs on the devices.
            pending = submit(chunks[k + 1])
          yield chunk, decoded
