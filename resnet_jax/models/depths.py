"""The table of depths: the blocks of every network, stage by stage (He et al. 2015, Tables 1 and 6)."""

import dataclasses

from resnet_jax.errors import ConfigError, Setting

# depth -> (bottleneck blocks?, blocks per stage). Widths 64/128/256/512.
IMAGENET_STAGES = {
    18: (False, (2, 2, 2, 2)),
    34: (False, (3, 4, 6, 3)),
    50: (True, (3, 4, 6, 3)),
    101: (True, (3, 4, 23, 3)),
    152: (True, (3, 8, 36, 3)),
    200: (True, (3, 24, 36, 3)),  # He et al. 2016; the net of Veit et al.'s ImageNet lesion study.
}
IMAGENET_WIDTHS = (64, 128, 256, 512)
BOTTLENECK_EXPANSION = 4  # A bottleneck block's output is 4x its 3x3 width (Fig. 5: 64-d -> 256-d).
CIFAR_WIDTHS = (16, 32, 64)  # Three stages of n basic blocks each: depth 6n + 2.


@dataclasses.dataclass(frozen=True)
class Architecture:
  """The shape of a network: its stem, block type, and the number and width of blocks in each stage."""

  stem: str  # 'imagenet' (7x7/2 conv, 3x3/2 max-pool) or 'cifar' (3x3 conv).
  bottleneck: bool
  stage_sizes: tuple[int, ...]
  widths: tuple[int, ...]  # Width of each stage's 3x3 convs; the stem's width is widths[0].

  @property
  def expansion(self) -> int:
    return BOTTLENECK_EXPANSION if self.bottleneck else 1

  @property
  def num_blocks(self) -> int:
    return sum(self.stage_sizes)

  @property
  def depth(self) -> int:
    """Weighted layers: the stem, two or three per block, and the classifier."""
    return (3 if self.bottleneck else 2) * self.num_blocks + 2

  def stride(self, stage: int) -> int:
    return 1 if stage == 0 else 2

  def out_width(self, stage: int) -> int:
    """The width of the stage's block outputs."""
    return self.widths[stage] * self.expansion

  def changes_shape(self, stage: int, position: int) -> bool:
    """Whether block `position` of `stage` changes the shape (stride or width), so that its shortcut is not the
    identity: only a stage's first block can, where it strides or widens what comes in (the stem's width for
    stage 0)."""
    width_in = self.widths[0] if stage == 0 else self.out_width(stage - 1)
    return position == 0 and (self.stride(stage) != 1 or width_in != self.out_width(stage))

  def has_transition(self, stage: int) -> bool:
    """Whether the stage's first block changes the shape and so runs apart from the stage's scanned blocks."""
    return self.changes_shape(stage, 0)

  def stage_offsets(self) -> tuple[int, ...]:
    """Index of each stage's first block in the network's block order."""
    return tuple(sum(self.stage_sizes[:i]) for i in range(len(self.stage_sizes)))


def wrong_depth(family: str, depth: int) -> str | None:
  """Why `depth` names no network of `family` ('cifar' or 'imagenet'); None when it names one."""
  if family == 'imagenet' and depth not in IMAGENET_STAGES:
    return f'ImageNet ResNets have depth {sorted(IMAGENET_STAGES)}, not {depth}'
  if family == 'cifar' and (depth < 8 or (depth - 2) % 6):
    return f'CIFAR ResNets have depth 6n+2 (20, 32, 44, 56, 110, 1202, ...), not {depth}'
  return None


def architecture(family: str, depth: int) -> Architecture:
  """The architecture of a named family ('cifar' or 'imagenet') and depth."""
  if wrong := wrong_depth(family, depth):
    raise ConfigError(f'{wrong}: set ', Setting('model.depth'), ' to one of them.')
  if family == 'imagenet':
    bottleneck, sizes = IMAGENET_STAGES[depth]
    return Architecture('imagenet', bottleneck, sizes, IMAGENET_WIDTHS)
  if family == 'cifar':
    n = (depth - 2) // 6
    return Architecture('cifar', False, (n, n, n), CIFAR_WIDTHS)
  raise ConfigError(f'Unknown model family {family!r}: set ', Setting('model.family'), " to 'cifar' or 'imagenet'.")
