"""ImageNet image transforms on the host: JPEG bytes in, uint8 (H, W, 3) arrays out.

Every view is a box of the original image resized in one step by a decoder of data/decode.py (Pillow by default),
which decodes at the smallest DCT scale that still covers the output. Randomness comes from a numpy Generator the
caller seeds, so a view is a pure function of (bytes, seed, decoder).
"""

import math

import numpy as np

from resnet_jax.data.decode import PIL

# AlexNet's PCA lighting (Krizhevsky et al. 2012), as fb.resnet.torch applies it to [0, 1] RGB images.
LIGHTING_STD = 0.1
EIGENVALUES = np.array([0.2175, 0.0188, 0.0045], np.float32)
EIGENVECTORS = np.array(
    [[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]], np.float32
)


def _shorter_side_box(width: int, height: int, shorter: float, size: int, left: float, top: float):
  """The box of the original image that becomes the size x size crop at (left, top) after resizing the shorter
  side to `shorter`; a crop at the far edge of a rounded-up resized side ends at the image's edge."""
  scale = shorter / min(width, height)
  return (left / scale, top / scale, min(width, (left + size) / scale), min(height, (top + size) / scale))


def paper_train(
    data: bytes, rng: np.random.Generator, size: int = 224, scale_range=(256, 480), decoder=PIL
) -> np.ndarray:
  """He et al. 2015: shorter side resized to a random integer in [256, 480], a random size x size crop, a
  random horizontal flip."""
  width, height = decoder.size(data)
  shorter = int(rng.integers(scale_range[0], scale_range[1] + 1))
  scale = shorter / min(width, height)
  scaled_w, scaled_h = round(width * scale), round(height * scale)
  left, top = rng.integers(0, scaled_w - size + 1), rng.integers(0, scaled_h - size + 1)
  box = _shorter_side_box(width, height, shorter, size, left, top)
  return decoder.crop(data, box, (size, size), rng.random() < 0.5)


def random_resized_crop(
    data: bytes, rng: np.random.Generator, size: int = 224, area=(0.08, 1.0), ratio=(3 / 4, 4 / 3), decoder=PIL
) -> np.ndarray:
  """Inception-style crop as torchvision's RandomResizedCrop draws it, resized to size x size, and a random flip."""
  width, height = decoder.size(data)
  for _ in range(10):
    target = width * height * rng.uniform(*area)
    aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
    w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
    if 0 < w <= width and 0 < h <= height:
      left, top = rng.integers(0, width - w + 1), rng.integers(0, height - h + 1)
      break
  else:  # Fall back to the central crop of the nearest allowed aspect ratio.
    aspect = width / height
    w, h = (
        (width, round(width / ratio[0]))
        if aspect < ratio[0]
        else (round(height * ratio[1]), height)
        if aspect > ratio[1]
        else (width, height)
    )
    left, top = (width - w) // 2, (height - h) // 2
  return decoder.crop(data, (left, top, left + w, top + h), (size, size), rng.random() < 0.5)


def lighting(rng: np.random.Generator) -> np.ndarray:
  """The per-image PCA lighting coefficients alpha ~ N(0, 0.1^2).

  The device adds EIGENVECTORS @ (alpha * EIGENVALUES) to the [0, 1] image.
  """
  return rng.normal(0, LIGHTING_STD, 3).astype(np.float32)


def eval_resize(size: int) -> int:
  """The shorter side that a size x size test crop is taken from: 256 for 224, as in the paper."""
  return round(size * 256 / 224)


def center_crop(data: bytes, size: int = 224, resize: int | None = None, decoder=PIL) -> np.ndarray:
  """Shorter side resized to `resize` (default eval_resize(size)), then the central size x size crop."""
  resize = resize or eval_resize(size)
  width, height = decoder.size(data)
  scale = resize / min(width, height)
  left, top = (round(width * scale) - size) / 2, (round(height * scale) - size) / 2
  return decoder.crop(data, _shorter_side_box(width, height, resize, size, left, top), (size, size))


def ten_crops(data: bytes, size: int = 224, resize: int | None = None, decoder=PIL) -> np.ndarray:
  """(10, size, size, 3): the four corner and the central crops of the image resized to shorter side `resize`
  (default eval_resize(size)), and their mirror images."""
  resize = resize or eval_resize(size)
  width, height = decoder.size(data)
  scale = resize / min(width, height)
  resized = decoder.crop(data, (0, 0, width, height), (round(width * scale), round(height * scale)))
  h, w = resized.shape[:2]
  corners = [(0, 0), (0, w - size), (h - size, 0), (h - size, w - size), ((h - size) // 2, (w - size) // 2)]
  crops = np.stack([resized[y : y + size, x : x + size] for y, x in corners])
  return np.concatenate([crops, crops[:, :, ::-1]])


def full_image_shape(width: int, height: int, shorter: int, multiple: int = 32) -> tuple[int, int]:
  """(height, width) of the whole image at shorter side `shorter`, the longer side rounded to `multiple` pixels
  (so that images of similar aspect share one compiled shape)."""
  longer = max(shorter, multiple * round(max(width, height) * shorter / min(width, height) / multiple))
  return (shorter, longer) if height <= width else (longer, shorter)


def full_image(data: bytes, shorter: int, decoder=PIL) -> np.ndarray:
  """The whole image at shorter side `shorter` (the paper's fully convolutional testing at one scale)."""
  width, height = decoder.size(data)
  out_h, out_w = full_image_shape(width, height, shorter)
  return decoder.crop(data, (0, 0, width, height), (out_w, out_h))
