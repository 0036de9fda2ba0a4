"""Beyond reproduction: a run started from a trained workdir (with frozen BN, onto another class count), gradient
accumulation through a whole training, and a profiler trace, on ResNet-8 and generated image folders."""

import glob
import json
import logging
import shutil

import jax
import numpy as np
import pytest
from flax import traverse_util

from resnet_jax import parallel
from resnet_jax.train import train_and_evaluate
from resnet_jax.trained import TrainedNet, precise_bn_workdir
from tests.helpers import rows, tiny_config, write_image_folder


@pytest.fixture(scope='module')
def four_classes(tmp_path_factory):
  """Another task: 4 classes of 32x32 PNGs, 8 train and 4 test images each."""
  root = tmp_path_factory.mktemp('four')
  return write_image_folder(root, {'train': 8, 'test': 4}, list('abcd'), [(32, 32)], '.png', brightness=60)


def variables(workdir, precise_bn: bool = True) -> dict:
  net = TrainedNet(workdir, precise_bn=precise_bn)
  try:
    return traverse_util.flatten_dict(jax.tree.map(np.asarray, net.variables), sep='/')
  finally:
    net.close()


def fine_tuning(source, folder, cache, **overrides):
  config = tiny_config(folder, cache, eval_every_steps=4, checkpoint_every_steps=2, init_from=source, **overrides)
  config.dataset.num_classes = 4
  config.model.frozen_bn = True
  return config


def test_a_fine_tuned_run_starts_from_the_source_and_keeps_its_bn_bit_for_bit(trained, four_classes, tmp_path, caplog):
  """As the paper fine-tunes: from precise BN statistics of the source, kept frozen."""
  caplog.set_level(logging.INFO)
  cache, source = trained[1], str(tmp_path / 'precise')
  shutil.copytree(trained[0], source)
  precise_bn_workdir(source, ['bn_stats_batches=2'])
  train_and_evaluate(fine_tuning(source, four_classes, cache, total_steps=4), str(tmp_path / 'tuned'))
  was, now = variables(source), variables(tmp_path / 'tuned')
  bn = [path for path in now if path.startswith('batch_stats/') or '_bn/' in path or '/bn' in path]
  assert len(bn) == 4 * 7  # Scale, bias, mean and variance of ResNet-8's 7 BN layers.
  for path in bn:
    np.testing.assert_array_equal(now[path], was[path], err_msg=path)
  running = variables(source, precise_bn=False)
  assert not np.array_equal(was['batch_stats/stem_bn/mean'], running['batch_stats/stem_bn/mean'])
  assert not np.array_equal(now['params/stem_conv/kernel'], was['params/stem_conv/kernel'])  # Trained on.
  assert now['params/fc/kernel'].shape == (64, 4) and was['params/fc/kernel'].shape == (64, 10)
  log = caplog.text
  assert (
      f'Started from {source} (resnet8-A, step 2): 35 of 37 tensors loaded; initialised anew: fc.bias, fc.kernel; '
      'BN statistics: precise: 2 training batches (32 images).' in log
  )
  assert json.load(open(tmp_path / 'tuned' / 'config.json'))['init_from'] == source
  # Resumed, it continues from its own checkpoint, with its source gone: stopped at step 2 and resumed, bit for
  # bit the run above.
  copy = str(tmp_path / 'source')
  shutil.copytree(source, copy)
  train_and_evaluate(fine_tuning(copy, four_classes, cache, total_steps=2), str(tmp_path / 'resumed'))
  shutil.rmtree(copy)
  train_and_evaluate(fine_tuning(copy, four_classes, cache, total_steps=4), str(tmp_path / 'resumed'))
  again = variables(tmp_path / 'resumed')
  for path in now:
    np.testing.assert_array_equal(again[path], now[path], err_msg=path)
  assert caplog.text.count(f'Started from {copy}') == 1  # When it started; not when it resumed.


def test_gradient_accumulation_trains_as_the_whole_batch_with_bn_over_the_same_groups(image_folder, tmp_path):
  """Batch 16 on 2 devices in 4 micro-batches (2 images per device each) against the whole batch with BN groups of 2:
  the same training loss rows."""
  mesh = parallel.make_mesh(jax.devices()[:2])
  logged = {}
  for accum in (1, 4):
    config = tiny_config(image_folder, tmp_path / 'cache', total_steps=4, grad_accum_steps=accum)
    config.model.bn_group_size = 2
    train_and_evaluate(config, str(tmp_path / f'accum{accum}'), mesh)
    logged[accum] = [r for r in rows(tmp_path / f'accum{accum}') if r['split'] == 'train']
  assert [r['step'] for r in logged[4]] == [1, 2, 3, 4]
  for whole, accumulated in zip(logged[1], logged[4]):
    assert accumulated['loss'] == pytest.approx(whole['loss'], abs=1e-4)
    assert accumulated['top1_error'] == whole['top1_error']


def test_a_profiler_trace_of_the_steps_asked_is_written_where_tensorboard_reads_it(image_folder, tmp_path, caplog):
  caplog.set_level(logging.INFO)
  config = tiny_config(image_folder, tmp_path / 'cache', total_steps=3, profile_steps=(2, 1))
  train_and_evaluate(config, str(tmp_path / 'w'))
  [trace] = glob.glob(str(tmp_path / 'w' / 'tensorboard' / 'plugins' / 'profile' / '*' / '*.xplane.pb'))
  planes = jax.profiler.ProfileData.from_file(trace).planes
  assert any(plane.name.startswith('/host:') for plane in planes)
  folder = tmp_path / 'w' / 'tensorboard'
  assert f'Profiler trace of step 2 in {folder}: tensorboard --logdir={folder}' in caplog.text
