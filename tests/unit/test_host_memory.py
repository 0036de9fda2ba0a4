"""host_memory: once retain_freed_memory() has run, memory freed by malloc is reused without new page faults."""

import importlib.metadata
import importlib.util
import platform
import subprocess
import sys

import pytest

from resnet_jax.runtime import host_memory
from tests.helpers import ROOT

# Page faults of touching 256 MB that malloc gives, after the same amount was given, touched and freed.
FAULTS_OF_A_SECOND_BUFFER = """
import ctypes, resource, sys
from resnet_jax.runtime import host_memory
if sys.argv[1] == 'retain':
  assert host_memory.retain_freed_memory()
libc = ctypes.CDLL('libc.so.6')
libc.malloc.restype, libc.malloc.argtypes, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_size_t], [ctypes.c_void_p]
size = 256 << 20
def touch():
  pointer = libc.malloc(size)
  ctypes.memset(pointer, 1, size)
  libc.free(pointer)
touch()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
touch()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(mode: str) -> int:
  done = subprocess.run(
      [sys.executable, '-c', FAULTS_OF_A_SECOND_BUFFER, mode], cwd=ROOT, capture_output=True, text=True, timeout=120
  )
  assert done.returncode == 0, done.stderr[-2000:]
  return int(done.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != 'glibc', reason="mallopt is glibc's")
def test_retained_memory_is_reused_without_page_faults():
  default, retained = faults('default'), faults('retain')
  assert default >= (256 << 20) // (2 << 20)  # glibc unmapped the first buffer: at least a fault per huge page.
  assert retained <= default // 10


def test_cpu_only_follows_jax_platforms_then_installed_plugins(monkeypatch, tmp_path):
  monkeypatch.setenv('JAX_PLATFORMS', 'cpu')
  assert host_memory.cpu_only()
  for platforms in ('cuda', 'cuda,cpu', 'tpu'):
    monkeypatch.setenv('JAX_PLATFORMS', platforms)
    assert not host_memory.cpu_only()
  monkeypatch.delenv('JAX_PLATFORMS')
  find_spec = importlib.util.find_spec
  monkeypatch.setattr(importlib.metadata, 'entry_points', lambda group: [])
  monkeypatch.setattr(importlib.util, 'find_spec', lambda name: None)
  assert host_memory.cpu_only()
  monkeypatch.setattr(importlib.metadata, 'entry_points', lambda group: ['xla_cuda12 = jax_cuda12_plugin'])
  assert not host_memory.cpu_only()
  monkeypatch.setattr(importlib.metadata, 'entry_points', lambda group: [])
  monkeypatch.setattr(importlib.util, 'find_spec', find_spec)
  (tmp_path / 'jax_plugins').mkdir()
  (tmp_path / 'jax_plugins' / '__init__.py').write_text('')
  monkeypatch.syspath_prepend(str(tmp_path))
  assert not host_memory.cpu_only()
