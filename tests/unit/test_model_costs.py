"""Parameter counts and multiply-adds against the published numbers."""

import pytest

from configs import schema
from resnet_jax.errors import ConfigError
from resnet_jax.models import count_macs, count_params
from tests.helpers import build, get_config

# torchvision's counts (option B shortcuts).
TORCHVISION_PARAMS = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160, 152: 60_192_808}
# He et al. 2015 Table 1 "FLOPs" (multiply-adds, 224x224), in units of 1e9.
PAPER_MACS = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}
# He et al. 2015 Table 6 (option A), in millions, as printed.
PAPER_CIFAR_PARAMS = {20: 0.27, 32: 0.46, 44: 0.66, 56: 0.85, 110: 1.7, 1202: 19.4}


@pytest.mark.parametrize('depth', sorted(TORCHVISION_PARAMS))
def test_imagenet_params_equal_torchvision(depth):
  _, _, variables = build(f'imagenet:resnet{depth}')
  assert count_params(variables['params']) == TORCHVISION_PARAMS[depth]


@pytest.mark.parametrize('depth', sorted(PAPER_CIFAR_PARAMS))
def test_cifar_params_match_paper(depth):
  _, _, variables = build(f'cifar10:resnet{depth}')
  published = PAPER_CIFAR_PARAMS[depth]
  half_last_digit = 0.005 if published < 1 else 0.05  # The paper rounds to the digit it prints.
  assert abs(count_params(variables['params']) / 1e6 - published) <= half_last_digit


def test_shortcut_options_order_params():
  counts = {s: count_params(build(f'imagenet:resnet34-{s}')[2]['params']) for s in 'ABC'}
  assert counts['A'] < counts['B'] < counts['C']
  # Option B adds exactly the three projections (conv + BN) where the width doubles.
  projections = sum(c_in * c_out + 2 * c_out for c_in, c_out in ((64, 128), (128, 256), (256, 512)))
  assert counts['B'] - counts['A'] == projections


def test_plain_net_lacks_only_the_projections():
  plain = count_params(build('imagenet:plain34')[2]['params'])
  resnet_a = count_params(build('imagenet:resnet34-A')[2]['params'])
  assert plain == resnet_a  # Option A shortcuts have no parameters.


@pytest.mark.parametrize('depth', sorted(PAPER_MACS))
def test_imagenet_macs_within_4_percent_of_table_1(depth):
  _, model, variables = build(f'imagenet:resnet{depth}')
  macs = count_macs(model, variables, 224)
  assert abs(macs / 1e9 / PAPER_MACS[depth] - 1) < 0.04


def test_v1_5_moves_the_stride_and_costs_more():
  """torchvision's v1.5 ResNet-50 is quoted at 4.09 GFLOPs (multiply-adds), the paper's v1 at 3.8."""
  _, model, variables = build('imagenet:resnet50', bottleneck_stride='3x3')
  assert count_params(variables['params']) == TORCHVISION_PARAMS[50]
  assert abs(count_macs(model, variables, 224) / 4.09e9 - 1) < 0.01


def test_macs_count_every_scanned_block():
  """ResNet-1202 has 200 blocks per stage where ResNet-110 has 18; every non-transition CIFAR block costs
  two 3x3 convs over H*W*C*C = 32*32*16*16 (= 16*16*32*32 = 8*8*64*64)."""
  macs = {d: count_macs(m, v, 32) for d in (110, 1202) for _, m, v in [build(f'cifar10:resnet{d}')]}
  assert macs[1202] - macs[110] == 3 * (200 - 18) * 2 * 9 * 32 * 32 * 16 * 16


def test_a_width_multiplier_widens_every_layer():
  """model.width_multiplier, a field of ResNet and a default of the config (configs/common.py): every layer k times
  as wide, so a convolution holds k^2 times the weights; its range is the schema's."""
  base, wide = build('cifar10:resnet20')[2]['params'], build('cifar10:resnet20', width_multiplier=2)[2]['params']
  assert wide['stem_conv']['kernel'].shape == (3, 3, 3, 32)
  assert wide['stage3']['blocks']['conv2']['kernel'].shape == (2, 3, 3, 128, 128)
  assert 3.9 < count_params(wide) / count_params(base) < 4.0  # The convolutions; BN and the classifier grow 2x.
  config = get_config('cifar10:resnet20', width_multiplier=0)
  with pytest.raises(ConfigError, match='model.width_multiplier must be a finite number at least 1, not 0'):
    schema.check(config)
