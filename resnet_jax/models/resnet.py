"""The ResNet: stem -> stages of blocks -> global average pool -> fc (He et al. 2015, Table 1)."""
import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from resnet_jax.models import conv as standard_layout
from resnet_jax.models.blocks import Block
from resnet_jax.models.depths import Architecture
from resnet_jax.models.norm import BatchNorm

HE_NORMAL = nn.initializers.variance_scaling(2.0, 'fan_out', 'normal')  # He et al. 2015b, as torchvision.


def conv(features: int, kernel: int, stride: int, *, dtype: Any, standard_layout_gradients: bool = False,
         **kwargs) -> nn.Conv:
  """A bias-free square conv padded by kernel // 2 on each side, as the paper's (and torchvision's) are.

  standard_layout_gradients: compute its gradients as convolutions in the forward's layout (models/conv.py).
  """
  kwargs = {'kernel_init': HE_NORMAL, **kwargs}
  if standard_layout_gradients:
    kwargs['conv_general_dilated'] = standard_layout.conv_general_dilated
  return nn.Conv(features, (kernel, kernel), strides=stride, padding=[(kernel // 2, kernel // 2)] * 2,
                 use_bias=False, dtype=dtype, **kwargs)


class Stage(nn.Module):
  """A stage: a transition block where the shape changes, then identical blocks run under nn.scan."""
  num_blocks: int
  stride: int
  transition: bool
  block: functools.partial  # Block with everything set but the stride and changes_shape.
  unroll: bool  # Unroll the scan: same variables, straight-line code.

  @nn.compact
  def __call__(self, x: jax.Array, modes: jax.Array | None):
    if self.transition:
      first, modes = (None, None) if modes is None else (modes[0], modes[1:])
      x, _ = self.block(stride=self.stride, changes_shape=True, name='transition')(x, first)
    scanned = self.num_blocks - self.transition
    if scanned:
      blocks = nn.scan(Block, variable_axes={'params': 0, 'batch_stats': 0, 'intermediates': 0},
                       split_rngs={'params': True}, in_axes=0, length=scanned, unroll=scanned if self.unroll else 1)
      x, _ = blocks(stride=1, changes_shape=False, **self.block.keywords, name='blocks')(x, modes)
    return x


class ResNet(nn.Module):
  """A ResNet (or its plain twin, shortcut='none') for a given architecture.

  Call with images (N, H, W, 3); any H, W work (the net is convolutional up to the pooling). `block_modes`, an
  int32 array with one BlockMode per block in network order, deletes blocks or routes their gradient.
  """
  arch: Architecture
  num_classes: int
  shortcut: str = 'B'
  preact: bool = False
  stride_on_3x3: bool = False
  zero_init_residual: bool = False
  dtype: Any = jnp.float32
  bn_momentum: float = 0.9
  bn_epsilon: float = 1e-5
  bn_group_size: int = 0  # Training statistics over groups of this many examples; 0: the whole batch.
  unroll_blocks: bool = False  # Unroll each stage's scan: the same variables, straight-line code.
  standard_layout_gradients: bool = False  # Conv gradients as standard-layout convs (fast in loops on XLA:CPU).

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False, block_modes: jax.Array | None = None) -> jax.Array:
    if block_modes is not None and block_modes.shape != (self.arch.num_blocks,):
      raise ValueError(f'block_modes has shape {block_modes.shape}; this net needs ({self.arch.num_blocks},).')
    make_conv = functools.partial(conv, dtype=self.dtype, standard_layout_gradients=self.standard_layout_gradients)
    norm = functools.partial(BatchNorm, use_running_average=not train, group_size=self.bn_group_size,
                             momentum=self.bn_momentum, epsilon=self.bn_epsilon, dtype=self.dtype)
    x = x.astype(self.dtype)
    if self.arch.stem == 'imagenet':
      x = nn.relu(norm(name='stem_bn')(make_conv(self.arch.widths[0], 7, 2, name='stem_conv')(x)))
      x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
    else:
      x = norm(name='stem_bn')(make_conv(self.arch.widths[0], 3, 1, name='stem_conv')(x))
      self.sow('intermediates', 'response', x)  # The first 3x3 layer's response (Fig. 7).
      x = nn.relu(x)

    for i, (size, offset) in enumerate(zip(self.arch.stage_sizes, self.arch.stage_offsets())):
      block = functools.partial(
          Block, features=self.arch.widths[i], out_features=self.arch.out_width(i), bottleneck=self.arch.bottleneck,
          shortcut=self.shortcut, preact=self.preact, stride_on_3x3=self.stride_on_3x3,
          zero_init_residual=self.zero_init_residual, conv=make_conv, norm=norm)
      modes = None if block_modes is None else block_modes[offset:offset + size]
      x = Stage(size, self.arch.stride(i), self.arch.has_transition(i), block, self.unroll_blocks,
                name=f'stage{i + 1}')(x, modes)

    if self.preact:
      x = nn.relu(norm(name='final_bn')(x))
    x = jnp.mean(x, axis=(1, 2))
    return nn.Dense(self.num_classes, dtype=self.dtype, name='fc')(x).astype(jnp.float32)


def reorder_stage(variables, stage: str, order):
  """Permutes the scanned blocks of `stage` (e.g. 'stage2'): block i of the result is block order[i] of the input.

  Only the stage's scanned blocks, which all share one shape, are permuted; a transition block stays first.
  `order` may be a traced array, so a jitted evaluation runs any order without recompiling.
  """
  order = jnp.asarray(order)

  def permute(collection):
    stage_vars = dict(collection[stage])
    stage_vars['blocks'] = jax.tree.map(lambda v: jnp.take(v, order, axis=0), stage_vars['blocks'])
    return {**collection, stage: stage_vars}

  return {name: permute(collection) if stage in collection else collection
          for name, collection in variables.items()}
