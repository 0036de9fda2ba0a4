"""Forward behaviour: shapes, block deletion, reordering, gradient routing, init options, dtypes."""

import functools

import flax.linen as nn
import jax
import jax.extend as jex
import jax.numpy as jnp
import numpy as np
import pytest

from resnet_jax.models import BlockMode, create_model, keep_all, reorder_stage
from resnet_jax.models.blocks import Block, option_a
from resnet_jax.models.norm import BatchNorm
from resnet_jax.models.resnet import conv
from resnet_jax.models import abstract_variables
from tests.helpers import build, get_config


def trained_like_variables(model, images, seed=0):
  """Variables with non-trivial scales and biases, and BN statistics of `images` (so activations stay O(1))."""
  key_init, key_noise = jax.random.split(jax.random.key(seed))

  @jax.jit
  def make(images):
    variables = model.init(key_init, images)
    leaves, treedef = jax.tree.flatten(variables['params'])
    keys = jax.random.split(key_noise, len(leaves))
    params = treedef.unflatten([v + 0.1 * jax.random.normal(k, v.shape) for v, k in zip(leaves, keys)])
    # Momentum 0: the running statistics become this batch's.
    _, state = model.clone(bn_momentum=0.0).apply(
        {'params': params, 'batch_stats': variables['batch_stats']}, images, train=True, mutable=['batch_stats']
    )
    return {'params': params, 'batch_stats': state['batch_stats']}

  return make(images)


def block_list(model, variables):
  """[(block kwargs, block variables, changes shape)] in network order, sliced out of the scanned stacks."""
  arch = model.arch
  norm = functools.partial(BatchNorm, use_running_average=True, momentum=model.bn_momentum, epsilon=model.bn_epsilon)
  blocks = []
  for i, size in enumerate(arch.stage_sizes):
    kwargs = model.block(i, functools.partial(conv, dtype=jnp.float32), norm).keywords
    stage = {name: collection[f'stage{i + 1}'] for name, collection in variables.items()}
    if arch.has_transition(i):
      blocks.append(
          (
              {**kwargs, 'stride': arch.stride(i), 'changes_shape': True},
              {name: v['transition'] for name, v in stage.items()},
              True,
          )
      )
    for j in range(size - arch.has_transition(i)):
      blocks.append(
          (
              {**kwargs, 'stride': 1, 'changes_shape': False},
              {name: jax.tree.map(lambda a: a[j], v['blocks']) for name, v in stage.items()},
              False,
          )
      )
  return blocks


def by_hand(model, variables, images, deleted=(), order=None):
  """The net applied block by block from the model's own stem output: the reference for the scanned net."""
  _, state = model.apply(variables, images, capture_intermediates=True, mutable=['intermediates'])
  x = nn.relu(state['intermediates']['stem_bn']['__call__'][0])
  if model.arch.stem == 'imagenet':
    x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
  blocks = block_list(model, variables)
  if order is not None:
    blocks = [blocks[k] for k in order]
  for k, (kwargs, block_vars, changes_shape) in enumerate(blocks):
    if k in deleted:
      assert model.shortcut in ('A', 'none') or not changes_shape, 'reference handles parameter-free skips only'
      x = option_a(x, kwargs['stride'], kwargs['out_features'])
    else:
      x, _ = Block(**kwargs).apply(block_vars, x)
  if model.preact:
    x = nn.relu(
        BatchNorm(use_running_average=True, epsilon=model.bn_epsilon).apply(
            {'params': variables['params']['final_bn'], 'batch_stats': variables['batch_stats']['final_bn']}, x
        )
    )
  fc = variables['params']['fc']
  return x.mean(axis=(1, 2)) @ fc['kernel'] + fc['bias']


def assert_close(actual, expected, tolerance=1e-4):
  """Relative error in norm, as float32 arithmetic in another order leaves it."""
  assert np.linalg.norm(actual - expected) <= tolerance * np.linalg.norm(expected)


# Enough images and pixels that the BN statistics of the last stage are well conditioned. ResNet-20 alone is in the
# fast subset; the other nets are marked slow.
slow = lambda *net: pytest.param(net, marks=pytest.mark.slow, id=net[0] + ('-preact' if net[2].get('preact') else ''))
NETS = [
    pytest.param(('cifar10:resnet20', 32, {}), id='cifar10:resnet20'),
    slow('cifar10:resnet20-B', 32, {}),
    slow('cifar10:plain20', 32, {}),
    slow('cifar10:resnet20', 32, {'preact': True}),
    slow('imagenet:resnet50', 64, {'bn_group_size': 0}),
    slow('imagenet:resnet18-A', 64, {'preact': True, 'bn_group_size': 0}),
]  # The batch of 8 is one BN group.


