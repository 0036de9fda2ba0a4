"""A workdir the code of commit 76ac53f trained (tests/data/recorded: on one CPU device, on orbax's older API), which
must evaluate and resume as it did."""

import json
import os
import shutil

import pytest

from resnet_jax import train
from resnet_jax.trained import evaluate_workdir
from tests.helpers import ROOT, rows, tiny_config, write_image_folder

BEFORE = os.path.join(ROOT, 'tests', 'data', 'recorded')


@pytest.fixture()
def old_workdir(tmp_path):
  """A copy of the recorded workdir (ResNet-8-B, 2 steps of batch 8), and the generated folder it trained on."""
  folder = write_image_folder(
      tmp_path / 'data', {'train': 4, 'test': 2}, [f'class{k}' for k in range(10)], [(32, 32)], '.png', brightness=25
  )
  workdir = str(tmp_path / 'workdir')
  shutil.copytree(BEFORE, workdir, ignore=shutil.ignore_patterns('*.json*'))
  shutil.copy(os.path.join(BEFORE, 'config.json'), workdir)
  shutil.copy(os.path.join(BEFORE, 'metrics.jsonl'), workdir)
  return folder, workdir, tmp_path / 'cache'


def recorded(name):
  with open(os.path.join(BEFORE, name)) as f:
    return [json.loads(line) for line in f]


def close(got, want):
  assert got.keys() == want.keys()
  for key, value in want.items():
    assert got[key] == pytest.approx(value, rel=1e-5, abs=1e-5) if isinstance(value, float) else got[key] == value


def test_old_checkpoint_evaluates_as_before(old_workdir):
  folder, workdir, cache = old_workdir
  results = evaluate_workdir(workdir, [f'dataset.dir={folder}', f'dataset.cache_dir={cache}', 'eval_batch_size=40'])
  close({'step': 2, 'split': 'test', **results['test']}, recorded('metrics.jsonl')[-1])


def test_old_checkpoint_resumes_as_before(old_workdir):
  """Training resumes from the old checkpoint at step 2 and reaches the recorded step 3, train and test rows."""
  folder, workdir, cache = old_workdir
  config = tiny_config(
      folder, cache, total_steps=3, eval_every_steps=3, checkpoint_every_steps=3, batch_size=8, eval_batch_size=40
  )
  config.model.shortcut = 'B'
  train.train_and_evaluate(config, workdir)
  got, want = rows(workdir), [
      {k: v for k, v in r.items() if k != 'images_per_sec'} for r in recorded('resumed_metrics.jsonl')
  ]
  assert len(got) == len(want)
  for g, w in zip(got, want):
    close(g, w)
