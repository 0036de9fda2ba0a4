"""The training state and the pure training step: TrainState, its running Metrics, and the jitted step over a
config's nets (one, or the replicas of replicas.py)."""

import functools
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax
from clu import metrics

from resnet_jax import compute, parallel, replicas


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any
  batch_stats: Any
  opt_state: Any


@flax.struct.dataclass
class Metrics(metrics.Collection):
  loss: metrics.Average.from_output('loss')
  accuracy: metrics.Accuracy


def summary(running: Metrics, nets: int) -> list[dict[str, float]]:
  """Loss and top-1 error (%) of each of the `nets` nets of running metrics."""
  return [
      {'loss': float(values['loss']), 'top1_error': 100 * (1 - float(values['accuracy']))}
      for values in (net.compute() for net in replicas.unstack(running, nets))
  ]


def cross_entropy(logits, labels, label_smoothing: float):
  targets = optax.smooth_labels(jax.nn.one_hot(labels, logits.shape[-1]), label_smoothing)
  return optax.softmax_cross_entropy(logits, targets)


def create_train_state(model, tx, image_size: int, seed: int) -> TrainState:
  variables = model.init(jax.random.key(seed), jnp.zeros((1, image_size, image_size, 3)), train=False)
  return TrainState(
      step=jnp.zeros((), jnp.int32),
      params=variables['params'],
      batch_stats=variables['batch_stats'],
      opt_state=tx.init(variables['params']),
  )


def abstract_state(model, tx, config) -> TrainState:
  """The shapes and dtypes of one of config's nets' TrainState (jax.eval_shape: nothing is computed)."""
  return jax.eval_shape(functools.partial(create_train_state, model, tx, config.dataset.image_size, config.seed))


def micro_batches(batch: dict, count: int, devices: int) -> dict:
  """The batch as `count` micro-batches (a leading axis): micro-batch k holds the k-th consecutive part of each
  device's share, so that BN groups of a micro-batch's share per device are those of the whole batch."""

  def split(x):
    parts = x.reshape(devices, count, -1, *x.shape[1:])  # (devices, micro-batches, per device, ...)
    return parts.swapaxes(0, 1).reshape(count, -1, *x.shape[1:])

  return jax.tree.map(split, batch)


def train_step(state: TrainState, running: Metrics, inputs, seed, *, model, tx, config, make_batch, devices=1):
  """One SGD step on make_batch(inputs, state.step, seed), over config.grad_accum_steps micro-batches (their
  gradients averaged, the BN statistics updated by each in turn; the batch split as micro_batches says over the
  `devices` it is sharded on); returns the new state and the running metrics with its."""
  batch = make_batch(inputs, state.step, seed)

  def loss_fn(params, batch_stats, batch):
    logits, updates = model.apply(
        {'params': params, 'batch_stats': batch_stats}, batch['image'], train=True, mutable=['batch_stats']
    )
    loss = cross_entropy(logits, batch['label'], config.optimizer.label_smoothing).mean()
    return loss, (logits, updates['batch_stats'])

  gradient = jax.value_and_grad(loss_fn, has_aux=True)

  def accumulate(carry, micro_batch):
    grads, batch_stats = carry
    (loss, (logits, batch_stats)), micro_grads = gradient(state.params, batch_stats, micro_batch)
    return (jax.tree.map(jnp.add, grads, micro_grads), batch_stats), (loss, logits)

  count = config.grad_accum_steps
  if count == 1:
    (loss, (logits, batch_stats)), grads = gradient(state.params, state.batch_stats, batch)
    labels = batch['label']
  else:
    micro = micro_batches(batch, count, devices)
    zeros = jax.tree.map(jnp.zeros_like, state.params)
    (grads, batch_stats), (losses, logits) = jax.lax.scan(accumulate, (zeros, state.batch_stats), micro)
    grads = jax.tree.map(lambda g: g / count, grads)
    loss, logits, labels = losses.mean(), logits.reshape(-1, logits.shape[-1]), micro['label'].reshape(-1)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  state = TrainState(
      step=state.step + 1,
      params=optax.apply_updates(state.params, updates),
      batch_stats=batch_stats,
      opt_state=opt_state,
  )
  return state, running.merge(Metrics.single_from_model_output(loss=loss, logits=logits, labels=labels))


def init_state(model, tx, config, mesh) -> TrainState:
  """The initial state of config's nets, replicated over the mesh."""
  create = functools.partial(create_train_state, model, tx, config.dataset.image_size)
  return jax.jit(lambda: replicas.create(create, config), out_shardings=parallel.replicated(mesh))()


def empty_metrics(config, mesh):
  """A jitted () -> empty running metrics of config's nets, replicated over the mesh."""
  return jax.jit(lambda: replicas.create(lambda seed: Metrics.empty(), config), out_shardings=parallel.replicated(mesh))


def jit_train_step(model, tx, config, make_batch, inputs_per_replica: bool = False, devices: int = 1):
  """The jitted step of config's nets: (state, running, inputs, seeds) -> (state, running), state donated; seeds
  as replicas.seed_argument gives them; computed as config.compute says; the batch sharded over `devices`.

  Over replicas, train_step runs over the replica axis (compute.replica_axis: vmap or map) of the state, the
  metrics and the seeds, and of the inputs where each net has its own (a list of one per net, stacked here).
  """
  choices = compute.of(config)
  step = functools.partial(train_step, model=model, tx=tx, config=config, make_batch=make_batch, devices=devices)
  over_nets = replicas.over_nets(
      step, (0, 0, replicas.inputs_axis(inputs_per_replica), 0), replicas.count(config), choices.replica_axis
  )
  return jax.jit(
      compute.traced_with(
          choices,
          lambda state, running, inputs, seeds: over_nets(
              state, running, replicas.step_inputs(inputs, inputs_per_replica), seeds
          ),
      ),
      donate_argnums=(0, 1),
  )
