"""experiments/benchmark.py through its main function in this process: the convolution and pipeline benchmarks at
tiny sizes (their numbers mean nothing here; docs/benchmarks.md has the measured ones), and every mistake in its
flags as one line naming the fix."""

import json
import os
import re

import numpy as np
import pytest

from resnet_jax.tools import pipeline_speed
from tests.helpers import assert_refused, markdown_rows, run

pytest.importorskip('torch')


def test_conv_benchmark_times_each_convolution_beside_torch(tmp_path):
  out = tmp_path / 'conv.json'
  done = run('benchmark', '--bench=conv', '--batch=2', '--layers=8:4,4:8:1', '--repeats=2', f'--out={out}')
  assert done.returncode == 0, done.stderr[-3000:]
  results = json.loads(out.read_text())
  assert results['batch'] == 2 and results['xla_flags'] == os.environ.get('XLA_FLAGS', '')
  routes = [
      'XLA',
      'NCHW',
      'tap products',
      'patches product',
      'XLA bfloat16',
      'patches product bfloat16',
      'torch channels_last',
  ]
  three = ['forward', 'input gradient', 'kernel gradient']
  expected = [(operation, route) for route in routes for operation in three]
  expected[3:3] = [('input gradient', 'standard layout'), ('kernel gradient', 'standard layout')]
  expected += [('forward of 2 replicas', 'replicas by vmap'), ('forward of 2 replicas', 'replicas by map')]
  for layer, kernel, size, channels in (('2x8x8x4', 3, 8, 4), ('2x4x4x8', 1, 4, 8)):
    rows = [r for r in results['rows'] if r['input'] == layer]
    assert [(r['operation'], r['implementation']) for r in rows] == expected
    assert {r['kernel'] for r in rows} == {f'{kernel}x{kernel}'}
    torch_seconds = {r['operation']: r['seconds'] for r in rows if r['implementation'] == 'torch channels_last'}
    for r in rows[:-2]:
      assert r['flops'] == 2 * 2 * size * size * channels * channels * kernel * kernel
      assert r['flops_per_second'] == pytest.approx(r['flops'] / r['seconds'])
      assert r['vs_torch'] == pytest.approx(torch_seconds[r['operation']] / r['seconds'])
      # Each of JAX's computes what XLA's float32 convolution computes: to float32 rounding, or bfloat16's.
      bound = (
          None
          if r['implementation'] == 'torch channels_last'
          else (2e-2 if 'bfloat16' in r['implementation'] else 1e-5)
      )
      assert r['error'] is None if bound is None else 0 <= r['error'] < bound, r
    # The replica axis: 2 nets' forward passes by vmap (a grouped convolution) and by map, against 2 of torch's.
    for r in rows[-2:]:
      assert r['flops'] == 2 * rows[0]['flops'] and r['vs_torch'] == pytest.approx(
          2 * torch_seconds['forward'] / r['seconds']
      )
  last = markdown_rows(done.stdout)[-1]
  assert last[:4] == ['2x4x4x8', '1x1', 'forward of 2 replicas', 'replicas by map']
  assert float(last[4]) == pytest.approx(1e3 * results['rows'][-1]['seconds'], abs=0.01)


def test_pipeline_benchmark_times_each_decoder_and_transform_against_pillow(tmp_path):
  out, originals = tmp_path / 'pipeline.json', tmp_path / 'originals.npz'
  np.savez(originals, images=np.random.default_rng(0).integers(0, 255, (5, 32, 32, 3), np.uint8))
  done = run(
      'benchmark',
      '--bench=pipeline',
      '--decoders=pil,auto',
      f'--originals={originals}',
      '--images=3',
      '--threads=2',
      '--repeats=1',
      f'--out={out}',
  )
  assert done.returncode == 0, done.stderr[-3000:]
  results = json.loads(out.read_text())
  generated, natural = results['image_sets'].values()
  assert generated['images'] == natural['images'] == 3 and 300 < generated['mean_size'][0] < 460
  assert (
      natural['mean_size'] == [400, 350]
      and results['threads'] == 2
      and list(results['image_sets'])[1] == 'natural, upscaled'
  )
  rows = results['rows']
  assert [(r['decoder'], r['transform']) for r in rows] == [
      (decoder, transform)
      for decoder in ('pil', 'auto (simplejpeg)')
      for _ in results['image_sets']
      for transform in pipeline_speed.TRANSFORMS
  ]
  assert all(r['per_core'] > 0 and r['pool'] > 0 for r in rows)
  pillow, fast = rows[:6], rows[6:]
  assert all(r['mean_diff'] == r['max_diff'] == 0 and r['per_core_vs_pil'] == 1 for r in pillow)
  assert all(0 < r['mean_diff'] < r['max_diff'] for r in fast)
  assert [r['per_core_vs_pil'] for r in fast] == pytest.approx(
      [f['per_core'] / p['per_core'] for f, p in zip(fast, pillow)]
  )
  table = markdown_rows(done.stdout)
  assert [row[1:3] for row in table[-12:]] == [[r['decoder'], r['transform']] for r in rows]
  assert [float(row[3]) for row in table[-12:]] == [round(r['per_core']) for r in rows]


