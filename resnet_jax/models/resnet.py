"""The ResNet: stem -> stages of blocks -> global average pool -> fc (He et al. 2015, Table 1)."""

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from resnet_jax import compute
from resnet_jax.models import conv as standard_layout
from resnet_jax.models.blocks import Block
from resnet_jax.models.depths import Architecture, architecture
from resnet_jax.models.norm import BatchNorm

HE_NORMAL = nn.initializers.variance_scaling(2.0, 'fan_out', 'normal')  # He et al. 2015b, as torchvision.


def conv(features: int, kernel: int, stride: int, *, dtype, **kwargs) -> nn.Conv:
  """A bias-free square conv padded by kernel // 2 on each side, as the paper's (and torchvision's) are; its
  gradients computed as the traced function's choices say (compute.current)."""
  kwargs = {'kernel_init': HE_NORMAL, **kwargs}
  if compute.current().conv_gradients == 'standard_layout':
    kwargs['conv_general_dilated'] = standard_layout.conv_general_dilated
  return nn.Conv(
      features,
      (kernel, kernel),
      strides=stride,
      padding=[(kernel // 2, kernel // 2)] * 2,
      use_bias=False,
      dtype=dtype,
      **kwargs,
  )


class Stage(nn.Module):
  """A stage: a transition block where the shape changes, then identical blocks run under nn.scan (unrolled where
  the traced function's choices say: compute.current)."""

  num_blocks: int
  stride: int
  transition: bool
  block: functools.partial  # Block with everything set but the stride and changes_shape.

  @nn.compact
  def __call__(self, x: jax.Array, modes: jax.Array | None):
    if self.transition:
      first, modes = (None, None) if modes is None else (modes[0], modes[1:])
      x, _ = self.block(stride=self.stride, changes_shape=True, name='transition')(x, first)
    scanned = self.num_blocks - self.transition
    if scanned:
      unroll = scanned if compute.current().block_loop == 'unroll' else 1
      blocks = nn.scan(
          Block,
          variable_axes={'params': 0, 'batch_stats': 0, 'intermediates': 0},
          split_rngs={'params': True},
          in_axes=0,
          length=scanned,
          unroll=unroll,
      )
      x, _ = blocks(stride=1, changes_shape=False, **self.block.keywords, name='blocks')(x, modes)
    return x


class ResNet(nn.Module):
  """A ResNet (or its plain twin, shortcut='none'). Its fields are the keys of a config's model section:
  ResNet(num_classes=..., **config.model).

  Call with images (N, H, W, 3); any H, W work (the net is convolutional up to the pooling). `block_modes`, an
  int32 array with one BlockMode per block in network order, deletes blocks or routes their gradient.
  """

  family: str  # 'cifar' (3x3 stem, widths 16/32/64) or 'imagenet' (7x7 stem and max-pool, widths 64..512).
  depth: int  # Of the table of depths (depths.py).
  num_classes: int
  shortcut: str = 'B'  # Option 'A', 'B' or 'C' (blocks.py), or 'none': a plain net.
  preact: bool = False  # Pre-activation blocks (He et al. 2016).
  bottleneck_stride: str = '1x1'  # '1x1': the paper's v1; '3x3': torchvision's v1.5.
  zero_init_residual: bool = False  # Each residual branch starts at zero (its last BN scale).
  dtype: str = 'float32'  # Of the computation: 'float32' or 'bfloat16'; parameters stay float32.
  bn_group_size: int = 0  # Training statistics over groups of this many examples; 0: the whole batch.
  width_multiplier: int = 1  # Every layer's width times this (a wide ResNet); 1: the paper's widths.
  frozen_bn: bool = False  # BN normalises with its stored statistics, in training too (optim.py freezes its params).
  bn_momentum: float = 0.9
  bn_epsilon: float = 1e-5

  @property
  def arch(self) -> Architecture:
    arch = architecture(self.family, self.depth)
    return dataclasses.replace(arch, widths=tuple(self.width_multiplier * width for width in arch.widths))

  def block(self, stage: int, conv, norm) -> functools.partial:
    """Block of stage `stage` (0-based) with everything set but its stride and changes_shape."""
    arch = self.arch
    return functools.partial(
        Block,
        features=arch.widths[stage],
        out_features=arch.out_width(stage),
        bottleneck=arch.bottleneck,
        shortcut=self.shortcut,
        preact=self.preact,
        bottleneck_stride=self.bottleneck_stride,
        zero_init_residual=self.zero_init_residual,
        conv=conv,
        norm=norm,
    )

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False, block_modes: jax.Array | None = None) -> jax.Array:
    arch, dtype = self.arch, jnp.dtype(self.dtype)
    if block_modes is not None and block_modes.shape != (arch.num_blocks,):
      raise ValueError(f'block_modes has shape {block_modes.shape}; this net needs ({arch.num_blocks},).')
    make_conv = functools.partial(conv, dtype=dtype)
    norm = functools.partial(
        BatchNorm,
        use_running_average=not train or self.frozen_bn,
        group_size=self.bn_group_size,
        momentum=self.bn_momentum,
        epsilon=self.bn_epsilon,
        dtype=dtype,
    )
    x = x.astype(dtype)
    if arch.stem == 'imagenet':
      x = nn.relu(norm(name='stem_bn')(make_conv(arch.widths[0], 7, 2, name='stem_conv')(x)))
      x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
    else:
      x = norm(name='stem_bn')(make_conv(arch.widths[0], 3, 1, name='stem_conv')(x))
      self.sow('intermediates', 'response', x)  # The first 3x3 layer's response (Fig. 7).
      x = nn.relu(x)

    for i, (size, offset) in enumerate(zip(arch.stage_sizes, arch.stage_offsets())):
      block = self.block(i, make_conv, norm)
      modes = None if block_modes is None else block_modes[offset : offset + size]
      x = Stage(size, arch.stride(i), arch.has_transition(i), block, name=f'stage{i + 1}')(x, modes)

    if self.preact:
      x = nn.relu(norm(name='final_bn')(x))
    x = jnp.mean(x, axis=(1, 2))
    return nn.Dense(self.num_classes, dtype=dtype, name='fc')(x).astype(jnp.float32)


def create_model(config) -> ResNet:
  """The ResNet of config.model, with config.dataset.num_classes outputs."""
  architecture(config.model.family, config.model.depth)  # Refuses a depth of no network, before anything is built.
  return ResNet(num_classes=config.dataset.num_classes, **config.model)


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

  return {name: permute(collection) if stage in collection else collection for name, collection in variables.items()}
