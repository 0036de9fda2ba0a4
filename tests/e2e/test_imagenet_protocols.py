"""ImageNet on a generated folder of real JPEGs, end to end: each evaluation protocol averages its views, block
modes reach it, a net trained and evaluated under each."""

import dataclasses
import io
import json
import os

import jax
import numpy as np
import pytest
from PIL import Image

from resnet_jax.data import on_device, protocols
from resnet_jax.train import Run, train_and_evaluate
from resnet_jax.trained import evaluate_workdir
from tests.helpers import imagenet_tiny_config as tiny_config


def jpeg(width, height):
  pixels = np.random.default_rng(width).integers(0, 255, (height, width, 3), np.uint8)
  encoded = io.BytesIO()
  Image.fromarray(pixels).save(encoded, format='JPEG')
  return encoded.getvalue()


def expected(run, protocol, size, scales):
  """Each image's views through the model on one device (a batch per view set), their softmax scores averaged."""
  variables = jax.device_get(run.variables)
  probabilities = jax.jit(
      lambda variables, views: jax.nn.softmax(
          run.model.apply(variables, on_device.normalize(views, run.dataset.norm), train=False)
      )
  )
  split = run.dataset.splits['val']
  probs = []
  for i in range(len(split)):
    view_sets = [np.stack(p.views(split.read(i))) for p in protocols.view_sets(protocol, size, scales)]
    probs.append(np.concatenate([probabilities(variables, views) for views in view_sets]).mean(0))
  log_probs = np.log(np.array(probs))
  labels = split.labels
  top5 = np.argsort(-log_probs, 1)[:, :5]
  return {
      'loss': -log_probs[np.arange(len(labels)), labels].mean(),
      'top1_error': 100 * np.mean(log_probs.argmax(1) != labels),
      'top5_error': 100 * np.mean(~(top5 == labels[:, None]).any(1)),
      'views': sum(len(views) for views in view_sets),
  }


@pytest.fixture(scope='module')
def run(imagenet_folder, tmp_path_factory):
  """A freshly initialised tiny ImageNet run, its evaluation at scales 32 and 48."""
  tmp = tmp_path_factory.mktemp('protocols')
  run = Run(tiny_config(imagenet_folder, tmp), str(tmp / 'w'))
  yield run
  run.close()


@pytest.mark.parametrize(
    'protocol,views,shorter_sides', [('center_crop', 1, {32}), ('ten_crop', 10, {32}), ('multi_scale', 2, {32, 48})]
)
def test_protocol_averages_its_views(run, protocol, views, shorter_sides):
  seen = []
  [split] = run.dataset.eval_splits(protocol)
  recording = dataclasses.replace(split, batches=lambda: ((i, seen.append(v.shape) or v) for i, v in split.batches()))
  [got] = run.evaluator(run.variables, recording)
  want = expected(run, protocol, 32, (32, 48))
  assert want['views'] == views
  assert {min(shape[1:3]) for shape in seen} == shorter_sides
  np.testing.assert_allclose(got['loss'], want['loss'], rtol=1e-4)
  assert got['top1_error'] == pytest.approx(want['top1_error']) and got['top5_error'] == pytest.approx(
      want['top5_error']
  )


def test_block_modes_reach_the_protocol_evaluation(run):
  """The lesion studies evaluate ImageNet nets through the same protocol, with blocks deleted."""
  [split] = run.dataset.eval_splits('center_crop')
  [plain] = run.evaluator(run.variables, split)
  [kept] = run.evaluator(run.variables, split, block_modes=np.zeros(8, np.int32))
  [deleted] = run.evaluator(run.variables, split, block_modes=np.eye(8, dtype=np.int32)[1])
  np.testing.assert_allclose(kept['loss'], plain['loss'], rtol=1e-5)
  assert deleted['loss'] != plain['loss']


def test_train_then_evaluate_each_protocol(imagenet_folder, tmp_path):
  workdir = str(tmp_path / 'w')
  train_and_evaluate(tiny_config(imagenet_folder, tmp_path), workdir)
  with open(os.path.join(workdir, 'config.json')) as f:
    assert json.load(f)['dataset']['decoder'] == 'simplejpeg'  # 'auto', as it ran.
  for protocol in protocols.PROTOCOLS:
    evaluate_workdir(workdir, [f'eval.protocol={protocol}'], protocol)
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    rows = [json.loads(line) for line in f]
  assert [r['step'] for r in rows if r['split'] == 'train'] == [1, 2, 3]
  evals = [r for r in rows if r['split'] == 'val']
  assert [r.get('protocol') for r in evals] == [None, *protocols.PROTOCOLS]
  assert all(0 <= r['top5_error'] <= r['top1_error'] <= 100 for r in evals)
