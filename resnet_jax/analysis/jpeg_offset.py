"""What the JPEG copy of CIFAR-10 costs a trained net: its test error on 846 test images with their original pixels
(../shared/datasets/cifar10-test-exact846.npz) and on the same 846 images as the JPEG copy holds them.

The copy (../shared/datasets/cifar10-jpeg.tar.gz, JPEG quality about 75) is what the nets here train and test on;
the difference of the two errors is how far its numbers may sit from the official test set's.
"""

import numpy as np

from resnet_jax.data import folder
from resnet_jax.data.dataset import array_split
from resnet_jax.errors import Argument, ConfigError
from resnet_jax.trained import TrainedNet


def load_846(exact846: str, jpeg_copy: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(original images, their JPEG twins, labels) of the 846 test images: the .npz `exact846`, and the twins from the
  image folder or tarball `jpeg_copy`."""
  try:
    with np.load(exact846) as arrays:
      originals, labels, files = arrays['images'], arrays['labels'].astype(np.int32), arrays['jpeg_files']
  except (OSError, KeyError, ValueError) as e:
    raise ConfigError(
        f'{exact846} is not the 846-image file ({e}): pass ',
        Argument('exact846', 'PATH'),
        ' of cifar10-test-exact846.npz.',
    ) from None
  return originals, folder.read_images(jpeg_copy, [str(f) for f in files]), labels


def jpeg_offset(trained: TrainedNet, originals: np.ndarray, twins: np.ndarray, labels: np.ndarray) -> dict:
  """Test error (%) of the trained net on the original pixels and on the JPEG twins, and their difference."""
  if trained.config.dataset.name != 'cifar10':
    raise ConfigError(
        f'The 846 original-pixel images are CIFAR-10 test images; {trained.workdir} is an '
        f'{trained.config.dataset.name} run.'
    )
  norm, batch = trained.split.norm, trained.config.eval_batch_size
  original = trained.error(split=array_split('exact846', originals, labels, norm, batch))['top1_error']
  jpeg = trained.error(split=array_split('exact846_jpeg', twins, labels, norm, batch))['top1_error']
  return {'original_error': original, 'jpeg_error': jpeg, 'jpeg_minus_original': jpeg - original}
