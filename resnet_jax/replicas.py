"""Replicas: config.num_replicas = K independent copies of a network trained in one jitted program, over a leading
axis of the TrainState. Replica k has seed config.seed + k (its initialisation, data order and augmentation), so it
is the single run of that seed. With K = 1 there is no replica axis at all (a workdir of one net restores as it
always did): the functions below are where one net and K differ, so that nothing else asks which it holds.

How the program runs the axis is config.replica_axis: 'vmap' batches the K nets into one computation (a convolution
with K kernels becomes a grouped convolution), 'map' runs them one after another in a loop (lax.map), each as the
single run computes it; 'auto' takes the faster of the two where docs/benchmarks.md measured it (runtime/auto.py).
"""
import math

import jax
import jax.numpy as jnp
import numpy as np


def count(config) -> int:
  """config.num_replicas: how many nets (1: one net, no replica axis)."""
  return config['num_replicas']


def axis(config) -> str:
  """How config's replicas run: config.replica_axis, 'vmap' or 'map' (runtime/auto.py resolves 'auto')."""
  how = config['replica_axis']
  if how not in ('vmap', 'map'):
    raise ValueError(f'replica_axis={how!r} is not vmap or map: use runtime.auto.resolve(config).')
  return how


def over_replicas(fn, in_axes: tuple, how: str):
  """fn over the replica axis: the leading axis of each argument whose in_axes entry is 0 (None: shared by every
  replica), and of every output. how='vmap': jax.vmap; 'map': one replica at a time (lax.map)."""
  if how == 'vmap':
    return jax.vmap(fn, in_axes=in_axes)

  def mapped(*args):
    def one(stacked):
      slices = iter(stacked)
      return fn(*[next(slices) if axis == 0 else arg for arg, axis in zip(args, in_axes)])
    return jax.lax.map(one, [arg for arg, axis in zip(args, in_axes) if axis == 0])
  return mapped


def over_nets(fn, in_axes: tuple, nets: int, how: str):
  """fn over `nets` nets: fn itself for one, else over_replicas(fn, in_axes, how)."""
  return fn if nets == 1 else over_replicas(fn, in_axes, how)


def seeds(config) -> list[int]:
  """The seed of each replica: config.seed, config.seed + 1, ..."""
  return [config.seed + k for k in range(count(config))]


def seed_argument(config):
  """The seeds as a step over config's nets takes them: config.seed, or the replicas' seeds as an array."""
  all_seeds = seeds(config)
  return all_seeds[0] if len(all_seeds) == 1 else jnp.asarray(all_seeds, jnp.int32)


def create(make, config):
  """make(seed) of config's nets: one net's, or the replicas' stacked (jax.vmap over their seeds)."""
  all_seeds = seeds(config)
  return make(all_seeds[0]) if len(all_seeds) == 1 else jax.vmap(make)(jnp.asarray(all_seeds))


def stacked_shapes(one_net, nets: int):
  """The abstract pytree (jax.ShapeDtypeStructs) of `nets` nets from one net's: one net's, or with a leading axis."""
  return one_net if nets == 1 else jax.tree.map(lambda s: jax.ShapeDtypeStruct((nets, *s.shape), s.dtype), one_net)


def stack(per_net: list):
  """Per-net pytrees (a list of one per net) as a step over the nets takes them: one net's, or stacked."""
  return per_net[0] if len(per_net) == 1 else jax.tree.map(lambda *leaves: jnp.stack(leaves), *per_net)


def inputs_axis(per_net: bool) -> int | None:
  """The replica axis of a step's inputs (over_replicas' in_axes): 0 where each net has its own
  (Dataset.inputs_per_replica), None where the nets share them."""
  return 0 if per_net else None


def step_inputs(inputs, per_net: bool):
  """A stream's step inputs as the step over the nets takes them: shared ones as they are, a list of one per net
  stacked."""
  return stack(inputs) if per_net else inputs


def inputs_of_net(inputs, net: int, per_net: bool):
  """Net `net`'s step inputs of a stream's: its entry of a list of one per net, or the shared ones."""
  return inputs[net] if per_net else inputs


