"""Data held in device memory, batched and augmented inside the jitted step.

The training stream is a pure function of (seed, step): epoch e visits the images in the order of a permutation
drawn from (seed, e), and step s's crops and flips come from (seed, s). Resuming at a step resumes the stream, and
the batches do not depend on the number of devices or hosts.
"""

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from resnet_jax import parallel
from resnet_jax.data import augment


@flax.struct.dataclass
class Examples:
  """A training set on the devices: uint8 images and int32 labels, replicated on every device."""

  images: jax.Array
  labels: jax.Array


@flax.struct.dataclass
class Normalization:
  mean: jax.Array  # (H, W, 3) per-pixel or (3,) per-channel, in [0, 1] units.
  std: jax.Array


def normalization(train_images: np.ndarray, kind: str) -> Normalization:
  images = train_images.astype(np.float64) / 255
  if kind == 'per_pixel_mean':  # He et al. 2015: "the per-pixel mean subtracted".
    return Normalization(jnp.asarray(images.mean(0), jnp.float32), jnp.ones((3,), jnp.float32))
  if kind == 'per_channel':
    return Normalization(
        jnp.asarray(images.mean((0, 1, 2)), jnp.float32), jnp.asarray(images.std((0, 1, 2)), jnp.float32)
    )
  raise ValueError(kind)


def put(images: np.ndarray, labels: np.ndarray, mesh) -> Examples:
  """Examples replicated on the mesh."""
  return Examples(parallel.replicate(images, mesh), parallel.replicate(labels, mesh))


def crop_and_flip(images: jax.Array, key: jax.Array, padding: int) -> jax.Array:
  """Random crops of the zero-padded images, each flipped horizontally with probability 1/2."""
  n, h, w, c = images.shape
  key_y, key_x, key_flip = jax.random.split(key, 3)
  padded = jnp.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
  ys = jax.random.randint(key_y, (n,), 0, 2 * padding + 1)
  xs = jax.random.randint(key_x, (n,), 0, 2 * padding + 1)
  crops = jax.vmap(lambda im, y, x: jax.lax.dynamic_slice(im, (y, x, 0), (h, w, c)))(padded, ys, xs)
  flips = jax.random.bernoulli(key_flip, 0.5, (n,))
  return jnp.where(flips[:, None, None, None], crops[:, :, ::-1], crops)


def normalize(images: jax.Array, norm: Normalization, lighting: jax.Array | None = None) -> jax.Array:
  """uint8 images to float32: in [0, 1], plus PCA lighting (per-image coefficients (N, 3)), minus the mean
  (a per-pixel mean is resized to the images' size), divided by the std."""
  x = images.astype(jnp.float32) / 255
  if lighting is not None:
    x = x + ((lighting * augment.EIGENVALUES) @ augment.EIGENVECTORS.T)[:, None, None, :]
  mean = norm.mean
  if mean.ndim == 3 and mean.shape[:2] != x.shape[1:3]:
    mean = jax.image.resize(mean, (*x.shape[1:3], 3), 'bilinear')
  return (x - mean) / norm.std


def train_batch(
    split: Examples, norm: Normalization, step: jax.Array, seed: int, batch_size: int, crop_padding: int, mesh
) -> dict[str, jax.Array]:
  """The training batch of `step`: images (B, H, W, 3) float32 and labels (B,), sharded over the mesh."""
  num_examples = split.labels.shape[0]
  steps_per_epoch = num_examples // batch_size
  key = jax.random.key(seed)
  order = jax.random.permutation(jax.random.fold_in(key, step // steps_per_epoch), num_examples)
  index = jax.lax.dynamic_slice(order, ((step % steps_per_epoch) * batch_size,), (batch_size,))
  index = parallel.shard_batch(index, mesh)  # Each device gathers only its slice of the batch.
  images = split.images[index]
  if crop_padding:
    images = crop_and_flip(images, jax.random.fold_in(jax.random.fold_in(key, 1 << 30), step), crop_padding)
  return {'image': normalize(images, norm), 'label': split.labels[index]}
