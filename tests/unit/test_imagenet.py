"""ImageNet on a generated folder of real JPEGs: augmentation, the host pipeline, the recipe's scaling, folders that
are not laid out."""

import io
import logging
import os
import re
import threading

import jax
import numpy as np
import pytest
from PIL import Image

from resnet_jax import parallel
from resnet_jax.data import augment, decode, host, imagenet, on_device
from resnet_jax.errors import ConfigError
from tests.helpers import get_config, without_module, write_image_folder
from tests.helpers import imagenet_tiny_config as tiny_config


def jpeg(width, height):
  pixels = np.random.default_rng(width).integers(0, 255, (height, width, 3), np.uint8)
  encoded = io.BytesIO()
  Image.fromarray(pixels).save(encoded, format='JPEG')
  return encoded.getvalue()


def test_augmentations_give_fixed_size_views_that_depend_only_on_the_seed():
  data = jpeg(400, 350)
  for transform in (augment.paper_train, augment.random_resized_crop):
    a, b = transform(data, np.random.default_rng(1)), transform(data, np.random.default_rng(1))
    assert a.shape == (224, 224, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, transform(data, np.random.default_rng(2)))
  assert augment.center_crop(data).shape == (224, 224, 3)
  crops = augment.ten_crops(data)
  assert crops.shape == (10, 224, 224, 3)
  np.testing.assert_array_equal(crops[5:], crops[:5, :, ::-1])  # The mirror images.
  assert augment.full_image(data, 256).shape == (256, 288, 3)  # 400 * 256 / 350 = 293 -> 288, a multiple of 32.


def test_lighting_adds_the_pca_colour_shift():
  norm = on_device.Normalization(np.zeros(3, np.float32), np.ones(3, np.float32))
  images = np.full((1, 2, 2, 3), 128, np.uint8)
  alpha = np.array([[0.1, -0.2, 0.05]], np.float32)
  shifted = np.asarray(on_device.normalize(images, norm, alpha))
  want = 128 / 255 + augment.EIGENVECTORS @ (alpha[0] * augment.EIGENVALUES)
  np.testing.assert_allclose(shifted[0, 0, 0], want, rtol=1e-5)


@pytest.mark.parametrize('decoder', ['pil', 'simplejpeg'])
def test_stream_is_deterministic_and_resumes_at_the_same_batch(imagenet_folder, tmp_path, decoder):
  split = imagenet.load(tiny_config(imagenet_folder, tmp_path).dataset)['train']
  dec = decode.decoder(decoder)
  transform = lambda data, rng: (augment.paper_train(data, rng, 32, (36, 48), dec), augment.lighting(rng))
  mesh = parallel.make_mesh()

  def batches(start, count, seed=0, mesh=mesh):
    stream = host.TrainStream(split, transform, seed, 8, start, mesh, workers=2)
    out = [jax.device_get(next(stream)) for _ in range(count)]
    stream.close()
    return out

  whole, resumed = batches(0, 5), batches(3, 2)  # 24 images, batch 8: steps 3 and 4 are in the second epoch.
  for a, b in zip(whole[3:], resumed):
    jax.tree.map(np.testing.assert_array_equal, a, b)
  one_device = batches(3, 2, mesh=parallel.make_mesh(jax.devices()[:1]))
  jax.tree.map(np.testing.assert_array_equal, one_device, resumed)  # Independent of the device count.
  assert sorted(np.concatenate([b['label'] for b in whole[:3]]).tolist()) == sorted(split.labels.tolist())
  assert not np.array_equal(whole[0]['image'], batches(0, 1, seed=1)[0]['image'])


def test_a_stream_dropped_after_a_few_batches_stops_its_host_threads(imagenet_folder, tmp_path):
  config = tiny_config(imagenet_folder, tmp_path, num_replicas=2)
  data = imagenet.Imagenet(config, parallel.make_mesh())
  try:
    before = threading.active_count()
    for _ in range(3):  # As a study reads a few batches of a new stream from step 0, again and again.
      stream = data.stream(0)
      next(stream)
      assert threading.active_count() > before
      del stream
      assert threading.active_count() == before and not data._streams
  finally:
    data.close()


