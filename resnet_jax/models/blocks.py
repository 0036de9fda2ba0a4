"""Blocks: basic (3x3, 3x3) or bottleneck (1x1, 3x3, 1x1); post- or pre-activation; shortcut A, B, C or none."""
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from resnet_jax.models.control import BlockMode

ModuleDef = Callable[..., nn.Module]
SHORTCUTS = ('A', 'B', 'C', 'none')  # 'none' is a plain block: no shortcut, no addition.


def option_a(x: jax.Array, stride: int, features: int) -> jax.Array:
  """Option A: identity, subsampled by `stride` and zero-padded to `features` channels. No parameters."""
  x = x[:, ::stride, ::stride, :]
  return jnp.pad(x, ((0, 0), (0, 0), (0, 0), (0, features - x.shape[-1])))


class Block(nn.Module):
  """out = relu(shortcut(x) + F(x)) (post-activation, He et al. 2015) or shortcut(x) + F(bn_relu(x)) (pre-activation).

  Returns (out, None), the form nn.scan needs. `mode` is a BlockMode scalar, or None for KEEP without the
  switching ops. With the 'intermediates' collection mutable, each 3x3 layer sows its response: its BN output
  (pre-activation: its conv output), before any ReLU or addition.
  """
  features: int  # Width of the 3x3 conv; a bottleneck's output is 4x wider.
  stride: int
  bottleneck: bool
  shortcut: str
  preact: bool
  stride_on_3x3: bool  # Bottleneck stride on the 3x3 conv (torchvision's "v1.5"), not the first 1x1 (the paper's).
  zero_init_residual: bool  # Start each residual branch at zero: its last BN scale (or pre-act: last conv) is 0.
  conv: ModuleDef
  norm: ModuleDef

  @nn.compact
  def __call__(self, x: jax.Array, mode: Any = None):
    out_features = self.features * (4 if self.bottleneck else 1)
    changes_shape = self.stride != 1 or x.shape[-1] != out_features
    pre = nn.relu(self.norm(name='bn1')(x)) if self.preact else x

    if self.bottleneck:
      s1, s3 = (1, self.stride) if self.stride_on_3x3 else (self.stride, 1)
      layers = ((1, self.features, s1), (3, self.features, s3), (1, out_features, 1))
    else:
      layers = ((3, self.features, self.stride), (3, self.features, 1))
    residual = pre
    for i, (kernel, features, stride) in enumerate(layers):
      last = i == len(layers) - 1
      zero = self.zero_init_residual and last
      if self.preact and i:
        residual = nn.relu(self.norm(name=f'bn{i + 1}')(residual))
      init = {'kernel_init': nn.initializers.zeros} if zero and self.preact else {}
      residual = self.conv(features, kernel, stride, name=f'conv{i + 1}', **init)(residual)
      if not self.preact:
        scale_init = nn.initializers.zeros if zero else nn.initializers.ones
        residual = self.norm(scale_init=scale_init, name=f'bn{i + 1}')(residual)
      if kernel == 3:  # The layer's response (He et al. 2015, Fig. 7): after BN, before ReLU or addition.
        self.sow('intermediates', 'response', residual)
      if not self.preact and not last:
        residual = nn.relu(residual)

    activate = (lambda v: v) if self.preact else nn.relu
    if self.shortcut == 'none':
      out = activate(residual)
      if mode is not None and not changes_shape:  # A plain block can be deleted (skipped) where shapes allow.
        out = jnp.where(mode == BlockMode.DELETE, x, out)
      return out, None

    if self.shortcut == 'C' or (self.shortcut == 'B' and changes_shape):
      skip = self.conv(out_features, 1, self.stride, name='shortcut_conv')(pre if self.preact else x)
      if not self.preact:
        skip = self.norm(name='shortcut_bn')(skip)
    elif changes_shape:
      skip = option_a(x, self.stride, out_features)
    else:
      skip = x
    if mode is not None:
      residual = jnp.where(mode == BlockMode.SKIP_ONLY, jax.lax.stop_gradient(residual), residual)
      residual = jnp.where(mode == BlockMode.DELETE, jnp.zeros_like(residual), residual)
      skip = jnp.where(mode == BlockMode.RESIDUAL_ONLY, jax.lax.stop_gradient(skip), skip)
    return activate(skip + residual), None
