"""Benchmarks.

--bench=step: the training step of each net in --nets on synthetic data already on the devices, in JAX (this
project's step) and, where torch is importable, in PyTorch as its users run it at its fastest (eager, channels_last,
torch.compile; bf16 autocast on GPU), side by side in one run: images/s (the median step of several windows
after warm-up), compile time, memory, FLOPs per step (XLA's cost analysis) and model FLOP utilisation against the
device's peak (--peak_tflops, or measured with a large matrix product). Prints a table last; --out writes JSON.

  python experiments/benchmark.py --bench=step --out=docs/step_cpu.json
  python experiments/benchmark.py --bench=step --nets=imagenet:resnet50 --dtypes=bfloat16 --batch=256

--bench=conv: each convolution of a 3x3 layer alone (forward, input gradient, kernel gradient; the gradients both
as XLA derives them and as models/conv.py writes them), beside PyTorch's channels_last (oneDNN) on the CPU:
milliseconds and GFLOP/s, for the layers in --layers at the first --batch (default 128).

  python experiments/benchmark.py --bench=conv --out=docs/conv_cpu.json

--bench=pipeline: the ImageNet host pipeline alone (decode + augmentation), images/s.

  python experiments/benchmark.py --bench=pipeline --out=docs/pipeline.json

Generated JPEGs of ImageNet's typical size (about 400x350, about 110 KB). For each transform: images/s on one
thread (= per core) and on a pool of --threads threads; the median of --repeats passes over the images.
"""
import io
import json
import os
import platform
import statistics
import time
from concurrent import futures

import numpy as np
from absl import app, flags
from PIL import Image

from resnet_jax.data import augment
from resnet_jax.runtime import cli

flags.DEFINE_enum('bench', 'step', ['step', 'conv', 'pipeline'], 'What to measure.')
flags.DEFINE_string('out', None, 'Write the results as JSON here.')
flags.DEFINE_integer('repeats', 5, 'Windows of steps (step) or passes over the images (pipeline); the median counts.')
# --bench=step
flags.DEFINE_list('nets', ['cifar10:resnet20', 'cifar10:resnet56', 'cifar10:resnet110', 'cifar10:resnet1202',
                           'imagenet:resnet50'], 'configs/DATASET.py:VARIANT of each net, as DATASET:VARIANT.')
flags.DEFINE_list('batch', [], 'Global batch per net (one value for all, or one per net); default 128 for CIFAR, '
                  '256 for ImageNet.')
flags.DEFINE_list('dtypes', [], "Compute dtypes: float32, bfloat16; default bfloat16 on GPU, float32 on CPU.")
flags.DEFINE_list('replicas', ['1'], 'Numbers of replicas (config.num_replicas) of each JAX net trained in one step, '
                  'e.g. 1,2,4,8; images/s counts every replica\'s images.')
cli.integer_list('replicas')
flags.DEFINE_list('replica_axes', ['auto'], 'config.replica_axis of the runs of several replicas: vmap, map, auto '
                  '(resnet_jax/replicas.py); each is timed.')
flags.register_validator('replica_axes', lambda axes: set(axes) <= {'vmap', 'map', 'auto'},
                         '--replica_axes takes vmap, map and auto, separated by commas.')
flags.DEFINE_enum('block_loop', 'auto', ['auto', 'scan', 'unroll'], 'model.block_loop of the JAX nets.')
flags.DEFINE_enum('conv_gradients', 'auto', ['auto', 'xla', 'standard_layout'],
                  'model.conv_gradients of the JAX nets.')
flags.DEFINE_integer('conv_replicas', 2, '--bench=conv: replicas of the layer\'s forward pass timed as the replica '
                     'axis runs them (vmap: one grouped convolution; map: one at a time).', lower_bound=2)
flags.DEFINE_integer('warmup', 3, 'Steps before timing.')
flags.DEFINE_integer('window', 5, 'Steps per timed window.')
flags.DEFINE_bool('torch', True, 'Also time the nets in PyTorch, where torch is importable.')
flags.DEFINE_bool('torch_compile', True, 'Include torch.compile among the PyTorch variants.')
flags.DEFINE_float('peak_tflops', 0.0, 'One device\'s peak for FLOP utilisation; 0: measure it with a matrix '
                   'product.')
flags.DEFINE_integer('host_devices', 0, 'CPU: split the host into this many XLA devices (0: leave XLA_FLAGS).')
# --bench=conv
flags.DEFINE_list('layers', ['32:16', '16:32', '8:64'], 'SIZE:CHANNELS of each 3x3 layer; default: the three '
                  'stages of the CIFAR nets.')
