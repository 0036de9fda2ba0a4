"""The benchmarks' parts (resnet_jax/tools): the PyTorch reference nets they compare with, the measured peak, the
step's profile by kind of operation, their tables."""

import jax
import jax.numpy as jnp
import pytest

from resnet_jax.models import architecture, count_params
from resnet_jax.tools import step_profile, tables
from tests.helpers import build

torch = pytest.importorskip('torch')
from resnet_jax.tools import torch_reference  # noqa: E402


@pytest.mark.parametrize(
    'name,family,shortcut',
    [
        ('cifar10:resnet20', 'cifar', 'A'),
        ('imagenet:resnet18', 'imagenet', 'B'),
        ('imagenet:resnet50', 'imagenet', 'B'),
    ],
)
def test_torch_reference_has_our_parameter_count(name, family, shortcut):
  config, _, variables = build(name)
  net = torch_reference.TorchResNet(architecture(family, config.model.depth), config.dataset.num_classes, shortcut)
  assert sum(p.numel() for p in net.parameters()) == count_params(variables['params'])


def test_torch_reference_option_a_pads_the_subsampled_identity():
  x = torch.arange(2 * 4 * 4 * 4, dtype=torch.float32).reshape(2, 4, 4, 4)
  out = torch_reference._option_a(x, 2, 8)
  assert out.shape == (2, 8, 2, 2) and torch.equal(out[:, :4], x[:, :, ::2, ::2]) and not out[:, 4:].any()


def test_matmul_peak_is_measured():
  from resnet_jax.tools.benchmarking import matmul_flops_per_second

  assert matmul_flops_per_second(64, jnp.float32, repeats=2) > 0
  assert jax.default_backend() == 'cpu'


def test_step_profile_sums_each_kind_of_operation_over_the_calls():
  x = jnp.ones((256, 256))
  compiled, out = jax.jit(lambda x: jnp.tanh(x @ x) @ x).lower(x).compile(), [None]
  seconds = step_profile.seconds_by_kind(
      compiled, lambda: out.__setitem__(0, compiled(x)), lambda: jax.block_until_ready(out[0]), 3
  )
  names = {line.split('=')[0].split('%')[-1].strip() for line in compiled.as_text().splitlines() if ' = ' in line}
  assert (
      seconds
      and all(s > 0 for s in seconds.values())
      and list(seconds.values()) == sorted(seconds.values(), reverse=True)
  )
  # Kinds are the module's instruction names less their numbers: two products of one kind, whatever XLA fused.
  assert all(any(name == kind or name.rpartition('.')[0] == kind for name in names) for kind in seconds)
  # Seconds per call: two products of 256^3 multiply-adds take more than 10 microseconds and far less than a second.
  assert 1e-5 < sum(seconds.values()) < 1


def test_markdown_table_formats_missing_cells_as_a_dash():
  columns = [('name', False, tables.text('name')), ('ms', True, tables.cell('seconds', 1, 1e3, ' ms'))]
  assert tables.markdown_table(columns, [{'name': 'a', 'seconds': 0.0123}, {'name': 'b', 'seconds': None}]) == (
      '| name | ms |\n|---|---:|\n| a | 12.3 ms |\n| b | - |'
  )
