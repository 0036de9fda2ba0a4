"""Benchmarks.

--bench=step: the training step of each net in --nets on synthetic data already on the devices, in JAX (this
project's step) and, where torch is importable, in PyTorch as its users run it at its fastest (eager, channels_last,
torch.compile; bf16 autocast on GPU), side by side in one run: images/s (the median step of several windows
after warm-up), compile time, memory, FLOPs per step (XLA's cost analysis) and model FLOP utilisation against the
device's peak (--peak_tflops, or measured with a large matrix product). Prints a table last; --out writes JSON.
--block_loop, --conv_gradients and --replica_axes list the ways to run the JAX nets, each timed in the same run;
--profile adds where each JAX step's time went, by kind of XLA operation.

  python experiments/benchmark.py --bench=step --out=docs/step_cpu.json
  python experiments/benchmark.py --bench=step --nets=imagenet:resnet50 --dtypes=bfloat16 --batch=256
  python experiments/benchmark.py --bench=step --nets=cifar10:resnet20 --conv_gradients=auto,xla --profile
  python experiments/benchmark.py --bench=step --nets=cifar10:resnet20 \
      --xla_flags=--xla_cpu_experimental_ynn_fusion_type=reduce   # each set of XLA flags in a process of its own

--bench=conv: each convolution of a layer alone (forward, input gradient, kernel gradient; the gradients both as
XLA derives them and as models/conv.py writes them; and each by the other routes of tools/conv_routes.py, with its
error against XLA's), beside PyTorch's channels_last (oneDNN) on the CPU: milliseconds and GFLOP/s, for the layers
in --layers at the first --batch (default 128).

  python experiments/benchmark.py --bench=conv --out=docs/conv_cpu.json

--bench=pipeline: the ImageNet host pipeline alone (decode + augmentation), images/s, for each decoder.

  python experiments/benchmark.py --bench=pipeline --decoders=pil,auto --out=docs/pipeline.json

Generated JPEGs of ImageNet's typical size (about 400x350, about 110 KB), and natural images: the 846 original-pixel
CIFAR-10 test images (--originals) upscaled to that size. For each decoder and transform: images/s on one thread
(= per core) and on a pool of --threads threads, the median of --repeats passes over the images; and the mean and
max absolute difference of its views from Pillow's.
"""

from resnet_jax.runtime import startup  # noqa: F401 -- first: a signal while the program starts is one line.

import json
import math
import os
import platform
import subprocess
import sys
import tempfile

from absl import flags

import configs
from configs.schema import CHOICES
from resnet_jax.errors import ConfigError, Setting
from resnet_jax.runtime import cli

DATASETS = tuple(configs.FILES.values())
flags.DEFINE_enum('bench', 'step', ['step', 'conv', 'pipeline'], 'What to measure.')
flags.DEFINE_integer(
    'repeats',
    5,
    'Windows of steps (step), calls of each convolution (conv) or passes over the '
    'images (pipeline); the median counts.',
    lower_bound=1,
)
# --bench=step
flags.DEFINE_list(
    'nets',
    ['cifar10:resnet20', 'cifar10:resnet56', 'cifar10:resnet110', 'cifar10:resnet1202', 'imagenet:resnet50'],
    'configs/DATASET.py:VARIANT of each net, as DATASET:VARIANT.',
)
flags.register_validator(
    'nets',
    lambda nets: bool(nets)
    and len(set(nets)) == len(nets)
    and all(n.partition(':')[0] in DATASETS and n.partition(':')[2] for n in nets),
    f'--nets takes DATASET:VARIANT of each net, one or more, distinct, DATASET one of {", ".join(DATASETS)}, e.g. '
    '--nets=cifar10:resnet20,imagenet:resnet50 (a network, without a recipe such as ",modern": the step is timed on '
    'synthetic data).',
)
flags.DEFINE_list(
    'batch', [], 'Global batch per net (one value for all, or one per net); default 128 for CIFAR, 256 for ImageNet.'
)


