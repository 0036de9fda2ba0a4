"""JPEG bytes to the pixels of a box of the image, resized: the host pipeline's decoders (dataset.decoder).

  pil         Pillow: decode, then its bilinear resize, antialiased when it shrinks (what torchvision's weights and
              published evaluations expect).
  simplejpeg  libjpeg-turbo through simplejpeg (its fast DCT and chroma upsampling), then OpenCV's bilinear
              resize of the box: 1.6-2.5x Pillow's images/s per core, other pixels (docs/benchmarks.md). An image it
              cannot read (a PNG named .JPEG) is decoded by Pillow instead, and counted.
  auto        simplejpeg where it and OpenCV are installed, else Pillow (resolve).

Both decode at the DCT scale Pillow's draft picks: the smallest of 1, 1/2, 1/4, 1/8 that still gives the box its
output pixels.
Evaluation decodes with Pillow whatever the training decoder (data/protocols.py): EVAL_BOUND says why.
"""

import io
import logging
import math
import threading

import numpy as np
from PIL import Image

from resnet_jax.errors import ConfigError, Setting

log = logging.getLogger(__name__)

# Evaluation may decode with a route whose centre crops differ from Pillow's by at most this mean absolute
# difference (in levels of 255) on images of ImageNet's size and detail. Converted torchvision weights and published
# errors were measured on Pillow's pixels; one level is the scale of rounding (a bound chosen, not fitted to errors).
# simplejpeg + OpenCV is about 8 levels off on the benchmark's generated JPEGs (1 on smooth, upscaled photos): its
# resize does not antialias when it shrinks. So evaluation keeps Pillow's pixels (tests/unit/test_decode.py measures
# it); its images are under 5% of an epoch's.
EVAL_BOUND = 1.0

Box = tuple[float, float, float, float]  # (left, upper, right, lower) in the image's pixels.


def _needed(width: int, height: int, box: Box, out_size: tuple[int, int]) -> tuple[int, int] | None:
  """The smallest (width, height) of the image that still gives the box out_size pixels; None: the full size."""
  scale = max(out_size[0] / (box[2] - box[0]), out_size[1] / (box[3] - box[1]))
  return (math.ceil(width * scale), math.ceil(height * scale)) if scale < 1 else None


def _dct_scale(width: int, height: int, needed: tuple[int, int] | None) -> int:
  """The k of 1, 2, 4, 8 that Pillow's draft decodes at (1/k) for an image of at least `needed` pixels."""
  most = min(width // needed[0], height // needed[1]) if needed else 1
  return max(k for k in (1, 2, 4, 8) if k <= most)


class Pil:
  """Pillow's decode and bilinear resize."""

  name, fallbacks, first_failure = 'pil', 0, None

  def size(self, data: bytes) -> tuple[int, int]:
    """(width, height) from the header, without decoding."""
    return Image.open(io.BytesIO(data)).size

  def crop(self, data: bytes, box: Box, out_size: tuple[int, int], flip: bool = False) -> np.ndarray:
    """The box of the image resized to out_size (width, height), maybe mirrored: uint8 (height, width, 3)."""
    image = Image.open(io.BytesIO(data))
    width, height = image.size
    if needed := _needed(width, height, box, out_size):
      image.draft('RGB', needed)
    fx, fy = image.size[0] / width, image.size[1] / height
    box = (box[0] * fx, box[1] * fy, box[2] * fx, box[3] * fy)
    view = image.convert('RGB').resize(out_size, Image.BILINEAR, box=box)
    if flip:
      view = view.transpose(Image.FLIP_LEFT_RIGHT)
    return np.asarray(view)


PIL = Pil()


class Simplejpeg:
  """simplejpeg's decode and OpenCV's bilinear resize; Pillow for the images simplejpeg cannot read, counted."""

  name = 'simplejpeg'

  def __init__(self):
    self._jpeg, self._cv2 = _fast_modules()
    self._cv2.setNumThreads(1)  # One image per thread: the pool of data/host.py is the parallelism.
    self._lock, self.fallbacks, self.first_failure = threading.Lock(), 0, None

  def size(self, data: bytes) -> tuple[int, int]:
    try:
      height, width = self._jpeg.decode_jpeg_header(data)[:2]
      return width, height
    except ValueError:
      return PIL.size(data)

  def crop(self, data: bytes, box: Box, out_size: tuple[int, int], flip: bool = False) -> np.ndarray:
    try:
      width, height = self.size(data)
      k = _dct_scale(width, height, _needed(width, height, box, out_size))
      image = self._jpeg.decode_jpeg(
          data,
          'RGB',
          fastdct=True,
          fastupsample=True,
          min_width=math.ceil(width / k),
          min_height=math.ceil(height / k),
          min_factor=k,
      )
    except ValueError as e:  # Not a JPEG, or one libjpeg-turbo cannot read.
      view = PIL.crop(data, box, out_size, flip)
      with self._lock:
        self.fallbacks += 1
        self.first_failure = self.first_failure or f'{type(e).__name__}: {e}'
      return view
    fx, fy = image.shape[1] / width, image.shape[0] / height
    left, top, right, bottom = box[0] * fx, box[1] * fy, box[2] * fx, box[3] * fy
    sx, sy = out_size[0] / (right - left), out_size[1] / (bottom - top)
    # Pillow's box resize: output pixel x (centre x + 0.5) samples the box at left + (x + 0.5) / sx. In OpenCV's
    # coordinates (pixel centres at integers), the map from the image to the output is x = sx * u + offset.
    offset = sx * (0.5 - left) - 0.5
    matrix = np.array(
        [[-sx, 0, out_size[0] - 1 - offset] if flip else [sx, 0, offset], [0, sy, sy * (0.5 - top) - 0.5]], np.float64
    )
    return self._cv2.warpAffine(
        image, matrix, out_size, flags=self._cv2.INTER_LINEAR, borderMode=self._cv2.BORDER_REPLICATE
    )


def named(name: str, fn, data: bytes, *args):
  """fn(data, *args), an image that does not decode (truncated, not an image) refused naming it (`name`)."""
  try:
    return fn(data, *args)
  except (OSError, SyntaxError) as e:  # Pillow's: truncated, not an image, a broken header.
    raise ConfigError(
        f'{name} does not decode as an image ({type(e).__name__}: {e}): replace it, or move it out of the dataset.'
    ) from None


def _fast_modules():
  """(simplejpeg, cv2): optional packages, imported where they are used (resolve() says where they are missing)."""
  import cv2
  import simplejpeg

  return simplejpeg, cv2


def available() -> str | None:
  """None where simplejpeg and OpenCV import, else why not."""
  try:
    _fast_modules()
  except ImportError as e:
    return f'{e.name} is not installed'
  return None


def resolve(name: str) -> str:
  """dataset.decoder's value with 'auto' made: simplejpeg where it and OpenCV are installed, else pil (said once,
  here)."""
  if name != 'auto':
    return name
  if missing := available():
    log.warning('dataset.decoder=auto: %s (pip install -r requirements.txt): decoding with Pillow.', missing)
    return 'pil'
  return 'simplejpeg'


def decoder(name: str):
  """The decoder of a resolved dataset.decoder."""
  if name == 'pil':
    return PIL
  try:
    return Simplejpeg()
  except ImportError as e:
    raise ConfigError(
        f'dataset.decoder=simplejpeg needs simplejpeg and OpenCV, and {e.name} is not installed: pip install -r '
        'requirements.txt, or set ',
        Setting('dataset.decoder', 'pil'),
        '.',
    ) from None
