"""Small builders shared by the tests."""

import builtins
import contextlib
import dataclasses
import importlib
import io
import json
import os
import re
import subprocess
import sys

import numpy as np
from PIL import Image

import configs
from resnet_jax.models import abstract_variables, create_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def host_devices(count: int) -> str:
  """XLA_FLAGS of this test run (tests/conftest.py) with `count` CPU devices."""
  return re.sub(
      r'--xla_force_host_platform_device_count=\d+',
      f'--xla_force_host_platform_device_count={count}',
      os.environ['XLA_FLAGS'],
  )


def get_config(name: str, **model_overrides):
  """configs/<dataset>.py:<variant> as 'cifar10:resnet20', with model fields overridden."""
  dataset, variant = name.split(':')
  config = configs.named(dataset, variant)
  config.model.update(model_overrides)
  return config


def build(name: str, image_size: int | None = None, **model_overrides):
  """(config, model, abstract variables) of a named network."""
  config = get_config(name, **model_overrides)
  model = create_model(config)
  return config, model, abstract_variables(model, image_size or config.dataset.image_size)


def tiny_config(folder, cache_dir, **overrides):
  """ResNet-8 on a generated image folder, a few steps of batch 16."""
  config = get_config('cifar10:resnet8')
  config.dataset.update(source='folder', dir=folder, cache_dir=str(cache_dir))
  config.update(
      batch_size=16, eval_batch_size=40, total_steps=6, log_every_steps=1, eval_every_steps=3, checkpoint_every_steps=2
  )
  config.update(overrides)
  return config


def tiny_data(folder, cache_dir, flag: str = '--config.') -> list[str]:
  """tiny_config's data and batches on a command line: flag '--config.' (launch.py) or '--set=' (the sweeps)."""
  settings = ('dataset.source=folder', f'dataset.dir={folder}', f'dataset.cache_dir={cache_dir}', 'batch_size=16')
  return [f'{flag}{setting}' for setting in (*settings, 'eval_batch_size=40')]


def imagenet_tiny_config(folder, cache_dir, **overrides):
  """ResNet-18 at 32x32 on a generated ImageNet-layout folder of 4 classes, a few steps of batch 8."""
  config = get_config('imagenet:resnet18')
  config.dataset.update(
      dir=folder,
      cache_dir=str(cache_dir),
      num_classes=4,
      image_size=32,
      scale_range=(36, 48),
      mean_samples=8,
      workers=2,
  )
  config.model.bn_group_size = 0
  config.eval.scales = (32, 48)
  config.update(
      batch_size=8, eval_batch_size=8, total_steps=3, log_every_steps=1, eval_every_steps=3, checkpoint_every_steps=3
  )
  config.update(overrides)
  return config


def rows(workdir, drop=('images_per_sec',)):
  """The rows of workdir/metrics.jsonl, without the timing fields."""
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    return [{k: v for k, v in json.loads(line).items() if k not in drop} for line in f]


@dataclasses.dataclass
class Ran:
  """What a program did: its exit status, stdout and stderr."""

  returncode: int
  stdout: str
  stderr: str


def run(program: str, *args, cwd=None) -> Ran:
  """launch.py ('launch') or experiments/PROGRAM.py run in this process as its command line runs it (its
  PROGRAM.execute), from `cwd` (default: the repository)."""
  module = importlib.import_module(program if program == 'launch' else f'experiments.{program}')
  out, err = io.StringIO(), io.StringIO()
  with contextlib.chdir(cwd or ROOT), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    status = module.PROGRAM.execute([f'{program}.py', *args])
  return Ran(status, out.getvalue(), err.getvalue())


def assert_refused(done, message, workdir=None):
  """Exit 2, no traceback, one `error:` line (the last) holding `message`, and the workdir not created: of a Ran, a
  finished subprocess, or a running one (waited for)."""
  stderr = done.communicate(timeout=300)[1] if isinstance(done, subprocess.Popen) else done.stderr
  assert done.returncode == 2, stderr[-3000:]
  errors = [line for line in stderr.splitlines() if line.startswith('error:')]
  assert errors == [stderr.strip().splitlines()[-1]] and 'Traceback' not in stderr, stderr[-3000:]
  assert message in errors[0], errors[0]
  if workdir is not None:
    assert not os.path.exists(workdir)


