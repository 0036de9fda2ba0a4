"""Bad data and bad files, in the library: an image that does not read or is of another size names itself, a folder's
other files and links, unreadable files, formats, the decode cache, class folders, metrics rows that stay JSON and
lines that are none, checkpoints moved aside. docs/bad_input.md lists the cases and the tests that hold them."""

import json
import logging
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from resnet_jax import checkpoint, writers
from resnet_jax.data import cifar10, dataset, folder
from resnet_jax.errors import ConfigError
from tests.helpers import ROOT, tiny_config, unprivileged, write_image_folder


def cifar_config(source, cache, **dataset):
  config = tiny_config(source, cache)
  config.dataset.update(dataset)
  return config.dataset


@pytest.fixture
def folder_copy(tmp_path):
  """A fresh folder of 10 classes, 2 train and 1 test 32x32 JPEGs each."""
  return write_image_folder(
      tmp_path / 'data', {'train': 2, 'test': 1}, [f'c{k}' for k in range(10)], [(32, 32)], '.jpg', brightness=20
  )


def test_bad_images_are_named(folder_copy, tmp_path):
  bad = os.path.join(folder_copy, 'train', 'c3', '0.jpg')
  with open(bad, 'rb') as f:
    data = f.read()
  with open(bad, 'wb') as f:
    f.write(data[: len(data) // 3])  # Truncated.
  with pytest.raises(ConfigError, match=f'{bad} is not a readable image'):
    folder.load(folder_copy, ('train', 'test'), str(tmp_path / 'cache'))
  os.remove(bad)
  from PIL import Image

  Image.new('RGB', (40, 32)).save(bad)
  with pytest.raises(
      ConfigError,
      match=f'{bad} is 40x32 pixels, but most train images are 32x32 .19 of 20.: every image must have the same size',
  ):
    folder.load(folder_copy, ('train', 'test'), str(tmp_path / 'cache'))
  os.remove(bad)
  first = os.path.join(folder_copy, 'test', 'c0', '0.jpg')  # The split's first image is the odd one.
  Image.new('RGB', (28, 28)).save(first)
  with pytest.raises(ConfigError, match=f'{first} is 28x28 pixels, but the train images are 32x32: every image'):
    folder.load(folder_copy, ('train', 'test'), str(tmp_path / 'cache'))
  small = write_image_folder(
      tmp_path / 'small', {'train': 1, 'test': 1}, [f'c{k}' for k in range(10)], [(28, 28)], '.png', brightness=20
  )
  with pytest.raises(
      ConfigError,
      match=f'CIFAR-10 images are 32x32 pixels; {small} holds 28x28: resize them to '
      '32x32, or train on them with configs/imagenet.py',
  ):
    cifar10.load(cifar_config(small, tmp_path / 'cache'))


def test_folder_entries_that_are_not_images(folder_copy, tmp_path, caplog):
  """A folder named like an image is passed over; a link to nothing is named; a linked class folder's images count
  in the cache key; a cache_dir that cannot be made decodes anyway, saying so."""
  os.makedirs(os.path.join(folder_copy, 'train', 'c1', 'sub.jpg'))
  cache = str(tmp_path / 'cache')
  before = folder.load(folder_copy, ('train', 'test'), cache)
  assert len(before['train_images']) == 20
  elsewhere = tmp_path / 'c5'
  shutil.move(os.path.join(folder_copy, 'train', 'c5'), elsewhere)
  os.symlink(elsewhere, os.path.join(folder_copy, 'train', 'c5'))
  from PIL import Image

  Image.new('RGB', (32, 32), (255, 0, 0)).save(elsewhere / '0.jpg')  # Through the link: decoded again.
  assert not np.array_equal(folder.load(folder_copy, ('train', 'test'), cache)['train_images'], before['train_images'])
  (tmp_path / 'a_file').write_text('')
  with caplog.at_level(logging.INFO):
    uncached = folder.load(folder_copy, ('train', 'test'), str(tmp_path / 'a_file' / 'cache'))
  assert len(uncached['train_images']) == 20 and 'Could not cache the decoded images' in caplog.text
  broken = os.path.join(folder_copy, 'test', 'c2', '9.jpg')
  os.symlink(tmp_path / 'gone.jpg', broken)
  with pytest.raises(ConfigError, match=f'{broken} is a link to nothing'):
    folder.load(folder_copy, ('train', 'test'), cache)


def test_every_format_pil_reads_is_an_image_and_other_files_are_named(folder_copy, tmp_path, caplog):
  """GIF and TIFF count (was: skipped silently); a 16-bit grey PNG keeps its top 8 bits (was: clipped at 255);
  a file that is not an image is passed over, saying so."""
  import io
  from PIL import Image

  c1 = os.path.join(folder_copy, 'train', 'c1')
  Image.new('RGB', (32, 32), (0, 255, 0)).save(os.path.join(c1, 'green.gif'))
  Image.new('RGB', (32, 32), (0, 0, 255)).save(os.path.join(c1, 'blue.tif'))
  (tmp_path / 'notes').write_text('not an image')
  shutil.copy(tmp_path / 'notes', os.path.join(c1, 'notes.txt'))
  with caplog.at_level(logging.INFO):
    arrays = folder.load(folder_copy, ('train', 'test'), str(tmp_path / 'cache'))
  assert len(arrays['train_images']) == 22
  assert f'{folder_copy}: skipped 1 files that are not images' in caplog.text
  grey = (np.arange(32 * 32).reshape(32, 32) * 64).astype(np.uint16)
  encoded = io.BytesIO()
  Image.fromarray(grey).save(encoded, format='PNG')
  decoded = folder._decode_image(encoded.getvalue(), 'grey.png')
  assert decoded.shape == (32, 32, 3) and np.array_equal(decoded[..., 1], (grey >> 8).astype(np.uint8))
  floats = io.BytesIO()
  Image.fromarray(np.full((32, 32), 0.5, np.float32)).save(floats, format='TIFF')
  with pytest.raises(ConfigError, match='floats.tif holds 32-bit floats .PIL mode F., which have no one 8-bit'):
    folder._decode_image(floats.getvalue(), 'floats.tif')


def test_epochs_that_are_not_passes_over_the_data_are_named(caplog):
  config = tiny_config('/data/small', '/cache')
  config.schedule.unit = 'epochs'  # Of dataset.train_size=50,000 images: 2,500 passes over a folder of 20.
  with caplog.at_level(logging.INFO):
    dataset.check_training_images(config, 20)
  assert (
      'the schedule counts epochs of dataset.train_size=50,000 images; /data/small holds 20 training images, so '
      'its epochs are not passes over them (dataset.train_size=20 makes them so)'
  ) in caplog.text
  caplog.clear()
  config.dataset.train_size = 20
  dataset.check_training_images(config, 20)
  assert caplog.text == ''
  with pytest.raises(
      ConfigError,
      match='^batch_size 16 exceeds the 8 training images: set batch_size to at most 8, or point dataset.dir at a '
      'folder of at least 16 training images.$',
  ):
    dataset.check_training_images(config, 8)


def test_a_validation_split_larger_than_the_training_set_is_refused(folder_copy, tmp_path):
  with pytest.raises(
      ConfigError,
      match='dataset.val_split holds out 5,000 training images, and .* has 20: set '
      'dataset.val_split=false, or use the full training set.',
  ):
    cifar10.load(cifar_config(folder_copy, tmp_path / 'cache', val_split=True))


def test_a_garbage_archive_is_refused(tmp_path):
  archive = tmp_path / 'data.tar.gz'
  archive.write_bytes(os.urandom(5000))
  with pytest.raises(ConfigError, match='is not a readable image folder or .tar.gz'):
    folder.load(str(archive), ('train', 'test'), str(tmp_path / 'cache'))


def test_class_folders_must_match_num_classes(folder_copy, tmp_path):
  for split in ('train', 'test'):
    os.makedirs(os.path.join(folder_copy, split, 'extra'))
    shutil.copy(os.path.join(folder_copy, split, 'c0', '0.jpg'), os.path.join(folder_copy, split, 'extra', '0.jpg'))
  with pytest.raises(
      ConfigError,
      match='has 11 class folders .* but dataset.num_classes is 10: point dataset.dir at '
      'a folder of 10 classes, or, to train a new net on these, set '
      'dataset.num_classes=11',
  ):
    cifar10.load(cifar_config(folder_copy, tmp_path / 'cache'))


def test_a_class_folder_empty_in_both_splits_is_refused(folder_copy, tmp_path):
  for split in ('train', 'test'):
    for name in os.listdir(os.path.join(folder_copy, split, 'c4')):
      os.remove(os.path.join(folder_copy, split, 'c4', name))
  with pytest.raises(ConfigError, match=r"no images of class\(es\) \['c4'\]"):
    cifar10.load(cifar_config(folder_copy, tmp_path / 'cache'))


def test_the_decode_cache_follows_every_file(folder_copy, tmp_path):
  cache = str(tmp_path / 'cache')
  before = folder.load(folder_copy, ('train', 'test'), cache)
  from PIL import Image

  image = os.path.join(folder_copy, 'train', 'c2', '1.jpg')
  Image.new('RGB', (32, 32), (255, 0, 0)).save(image)  # Replaced in place: the top folder's mtime stays.
  after = folder.load(folder_copy, ('train', 'test'), cache)
  assert not np.array_equal(before['train_images'], after['train_images'])
  assert len(os.listdir(cache)) == 2


def test_metrics_rows_stay_valid_json(tmp_path):
  writer = writers.MetricsWriter(str(tmp_path), 0)
  writer.write(1, 'train', {'loss': float('nan'), 'top1_error': float('inf'), 'learning_rate': 0.1})
  writer.close()
  with open(tmp_path / 'metrics.jsonl') as f:
    row = json.loads(f.read(), parse_constant=lambda name: pytest.fail(f'{name} is not JSON'))
  assert row == {'step': 1, 'split': 'train', 'loss': None, 'top1_error': None, 'learning_rate': 0.1}


def test_damaged_metrics_lines_are_left_out_by_readers_and_moved_aside_by_writers(tmp_path, caplog):
  """A row cut short by a kill or a full disk, or a line that is no row: readers leave it out, naming it; a resumed
  run or an evaluation moves it to metrics.jsonl.damaged first, so that it appends to whole rows."""
  path, good = tmp_path / 'metrics.jsonl', '{"step": 1, "split": "train", "loss": 2.0}\n'
  for line, why in [
      ('{"step": 2, "split": "tr', 'not JSON'),
      ('[1, 2]', 'not a row with a "step" of at least 0'),
      ('{"step": 2}', 'a row without a "split" of train, test, val'),
      ('{"step": 2, "split": "test", "top1_error": "abc"}', 'a row whose top1_error is not a number'),
      ('{"step": 2, "split": "test", "loss": 1}', 'an evaluation row without a top1_error'),
      ('{"step": 2, "split": "test", "top1_error": null}', 'an evaluation row without a top1_error'),
      ('{"step": 2, "split": "test", "top1_error": -3}', 'a row whose top1_error is not within 0 and 100'),
      ('{"step": 2, "split": "test", "top1_error": NaN}', 'not JSON (NaN is no JSON number)'),
      ('{"step": -1, "split": "test", "top1_error": 5}', 'not a row with a "step" of at least 0'),
      ('{"step": 2, "split": "valid", "top1_error": 5}', 'a row without a "split" of train, test, val'),
      ('GARBAGE\udcff', 'not UTF-8 text'),  # A byte that is no UTF-8, read as Python reads such file names.
  ]:
    caplog.clear()
    path.write_text(good + line + '\n' + good, errors='surrogateescape')
    assert writers.read_rows(str(tmp_path)) == [json.loads(good)] * 2
    assert f'metrics.jsonl: left out 1 damaged line (line 2: {why}' in caplog.text
  path.write_text(good + '{"step": 2, "split": "tr')  # Cut short at the end, as a kill leaves it.
  writers.MetricsWriter(str(tmp_path), 1, evaluation=True).close()
  assert path.read_text() == good and (tmp_path / 'metrics.jsonl.damaged').read_text() == '{"step": 2, "split": "tr\n'
  path.write_bytes(good.encode() + b'garbage\xff\n' + good.replace('1', '2').encode())
  writers.MetricsWriter(str(tmp_path), 1).close()  # A resumed run keeps the whole rows up to its step.
  assert path.read_text() == good and (tmp_path / 'metrics.jsonl.damaged').read_bytes().endswith(b'garbage\xff\n')
  path.unlink()
  path.mkdir()
  with pytest.raises(ConfigError, match='metrics.jsonl is a directory, not the metrics file: move it aside.$'):
    writers.read_rows(str(tmp_path))


@pytest.mark.parametrize('unreadable', ['train/c3/0.jpg', 'train/c4'])
def test_an_unreadable_image_or_class_folder_is_named(unreadable, folder_copy, tmp_path):
  path = os.path.join(folder_copy, unreadable)
  os.chmod(path, 0)
  load = f'from resnet_jax.data import folder; folder.load({folder_copy!r}, ("train", "test"), {str(tmp_path)!r})'
  done = subprocess.run([*unprivileged(), sys.executable, '-c', load], cwd=ROOT, capture_output=True, text=True)
  assert f'ConfigError: {path} cannot be read (Permission denied): make it readable, or remove it.' in done.stderr


def test_moving_aside_twice_keeps_both(tmp_path):
  checkpoints = checkpoint.Checkpoints(str(tmp_path / 'w'), 'resnet8-A', keep=3)
  for n in range(2):
    os.makedirs(tmp_path / 'w' / 'checkpoints' / '7')
    checkpoints._move_aside(7)
  checkpoints.close()
  assert sorted(n for n in os.listdir(tmp_path / 'w' / 'checkpoints') if 'unreadable' in n) == [
      '7.unreadable',
      '7.unreadable.1',
  ]
