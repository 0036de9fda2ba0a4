"""The flags of the table of what the JPEG copy costs: whether to make it, and where the 846 original-pixel CIFAR-10
test images and their JPEG twins are (experiments/reproduce_tables.py, and experiments/gpu_window.py, which makes it
by default and passes them on)."""
import os

from absl import flags

from resnet_jax.reproduce.sweep import REPO

SHARED = os.path.join(REPO, '..', 'shared', 'datasets')
flags.DEFINE_bool('jpeg_offset', False, 'Also the table of what the JPEG copy costs: each net trained on --jpeg_copy '
                  'evaluated on the 846 originals and their twins (a compile per net: minutes on a CPU).')
flags.DEFINE_string('exact846', os.path.join(SHARED, 'cifar10-test-exact846.npz'),
                    'The 846 original-pixel CIFAR-10 test images (.npz); where it does not exist, no JPEG table.')
flags.DEFINE_string('jpeg_copy', os.path.join(SHARED, 'cifar10-jpeg.tar.gz'),
                    'The JPEG copy of CIFAR-10 that holds their twins.')


def paths() -> dict[str, str]:
  """{'exact846': ..., 'jpeg_copy': ...} as the flags give them."""
  return {'exact846': flags.FLAGS.exact846, 'jpeg_copy': flags.FLAGS.jpeg_copy}


def flag_arguments() -> list[str]:
  """These flags, for a command run on their behalf: --jpeg_offset as set, the paths where given (a default path
  that does not exist means no table, a given one an error)."""
  return [f'--{"" if flags.FLAGS.jpeg_offset else "no"}jpeg_offset',
          *(f'--{name}={path}' for name, path in paths().items() if flags.FLAGS[name].present)]


def _given_paths_exist(values: dict) -> bool:
  """A path given on the command line for the JPEG table must exist (a default one that does not: no table)."""
  for name in ('exact846', 'jpeg_copy'):
    if values['jpeg_offset'] and flags.FLAGS[name].present and not os.path.exists(values[name]):
      raise flags.ValidationError(f'--{name}={values[name]} does not exist: give the path of '
                                  f'{os.path.basename(flags.FLAGS[name].default)}, or drop --jpeg_offset.')
  return True


flags.register_multi_flags_validator(['jpeg_offset', 'exact846', 'jpeg_copy'], _given_paths_exist)
