"""Replicas: config.num_replicas = K independent copies of a network trained in one jitted program, over a leading
axis of the TrainState. Replica k has seed config.seed + k (its initialisation, data order and augmentation), so it
is the single run of that seed. With K = 1 there is no replica axis at all (a workdir of one net restores as it
always did): the functions below are where one net and K differ, so that nothing else asks which it holds.

How the program runs the axis is config.compute.replica_axis (compute.py): 'vmap' batches the K nets into one
computation (a convolution with K kernels becomes a grouped convolution), 'map' runs them one after another in a loop
(lax.map), each as the single run computes it.
"""

import jax
import jax.numpy as jnp


def count(config) -> int:
  """config.num_replicas: how many nets (1: one net, no replica axis)."""
  return config['num_replicas']


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