def test_training_images_the_fast_decoder_cannot_read_are_decoded_by_pillow_and_counted(tmp_path, caplog):
  folder = write_image_folder(tmp_path / 'data', {'train': 8, 'val': 1}, ['n01', 'n02'], [(60, 50)], '.JPEG', 50)
  for i in range(8):  # Class n02's training images are PNGs named .JPEG, as one of ImageNet's is.
    Image.open(f'{folder}/train/n02/{i}.JPEG').save(f'{folder}/train/n02/{i}.JPEG', format='PNG')
  config = tiny_config(folder, tmp_path / 'cache')
  config.dataset.update(num_classes=2, decoder='simplejpeg', mean_samples=2)
  data = imagenet.Imagenet(config, parallel.make_mesh())
  stream = data.stream(0)
  for _ in range(2):  # One epoch of batch 8: every training image once.
    next(stream)
  with caplog.at_level(logging.WARNING):
    data.close()
  [said] = [r.getMessage() for r in caplog.records if r.name == imagenet.log.name and r.levelno == logging.WARNING]
  decoded = re.match(
      r'Pillow decoded (\d+) training views of images that simplejpeg could not read \(the first: Val', said
  )
  assert decoded and int(decoded.group(1)) >= 8, said  # And those the stream decoded ahead.


def test_an_image_that_does_not_decode_is_named_in_training_and_in_evaluation(tmp_path):
  folder = write_image_folder(tmp_path / 'data', {'train': 4, 'val': 1}, ['n01', 'n02'], [(60, 50)], '.JPEG', 50)
  for split in ('train/n01/0.JPEG', 'val/n02/0.JPEG'):  # Truncated: half of each file.
    data = open(f'{folder}/{split}', 'rb').read()
    open(f'{folder}/{split}', 'wb').write(data[: len(data) // 2])
  config = tiny_config(folder, tmp_path / 'cache')
  config.dataset.update(num_classes=2, mean_samples=1)
  data = imagenet.Imagenet(config, parallel.make_mesh())
  try:
    with pytest.raises(ConfigError, match=f'^{folder}/train/n01/0.JPEG does not decode as an image .*: replace it'):
      next(data.stream(0))
    [split] = data.eval_splits()
    with pytest.raises(ConfigError, match=f'^{folder}/val/n02/0.JPEG does not decode as an image'):
      list(split.batches())
  finally:
    data.close()


def test_evaluation_needs_no_fast_decoder(imagenet_folder, tmp_path, monkeypatch):
  """A workdir trained with simplejpeg is evaluated where it is not installed: evaluation decodes with Pillow."""
  config = tiny_config(imagenet_folder, tmp_path)
  config.dataset.decoder = 'simplejpeg'
  without_module(monkeypatch, 'cv2')
  data = imagenet.Imagenet(config, parallel.make_mesh())
  try:
    [split] = data.eval_splits()
    assert sum(len(positions) for positions, _ in split.batches()) == len(split.labels)
    with pytest.raises(ConfigError, match='needs simplejpeg and OpenCV, and cv2 is not installed'):
      data.stream(0)  # Training needs it.
  finally:
    data.close()


def test_learning_rate_and_steps_follow_the_batch():
  config = get_config('imagenet:resnet50')
  assert config.total_steps == 90 * (1_281_167 // 256) and config.optimizer.learning_rate == 0.1
  config.batch_size = 1024
  assert config.optimizer.learning_rate == pytest.approx(0.4)
  assert config.total_steps == 90 * (1_281_167 // 1024)
  config.optimizer.learning_rate = 0.05  # A float override of the derived value (as --config.KEY=0.05 does).
  assert config.optimizer.learning_rate == 0.05
  modern = get_config('imagenet:resnet50,modern')
  assert (modern.schedule.name, modern.model.bottleneck_stride, modern.dataset.augmentation) == (
      'cosine',
      '3x3',
      'random_resized_crop',
  )


def test_unlaid_out_folders_are_refused(imagenet_folder, tmp_path):
  flat = tmp_path / 'flat'
  os.makedirs(flat / 'train' / 'n01')
  os.makedirs(flat / 'val')
  Image.new('RGB', (8, 8)).save(flat / 'train' / 'n01' / 'a.JPEG')
  Image.new('RGB', (8, 8)).save(flat / 'val' / 'ILSVRC2012_val_00000001.JPEG')
  config = tiny_config(str(flat), tmp_path).dataset
  with pytest.raises(ConfigError, match='extracts flat'):
    imagenet.load(config)
  config.dir = str(tmp_path / 'missing')
  with pytest.raises(ConfigError, match='does not exist'):
    imagenet.load(config)
