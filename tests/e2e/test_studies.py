"""The studies of trained nets (resnet_jax/analysis), on a ResNet-14 trained for two steps on a generated folder."""

import jax
import numpy as np
import pytest

from resnet_jax.analysis import lesion, paths, responses
from resnet_jax.data import on_device
from resnet_jax.models import keep_all, modes_deleting
from resnet_jax.train import train_and_evaluate
from resnet_jax.trained import TrainedNet
from tests.helpers import tiny_config


@pytest.fixture(scope='module')
def trained(image_folder, tmp_path_factory):
  """ResNet-14 (option A; blocks 1.1 1.2 | 2.1* 2.2 | 3.1* 3.2, * shape-changing) after two steps."""
  workdir = str(tmp_path_factory.mktemp('resnet14'))
  config = tiny_config(image_folder, tmp_path_factory.mktemp('cache'), total_steps=2, eval_every_steps=2)
  config.model.depth = 14
  train_and_evaluate(config, workdir)
  net = TrainedNet(workdir)
  yield net
  net.close()


def with_block(variables, stage: int, position: int | None, edit):
  """The variables with edit(leaf_dict) applied to one block: stage's transition (position None) or its scanned
  block `position`."""

  def edit_collection(collection):
    collection = jax.tree.map(np.array, collection)
    stage_vars = collection[f'stage{stage}']
    if position is None:
      edit(stage_vars['transition'], slice(None))
    else:
      edit(stage_vars['blocks'], position)
    return collection

  return {name: edit_collection(c) for name, c in variables.items()}


def test_keeping_every_block_is_the_plain_evaluation(trained):
  plain, kept = trained.error(), trained.error(keep_all(len(trained.blocks)))
  assert kept['top1_error'] == plain['top1_error'] and kept['top5_error'] == plain['top5_error']
  np.testing.assert_allclose(kept['loss'], plain['loss'], rtol=1e-5)


@pytest.mark.parametrize('index,stage,position', [(1, 1, 1), (2, 2, None), (5, 3, 0)])
def test_deleting_a_block_equals_zeroing_its_residual_branch(trained, index, stage, position):
  """A post-activation block whose last BN has scale and bias 0 adds nothing to its shortcut: deleted."""

  def zero_last_bn(block, at):
    block['bn2']['scale'][at] = 0
    block['bn2']['bias'][at] = 0

  params = with_block({'params': trained.variables['params']}, stage, position, zero_last_bn)
  zeroed = trained.error(variables={**trained.variables, **params})
  deleted = trained.error(modes_deleting(len(trained.blocks), [index]))
  assert deleted['top1_error'] == zeroed['top1_error']
  np.testing.assert_allclose(deleted['loss'], zeroed['loss'], rtol=1e-5)
  assert deleted['loss'] != trained.error()['loss']


def test_reordering_swaps_the_blocks_parameters(trained):
  order = np.arange(6)
  order[[0, 1]] = [1, 0]  # Stage 1's two blocks trade places.
  swapped = trained.reordered(order)
  for name, collection in trained.variables.items():
    for got, want in zip(
        jax.tree.leaves(swapped[name]['stage1']['blocks']), jax.tree.leaves(collection['stage1']['blocks'])
    ):
      np.testing.assert_array_equal(got, np.asarray(want)[::-1])
    assert swapped[name]['stage2'] is collection['stage2']
  assert trained.error(variables=swapped)['loss'] != trained.error()['loss']
  with pytest.raises(ValueError, match='out of stage'):
    trained.reordered([0, 2, 1, 3, 4, 5])  # 2.1 changes the shape: it cannot move.


def test_single_and_random_deletions_cover_the_blocks(trained):
  single = lesion.single_deletions(trained)
  assert [r['label'] for r in single] == ['1.1', '1.2', '2.1', '2.2', '3.1', '3.2']
  assert [r['changes_shape'] for r in single] == [False, False, True, False, True, False]
  assert lesion.candidates(trained, include_shape_changing=False) == [0, 1, 3, 5]
  rows = lesion.random_deletions(trained, [1, 4, 9], 2, np.random.default_rng(0))
  assert [r['k'] for r in rows] == [1, 1, 4, 4]  # k = 9 exceeds the 4 blocks that keep the shape.
  assert rows[-1]['deleted'] == '1.1 1.2 2.2 3.2'  # Labelled as single_deletions labels them.
  assert lesion.swappable_pairs(trained) == [(0, 1)]  # Stages 2 and 3 have one same-shape block each.


def test_gradient_by_path_length_measures_each_length(trained):
  rows = paths.gradient_by_path_length(trained, [0, 3, 6], 2, np.random.default_rng(0))
  assert [(r['length'], r['sample']) for r in rows] == [(0, 0), (0, 1), (3, 0), (3, 1), (6, 0), (6, 1)]
  assert all(np.isfinite(r['gradient_norm']) and r['gradient_norm'] > 0 for r in rows)
  assert rows[4]['gradient_norm'] != rows[5]['gradient_norm']  # Another training batch.


def test_layer_responses_are_the_channel_stds_of_the_sown_responses(trained):
  rows = responses.layer_responses(trained)
  assert [r['name'] for r in rows] == ['stem'] + [f'{s}.{b}/{i}' for s in (1, 2, 3) for b in (1, 2) for i in (1, 2)]
  images = on_device.normalize(np.concatenate([v for _, v in trained.split.batches()]), trained.split.norm)
  _, state = trained.model.apply(trained.variables, images, mutable=['intermediates'])
  stage1 = state['intermediates']['stage1']['blocks']['response'][1][1]  # Block 1.2, its second conv.
  want = np.asarray(stage1, np.float64).reshape(-1, stage1.shape[-1]).std(0).mean()
  np.testing.assert_allclose(rows[4]['std'], want, rtol=1e-4)
  stem = np.asarray(state['intermediates']['response'][0], np.float64)
  np.testing.assert_allclose(rows[0]['std'], stem.reshape(-1, stem.shape[-1]).std(0).mean(), rtol=1e-4)