def _check_batch(values: dict) -> bool:
  """--batch: one positive integer, or (--bench=step) one per net of --nets."""
  batch, counts = values['batch'], (0, 1) if values['bench'] == 'conv' else (0, 1, len(values['nets']))
  if all(b.isdigit() and int(b) > 0 for b in batch) and len(batch) in counts:
    return True
  raise flags.ValidationError(
      '--batch takes one positive integer'
      + (
          ' (--bench=conv times every layer at one batch).'
          if values['bench'] == 'conv'
          else ' for every net, or one per net of --nets.'
      )
  )


flags.register_multi_flags_validator(['batch', 'nets', 'bench'], _check_batch)


def _choice_list(name: str, key: str, auto: str = '') -> None:
  """A list flag of distinct choices of config key `key` and 'auto' (`auto` says what it is where the key has no
  such choice), each value timed in the same run; default: auto alone."""
  choices = tuple(dict.fromkeys(('auto', *CHOICES[key])))
  flags.DEFINE_list(name, ['auto'], f'{key} of the JAX nets: {", ".join(choices)}{auto}; each is timed.')
  flags.register_validator(
      name,
      lambda values: bool(values) and set(values) <= set(choices) and len(set(values)) == len(values),
      f'--{name} takes one or more of {", ".join(choices)}, distinct, separated by commas.',
  )


_choice_list('dtypes', 'model.dtype', ' (auto: bfloat16 on GPU, float32 on CPU)')
_choice_list('replica_axes', 'compute.replica_axis')
_choice_list('block_loop', 'compute.block_loop')
_choice_list('conv_gradients', 'compute.conv_gradients')
flags.DEFINE_integer(
    'conv_replicas',
    2,
    "--bench=conv: replicas of the layer's forward pass timed as the replica "
    'axis runs them (vmap: one grouped convolution; map: one at a time).',
    lower_bound=2,
)
flags.DEFINE_integer('warmup', 3, 'Steps before timing.', lower_bound=0)
flags.DEFINE_integer('window', 5, 'Steps per timed window.', lower_bound=1)
flags.DEFINE_bool(
    'profile',
    False,
    'Also trace --window more steps of each JAX net and print where their time went, '
    'by kind of XLA operation (resnet_jax/tools/step_profile.py).',
)
flags.DEFINE_bool('torch', True, 'Also time the nets in PyTorch, where torch is importable.')
flags.DEFINE_bool('torch_compile', True, 'Include torch.compile among the PyTorch variants.')
flags.DEFINE_float(
    'peak_tflops', 0.0, "One device's peak for FLOP utilisation; 0: measure it with a matrix product.", lower_bound=0
)
flags.register_validator('peak_tflops', math.isfinite, '--peak_tflops must be a finite number of TFLOP/s')
flags.DEFINE_integer(
    'host_devices', 0, 'CPU: split the host into this many XLA devices (0: leave XLA_FLAGS).', lower_bound=0
)
flags.DEFINE_multi_string(
    'xla_flags',
    [],
    'Also time the JAX nets under these XLA flags (added to XLA_FLAGS), in a process of their own, beside this '
    "run's; one set per use, e.g. --xla_flags=--xla_cpu_experimental_ynn_fusion_type=reduce.",
)
# --bench=conv
flags.DEFINE_list(
    'layers',
    ['32:16', '16:32', '8:64'],
    'SIZE:CHANNELS[:KERNEL] of each layer (KERNEL odd, default '
    "3); default: the 3x3 layers of the CIFAR nets' three stages.",
)
flags.register_validator(
    'layers',
    lambda layers: bool(layers)
    and all(
        len(parts := layer.split(':')) in (2, 3)
        and all(p.isdigit() and int(p) > 0 for p in parts)
        and int((parts + ['3'])[2]) % 2
        for layer in layers
    ),
    '--layers takes SIZE:CHANNELS or SIZE:CHANNELS:KERNEL of each layer, one or more, positive integers, KERNEL '
    'odd, e.g. --layers=32:16,8:64,56:64:1.',
)
# --bench=pipeline
flags.DEFINE_integer('images', 200, 'Generated JPEGs.', lower_bound=1)
flags.DEFINE_integer('threads', os.cpu_count() or 1, 'Threads of the pool.', lower_bound=1)
flags.DEFINE_list('decoders', ['pil', 'auto'], 'dataset.decoder values to time, each against Pillow.')
flags.register_validator(
    'decoders',
    lambda names: bool(names) and len(set(names)) == len(names) and set(names) <= set(CHOICES['dataset.decoder']),
    f'--decoders takes distinct values of {", ".join(CHOICES["dataset.decoder"])}, e.g. --decoders=pil,auto.',
)
SHARED_846 = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'datasets')
)
flags.DEFINE_string(
    'originals',
    None,
    'cifar10-test-exact846.npz, the natural images timed beside the generated ones (default: ../shared/datasets/ '
    'beside the checkout, where it is; --originals= for none).',
)
FLAGS = flags.FLAGS
# The config keys the benchmark's flags set; any other is the net's, chosen by --nets.
SET_BY = {
    'model.dtype': 'dtypes',
    'compute.block_loop': 'block_loop',
    'compute.conv_gradients': 'conv_gradients',
    'num_replicas': 'replicas',
    'compute.replica_axis': 'replica_axes',
    'batch_size': 'batch',
    'dataset.decoder': 'decoders',
}


