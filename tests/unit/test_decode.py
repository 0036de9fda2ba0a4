"""The host pipeline's decoders: simplejpeg + OpenCV crops the same boxes as Pillow, with other pixels; images it
cannot read (not JPEGs) go to Pillow, counted; 'auto' without it is Pillow, said once; evaluation keeps Pillow's pixels.
"""

import io
import logging
import math

import numpy as np
import pytest
from PIL import Image

from resnet_jax.data import augment, decode, protocols
from resnet_jax.errors import ConfigError
from resnet_jax.tools import pipeline_speed
from tests.helpers import without_module


def smooth_jpeg(width=320, height=240, mode='RGB', fmt='JPEG', seed=0) -> bytes:
  """A photo-like image: coarse random structure, upscaled, so that the resampling filter changes little and a
  misplaced box much."""
  coarse = np.random.default_rng(seed).integers(0, 255, (12, 16, 3), np.uint8)
  image = Image.fromarray(coarse).resize((width, height), Image.BICUBIC).convert(mode)
  buffer = io.BytesIO()
  image.save(buffer, fmt, quality=95)
  return buffer.getvalue()


SIMPLEJPEG = decode.decoder('simplejpeg')
VIEWS = {
    'paper': lambda data, dec: augment.paper_train(data, np.random.default_rng(1), 64, (72, 300), dec),
    'random_resized_crop': lambda data, dec: augment.random_resized_crop(
        data, np.random.default_rng(2), 64, decoder=dec
    ),
    'center_crop (DCT-scaled)': lambda data, dec: augment.center_crop(data, 56, 64, dec),
    'ten_crops': lambda data, dec: augment.ten_crops(data, 64, decoder=dec),
    'full_image (enlarged)': lambda data, dec: augment.full_image(data, 320, dec),
}


@pytest.mark.parametrize('view', VIEWS)
def test_simplejpeg_views_are_pillows_boxes(view):
  data = smooth_jpeg()
  fast, pillow = VIEWS[view](data, SIMPLEJPEG), VIEWS[view](data, decode.PIL)
  assert fast.shape == pillow.shape and fast.dtype == np.uint8
  difference = np.abs(fast.astype(int) - pillow).mean()
  shifted = np.abs(np.roll(fast, 2, axis=-2).astype(int) - pillow).mean()  # The box two pixels off.
  assert difference < 2 and shifted > 2 * difference, (difference, shifted)


def test_a_mirrored_view_is_the_view_mirrored():
  data, box = smooth_jpeg(), (10.3, 20.7, 210.1, 180.4)
  for dec in (SIMPLEJPEG, decode.PIL):
    np.testing.assert_array_equal(dec.crop(data, box, (48, 40), True), dec.crop(data, box, (48, 40))[:, ::-1])


def test_images_simplejpeg_cannot_read_are_pillows_and_counted():
  dec = decode.decoder('simplejpeg')
  box = (0, 0, 320, 240)
  for data in (smooth_jpeg(fmt='PNG'), smooth_jpeg(fmt='BMP')):  # As ImageNet has a PNG among its .JPEG files.
    np.testing.assert_array_equal(dec.crop(data, box, (64, 48)), decode.PIL.crop(data, box, (64, 48)))
  for mode in ('CMYK', 'L'):  # JPEGs simplejpeg reads, as RGB.
    data = smooth_jpeg(mode=mode)
    assert np.abs(dec.crop(data, box, (64, 48)).astype(int) - decode.PIL.crop(data, box, (64, 48))).mean() < 2
  assert dec.fallbacks == 2 and dec.first_failure.startswith('ValueError')


def test_evaluation_keeps_pillows_pixels_where_the_fast_route_is_past_the_bound():
  """Why evaluation decodes with Pillow: simplejpeg's centre crops of JPEGs of ImageNet's size and detail are more
  than EVAL_BOUND off. (Were they within it, evaluation could take the faster route.)"""
  jpegs = pipeline_speed.imagenet_like_jpegs(4)
  mean, _ = pipeline_speed.difference(pipeline_speed.TRANSFORMS['eval center_crop'], jpegs, SIMPLEJPEG)
  assert mean > decode.EVAL_BOUND
  [center] = protocols.view_sets('center_crop', 224, ())
  np.testing.assert_array_equal(center.views(jpegs[0])[0], augment.center_crop(jpegs[0]))


def test_auto_is_simplejpeg_where_installed_else_pillow_said_once(monkeypatch, caplog):
  assert decode.resolve('auto') == 'simplejpeg' and decode.resolve('pil') == 'pil'
  without_module(monkeypatch, 'cv2')
  with caplog.at_level(logging.WARNING):
    assert decode.resolve('auto') == 'pil'
  assert [r.getMessage() for r in caplog.records] == [
      'dataset.decoder=auto: cv2 is not installed (pip install -r requirements.txt): decoding with Pillow.'
  ]
  with pytest.raises(ConfigError, match='needs simplejpeg and OpenCV, and cv2 is not installed: .* dataset.decoder'):
    decode.decoder('simplejpeg')


def test_a_paper_crop_at_the_far_edge_of_a_rounded_up_side_is_decoded():
  """400x350 at shorter side 257 is 293.7 wide, rounded to 294: the crop at left 70 ends at 400.4 original pixels."""
  box = augment._shorter_side_box(400, 350, 257, 224, 294 - 224, 0)
  assert box[2] == 400
  data = smooth_jpeg(400, 350)
  for dec in (SIMPLEJPEG, decode.PIL):
    assert dec.crop(data, box, (224, 224)).shape == (224, 224, 3)


@pytest.mark.parametrize('width', [401, 400, 64, 17])
def test_both_decoders_decode_at_the_dct_scale_of_pillows_draft(width):
  data, box = smooth_jpeg(width, 48), (0, 0, width, 48)
  for out in [(width // 2, 24), (width // 3, 16), (width // 8, 6), (max(1, width // 9), 5), (width, 48)]:
    image = Image.open(io.BytesIO(data))
    image.draft('RGB', decode._needed(width, 48, box, out))
    assert image.size[0] == math.ceil(width / decode._dct_scale(width, 48, decode._needed(width, 48, box, out)))
