"""Residual blocks, read beside He et al. 2015: the basic block of Fig. 2 and Fig. 5 (left), the bottleneck block of
Fig. 5 (right), and the shortcut options A, B and C of Section 3.3.

A block computes relu(shortcut(x) + F(x)) (post-activation, He et al. 2015), or shortcut(x) + F(x) where each
weighted layer of F starts with BN-ReLU (pre-activation, He et al. 2016). A plain block computes F(x) alone.
"""

from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from resnet_jax.models.block_modes import apply_mode

ModuleDef = Callable[..., nn.Module]
SHORTCUTS = ('A', 'B', 'C', 'none')  # 'none' is a plain block: no shortcut, no addition (SHORTCUT_OPTIONS below).


def is_residual(shortcut: str) -> bool:
  """Whether blocks of this shortcut option add a shortcut: every option but plain nets' 'none'."""
  return shortcut != 'none'


def layer(
    block: 'Block', i: int, x: jax.Array, kernel: int, features: int, stride: int, last: bool = False
) -> jax.Array:
  """Weighted layer i (1-based) of a residual branch, named conv{i} and bn{i}.

  Post-activation: conv, BN, then ReLU unless it is the branch's last layer. Pre-activation: BN-ReLU, then conv
  (layer 1's BN-ReLU is the block's, on its input, shared with a projection shortcut). The last layer starts at
  zero with zero_init_residual (its BN scale; pre-activation: its conv). A 3x3 layer sows its response (Fig. 7):
  its BN output, before any ReLU or addition (pre-activation: its conv output).
  """
  zero = block.zero_init_residual and last
  if block.preact:
    if i > 1:
      x = nn.relu(block.norm(name=f'bn{i}')(x))
    init = {'kernel_init': nn.initializers.zeros} if zero else {}
    y = block.conv(features, kernel, stride, name=f'conv{i}', **init)(x)
  else:
    y = block.conv(features, kernel, stride, name=f'conv{i}')(x)
    y = block.norm(scale_init=nn.initializers.zeros if zero else nn.initializers.ones, name=f'bn{i}')(y)
  if kernel == 3:
    block.sow('intermediates', 'response', y)
  return y if block.preact or last else nn.relu(y)


def basic_branch(block: 'Block', x: jax.Array) -> jax.Array:
  """F(x) of Fig. 2: two 3x3 layers of `features` channels, the first with the block's stride."""
  y = layer(block, 1, x, 3, block.features, block.stride)
  return layer(block, 2, y, 3, block.features, 1, last=True)


def bottleneck_branch(block: 'Block', x: jax.Array) -> jax.Array:
  """F(x) of Fig. 5 (right): a 1x1 layer reducing to `features` channels, a 3x3 layer, and a 1x1 layer restoring
  `out_features`. The stride is on the first 1x1 (bottleneck_stride '1x1', the paper's) or on the 3x3 ('3x3',
  torchvision's v1.5)."""
  s1, s3 = (1, block.stride) if block.bottleneck_stride == '3x3' else (block.stride, 1)
  y = layer(block, 1, x, 1, block.features, s1)
  y = layer(block, 2, y, 3, block.features, s3)
  return layer(block, 3, y, 1, block.out_features, 1, last=True)


def option_a(x: jax.Array, stride: int, features: int) -> jax.Array:
  """Option A's identity where the shape changes: subsampled by `stride`, zero-padded to `features` channels."""
  x = x[:, ::stride, ::stride, :]
  return jnp.pad(x, ((0, 0), (0, 0), (0, 0), (0, features - x.shape[-1])))


def projection(block: 'Block', pre: jax.Array) -> jax.Array:
  """A projection shortcut: 1x1 conv with the block's stride, then BN; in a pre-activation net on the block's
  BN-ReLU'd input `pre`, with no BN after it (He et al. 2016)."""
  skip = block.conv(block.out_features, 1, block.stride, name='shortcut_conv')(pre)
  return skip if block.preact else block.norm(name='shortcut_bn')(skip)


# The shortcut options of Section 3.3, as (block, x, pre) -> the shortcut's output; `pre` is the block's input as
# its layers read it (BN-ReLU'd in a pre-activation net, else x).
def shortcut_a(block: 'Block', x: jax.Array, pre: jax.Array) -> jax.Array:
  """A: the identity; where the block changes the shape, x subsampled and zero-padded (option_a). No parameters."""
  return option_a(x, block.stride, block.out_features) if block.changes_shape else x


def shortcut_b(block: 'Block', x: jax.Array, pre: jax.Array) -> jax.Array:
  """B: the identity; where the block changes the shape, a projection."""
  return projection(block, pre) if block.changes_shape else x


def shortcut_c(block: 'Block', x: jax.Array, pre: jax.Array) -> jax.Array:
  """C: a projection on every block."""
  return projection(block, pre)


SHORTCUT_OPTIONS = {'A': shortcut_a, 'B': shortcut_b, 'C': shortcut_c}


class Block(nn.Module):
  """A residual (or plain) block. Returns (out, None), the form nn.scan needs.

  `mode` is a BlockMode scalar (block_modes.apply_mode), or None for KEEP without the switching ops.
  """

  features: int  # Width of the 3x3 convs.
  out_features: int  # Width of the output: `features`, or 4x for a bottleneck (Architecture.out_width).
  stride: int
  changes_shape: bool  # Stride or width differ from the input's (Architecture.changes_shape).
  bottleneck: bool
  shortcut: str  # A, B, C or 'none'.
  preact: bool
  bottleneck_stride: str  # '1x1': a bottleneck's stride on its first 1x1 conv (the paper's); '3x3': torchvision's.
  zero_init_residual: bool  # Start each residual branch at zero: its last BN scale (or pre-act: last conv) is 0.
  conv: ModuleDef
  norm: ModuleDef

  @nn.compact
  def __call__(self, x: jax.Array, mode: Any = None):
    pre = nn.relu(self.norm(name='bn1')(x)) if self.preact else x
    residual = (bottleneck_branch if self.bottleneck else basic_branch)(self, pre)
    skip = SHORTCUT_OPTIONS[self.shortcut](self, x, pre) if is_residual(self.shortcut) else None
    activate = (lambda v: v) if self.preact else nn.relu
    return apply_mode(mode, x, residual, skip, activate, self.changes_shape), None