@pytest.fixture(scope='module', params=NETS)
def net(request):
  name, size, overrides = request.param
  model = create_model(get_config(name, **overrides))
  images = jax.random.normal(jax.random.key(1), (8, size, size, 3))
  return jax.tree_util.Partial(jax.jit(model.apply)), model, trained_like_variables(model, images), images


def test_scanned_net_equals_blocks_applied_by_hand(net):
  apply, model, variables, images = net
  assert_close(apply(variables, images), by_hand(model, variables, images))


def test_deleting_nothing_changes_nothing(net):
  apply, model, variables, images = net
  modes = jnp.asarray(keep_all(model.arch.num_blocks))
  # Two programs (with and without the switching ops), so equal up to float32 rounding of another fusion.
  np.testing.assert_allclose(
      apply(variables, images, block_modes=modes), apply(variables, images), rtol=1e-5, atol=1e-5
  )


def test_gradient_routing_leaves_the_forward_pass_alone(net):
  apply, model, variables, images = net
  modes = np.array([BlockMode.RESIDUAL_ONLY, BlockMode.SKIP_ONLY] * model.arch.num_blocks, np.int32)
  routed = apply(variables, images, block_modes=jnp.asarray(modes[: model.arch.num_blocks]))
  np.testing.assert_array_equal(routed, apply(variables, images, block_modes=jnp.asarray(keep_all(len(modes) // 2))))


def test_deleted_blocks_become_their_skips(net):
  apply, model, variables, images = net
  blocks = block_list(model, variables)
  deletable = [k for k, (_, _, changes) in enumerate(blocks) if not changes or model.shortcut == 'A']
  deleted = (deletable[0], deletable[-1], deletable[len(deletable) // 2])
  modes = keep_all(model.arch.num_blocks)
  modes[list(deleted)] = BlockMode.DELETE
  out = apply(variables, images, block_modes=jnp.asarray(modes))
  assert_close(out, by_hand(model, variables, images, deleted=deleted))
  assert not np.allclose(out, apply(variables, images), atol=1e-3)


@pytest.mark.slow
def test_reordered_stages_equal_blocks_applied_in_that_order():
  model = create_model(get_config('cifar10:resnet26'))  # Stage sizes 4, 4, 4: 4 scanned, then 1 + 3 scanned.
  images = jax.random.normal(jax.random.key(1), (8, 16, 16, 3))
  variables = trained_like_variables(model, images)
  reorder = jax.jit(lambda v, o1, o3: model.apply(reorder_stage(reorder_stage(v, 'stage1', o1), 'stage3', o3), images))
  order = [2, 0, 3, 1, 4, 5, 6, 7, 8, 10, 11, 9]  # Network order; stage3's transition (block 8) stays first.
  assert_close(
      reorder(variables, jnp.array([2, 0, 3, 1]), jnp.array([1, 2, 0])), by_hand(model, variables, images, order=order)
  )
  assert_close(reorder(variables, jnp.arange(4), jnp.arange(3)), by_hand(model, variables, images))
  assert reorder._cache_size() == 1  # Another order ran without recompiling.


def block_variables(block, x):
  variables = block.init(jax.random.key(0), x)
  return jax.tree.map(lambda v: v + 0.1 * jax.random.normal(jax.random.key(2), v.shape), variables)


BLOCK = dict(
    bottleneck=False,
    bottleneck_stride='1x1',
    zero_init_residual=False,
    conv=functools.partial(conv, dtype=jnp.float32),
    norm=functools.partial(BatchNorm, use_running_average=True),
)


@pytest.mark.parametrize('preact', [False, True])
def test_deleted_identity_block_returns_its_input_exactly(preact):
  block = Block(features=8, out_features=8, stride=1, changes_shape=False, shortcut='B', preact=preact, **BLOCK)
  x = jax.nn.relu(jax.random.normal(jax.random.key(0), (2, 8, 8, 8)))  # Block inputs follow a ReLU.
  out, _ = block.apply(block_variables(block, x), x, jnp.int32(BlockMode.DELETE))
  np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize('preact', [False, True])
def test_deleted_projection_block_computes_its_projection(preact):
  block = Block(features=16, out_features=16, stride=2, changes_shape=True, shortcut='B', preact=preact, **BLOCK)
  x = jax.nn.relu(jax.random.normal(jax.random.key(0), (2, 8, 8, 8)))
  variables = block_variables(block, x)
  out, _ = block.apply(variables, x, jnp.int32(BlockMode.DELETE))
  p, s = variables['params'], variables['batch_stats']
  if preact:
    bn1 = (x - s['bn1']['mean']) / jnp.sqrt(s['bn1']['var'] + 1e-5) * p['bn1']['scale'] + p['bn1']['bias']
    expected = jax.nn.relu(bn1)[:, ::2, ::2] @ p['shortcut_conv']['kernel'][0, 0]
  else:
    y = x[:, ::2, ::2] @ p['shortcut_conv']['kernel'][0, 0]
    bn = s['shortcut_bn']
    expected = jax.nn.relu(
        (y - bn['mean']) / jnp.sqrt(bn['var'] + 1e-5) * p['shortcut_bn']['scale'] + p['shortcut_bn']['bias']
    )
  np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_gradient_routing_selects_the_path():
  """Pre-activation identity block: out = x + F(x). Through the skip alone, d sum(out)/dx = 1 everywhere."""
  block = Block(features=8, out_features=8, stride=1, changes_shape=False, shortcut='A', preact=True, **BLOCK)
  x = jax.random.normal(jax.random.key(0), (2, 8, 8, 8))
  variables = block_variables(block, x)
  grad = lambda mode: jax.grad(lambda x: block.apply(variables, x, jnp.int32(mode))[0].sum())(x)
  residual_grad = jax.grad(lambda x: (block.apply(variables, x)[0] - x).sum())(x)
  np.testing.assert_array_equal(grad(BlockMode.SKIP_ONLY), jnp.ones_like(x))
  np.testing.assert_allclose(grad(BlockMode.RESIDUAL_ONLY), residual_grad, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(grad(BlockMode.KEEP), 1 + residual_grad, rtol=1e-6, atol=1e-6)


@pytest.mark.slow
def test_zero_init_residual_starts_every_block_as_its_shortcut():
  for overrides in ({}, {'preact': True}):
    model = create_model(get_config('cifar10:resnet14', zero_init_residual=True, **overrides))
    images = jax.random.normal(jax.random.key(1), (2, 16, 16, 3))
    variables = jax.jit(model.init)(jax.random.key(0), images)
    apply = jax.jit(model.apply)
    keep = jnp.asarray(keep_all(model.arch.num_blocks))
    all_deleted = jnp.full((model.arch.num_blocks,), BlockMode.DELETE, jnp.int32)
    np.testing.assert_allclose(
        apply(variables, images, block_modes=keep),
        apply(variables, images, block_modes=all_deleted),
        rtol=1e-6,
        atol=1e-6,
    )


@pytest.mark.parametrize(
    'name,size,expected',
    [
        ('imagenet:resnet50', (224, 224), (7, 7)),
        ('imagenet:resnet18', (160, 160), (5, 5)),
        ('imagenet:resnet34', (257, 257), (9, 9)),
        ('imagenet:resnet101', (97, 131), (4, 5)),
        ('cifar10:resnet56', (32, 32), (8, 8)),
        ('cifar10:resnet20', (96, 96), (24, 24)),
    ],
)
def test_output_shapes_at_any_size(name, size, expected):
  config, model, variables = build(name, 64)
  images = jax.ShapeDtypeStruct((3, *size, 3), jnp.float32)
  _, state = jax.eval_shape(
      lambda v, x: model.apply(v, x, capture_intermediates=True, mutable=['intermediates']), variables, images
  )
  last_stage = f'stage{len(model.arch.stage_sizes)}'
  assert state['intermediates'][last_stage]['__call__'][0].shape[1:3] == expected
  logits = jax.eval_shape(model.apply, variables, images)
  assert logits.shape == (3, config.dataset.num_classes)


def equations(jaxpr):
  """Every equation of a jaxpr, those inside loops and custom-gradient calls included."""
  for eqn in jaxpr.eqns:
    yield eqn
    for sub in jex.core.jaxprs_in_params(eqn.params):
      yield from equations(getattr(sub, 'jaxpr', sub))


def test_bfloat16_computes_in_bf16_and_keeps_float32_params():
  model = create_model(get_config('cifar10:resnet20', dtype='bfloat16'))
  variables = abstract_variables(model, 32)
  assert {leaf.dtype for leaf in jax.tree.leaves(variables)} == {jnp.dtype(jnp.float32)}
  jaxpr = jax.make_jaxpr(model.apply)(variables, jax.ShapeDtypeStruct((2, 32, 32, 3), jnp.float32))
  convs = [e for e in equations(jaxpr.jaxpr) if e.primitive.name == 'conv_general_dilated']
  assert convs and all(e.outvars[0].aval.dtype == jnp.bfloat16 for e in convs)
  assert jax.eval_shape(model.apply, variables, jnp.zeros((2, 32, 32, 3))).dtype == jnp.float32


def test_block_modes_of_the_wrong_length_are_refused():
  _, model, variables = build('cifar10:resnet20')
  with pytest.raises(ValueError, match=r'needs \(9,\)'):
    jax.eval_shape(model.apply, variables, jnp.zeros((1, 32, 32, 3)), block_modes=jnp.zeros(8, jnp.int32))
