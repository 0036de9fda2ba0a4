"""How the nets are computed: choices of speed that change no value (config.compute, the fields of Compute), and
the one place where 'auto' becomes this backend's fastest measured route (docs/benchmarks.md).

The model reads the block loop and the conv gradients while it is traced (current()), so they are no fields of the
network: a jitted function takes the choices given to it (traced_with), and one traced outside of any takes this
backend's.
"""

import contextlib
import contextvars
import dataclasses
import functools

import jax

# backend -> the choices 'auto' makes there, where they are not XLA's gradients and vmap. CPU: XLA:CPU runs its own conv
# gradients many times slower inside a loop than unrolled, the standard-layout ones (models/conv.py) as fast; and
# vmap's grouped convolutions run K nets at a third of K separate runs' speed, map at theirs. GPU and TPU: cuDNN's
# gradients, and vmap, which fills a device that one small net leaves idle (not yet measured on a GPU).
AUTO = {'cpu': {'conv_gradients': 'standard_layout', 'replica_axis': 'map'}}


@dataclasses.dataclass(frozen=True)
class Compute:
  """How the nets are computed; 'auto' picks for the backend (resolved)."""

  replica_axis: str = 'auto'  # 'vmap' (K nets as one batched program) or 'map' (one after another: lax.map).
  block_loop: str = 'auto'  # 'scan' (a stage's identical blocks in a loop) or 'unroll' (straight-line code).
  conv_gradients: str = 'auto'  # 'xla' (XLA's own) or 'standard_layout' (models/conv.py).

  def resolved(self, backend: str | None = None) -> 'Compute':
    """These choices with each 'auto' made for `backend` (default: JAX's): AUTO's; block_loop scans, but unrolls on
    the CPU with XLA's conv gradients."""
    backend = backend or jax.default_backend()
    auto = AUTO.get(backend, {})
    gradients = auto.get('conv_gradients', 'xla') if self.conv_gradients == 'auto' else self.conv_gradients
    loop = self.block_loop
    if loop == 'auto':
      loop = 'unroll' if backend == 'cpu' and gradients == 'xla' else 'scan'
    axis = auto.get('replica_axis', 'vmap') if self.replica_axis == 'auto' else self.replica_axis
    return Compute(replica_axis=axis, block_loop=loop, conv_gradients=gradients)

  def describe(self) -> str:
    """'scan, standard-layout conv gradients': how a net's step runs."""
    loop = 'unrolled' if self.block_loop == 'unroll' else 'scan'
    return f'{loop}, {"standard-layout" if self.conv_gradients == "standard_layout" else "XLA"} conv gradients'


def of(config) -> Compute:
  """The choices of config.compute, resolved for JAX's backend."""
  return Compute(**config.compute).resolved()


_CHOSEN: contextvars.ContextVar[Compute | None] = contextvars.ContextVar('compute', default=None)


def current() -> Compute:
  """The choices of the function being traced (traced_with), else this backend's."""
  return (_CHOSEN.get() or Compute()).resolved()


@contextlib.contextmanager
def choosing(choices: Compute):
  """While the context lasts, what is traced is computed as `choices` say."""
  token = _CHOSEN.set(choices)
  try:
    yield
  finally:
    _CHOSEN.reset(token)


def traced_with(choices: Compute, fn):
  """fn, computed as `choices` say whenever it is traced (wrap it so before jax.jit)."""

  @functools.wraps(fn)
  def chosen(*args, **kwargs):
    with choosing(choices):
      return fn(*args, **kwargs)

  return chosen