@pytest.mark.parametrize(
    'args,message',
    [
        (['--bench=conv', '--layers=8x16'], '--layers takes SIZE:CHANNELS or SIZE:CHANNELS:KERNEL of each layer'),
        (['--bench=conv', '--layers=8:16:2'], 'KERNEL odd'),
        (
            ['--conv_gradients=standard_layout,cudnn'],
            '--conv_gradients takes one or more of auto, xla, standard_layout',
        ),
        (['--replica_axes=pmap'], '--replica_axes takes one or more of auto, vmap, map, distinct, separated by commas'),
        (['--replica_axes=map,map'], '--replica_axes takes one or more of auto, vmap, map, distinct'),
        (['--dtypes='], '--dtypes takes one or more of auto, float32, bfloat16, distinct'),
        (['--dtypes=float32,bfloat16,float32'], '--dtypes takes one or more of auto, float32, bfloat16, distinct'),
        (['--dtypes=float17'], '--dtypes takes one or more of auto, float32, bfloat16'),
        (['--nets=cifar10:resnet8,cifar10:resnet8'], '--nets takes DATASET:VARIANT of each net, one or more, distinct'),
        (['--nets=imagenet:resnet18,modern'], 'without a recipe such as ",modern"'),
        (['--peak_tflops=-1'], 'flag --peak_tflops=-1: -1.0 is not a non-negative number'),
        (['--peak_tflops=nan'], '--peak_tflops must be a finite number of TFLOP/s'),
        (['--nets=resnet8'], '--nets takes DATASET:VARIANT of each net'),
        (['--window=0'], 'flag --window=0: 0 is not a positive integer'),
        (['--bench=pipeline', '--images=0'], 'flag --images=0'),
        (['--bench=pipeline', '--decoders=pil,turbo'], '--decoders takes distinct values of auto, pil, simplejpeg'),
        (['--bench=pipeline', '--originals=/nonexistent.npz'], '--originals=/nonexistent.npz is not'),
        (['--decoders=pil'], '--decoders applies to --bench=pipeline only'),
        (['--out=/tmp'], '--out=/tmp is a directory: name a file'),
        (['--batch=4,4'], '--batch takes one positive integer for every net'),
        (['--bench=conv', '--batch=2,3'], '--batch takes one positive integer (--bench=conv times every layer at one'),
        (['--nets='], '--nets takes DATASET:VARIANT of each net, one or more'),
        (
            ['--bench=conv', '--layers='],
            '--layers takes SIZE:CHANNELS or SIZE:CHANNELS:KERNEL of each layer, one or more',
        ),
        (['--host_devices=-2'], 'flag --host_devices=-2: -2 is not'),
        (['--bench=conv', '--profile'], '--profile applies to --bench=step only: drop it, or set --bench=step.'),
        (['--bench=step', '--layers=4:4', '--notorch'], '--layers applies to --bench=conv only'),
        (['--bench=pipeline', '--batch=4'], '--batch applies to --bench=step and --bench=conv only'),
        (['--bench=conv', '--batch=2', '--layers=100000:64'], '--layers=100000:64:3 at --batch=2 needs at least'),
        (
            ['--nets=cifar10:resnet8', '--batch=100000000', '--notorch', '--peak_tflops=1'],
            r're:resnet8-A at batch 100000000 needs at least .* GB per device .*: '
            r'at most --batch=\d+ \(\d+ per device\) can',
        ),
        (
            ['--nets=cifar10:resnet9', '--notorch', '--batch=8', '--peak_tflops=1'],
            'not 9: set --nets=DATASET:VARIANT (a variant of another model.depth)',
        ),
    ],
)
def test_bad_benchmark_flags_end_in_one_error_line(args, message):
  done = run('benchmark', *args)
  assert done.returncode == 2 and 'Traceback' not in done.stderr, done.stderr[-3000:]
  last = done.stderr.strip().splitlines()[-1]
  found = re.search(message[3:], last) if message.startswith('re:') else message in last
  assert last.startswith('error: ') and found, done.stderr[-3000:]


def test_originals_that_are_not_images_end_in_one_error_line(tmp_path):
  files = {
      'floats.npz': {'images': np.zeros((2, 32, 32, 3), np.float32)},
      'empty.npz': {'images': np.zeros((0, 32, 32, 3), np.uint8)},
      'flat.npz': {'images': np.zeros((3, 5), np.uint8)},
      'other.npz': {'labels': np.zeros(3, np.uint8)},
  }
  for name, arrays in files.items():
    np.savez(tmp_path / name, **arrays)
  (tmp_path / 'text.npz').write_text('not an archive')
  for name in [*files, 'text.npz']:
    assert_refused(
        run('benchmark', '--bench=pipeline', '--images=1', f'--originals={tmp_path / name}'),
        f'--originals={tmp_path / name} is not cifar10-test-exact846.npz (an .npz whose `images` are uint8 images',
    )
