"""ImageNet on a generated folder of real JPEGs: augmentation, the host pipeline, evaluation protocols, end to end."""
import dataclasses
import io
import json
import os

import jax
import numpy as np
import pytest
from PIL import Image

from resnet_jax import parallel
from resnet_jax.data import augment, host, imagenet, on_device, protocols
from resnet_jax.errors import ConfigError
from resnet_jax.train import Run, train_and_evaluate
from resnet_jax.trained import evaluate_workdir
from tests.helpers import get_config, launch
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


def test_stream_is_deterministic_and_resumes_at_the_same_batch(imagenet_folder, tmp_path):
  split = imagenet.load(tiny_config(imagenet_folder, tmp_path).dataset)['train']
  transform = lambda data, rng: (augment.paper_train(data, rng, 32, (36, 48)), augment.lighting(rng))
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


def expected(state, model, norm, split, protocol, size, scales):
  """Each image's views one at a time through the model, their softmax scores averaged."""
  probabilities = jax.jit(lambda view: jax.nn.softmax(model.apply(
      {'params': state.params, 'batch_stats': state.batch_stats}, on_device.normalize(view[None], norm),
      train=False))[0])
  probs = []
  for i in range(len(split)):
    views = [v for p in protocols.view_sets(protocol, size, scales)
             for v in p.views(split.read(i))]
    scores = [probabilities(view) for view in views]
    probs.append(np.mean(scores, 0))
  log_probs = np.log(np.array(probs))
  labels = split.labels
  top5 = np.argsort(-log_probs, 1)[:, :5]
  return {'loss': -log_probs[np.arange(len(labels)), labels].mean(),
          'top1_error': 100 * np.mean(log_probs.argmax(1) != labels),
          'top5_error': 100 * np.mean(~(top5 == labels[:, None]).any(1)), 'views': len(views)}


@pytest.mark.slow
@pytest.mark.parametrize('protocol,views,shorter_sides', [
    ('center_crop', 1, {64}), ('ten_crop', 10, {64}), ('multi_scale', 2, {64, 96})])
def test_protocol_averages_its_views(imagenet_folder, tmp_path, protocol, views, shorter_sides):
  config = tiny_config(imagenet_folder, tmp_path)
  config.eval.scales = (64, 96)
  run = Run(config, str(tmp_path / 'w'))
  seen = []
  [split] = run.dataset.eval_splits(protocol)
  recording = dataclasses.replace(split, batches=lambda: ((i, seen.append(v.shape) or v) for i, v in split.batches()))
  [got] = run.evaluator(run.variables, recording)
  want = expected(run.state, run.model, run.dataset.norm, run.dataset.splits['val'], protocol, 64, (64, 96))
  run.close()
  assert want['views'] == views
  assert {min(shape[1:3]) for shape in seen} == shorter_sides
  np.testing.assert_allclose(got['loss'], want['loss'], rtol=1e-4)
  assert got['top1_error'] == pytest.approx(want['top1_error']) and got['top5_error'] == pytest.approx(
      want['top5_error'])


@pytest.mark.slow
def test_block_modes_reach_the_protocol_evaluation(imagenet_folder, tmp_path):
  """The lesion studies evaluate ImageNet nets through the same protocol, with blocks deleted."""
  run = Run(tiny_config(imagenet_folder, tmp_path), str(tmp_path / 'w'))
  [split] = run.dataset.eval_splits('center_crop')
  [plain] = run.evaluator(run.variables, split)
  [kept] = run.evaluator(run.variables, split, block_modes=np.zeros(8, np.int32))
  [deleted] = run.evaluator(run.variables, split, block_modes=np.eye(8, dtype=np.int32)[1])
  run.close()
  np.testing.assert_allclose(kept['loss'], plain['loss'], rtol=1e-5)
  assert deleted['loss'] != plain['loss']


@pytest.mark.slow
def test_train_then_evaluate_each_protocol(imagenet_folder, tmp_path):
  workdir = str(tmp_path / 'w')
  train_and_evaluate(tiny_config(imagenet_folder, tmp_path), workdir)
  for protocol in protocols.PROTOCOLS:
    evaluate_workdir(workdir, [f'eval.protocol={protocol}'], protocol)
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    rows = [json.loads(line) for line in f]
  assert [r['step'] for r in rows if r['split'] == 'train'] == [1, 2, 3]
  evals = [r for r in rows if r['split'] == 'val']
  assert [r.get('protocol') for r in evals] == [None, *protocols.PROTOCOLS]
  assert all(0 <= r['top5_error'] <= r['top1_error'] <= 100 for r in evals)


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
      'cosine', '3x3', 'random_resized_crop')


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


def test_unprepared_tfds_names_the_fix(imagenet_folder, tmp_path):
  workdir = tmp_path / 'w'
  process = launch('--config=configs/imagenet.py:resnet18', f'--workdir={workdir}', '--config.dataset.source=tfds',
                   f'--config.dataset.dir={tmp_path / "tfds"}')
  _, stderr = process.communicate(timeout=300)
  assert process.returncode == 2, stderr[-2000:]
  last = stderr.strip().splitlines()[-1]
  assert 'imagenet2012 is not prepared' in last and 'downloads/manual' in last and 'Traceback' not in stderr
