"""The 846 original-pixel CIFAR-10 test images and their JPEG twins (../shared/datasets, where it is there)."""

import os

import numpy as np
import pytest

from resnet_jax.analysis import jpeg_offset
from resnet_jax.data import folder
from resnet_jax.errors import ConfigError
from tests.helpers import ROOT

SHARED = os.path.join(ROOT, '..', 'shared', 'datasets')
EXACT846, JPEG_COPY = os.path.join(SHARED, 'cifar10-test-exact846.npz'), os.path.join(SHARED, 'cifar10-jpeg.tar.gz')


def test_read_images_returns_the_named_images_in_order(image_folder):
  paths = ['test/class3/1.png', 'train/class0/0.png', 'test/class3/0.png']
  images = folder.read_images(image_folder, paths)
  assert images.shape == (3, 32, 32, 3) and images.dtype == np.uint8
  arrays = folder.load(image_folder, ('train', 'test'), os.path.join(image_folder, '..', 'cache'))
  np.testing.assert_array_equal(images[1], arrays['train_images'][0])  # class0's first training image.
  with pytest.raises(ConfigError, match='lacks 1 of the images'):
    folder.read_images(image_folder, ['test/class3/99.png'])


@pytest.mark.skipif(not os.path.exists(EXACT846), reason='../shared/datasets is not beside the checkout')
def test_the_846_twins_are_the_same_images_after_jpeg():
  originals, twins, labels = jpeg_offset.load_846(EXACT846, JPEG_COPY)
  assert originals.shape == twins.shape == (846, 32, 32, 3) and labels.shape == (846,)
  difference = np.abs(originals.astype(np.float64) - twins).mean(axis=(1, 2, 3))
  assert 0 < difference.mean() < 10  # Lossy (PSNR ~30 dB), but the same pictures: ...
  shuffled = np.abs(originals.astype(np.float64) - np.roll(twins, 1, axis=0)).mean(axis=(1, 2, 3))
  assert shuffled.mean() > 5 * difference.mean()  # ... far closer to their own twin than to another image.
  with np.load(EXACT846) as arrays:
    classes = sorted({str(f).split('/')[1] for f in arrays['jpeg_files']})
    assert [classes.index(str(f).split('/')[1]) for f in arrays['jpeg_files']] == labels.tolist()
