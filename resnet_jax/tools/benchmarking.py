"""Timing the training step on synthetic data already on the devices: images/s, compile time, memory, FLOPs; and
one convolution layer's three convolutions alone; each beside PyTorch's (tools/torch_reference.py), as the rows of
experiments/benchmark.py's tables.

A step's time is the median over `repeats` windows of `window` steps each (after `warmup` steps: timing.py).
"""

import copy
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from configs import schema
from resnet_jax import compute, memory, parallel, replicas
from resnet_jax.errors import Argument, ConfigError
from resnet_jax.models import abstract_variables, conv, count_macs, create_model, model_name
from resnet_jax.optim import create_optimizer, learning_rate_schedule
from resnet_jax.tools import conv_routes, step_profile
from resnet_jax.tools.tables import cell, text
from resnet_jax.tools.timing import median_step_seconds, timed_steps
from resnet_jax.train_step import abstract_state, empty_metrics, init_state, jit_train_step


def _memory_bytes(compiled) -> int | None:
  """One device's footprint of the step: its arguments, outputs and temporaries, less donated buffers."""
  memory = compiled.memory_analysis()
  if memory is None:
    return None
  return (
      memory.argument_size_in_bytes
      + memory.output_size_in_bytes
      + memory.temp_size_in_bytes
      - memory.alias_size_in_bytes
  )


def _xla_flops(step_fn, *args) -> float | None:
  """XLA's cost analysis of the whole step, lowered with its blocks unrolled: the analysis counts a loop's body
  once, not once per iteration."""
  cost = step_fn.lower(*args).cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  return float(cost['flops']) if cost and 'flops' in cost else None


def jax_train_step(
    config, batch_size: int, warmup: int = 3, window: int = 5, repeats: int = 5, profile: bool = False
) -> dict:
  """Times config's training step (the one training runs, donated state; config.num_replicas nets at once) on a
  synthetic batch over all devices; also says how it was computed (config.compute, resolved). images_per_sec counts
  every replica's images. profile: also where `window` more steps' time went (step_profile.seconds_by_kind)."""
  config = copy.deepcopy(config)
  config.batch_size = config.eval_batch_size = batch_size  # The benchmark does not evaluate.
  mesh = parallel.make_mesh()
  schema.check(config, mesh.devices.size)
  model, tx = create_model(config), create_optimizer(config, learning_rate_schedule(config))
  memory.check_fits(config, model, mesh, abstract_state(model, tx, config))  # Before the batch: it may not fit.
  choices, size, nets = compute.of(config), config.dataset.image_size, replicas.count(config)
  state, running = init_state(model, tx, config, mesh), empty_metrics(config, mesh)()
  sharded = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(parallel.DATA))
  rng = np.random.default_rng(0)
  batch = jax.device_put(
      {
          'image': rng.normal(size=(batch_size, size, size, 3)).astype(np.float32),
          'label': rng.integers(0, config.dataset.num_classes, batch_size).astype(np.int32),
      },
      sharded,
  )
  seeds = replicas.seed_argument(config)
  step_fn = jit_train_step(model, tx, config, lambda inputs, step, seed: inputs)
  unrolled = copy.deepcopy(config)
  unrolled.compute.block_loop = 'unroll'
  xla_flops = _xla_flops(
      jit_train_step(model, tx, unrolled, lambda inputs, step, seed: inputs), state, running, batch, seeds
  )
  if xla_flops and choices.replica_axis == 'map':
    xla_flops *= nets  # The replicas' loop: its body counted once (one net: no loop, and a factor of 1).
  start = time.perf_counter()
  compiled = step_fn.lower(state, running, batch, seeds).compile()
  compile_seconds = time.perf_counter() - start
  carry = [state, running]

  def step():
    carry[0], carry[1] = compiled(carry[0], carry[1], batch, seeds)

  sync = lambda: jax.block_until_ready(carry)
  timing = timed_steps(step, sync, warmup, window, repeats)
  if profile:
    timing['seconds_by_kind'] = step_profile.seconds_by_kind(compiled, step, sync, window)
  variables = abstract_variables(model, size)
  return {
      **timing,
      'replicas': nets,
      'images_per_sec': nets * batch_size / timing['step_seconds'],
      'compile_seconds': compile_seconds,
      'xla_flops': xla_flops,
      'model_flops': 6.0 * count_macs(model, variables, size) * batch_size * nets,
      'memory_bytes': _memory_bytes(compiled),
      'compute': choices.describe(),
      'unrolled': choices.block_loop == 'unroll',
      'replica_axis': replicas.of_several(nets, choices.replica_axis, None),
      'standard_layout_gradients': choices.conv_gradients == 'standard_layout',
  }