def snapshot(workdir):
  """Every file under workdir (but metrics.jsonl, which evaluations append to) with its bytes."""
  found = {}
  for root, _, names in os.walk(workdir):
    for name in names:
      if name != 'metrics.jsonl':
        with open(os.path.join(root, name), 'rb') as f:
          found[os.path.relpath(os.path.join(root, name), workdir)] = f.read()
  return found


def launch(*args, env=None, **kwargs):
  """python launch.py ARGS on the CPU, as a subprocess with its output piped."""
  env = {**os.environ, 'JAX_PLATFORMS': 'cpu', **(env or {})}
  return subprocess.Popen(
      [sys.executable, 'launch.py', *args],
      cwd=ROOT,
      env=env,
      text=True,
      stdout=subprocess.PIPE,
      stderr=subprocess.PIPE,
      **kwargs,
  )


def write_image_folder(root, counts: dict[str, int], classes: list[str], sizes, suffix: str, brightness: int):
  """root/<split>/<class>/<i><suffix>: noisy images whose mean grows with the class; image i of class k has size
  sizes[(i + k) % len(sizes)] (width, height)."""
  rng = np.random.default_rng(0)
  for split, count in counts.items():
    for label, cls in enumerate(classes):
      os.makedirs(root / split / cls)
      for i in range(count):
        width, height = sizes[(i + label) % len(sizes)]
        pixels = np.clip(rng.normal(brightness * label + 30, 40, (height, width, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(root / split / cls / f'{i}{suffix}')
  return str(root)


def without_module(monkeypatch, module: str) -> None:
  """Makes `import module` fail for the rest of the test, as where it is not installed."""
  real_import = builtins.__import__

  def importing(name, *args, **kwargs):
    if name == module:
      raise ImportError(f'No module named {module!r}', name=module)
    return real_import(name, *args, **kwargs)

  monkeypatch.setattr(builtins, '__import__', importing)


def markdown_rows(text: str) -> list[list[str]]:
  """The cells of every row of the Markdown tables in text (header rows included, separator rows left out)."""
  rows = [
      [cell.strip() for cell in line.strip().strip('|').split('|')]
      for line in text.splitlines()
      if line.strip().startswith('|')
  ]
  return [row for row in rows if not all(set(cell) <= set('-:') for cell in row)]


def primitives(jaxpr) -> list:
  """Every equation of a jaxpr, those of its sub-jaxprs (scan, pjit, custom_vjp) included."""
  import jax.extend as jex

  found = []
  for eqn in jaxpr.eqns:
    found.append(eqn)
    for sub in jex.core.jaxprs_in_params(eqn.params):
      found += primitives(getattr(sub, 'jaxpr', sub))
  return found


def unprivileged() -> list[str]:
  """A command prefix under which file permissions hold: as root (CI), setpriv drops the capabilities that let
  root read and write past them; as anyone else, nothing."""
  if os.geteuid():
    return []
  caps = '-dac_override,-dac_read_search'
  return ['setpriv', f'--inh-caps={caps}', f'--bounding-set={caps}']


@contextlib.contextmanager
def read_only(path):
  """`path` read-only while the context lasts: a read-only bind mount as root (who writes past permissions),
  else its write permission taken away."""
  path = str(path)
  if os.geteuid():
    mode = os.stat(path).st_mode
    os.chmod(path, mode & ~0o222)
    try:
      yield
    finally:
      os.chmod(path, mode)
    return
  subprocess.run(['mount', '--bind', path, path], check=True, capture_output=True)
  try:
    subprocess.run(['mount', '-o', 'remount,ro,bind', path], check=True, capture_output=True)
    yield
  finally:
    subprocess.run(['umount', path], check=True)