def take(tree, replica: int):
  """Replica `replica` of a stacked pytree (its leading axis)."""
  return jax.tree.map(lambda leaf: leaf[replica], tree)


def of_net(tree, net: int, nets: int):
  """Net `net` of a pytree of `nets` nets: the pytree itself for one net, else its replica `net`."""
  return tree if nets == 1 else take(tree, net)


def unstack(tree, nets: int) -> list:
  """The `nets` nets of a pytree, one pytree each."""
  return [of_net(tree, k, nets) for k in range(nets)]


def with_axis(outputs, nets: int):
  """Outputs over the nets with their leading axis of nets, which one net's lack."""
  return jax.tree.map(lambda leaf: leaf[None], outputs) if nets == 1 else outputs


def one_or_all(per_net: list):
  """Per-net results as a workdir's evaluation reports them: one net's result, or the list of the replicas'."""
  return per_net[0] if len(per_net) == 1 else per_net


def label(replica: int, nets: int) -> int | None:
  """The `replica` field of a row of net `replica` of `nets` (writers.MetricsWriter): None for one net."""
  return None if nets == 1 else replica


def row_fields(replica: int | None) -> dict:
  """The field naming the net of a metrics.jsonl row: {'replica': k} for net k of several, none for one net's."""
  return {} if replica is None else {'replica': replica}


def tag_prefix(split: str, replica: int | None) -> str:
  """A TensorBoard tag's prefix: the split ('test'), or the split and net of several ('test/replica3')."""
  return split if replica is None else f'{split}/replica{replica}'


def row_replicas(rows: list[dict]) -> list[int | None]:
  """The nets metrics.jsonl rows name, in order: [0, 1, ...] of replicas, [None] for one net's."""
  return sorted({row.get('replica') for row in rows}, key=lambda r: -1 if r is None else r) or [None]


def of_several(nets: int, value, otherwise=''):
  """`value` (a name's -x5, a line's '(5 seeds)') where there are several nets; `otherwise` for one."""
  return value if nets > 1 else otherwise


def values_text(values, spec: str, unit: str = '') -> str:
  """One net's value ('12.34%'), or the mean±std of the replicas' ('12.34±0.56%')."""
  if len(values) == 1:
    return f'{values[0]:{spec}}{unit}'
  mean, std = mean_std(values)
  return f'{mean:{spec}}±{std:{spec.lstrip("0123456789")}}{unit}'


def mean_std(values) -> tuple[float, float]:
  """Mean and standard deviation (ddof=1, as the papers' error bars; 0 for one value)."""
  values = np.asarray(values, np.float64)
  return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


def curves_mean_std(curves) -> tuple[np.ndarray, np.ndarray]:
  """Per step, the mean and standard deviation (ddof=1) of curves of the same steps; of one curve, itself and 0."""
  curves = np.asarray(curves, np.float64)
  return curves.mean(0), curves.std(0, ddof=1) if len(curves) > 1 else np.zeros(curves.shape[1:])


def best_mean_std(errors, digits: int = 2) -> str:
  """He et al.'s format of several runs' errors, 'best (mean±std)': '6.43 (6.61±0.16)'; one run: its error."""
  errors = [e for e in errors if e is not None and math.isfinite(e)]
  if not errors:
    return '-'
  if len(errors) == 1:
    return f'{errors[0]:.{digits}f}'
  mean, std = mean_std(errors)
  return f'{min(errors):.{digits}f} ({mean:.{digits}f}±{std:.{digits}f})'


def final_errors(evals: list[dict]) -> str:
  """A split's evaluation rows (metrics.jsonl) as a run's final line gives them: one net's final and best top-1
  error, '7.50% (best 7.20% at step 300)'; of replicas, the best (mean±std) of their final errors."""
  by_replica = {}
  for row in evals:
    by_replica.setdefault(row.get('replica'), []).append(row)
  if len(by_replica) == 1:
    best = min(evals, key=lambda row: row['top1_error'])
    return f'{evals[-1]["top1_error"]:.2f}% (best {best["top1_error"]:.2f}% at step {best["step"]})'
  finals = [rows[-1]['top1_error'] for rows in by_replica.values()]
  return f'{best_mean_std(finals)}% (best (mean±std) of {len(finals)} replicas)'
