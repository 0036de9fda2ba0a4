"""The CIFAR-10 source of the main job: the authors' binary archive, downloaded once (here from a local HTTP server
serving a small archive of the same format), checked by MD5 and read without TensorFlow."""

import hashlib
import functools
import http.server
import io
import os
import tarfile
import threading

import numpy as np
import pytest

from resnet_jax.data import cifar10
from resnet_jax.errors import ConfigError
from tests.helpers import get_config


def write_archive(path, records_per_batch: int = 3):
  """A cifar-10-binary.tar.gz of the official layout with few records; returns its images and labels by split."""
  rng = np.random.default_rng(0)
  arrays = {}
  with tarfile.open(path, 'w:gz') as tar:
    for split, names in cifar10.BATCHES.items():
      images = rng.integers(0, 256, (len(names) * records_per_batch, 32, 32, 3), np.uint8)
      labels = rng.integers(0, 10, len(images)).astype(np.uint8)
      arrays[split] = images, labels.astype(np.int32)
      records = np.concatenate([labels[:, None], images.transpose(0, 3, 1, 2).reshape(len(images), -1)], axis=1)
      for i, name in enumerate(names):
        data = records[i * records_per_batch : (i + 1) * records_per_batch].tobytes()
        member = tarfile.TarInfo(f'cifar-10-batches-bin/{name}')
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
  return arrays


@pytest.fixture
def server(tmp_path):
  """(url of a small archive on a local HTTP server, its MD5, its arrays, the requests served)."""
  served = tmp_path / 'served'
  served.mkdir()
  arrays = write_archive(served / 'cifar-10-binary.tar.gz')
  requests = []

  class Handler(http.server.SimpleHTTPRequestHandler):

    def log_message(self, *args):
      requests.append(self.path)

  httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Handler, directory=str(served)))
  threading.Thread(target=httpd.serve_forever, daemon=True).start()
  md5 = hashlib.md5((served / 'cifar-10-binary.tar.gz').read_bytes()).hexdigest()
  yield f'http://127.0.0.1:{httpd.server_port}/cifar-10-binary.tar.gz', md5, arrays, requests
  httpd.shutdown()


def test_downloads_once_checks_the_md5_and_reads_the_records(server, tmp_path):
  url, md5, arrays, requests = server
  path = cifar10.download(str(tmp_path / 'cache'), url, md5)
  read = cifar10.read_archive(path)
  for split, (images, labels) in arrays.items():
    np.testing.assert_array_equal(read[f'{split}_images'], images)
    np.testing.assert_array_equal(read[f'{split}_labels'], labels)
  assert read['train_images'].shape == (15, 32, 32, 3) and len(requests) == 1
  assert cifar10.download(str(tmp_path / 'cache'), url, md5) == path and len(requests) == 1  # Cached.
  with pytest.raises(ConfigError, match=f'gave a file of MD5 {md5}, not 0+: try again'):
    cifar10.download(str(tmp_path / 'other'), url, '0' * 32)
  assert os.listdir(tmp_path / 'other') == []  # Nothing that looks whole is left.


def test_the_default_source_trains_from_the_download(server, tmp_path, monkeypatch):
  url, md5, arrays, _ = server
  monkeypatch.setattr(cifar10, 'ARCHIVE_URL', url)
  monkeypatch.setattr(cifar10, 'ARCHIVE_MD5', md5)
  config = get_config('cifar10:resnet20')
  assert config.dataset.source == 'download'
  config.dataset.cache_dir = str(tmp_path / 'cache')
  splits = cifar10.load(config.dataset)
  np.testing.assert_array_equal(splits['test'][0], arrays['test'][0])
  assert len(splits['train'][1]) == 15


def test_not_the_archive_and_offline_name_the_fix(tmp_path):
  with tarfile.open(tmp_path / 'cifar-10-binary.tar.gz', 'w:gz'):
    pass
  with pytest.raises(ConfigError, match=r"not the CIFAR-10 binary archive: delete it .* lacks \['data_batch_1.bin'"):
    cifar10.read_archive(str(tmp_path / 'cifar-10-binary.tar.gz'))
  (tmp_path / 'garbage.tar.gz').write_bytes(b'not a tarball')
  with pytest.raises(ConfigError, match='garbage.tar.gz is not the CIFAR-10 binary archive: delete it'):
    cifar10.read_archive(str(tmp_path / 'garbage.tar.gz'))
  with pytest.raises(
      ConfigError, match='unreachable here .* Offline, use an image folder: dataset.source=folder dataset.dir=PATH'
  ):
    cifar10.download(str(tmp_path / 'cache'), 'http://127.0.0.1:9/cifar-10-binary.tar.gz', '0' * 32)
