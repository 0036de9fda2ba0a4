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


def expected(state, model, norm, split, protocol, size, scales):
  """Each image's views one at a time through the model, their softmax scores averaged."""
  probabilities = jax.jit(
      lambda view: jax.nn.softmax(
          model.apply(
              {'params': state.params, 'batch_stats': state.batch_stats},
              on_device.normalize(view[None], norm),
              train=False,
          )
      )[0]
  )
  probs = []
  for i in range(len(split)):
    views = [v for p in protocols.view_sets(protocol, size, scales) for v in p.views(split.read(i))]
    scores = [probabilities(view) for view in views]
    probs.append(np.mean(scores, 0))
  log_probs = np.log(np.array(probs))
  labels = split.labels
  top5 = np.argsort(-log_probs, 1)[:, :5]
  return {
      'loss': -log_probs[np.arange(len(labels)), labels].mean(),
      'top1_error': 100 * np.mean(log_probs.argmax(1) != labels),
      'top5_error': 100 * np.mean(~(top5 == labels[:, None]).any(1)),
      'views': len(views),
  }


@pytest.mark.parametrize(
    'protocol,views,shorter_sides', [('center_crop', 1, {64}), ('ten_crop', 10, {64}), ('multi_scale', 2, {64, 96})]
)
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
      want['top5_error']
  )


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
