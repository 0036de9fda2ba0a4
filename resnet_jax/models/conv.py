"""A 2-D convolution whose gradients are convolutions of the forward pass's standard layout (NHWC, HWIO).

XLA's own gradients of a convolution are convolutions with swapped dimension roles. Inside a loop (nn.scan) XLA:CPU
runs those many times slower than the forward convolution; unrolled, it first lays their operands out afresh.
Written with explicit transposes into the standard layout, the same gradients run as fast inside a loop as unrolled
(experiments/benchmark.py measures both: docs/benchmarks.md); a 1x1 kernel's gradient is a matrix product. The
values are those of lax.conv_general_dilated.
Drop-in for flax's nn.Conv(conv_general_dilated=...); anything but a plain NHWC/HWIO convolution goes to lax.
"""

import jax
import jax.numpy as jnp
from jax import lax

STANDARD = ('NHWC', 'HWIO', 'NHWC')


def _standard(dimension_numbers) -> bool:
  if dimension_numbers is None:
    return False
  if isinstance(dimension_numbers, tuple) and all(isinstance(d, str) for d in dimension_numbers):
    return tuple(dimension_numbers) == STANDARD
  return tuple(map(tuple, dimension_numbers)) == ((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))


def _forward(x, w, strides, padding):
  return lax.conv_general_dilated(x, w, strides, padding, dimension_numbers=STANDARD)


def input_gradient(g, w, x_shape, strides, padding):
  """d(conv)/dx applied to g: the stride-dilated g convolved with the flipped, transposed kernel."""
  flipped = jnp.flip(w, (0, 1)).transpose(0, 1, 3, 2)
  pads = []
  for axis, (low, _) in enumerate(padding):
    size, kernel, stride, out = x_shape[1 + axis], w.shape[axis], strides[axis], g.shape[1 + axis]
    pads.append((kernel - 1 - low, size - 1 + low - (out - 1) * stride))
  return lax.conv_general_dilated(g, flipped, (1, 1), pads, lhs_dilation=strides, dimension_numbers=STANDARD)


def kernel_gradient(x, g, w_shape, strides, padding):
  """d(conv)/dw applied to g: x with batch and channels swapped, convolved with g (stride-dilated) as kernel; for
  an unpadded 1x1 kernel, the product of the strided x's and g's (N*H*W, C) matrices, which XLA:CPU runs 3-6x
  faster than that convolution, a window the size of the image (docs/benchmarks.md)."""
  if tuple(w_shape[:2]) == (1, 1) and all(tuple(p) == (0, 0) for p in padding):
    strided = x[:, :: strides[0], :: strides[1]]
    return jnp.einsum('nhwc,nhwd->cd', strided, g)[None, None]
  pads = []
  for axis, (low, _) in enumerate(padding):
    size, kernel, stride, out = x.shape[1 + axis], w_shape[axis], strides[axis], g.shape[1 + axis]
    pads.append((low, kernel + (out - 1) * stride - size - low))
  grad = lax.conv_general_dilated(
      x.transpose(3, 1, 2, 0), g.transpose(1, 2, 0, 3), (1, 1), pads, rhs_dilation=strides, dimension_numbers=STANDARD
  )  # (Cin, kh, kw, Cout)
  return grad.transpose(1, 2, 0, 3)


def _make(strides, padding):
  @jax.custom_vjp
  def conv(x, w):
    return _forward(x, w, strides, padding)

  def forward(x, w):
    return _forward(x, w, strides, padding), (x, w)

  def backward(residuals, g):
    x, w = residuals
    return (
        input_gradient(g, w, x.shape, strides, padding).astype(x.dtype),
        kernel_gradient(x, g, w.shape, strides, padding).astype(w.dtype),
    )

  conv.defvjp(forward, backward)
  return conv


def conv_general_dilated(
    lhs,
    rhs,
    window_strides,
    padding,
    lhs_dilation=None,
    rhs_dilation=None,
    dimension_numbers=None,
    feature_group_count=1,
    batch_group_count=1,
    precision=None,
    preferred_element_type=None,
):
  """lax.conv_general_dilated, with standard-layout gradients for a plain NHWC/HWIO convolution."""
  plain = (
      _standard(dimension_numbers)
      and feature_group_count == 1
      and batch_group_count == 1
      and precision is None
      and preferred_element_type is None
      and not isinstance(padding, str)
      and all(d == 1 for d in (lhs_dilation or (1, 1)))
      and all(d == 1 for d in (rhs_dilation or (1, 1)))
  )
  if not plain:
    return lax.conv_general_dilated(
        lhs,
        rhs,
        window_strides,
        padding,
        lhs_dilation,
        rhs_dilation,
        dimension_numbers,
        feature_group_count,
        batch_group_count,
        precision,
        preferred_element_type,
    )
  return _make(tuple(window_strides), tuple(map(tuple, padding)))(lhs, rhs)
