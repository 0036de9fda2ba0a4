"""The flags of the table of what the JPEG copy costs: whether to make it, and where the 846 original-pixel CIFAR-10
test images and their JPEG twins are (experiments/reproduce_tables.py, and experiments/gpu_window.py, which makes it
by default and passes them on)."""

import os

from absl import flags

from resnet_jax.errors import ConfigError
from resnet_jax.reproduce import reporting, sweep
from resnet_jax.runtime import cli

SHARED = os.path.join(sweep.REPO, '..', 'shared', 'datasets')
flags.DEFINE_bool(
    'jpeg_offset',
    None,
    'Also the table of what the JPEG copy costs: each net trained on --jpeg_copy '
    'evaluated on the 846 originals and their twins (a compile per net: minutes on a CPU). Default: '
    'off (gpu_window.py: on).',
)
flags.DEFINE_string(
    'exact846',
    os.path.join(SHARED, 'cifar10-test-exact846.npz'),
    'The 846 original-pixel CIFAR-10 test images (.npz); where it does not exist, no JPEG table.',
)
flags.DEFINE_string(
    'jpeg_copy', os.path.join(SHARED, 'cifar10-jpeg.tar.gz'), 'The JPEG copy of CIFAR-10 that holds their twins.'
)
FLAGS = flags.FLAGS
cli.share('jpeg_offset', 'exact846', 'jpeg_copy')
USES = ('jpeg_offset', 'exact846', 'jpeg_copy')


def wanted(default: bool) -> bool:
  """Whether to make the table: --jpeg_offset, or the program's `default`; a path given for it must exist (a
  default path that does not: no table)."""
  wanted = default if FLAGS.jpeg_offset is None else FLAGS.jpeg_offset
  for name in ('exact846', 'jpeg_copy'):
    if wanted and FLAGS[name].present and not os.path.exists(FLAGS[name].value):
      raise ConfigError(
          f'--{name}={FLAGS[name].value} does not exist: give the path of '
          f'{os.path.basename(FLAGS[name].default)}, or drop --jpeg_offset.'
      )
  return wanted


def flag_arguments(wanted: bool) -> list[str]:
  """These flags, for a command run on their behalf: --jpeg_offset as `wanted`, the paths where given."""
  return [
      f'--{"" if wanted else "no"}jpeg_offset',
      *(f'--{name}={FLAGS[name].value}' for name in ('exact846', 'jpeg_copy') if FLAGS[name].present),
  ]


def table(results: dict, out: str) -> str | None:
  """reporting.cifar_jpeg_offset_table of the CIFAR-10 `results`; None, said in one line, where the 846-image file
  is not there or no net trained on the copy."""
  if not os.path.exists(FLAGS.exact846):
    print(
        f'jpeg_offset_cifar10: skipped, {FLAGS.exact846} does not exist: pass --exact846=PATH of '
        'cifar10-test-exact846.npz.'
    )
    return None
  if not reporting.trained_on_copy(results, FLAGS.jpeg_copy):
    print(
        f'jpeg_offset_cifar10: skipped, no net trained on {FLAGS.jpeg_copy} (pass --jpeg_copy=PATH of the copy '
        'they trained on).'
    )
    return None
  return reporting.cifar_jpeg_offset_table(results, out, FLAGS.exact846, FLAGS.jpeg_copy)