def jax_step_row(
    config, batch_size: int, peak_flops: float, warmup: int, window: int, repeats: int, profile: bool = False
) -> dict:
  """jax_train_step as a row of the step table: the network, batch and dtype, how the step ran, and its model FLOP
  utilisation (XLA's FLOPs per second against `peak_flops`)."""
  mine = jax_train_step(config, batch_size, warmup, window, repeats, profile)
  axis = f', replicas by {mine["replica_axis"]}' if mine['replica_axis'] else ''
  how = f'{mine.pop("compute")}{axis}'
  return {
      'network': model_name(config.model),
      'batch': batch_size,
      'dtype': config.model.dtype,
      'implementation': f'resnet_jax ({how})',
      **mine,
      'mfu': mine['xla_flops'] / mine['step_seconds'] / peak_flops if mine['xla_flops'] else None,
  }


def beside_torch(mine: dict, theirs: list[dict], peak_flops: float) -> None:
  """Completes a JAX step row and PyTorch's rows of the same net (one replica each): their FLOP utilisation by
  XLA's count of one net's step, and mine's speed against the fastest of theirs."""
  for row in theirs:
    row['mfu'] = mine['xla_flops'] / mine['replicas'] / row['step_seconds'] / peak_flops if mine['xla_flops'] else None
  if theirs:
    best = max(theirs, key=lambda r: r['images_per_sec'])
    mine.update(vs_best_torch=mine['images_per_sec'] / best['images_per_sec'], best_torch=best['implementation'])


def call_seconds(fn, args, repeats: int) -> float:
  """Seconds of one call of jit(fn)(*args), compiled beforehand: the median of `repeats` after 2 warm-up calls."""
  compiled, out = jax.jit(fn).lower(*args).compile(), [None]

  def call():
    out[0] = compiled(*args)

  return median_step_seconds(call, lambda: jax.block_until_ready(out[0]), 2, 1, repeats)


def matmul_flops_per_second(n: int, dtype, repeats: int = 10) -> float:
  """A device's measured peak: FLOP/s of an n x n matrix product in `dtype`, the median of `repeats`."""
  a = jnp.ones((n, n), dtype)
  return 2.0 * n**3 / call_seconds(lambda x: x @ x, (a,), repeats)


def conv_flops(batch: int, size: int, channels: int, kernel: int) -> float:
  """FLOPs of each of a KxK, stride-1, channels-to-channels layer's convolutions (forward, either gradient)."""
  return 2.0 * batch * size * size * channels * channels * kernel * kernel


def _inputs(shape: tuple, *shapes: tuple) -> list:
  rng = np.random.default_rng(0)
  return [jnp.asarray(rng.normal(size=s), jnp.float32) for s in (shape, *shapes)]


def jax_convs(batch: int, size: int, channels: int, kernel: int, repeats: int) -> dict[tuple[str, str], dict]:
  """Each convolution of a KxK, stride-1, channels-to-channels layer on a batch x size x size input, jitted alone,
  by (convolution, implementation): its seconds (the median of `repeats` calls) and its largest difference from
  XLA's float32 result, relative to that result's largest magnitude. The forward pass and both gradients as XLA
  derives them, as models/conv.py writes them in the standard layout, and by each of conv_routes.ROUTES."""
  x, w = _inputs((batch, size, size, channels), (kernel, kernel, channels, channels))
  (g,) = _inputs((batch, size, size, channels))
  strides, padding = (1, 1), conv_routes.same_padding(w)

  def three(route):  # Forward, input gradient, kernel gradient of one route, each a function of (x, w, g).
    gradients = lambda x, w, g: jax.vjp(route, x, w)[1](g)
    return {
        'forward': lambda x, w, g: route(x, w),
        'input gradient': lambda x, w, g: gradients(x, w, g)[0],
        'kernel gradient': lambda x, w, g: gradients(x, w, g)[1],
    }

  ops = {(operation, 'XLA'): op for operation, op in three(conv_routes.xla_conv).items()}
  ops[('input gradient', 'standard layout')] = lambda x, w, g: conv.input_gradient(g, w, x.shape, strides, padding)
  ops[('kernel gradient', 'standard layout')] = lambda x, w, g: conv.kernel_gradient(x, g, w.shape, strides, padding)
  ops.update(
      {(operation, name): op for name, route in conv_routes.ROUTES.items() for operation, op in three(route).items()}
  )
  references = {operation: op(x, w, g) for (operation, implementation), op in ops.items() if implementation == 'XLA'}
  results = {}
  for (operation, implementation), op in ops.items():
    reference = references[operation]
    error = jnp.abs(op(x, w, g) - reference).max() / jnp.abs(reference).max()
    results[(operation, implementation)] = {'seconds': call_seconds(op, (x, w, g), repeats), 'error': float(error)}
  return results


def replica_conv_seconds(
    batch: int, size: int, channels: int, kernel: int, nets: int, repeats: int
) -> dict[str, float]:
  """Seconds of the forward convolution of a KxK layer in `nets` replicas (each its own kernel and input), by how
  the replica axis runs it (replicas.over_replicas): vmap, which makes one grouped convolution of them, and map."""
  x, w = _inputs((nets, batch, size, size, channels), (nets, kernel, kernel, channels, channels))
  return {
      how: call_seconds(replicas.over_replicas(conv_routes.xla_conv, (0, 0), how), (x, w), repeats)
      for how in ('vmap', 'map')
  }