def dialect(part) -> str:
  """The benchmark's: a config key as the flag that sets it (SET_BY), any other as another variant of --nets."""
  if isinstance(part, Setting):
    return (
        cli.flag(SET_BY[part.key], part.value)
        if part.key in SET_BY
        else f'--nets=DATASET:VARIANT (a variant of another {part.key})'
    )
  return cli.flag(part.name, part.value)


# The benchmarks each flag applies to (--bench, --out and --repeats apply to all).
STEP_FLAGS = [
    'nets',
    'dtypes',
    'replicas',
    'replica_axes',
    'block_loop',
    'conv_gradients',
    'warmup',
    'window',
    'torch',
    'torch_compile',
    'peak_tflops',
    'host_devices',
    'profile',
    'xla_flags',
]
APPLIES_TO = {
    **dict.fromkeys(STEP_FLAGS, ('step',)),
    'layers': ('conv',),
    'conv_replicas': ('conv',),
    'batch': ('step', 'conv'),
    'images': ('pipeline',),
    'threads': ('pipeline',),
    'decoders': ('pipeline',),
    'originals': ('pipeline',),
}


def step() -> dict:
  if FLAGS.host_devices:
    os.environ['XLA_FLAGS'] = (
        os.environ.get('XLA_FLAGS', '') + f' --xla_force_host_platform_device_count={FLAGS.host_devices}'
    )
  import jax
  import jax.numpy as jnp

  from resnet_jax import replicas
  from resnet_jax.tools import benchmarking, tables

  platform_name = jax.default_backend()
  gpu = platform_name == 'gpu'
  dtypes = [('bfloat16' if gpu else 'float32') if dtype == 'auto' else dtype for dtype in FLAGS.dtypes]
  # The peak of all devices together; a CPU's host devices share its cores, which one product already uses.
  peak = FLAGS.peak_tflops * 1e12 or benchmarking.matmul_flops_per_second(
      8192 if gpu else 1024, jnp.bfloat16 if 'bfloat16' in dtypes and gpu else jnp.float32
  )
  peak *= 1 if platform_name == 'cpu' else jax.device_count()
  torch_reference = _torch_reference() if FLAGS.torch else None
  results = {
      **benchmarking.machine(),
      'devices': jax.device_count(),
      'xla_flags': os.environ.get('XLA_FLAGS', ''),
      'torch': torch_reference and torch_reference.torch.__version__,
      'peak_flops': peak,
      'peak_given': bool(FLAGS.peak_tflops),
      'rows': [],
  }
  runs = [
      (loop, gradients, nets, axis)
      for loop in FLAGS.block_loop
      for gradients in FLAGS.conv_gradients
      for nets in map(int, FLAGS.replicas or ['1'])
      for axis in replicas.of_several(nets, FLAGS.replica_axes, ['auto'])
  ]
  flagged = [row for extra in FLAGS.xla_flags for row in _rows_under(extra)]
  batches = FLAGS.batch * len(FLAGS.nets) if len(FLAGS.batch) == 1 else FLAGS.batch or [None] * len(FLAGS.nets)
  for net, batch in zip(FLAGS.nets, batches):
    dataset, variant = net.split(':')
    batch = int(batch or (128 if dataset == 'cifar10' else 256))
    for dtype in dtypes:
      rows = []
      for loop, gradients, nets, axis in runs:
        config = configs.named(dataset, variant)
        config.model.dtype, config.num_replicas = dtype, nets
        config.compute.update(block_loop=loop, conv_gradients=gradients, replica_axis=axis)
        rows.append(
            benchmarking.jax_step_row(config, batch, peak, FLAGS.warmup, FLAGS.window, FLAGS.repeats, FLAGS.profile)
        )
        _say(rows[-1])
      theirs = [
          {'network': rows[0]['network'], 'batch': batch, 'dtype': dtype, **row}
          for row in (
              torch_reference.step_rows(
                  config, batch, dtype, platform_name, FLAGS.torch_compile, FLAGS.warmup, FLAGS.window, FLAGS.repeats
              )
              if torch_reference
              else []
          )
      ]
      for row in theirs:
        _say(row)
      rows += [r for r in flagged if (r['network'], r['batch'], r['dtype']) == (rows[0]['network'], batch, dtype)]
      for mine in rows:
        benchmarking.beside_torch(mine, theirs, peak)
      results['rows'] += [rows[0], *theirs, *rows[1:]]
  print(
      f'\n{results["device"]} x{results["devices"]} ({platform_name}), jax {results["jax"]}, torch '
      f'{results["torch"]}; peak {peak / 1e12:.2f} TFLOP/s ({"given" if FLAGS.peak_tflops else "measured"})'
  )
  print(tables.markdown_table(benchmarking.STEP_COLUMNS, results['rows']))
  for row in results['rows']:
    if 'seconds_by_kind' in row:
      print(
          f'\n{row["network"]} batch {row["batch"]} {row["dtype"]} x{row["replicas"]}, {row["implementation"]}: '
          f'{1e3 * row["step_seconds"]:.1f} ms per step'
      )
      kinds = benchmarking.profile_rows(row)
      print(
          tables.markdown_table(benchmarking.PROFILE_COLUMNS, kinds)
          if kinds
          else "The trace names none of the step's operations (step_profile.py reads XLA:CPU's traces)."
      )
  return results