# --bench=pipeline
flags.DEFINE_integer('images', 200, 'Generated JPEGs.')
flags.DEFINE_integer('threads', os.cpu_count() or 1, 'Threads of the pool.')
FLAGS = flags.FLAGS

TRANSFORMS = {
    'paper (scale 256-480, crop, flip)': lambda data, rng: augment.paper_train(data, rng),
    'random_resized_crop + flip': lambda data, rng: augment.random_resized_crop(data, rng),
    'eval center_crop': lambda data, rng: augment.center_crop(data),
}


def imagenet_like_jpegs(count: int) -> list[bytes]:
  """Smooth colour fields with texture: JPEGs of about ImageNet's size and file size."""
  rng = np.random.default_rng(0)
  out = []
  for _ in range(count):
    width, height = int(rng.integers(360, 440)), int(rng.integers(320, 380))
    y, x = np.mgrid[:height, :width]
    base = 128 + 80 * np.sin(x[..., None] / rng.uniform(10, 40) + y[..., None] / rng.uniform(10, 40)
                              + rng.uniform(0, 6, 3))
    pixels = np.clip(base + rng.normal(0, 45, (height, width, 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, 'JPEG', quality=92)
    out.append(buffer.getvalue())
  return out


def rate(transform, jpegs, threads: int, repeats: int) -> float:
  def one(i):
    transform(jpegs[i], np.random.default_rng(i))
  times = []
  with futures.ThreadPoolExecutor(threads) as pool:
    list(pool.map(one, range(min(len(jpegs), 20))))  # Warm-up.
    for _ in range(repeats):
      start = time.perf_counter()
      list(pool.map(one, range(len(jpegs))))
      times.append(time.perf_counter() - start)
  return len(jpegs) / statistics.median(times)


def pipeline() -> dict:
  jpegs = imagenet_like_jpegs(FLAGS.images)
  sizes = [Image.open(io.BytesIO(j)).size for j in jpegs]
  results = {'images': len(jpegs), 'mean_kb': float(np.mean([len(j) for j in jpegs]) / 1024),
             'mean_size': [float(np.mean([s[0] for s in sizes])), float(np.mean([s[1] for s in sizes]))],
             'threads': FLAGS.threads, 'cpu': platform.processor() or platform.machine(),
             'cores': os.cpu_count(), 'rows': []}
  for name, transform in TRANSFORMS.items():
    one = rate(transform, jpegs, 1, FLAGS.repeats)
    pool = rate(transform, jpegs, FLAGS.threads, FLAGS.repeats)
    results['rows'].append({'transform': name, 'per_core': one, 'pool': pool})
  print(f'{len(jpegs)} JPEGs, mean {results["mean_kb"]:.0f} KB, mean {results["mean_size"][0]:.0f}x'
        f'{results["mean_size"][1]:.0f}; {FLAGS.threads} threads on {os.cpu_count()} cores')
  print(f'| transform | images/s, 1 thread | images/s, {FLAGS.threads} threads |\n|---|---:|---:|')
  for row in results['rows']:
    print(f'| {row["transform"]} | {row["per_core"]:.0f} | {row["pool"]:.0f} |')
  return results


def step_variants(platform_name: str, dtype: str) -> list[dict]:
  """The PyTorch set-ups to time: what its users would run on this device, fastest last."""
  gpu = platform_name == 'gpu'
  bf16 = dtype == 'bfloat16'
  variants = [] if gpu else [{'name': 'torch eager', 'channels_last': False}]
  variants.append({'name': 'torch channels_last', 'channels_last': True})
  if FLAGS.torch_compile:
    variants.append({'name': 'torch compile channels_last', 'channels_last': True, 'compile': True})
  return [{'compile': False, **v, 'bf16': bf16, 'name': v['name'] + (' bf16' if bf16 else '')} for v in variants]


def time_torch(config, batch: int, dtype: str, platform_name: str) -> list[dict]:
  import torch

  from resnet_jax.models import architecture
  from resnet_jax.tools import torch_reference
  from resnet_jax.tools.benchmarking import timed_steps
  device = 'cuda' if platform_name == 'gpu' else 'cpu'
  rows = []
  for variant in step_variants(platform_name, dtype):
    torch.manual_seed(0)
    net = torch_reference.create(architecture(config.model.family, config.model.depth), config.dataset.num_classes,
                                 config.model.shortcut)
    step, sync = torch_reference.train_step_timer(
        net, batch, config.dataset.image_size, config.dataset.num_classes, device=device,
        channels_last=variant['channels_last'], bf16=variant['bf16'], compile=variant['compile'])
    if device == 'cuda':
      torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    step()
    sync()
    first = time.perf_counter() - start
    timing = timed_steps(step, sync, FLAGS.warmup, FLAGS.window, FLAGS.repeats)
    seconds = timing['step_seconds']
    rows.append({'implementation': variant['name'], 'images_per_sec': batch / seconds, **timing,
                 'compile_seconds': first - seconds if variant['compile'] else None,
                 'memory_bytes': torch.cuda.max_memory_allocated() if device == 'cuda' else None,
                 'torch_net': type(net).__module__.split('.')[0] + '.' + type(net).__name__})
  return rows


def step() -> dict:
  if FLAGS.host_devices:
    os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                               f' --xla_force_host_platform_device_count={FLAGS.host_devices}')
  import jax
  import jax.numpy as jnp

  from resnet_jax import replicas
  from resnet_jax.models import model_name
  from resnet_jax.runtime.config_io import named_config
  from resnet_jax.tools import benchmarking
  platform_name = jax.default_backend()
  gpu = platform_name == 'gpu'
  dtypes = FLAGS.dtypes or ['bfloat16' if gpu else 'float32']
  batches = [int(b) for b in FLAGS.batch] or [None]
  # The peak of all devices together; a CPU's host devices share its cores, which one product already uses.
  peak = FLAGS.peak_tflops * 1e12 or benchmarking.matmul_flops_per_second(
      8192 if gpu else 1024, jnp.bfloat16 if 'bfloat16' in dtypes and gpu else jnp.float32)
  peak *= 1 if platform_name == 'cpu' else jax.device_count()
  try:
    import torch
    torch_version = torch.__version__ if FLAGS.torch else None
  except ImportError:
    torch_version = None
  results = {'device': jax.devices()[0].device_kind, 'platform': platform_name, 'devices': jax.device_count(),
             'jax': jax.__version__, 'torch': torch_version, 'xla_flags': os.environ.get('XLA_FLAGS', ''),
             'cpu': platform.processor() or platform.machine(), 'cores': os.cpu_count(),
             'peak_flops': peak, 'peak_given': bool(FLAGS.peak_tflops), 'rows': []}
  for i, net in enumerate(FLAGS.nets):
    dataset, variant = net.split(':')
    batch = batches[i] if len(batches) == len(FLAGS.nets) else batches[0]
    batch = batch or (128 if dataset == 'cifar10' else 256)
    for dtype in dtypes:
      theirs = None
      runs = [(nets, axis) for nets in [int(k) for k in FLAGS.replicas]
              for axis in replicas.of_several(nets, FLAGS.replica_axes, [None])]
      for nets, axis in runs:
        config = named_config(dataset, variant)
        config.model.update(dtype=dtype, block_loop=FLAGS.block_loop, conv_gradients=FLAGS.conv_gradients)
        config.num_replicas, config.replica_axis = nets, axis or 'auto'
        name = model_name(config.model)
        common = {'network': name, 'batch': batch, 'dtype': dtype}
        mine = benchmarking.jax_train_step(config, batch, FLAGS.warmup, FLAGS.window, FLAGS.repeats)
        how = (f'{"unrolled" if mine["unrolled"] else "scan"}, '
               f'{"standard-layout" if mine["standard_layout_gradients"] else "XLA"} conv gradients'
               f'{f", replicas by {mine["replica_axis"]}" if mine["replica_axis"] else ""}')
        mine = {**common, 'implementation': f'resnet_jax ({how})', **mine}
        mine['mfu'] = mine['xla_flops'] / mine['step_seconds'] / peak if mine['xla_flops'] else None
        print(f'{name} batch {batch} {dtype} x{nets}: {mine["implementation"]} {mine["images_per_sec"]:.0f} '
              'images/s', flush=True)
        if theirs is None:  # PyTorch's nets, once per net and dtype: one replica each.
          theirs = [{**common, 'replicas': 1, **row}
                    for row in (time_torch(config, batch, dtype, platform_name) if torch_version else [])]
          for row in theirs:
            row['mfu'] = mine['xla_flops'] / nets / row['step_seconds'] / peak if mine['xla_flops'] else None
            print(f'{name} batch {batch} {dtype}: {row["implementation"]} {row["images_per_sec"]:.0f} images/s',
                  flush=True)
        if theirs:
          best = max(theirs, key=lambda r: r['images_per_sec'])
          mine['vs_best_torch'] = mine['images_per_sec'] / best['images_per_sec']
          mine['best_torch'] = best['implementation']
        results['rows'] += [mine, *theirs] if (nets, axis) == runs[0] else [mine]
  print(f'\n{results["device"]} x{results["devices"]} ({platform_name}), jax {results["jax"]}, torch '
        f'{results["torch"]}; peak {peak / 1e12:.2f} TFLOP/s ({"given" if FLAGS.peak_tflops else "measured"})')
  print('| network | batch | dtype | replicas | implementation | images/s | step ms | page faults/step | compile s | '
        'memory MB | GFLOP/step (XLA) | MFU | vs best torch |\n'
        '|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|')
  for r in results['rows']:
    flops = r.get('xla_flops')
    print(f'| {r["network"]} | {r["batch"]} | {r["dtype"]} | {r["replicas"]} | {r["implementation"]} | '
          f'{r["images_per_sec"]:.0f} | '
          f'{1e3 * r["step_seconds"]:.1f} | {r["page_faults_per_step"]:.0f} | {_number(r.get("compile_seconds"), 1)} | '
          f'{_number(r["memory_bytes"] and r["memory_bytes"] / 2**20, 0)} | {_number(flops and flops / 1e9, 1)} | '
          f'{_number(r["mfu"] and 100 * r["mfu"], 1, "%")} | {_number(r.get("vs_best_torch"), 2, "x")} |')
  return results


def convs() -> dict:
  import jax

  from resnet_jax.tools import benchmarking
  try:
    from resnet_jax.tools import torch_reference
  except ImportError as e:
    raise app.UsageError(f'--bench=conv compares with PyTorch, which is not importable ({e}).')
  batch = int(FLAGS.batch[0]) if FLAGS.batch else 128
  results = {'device': jax.devices()[0].device_kind, 'platform': jax.default_backend(), 'jax': jax.__version__,
             'torch': torch_reference.torch.__version__, 'cpu': platform.processor() or platform.machine(),
             'cores': os.cpu_count(), 'batch': batch, 'rows': []}
  for layer in FLAGS.layers:
    size, channels = (int(n) for n in layer.split(':'))
    flops = benchmarking.conv_flops(batch, size, channels)
    theirs = torch_reference.conv_seconds(batch, size, channels, FLAGS.repeats)
    mine = benchmarking.jax_conv_seconds(batch, size, channels, FLAGS.repeats)
    common = {'input': f'{batch}x{size}x{size}x{channels}', 'flops': flops}
    for (operation, implementation), seconds in [
        *mine.items(), *(((op, 'torch channels_last'), s) for op, s in theirs.items())]:
      results['rows'].append({**common, 'operation': operation, 'implementation': implementation,
                              'seconds': seconds, 'flops_per_second': flops / seconds,
                              'vs_torch': theirs[operation] / seconds})
    nets = FLAGS.conv_replicas  # Against torch: as many separate forward passes.
    for how, seconds in benchmarking.replica_conv_seconds(batch, size, channels, nets, FLAGS.repeats).items():
      results['rows'].append({**common, 'flops': nets * flops, 'operation': f'forward of {nets} replicas',
                              'implementation': f'replicas by {how}', 'seconds': seconds,
                              'flops_per_second': nets * flops / seconds,
                              'vs_torch': nets * theirs['forward'] / seconds})
  print(f'\none {results["platform"]} conv layer (3x3, stride 1) at a time; jax {results["jax"]}, torch '
        f'{results["torch"]}, {results["cores"]} cores')
  print('| input (NHWC) | convolution | implementation | ms | GFLOP/s | vs torch |\n|---|---|---|---:|---:|---:|')
  for r in results['rows']:
    print(f'| {r["input"]} | {r["operation"]} | {r["implementation"]} | {1e3 * r["seconds"]:.2f} | '
          f'{r["flops_per_second"] / 1e9:.0f} | {r["vs_torch"]:.2f}x |')
  return results


def _number(value, digits: int, unit: str = '') -> str:
  return '-' if value is None else f'{value:.{digits}f}{unit}'


def main() -> None:
  retained = cli.retain_host_memory()  # Set by cli.run already, as for launch.py's runs; recorded with the rows.
  results = {'step': step, 'conv': convs, 'pipeline': pipeline}[FLAGS.bench]()
  results['host_memory_retained'] = retained
  if FLAGS.out:
    with open(FLAGS.out, 'w') as f:
      json.dump(results, f, indent=2)


if __name__ == '__main__':
  cli.run(main)
