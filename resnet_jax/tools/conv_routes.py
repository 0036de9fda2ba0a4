"""Ways to compute a stride-1, zero-padded ('SAME') KxK convolution other than XLA's convolution op, timed by
experiments/benchmark.py --bench=conv beside it (docs/benchmarks.md). The nets use none of them: none
was faster on the CPU. Each takes x (NHWC) and w (HWIO) in float32; its gradients are JAX's of its own ops.
"""

import jax.numpy as jnp
from jax import lax

from resnet_jax.models.conv import STANDARD


def _taps(x, kernel: int) -> list:
  """The kernel*kernel shifted views of x, zero-padded by kernel // 2: tap (i, j) of output (h, w) is x[h+i, w+j]."""
  height, width, pad = x.shape[1], x.shape[2], kernel // 2
  padded = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  return [padded[:, i : i + height, j : j + width] for i in range(kernel) for j in range(kernel)]


def tap_products(x, w):
  """The sum over the kernel's taps of the shifted input times that tap's (Cin, Cout) matrix."""
  kernel = w.shape[0]
  return sum(
      jnp.dot(tap, w[index // kernel, index % kernel], preferred_element_type=jnp.float32)
      for index, tap in enumerate(_taps(x, kernel))
  )


def patches_product(x, w):
  """One matrix product: the taps side by side, (N, H, W, K*K*Cin), times the kernel as (K*K*Cin, Cout)."""
  patches = jnp.concatenate(_taps(x, w.shape[0]), axis=-1)
  return jnp.dot(patches, w.reshape(-1, w.shape[-1]), preferred_element_type=jnp.float32)


def in_bfloat16(route):
  """route with its inputs rounded to bfloat16 (float32 accumulation where the route asks for it)."""
  return lambda x, w: route(x.astype(jnp.bfloat16), w.astype(jnp.bfloat16)).astype(jnp.float32)


def same_padding(w) -> tuple:
  """The padding of a stride-1 'SAME' convolution by kernel w: kernel // 2 on each side."""
  return ((w.shape[0] // 2,) * 2,) * 2


def xla_conv(x, w):
  """XLA's convolution op, padded by kernel // 2 (the benchmarked layer)."""
  return lax.conv_general_dilated(x, w, (1, 1), same_padding(w), dimension_numbers=STANDARD)


def xla_conv_nchw(x, w):
  """XLA's convolution op on the NCHW/OIHW layout (transposed in and out)."""
  out = lax.conv_general_dilated(
      x.transpose(0, 3, 1, 2),
      w.transpose(3, 2, 0, 1),
      (1, 1),
      same_padding(w),
      dimension_numbers=('NCHW', 'OIHW', 'NCHW'),
  )
  return out.transpose(0, 2, 3, 1)


# implementation -> route; XLA's own (float32, NHWC) is the reference the others' errors are measured against.
ROUTES = {
    'NCHW': xla_conv_nchw,
    'tap products': tap_products,
    'patches product': patches_product,
    'XLA bfloat16': in_bfloat16(xla_conv),
    'patches product bfloat16': in_bfloat16(patches_product),
}