def check_conv_fits(batch: int, size: int, channels: int, kernel: int, nets: int) -> None:
  """Refuses a layer whose arrays cannot fit in the host's available memory (a lower bound: the input, the output
  gradient, a result and its reference, the patches routes' kernel*kernel shifted copies, the replicas' inputs)."""
  known = memory.device_bytes(jax.devices()[0])
  need = 4 * batch * size * size * channels * (4 + kernel * kernel + nets)
  if known and need > known[0]:
    raise ConfigError(
        Argument('layers', f'{size}:{channels}:{kernel}'),
        ' at ',
        Argument('batch', batch),
        f' needs at least {memory.size_text(need)}, but {known[1]} is {memory.size_text(known[0])}: use a smaller ',
        Argument('batch'),
        ' or ',
        Argument('layers'),
        '.',
    )


def conv_rows(batch: int, size: int, channels: int, kernel: int, nets: int, repeats: int) -> list[dict]:
  """The conv table's rows of one KxK layer: each convolution by jax_convs, then PyTorch's channels_last, then the
  forward pass of `nets` replicas by replica_conv_seconds, each with GFLOP/s and its speed against PyTorch's (for
  the replicas: against as many separate forward passes)."""
  from resnet_jax.tools import torch_reference

  check_conv_fits(batch, size, channels, kernel, nets)
  flops = conv_flops(batch, size, channels, kernel)
  theirs = torch_reference.conv_seconds(batch, size, channels, kernel, repeats)
  # (operation, implementation, PyTorch's operation to compare with, nets, seconds, error).
  timed = [
      (operation, implementation, operation, 1, timing['seconds'], timing['error'])
      for (operation, implementation), timing in jax_convs(batch, size, channels, kernel, repeats).items()
  ]
  timed += [(operation, 'torch channels_last', operation, 1, seconds, None) for operation, seconds in theirs.items()]
  timed += [
      (f'forward of {nets} replicas', f'replicas by {how}', 'forward', nets, seconds, None)
      for how, seconds in replica_conv_seconds(batch, size, channels, kernel, nets, repeats).items()
  ]
  return [
      {
          'input': f'{batch}x{size}x{size}x{channels}',
          'kernel': f'{kernel}x{kernel}',
          'flops': count * flops,
          'operation': operation,
          'implementation': implementation,
          'seconds': seconds,
          'flops_per_second': count * flops / seconds,
          'vs_torch': count * theirs[against] / seconds,
          'error': error,
      }
      for operation, implementation, against, count, seconds, error in timed
  ]


def profile_rows(row: dict, shown: int = 12) -> list[dict]:
  """A step row's seconds_by_kind as table rows: the `shown` largest kinds, the rest as one, and their share of
  the operations' summed time."""
  total = sum(row['seconds_by_kind'].values())
  if not total:
    return []
  kinds = list(row['seconds_by_kind'].items())
  kinds = kinds[:shown] + ([('(the other kinds)', sum(s for _, s in kinds[shown:]))] if kinds[shown:] else [])
  return [{'kind': kind, 'seconds': seconds, 'share': seconds / total} for kind, seconds in kinds]


def machine() -> dict:
  """What the rows ran on: JAX's device kind, platform and version, the CPU and its cores."""
  return {
      'device': jax.devices()[0].device_kind,
      'platform': jax.default_backend(),
      'jax': jax.__version__,
      'cpu': platform.processor() or platform.machine(),
      'cores': os.cpu_count(),
  }


STEP_COLUMNS = [
    ('network', False, text('network')),
    ('batch', True, text('batch')),
    ('dtype', False, text('dtype')),
    ('replicas', True, text('replicas')),
    ('implementation', False, text('implementation')),
    ('images/s', True, cell('images_per_sec', 0)),
    ('step ms', True, cell('step_seconds', 1, 1e3)),
    ('page faults/step', True, cell('page_faults_per_step', 0)),
    ('compile s', True, cell('compile_seconds', 1)),
    ('memory MB', True, cell('memory_bytes', 0, 2**-20)),
    ('GFLOP/step (XLA)', True, cell('xla_flops', 1, 1e-9)),
    ('MFU', True, cell('mfu', 1, 100, '%')),
    ('vs best torch', True, cell('vs_best_torch', 2, 1, 'x')),
]
CONV_COLUMNS = [
    ('input (NHWC)', False, text('input')),
    ('kernel', False, text('kernel')),
    ('convolution', False, text('operation')),
    ('implementation', False, text('implementation')),
    ('ms', True, cell('seconds', 2, 1e3)),
    ('GFLOP/s', True, cell('flops_per_second', 0, 1e-9)),
    ('vs torch', True, cell('vs_torch', 2, 1, 'x')),
    ('error vs XLA float32', True, lambda row: '-' if row['error'] is None else f'{row["error"]:.0e}'),
]
PROFILE_COLUMNS = [
    ('XLA operation kind', False, text('kind')),
    ('ms per step', True, cell('seconds', 1, 1e3)),
    ('share', True, cell('share', 0, 100, '%')),
]
