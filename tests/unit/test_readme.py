"""docs/layout.md names every file of the library, the shell, the tools, the configs and the programs, and nothing
else; the README is a front page."""

import os
import re
import subprocess

from tests.helpers import ROOT

LAYOUT_DIRS = ('resnet_jax', 'configs', 'experiments')


def tracked_files() -> list[str]:
  listed = subprocess.run(['git', 'ls-files', *LAYOUT_DIRS, 'launch.py'], cwd=ROOT, capture_output=True, text=True)
  if listed.returncode == 0 and listed.stdout.strip():
    return listed.stdout.split()
  return [
      os.path.relpath(os.path.join(d, f), ROOT)
      for top in LAYOUT_DIRS
      for d, _, files in os.walk(os.path.join(ROOT, top))
      if '__pycache__' not in d
      for f in files
  ] + ['launch.py']


def test_layout_names_every_file_and_only_files_there_are():
  with open(os.path.join(ROOT, 'docs', 'layout.md')) as f:
    layout = f.read()
  block = '\n'.join(line for line in layout.splitlines() if line.startswith('    '))
  named = set(re.findall(r'\b[\w]+\.(?:py|sh|txt)\b', block))
  files = {os.path.basename(path) for path in tracked_files() if not path.endswith('__init__.py')}
  assert not files - named, f'files the layout does not name: {sorted(files - named)}'
  assert not named - files, f'names in the layout that are not files: {sorted(named - files)}'


def test_each_case_of_bad_input_names_a_test_that_exists():
  """docs/bad_input.md's tests ('unit/test_x.py::test_y', or bad_input::test_y of cli/test_bad_input.py) are there."""
  with open(os.path.join(ROOT, 'docs', 'bad_input.md')) as f:
    text = f.read()
  named = re.findall(r'`([\w/]+\.py)::(test_\w+)`', text)
  named += [('cli/test_bad_input.py', name) for name in re.findall(r'`bad_input::(test_\w+)`', text)]
  assert len(named) > 50
  for path, name in named:
    with open(os.path.join(ROOT, 'tests', path)) as f:
      assert re.search(rf'^def {name}\(', f.read(), re.M), (path, name)