def convs() -> dict:
  from resnet_jax.tools import benchmarking, tables

  torch_reference = _torch_reference()
  if torch_reference is None:
    raise ConfigError(
        '--bench=conv compares with PyTorch, which is not importable: install torch (requirements-test.txt).'
    )
  batch = int(FLAGS.batch[0]) if FLAGS.batch else 128
  rows = [
      row
      for layer in FLAGS.layers
      for row in benchmarking.conv_rows(
          batch, *(int(n) for n in (layer + ':3').split(':')[:3]), FLAGS.conv_replicas, FLAGS.repeats
      )
  ]
  results = {
      **benchmarking.machine(),
      'torch': torch_reference.torch.__version__,
      'batch': batch,
      'xla_flags': os.environ.get('XLA_FLAGS', ''),
      'rows': rows,
  }
  print(
      f'\none {results["platform"]} conv layer (stride 1, padded by kernel // 2) at a time; jax {results["jax"]}, '
      f'torch {results["torch"]}, {results["cores"]} cores; XLA_FLAGS={results["xla_flags"]!r}'
  )
  print(tables.markdown_table(benchmarking.CONV_COLUMNS, rows))
  return results


def pipeline() -> dict:
  import numpy as np

  from resnet_jax.tools import pipeline_speed, tables

  image_sets = {'generated': pipeline_speed.imagenet_like_jpegs(FLAGS.images)}
  originals = FLAGS.originals
  if originals is None and os.path.exists(default := os.path.join(SHARED_846, 'cifar10-test-exact846.npz')):
    originals = default
  if originals:
    try:
      with np.load(originals) as arrays:
        natural = arrays['images']
    except (OSError, KeyError, ValueError):
      natural = None
    if not (isinstance(natural, np.ndarray) and natural.dtype == np.uint8 and natural.ndim == 4 and len(natural)):
      raise ConfigError(
          f'--originals={originals} is not cifar10-test-exact846.npz (an .npz whose `images` are uint8 images, '
          '(N, H, W, 3)): name that file, or give --originals= to time the generated JPEGs alone.'
      )
    image_sets['natural, upscaled'] = pipeline_speed.upscaled_jpegs(natural, FLAGS.images)
  results = {
      **pipeline_speed.pipeline_rates(image_sets, FLAGS.decoders, FLAGS.threads, FLAGS.repeats),
      'originals': originals,
      'cpu': platform.processor() or platform.machine(),
      'cores': os.cpu_count(),
  }
  for name, described in results['image_sets'].items():
    print(
        f'{name}: {described["images"]} JPEGs, mean {described["mean_kb"]:.0f} KB, mean '
        f'{described["mean_size"][0]:.0f}x{described["mean_size"][1]:.0f}'
    )
  print(f'{FLAGS.threads} threads on {os.cpu_count()} cores')
  print(tables.markdown_table(pipeline_speed.columns(FLAGS.threads), results['rows']))
  return results


