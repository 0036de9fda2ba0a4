"""Who owns what: the layers (the library imports nothing of the shell or the tools, and prints nothing; configs
are leaves), derived values follow the overrides, one rule for shape-changing blocks, no import-time side effects,
handlers restored."""

import ast
import os
import signal
import subprocess
import sys

import jax
import pytest

from resnet_jax import optim
from resnet_jax.models import abstract_variables, architecture, create_model
from resnet_jax.preemption import Preemption
from resnet_jax.workdir import read_config
from tests.helpers import ROOT, get_config

SHELL, TOOLS = 'resnet_jax/runtime/', 'resnet_jax/tools/'


def python_files(folder: str) -> list[str]:
  return sorted(
      os.path.relpath(os.path.join(directory, name), ROOT)
      for directory, _, names in os.walk(os.path.join(ROOT, folder))
      for name in names
      if name.endswith('.py')
  )


def imported(path: str) -> set[str]:
  """The modules a Python file imports, anywhere in it."""
  with open(os.path.join(ROOT, path)) as f:
    tree = ast.parse(f.read())
  found = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      found.update(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module:
      found.update([node.module] + [f'{node.module}.{alias.name}' for alias in node.names])
  return found


def test_the_library_imports_nothing_of_the_shell_or_the_tools_and_prints_nothing():
  """resnet_jax/ but runtime/ (the shell) and tools/: no import of either, of the programs, and no print()."""
  library = [path for path in python_files('resnet_jax') if not path.startswith((SHELL, TOOLS))]
  assert len(library) > 30
  for path in library:
    upward = {
        m for m in imported(path) if m.startswith(('resnet_jax.runtime', 'resnet_jax.tools', 'launch', 'experiments'))
    }
    assert not upward, (path, upward)
    with open(os.path.join(ROOT, path)) as f:
      calls = [node for node in ast.walk(ast.parse(f.read())) if isinstance(node, ast.Call)]
    assert not [c for c in calls if isinstance(c.func, ast.Name) and c.func.id == 'print'], path
  for path in python_files('resnet_jax/tools'):  # The tools use the library, never the shell.
    assert not {m for m in imported(path) if m.startswith(('resnet_jax.runtime', 'launch', 'experiments'))}, path


def python(code: str) -> str:
  done = subprocess.run(
      [sys.executable, '-c', code],
      cwd=ROOT,
      capture_output=True,
      text=True,
      timeout=300,
      env={**os.environ, 'JAX_PLATFORMS': 'cpu'},
  )
  assert done.returncode == 0, done.stderr[-2000:]
  return done.stdout.strip()


def test_configs_import_nothing_from_the_library():
  loaded = python(
      'import sys, configs.cifar10, configs.imagenet\n'
      'configs.cifar10.get_config("resnet110-B"), configs.imagenet.get_config("resnet50,modern")\n'
      'print(sorted(m for m in sys.modules if m.split(".")[0] == "resnet_jax"))'
  )
  assert loaded == '[]'


def test_no_script_changes_the_import_path():
  """The package is installed (pyproject.toml): no code reads or changes sys.path."""
  for folder in ('experiments', 'tests', 'resnet_jax', 'configs'):
    for directory, _, files in os.walk(os.path.join(ROOT, folder)):
      for name in (n for n in files if n.endswith('.py')):
        path = os.path.join(directory, name)
        with open(path) as f:
          tree = ast.parse(f.read())
        assert not any(
            isinstance(node, ast.Attribute)
            and node.attr == 'path'
            and isinstance(node.value, ast.Name)
            and node.value.id == 'sys'
            for node in ast.walk(tree)
        ), path


def test_overriding_the_depth_is_choosing_the_variant():
  """--config.model.depth=110 on resnet20 warms up as resnet110 does (the paper's 400 steps at lr 0.01)."""
  deep, shallow = get_config('cifar10:resnet20'), get_config('cifar10:resnet110')
  deep.model.depth = 110
  assert optim.warmup_steps(deep) == optim.warmup_steps(shallow) == 400
  assert optim.warmup_steps(get_config('cifar10:resnet56')) == 0
  schedule = optim.learning_rate_schedule(deep)
  assert float(schedule(0)) == pytest.approx(0.01) and float(schedule(400)) == pytest.approx(0.1)
  imagenet = get_config('imagenet:resnet50,modern')
  imagenet.batch_size = 1024
  assert optim.steps_per_epoch(imagenet) == 1_281_167 // 1024 and optim.warmup_steps(imagenet) == 5 * 1251


def test_a_config_saved_before_the_rules_reads_the_same():
  import ml_collections

  config = ml_collections.ConfigDict(read_config(os.path.join(ROOT, 'tests', 'data', 'recorded')))
  assert 'steps_per_epoch' not in config and optim.steps_per_epoch(config) == 6250
  assert config.schedule.warmup_min_depth == 110 and optim.warmup_steps(config) == 0  # Its config file's default.


@pytest.mark.parametrize(
    'name', ['cifar10:resnet20-B', 'cifar10:resnet8-B', 'imagenet:resnet18', 'imagenet:resnet50', 'imagenet:resnet152']
)
def test_one_rule_says_which_blocks_change_the_shape(name):
  """Architecture.changes_shape is what the built net does: option B projects exactly those blocks."""
  config = get_config(name)
  model = create_model(config)
  params = abstract_variables(model, 32 if name.startswith('cifar') else 64)['params']
  arch = architecture(config.model.family, config.model.depth)
  for stage, size in enumerate(arch.stage_sizes):
    tree = params[f'stage{stage + 1}']
    assert ('shortcut_conv' in tree.get('transition', {})) == arch.changes_shape(stage, 0)
    assert 'shortcut_conv' not in tree.get('blocks', {})
    assert not any(arch.changes_shape(stage, p) for p in range(1, size))
    out = tree['blocks' if 'blocks' in tree else 'transition']
    last_bn = out['bn3' if arch.bottleneck else 'bn2']['scale']
    assert last_bn.shape[-1] == arch.out_width(stage)


def test_plots_select_no_backend(tmp_path):
  figure = tmp_path / 'f.png'
  assert (
      python(
          'import sys, resnet_jax.reproduce.plots as plots\n'
          f'plots.responses({str(figure)!r}, {{"resnet8": [1.0, 2.0]}})\n'
          'print("matplotlib.pyplot" in sys.modules)'
      )
      == 'False'
  )
  assert figure.stat().st_size > 1000


def test_preemption_restores_the_handlers():
  before = {s: signal.getsignal(s) for s in Preemption.SIGNALS}
  with Preemption() as preemption:
    assert all(signal.getsignal(s) == preemption._handle for s in Preemption.SIGNALS)
  assert {s: signal.getsignal(s) for s in Preemption.SIGNALS} == before


def test_the_banner_says_when_malloc_keeps_freed_memory():
  line = python(
      'from resnet_jax.runtime import environment, host_memory\n'
      'host_memory.retain_freed_memory()\nprint(environment.describe("float32"))'
  )
  assert line.endswith('malloc keeps freed memory (--retain_host_memory).')
  assert jax.default_backend() == 'cpu'