def _rows_under(extra: str) -> list[dict]:
  """The JAX rows of this benchmark's nets and ways, timed by a run of its own under XLA_FLAGS + `extra`."""
  with tempfile.TemporaryDirectory() as folder:
    out = os.path.join(folder, 'rows.json')
    passed = [name for name in ('repeats', 'batch', *STEP_FLAGS) if name not in ('xla_flags', 'torch', 'torch_compile')]
    given = [FLAGS[name].serialize() for name in passed if FLAGS[name].present]
    command = [sys.executable, os.path.abspath(__file__), '--bench=step', *given, '--notorch', f'--out={out}']
    environment = {**os.environ, 'XLA_FLAGS': f'{os.environ.get("XLA_FLAGS", "")} {extra}'.strip()}
    print(f'Timing the JAX nets under XLA_FLAGS={environment["XLA_FLAGS"]!r} in a process of their own.', flush=True)
    done = subprocess.run(command, env=environment, capture_output=True, text=True)
    if done.returncode:
      lines = (done.stderr or done.stdout).strip().splitlines() or ['no output']
      raise ConfigError(f'--xla_flags={extra}: the run under those flags failed ({lines[-1][:300]}): drop them.')
    with open(out) as f:
      rows = json.load(f)['rows']
  for row in rows:
    row.update(implementation=f'{row["implementation"]} + {extra}', xla_flags=extra)
    _say(row)
  return rows


def _say(row: dict) -> None:
  print(
      f'{row["network"]} batch {row["batch"]} {row["dtype"]} x{row["replicas"]}: {row["implementation"]} '
      f'{row["images_per_sec"]:.0f} images/s',
      flush=True,
  )


def _torch_reference():
  """tools/torch_reference, or None where torch is not importable."""
  try:
    from resnet_jax.tools import torch_reference
  except ImportError:
    return None
  return torch_reference


def main() -> None:
  cli.check_file('out')
  for name, benches in APPLIES_TO.items():
    if FLAGS[name].present and FLAGS.bench not in benches:
      raise ConfigError(
          f'--{name} applies to --bench={" and --bench=".join(benches)} only: drop it, or set --bench={benches[0]}.'
      )
  from resnet_jax.runtime import host_memory

  retained = host_memory.retained()  # Set by Program.run, as for launch.py's runs; recorded with the rows.
  results = {'step': step, 'conv': convs, 'pipeline': pipeline}[FLAGS.bench]()
  results['host_memory_retained'] = retained
  if FLAGS.out:
    os.makedirs(os.path.dirname(os.path.abspath(FLAGS.out)), exist_ok=True)
    with open(FLAGS.out, 'w') as f:
      json.dump(results, f, indent=2)


PROGRAM = cli.Program(main, dialect, uses=('out', 'replicas'))

if __name__ == '__main__':
  PROGRAM.run()
