"""torchvision's ResNet weights as a workdir of this codebase (step 0 of a TrainState, fresh optimizer state), to
evaluate or lesion-study the published models: experiments/convert_torchvision.py is its command line.

torchvision's nets are ResNet-18/34/50/101/152 with option B shortcuts, the v1.5 bottleneck (stride on the 3x3
conv) and inputs normalized by ImageNet's per-channel mean and std; the config must say so. Needs torch to read
the file, and nothing else of it.
"""

import os
import pickle
import re
import textwrap

import jax
import jax.numpy as jnp
import numpy as np

from configs import schema
from resnet_jax import parallel, workdir as workdirs
from resnet_jax.checkpoint import Checkpoints
from resnet_jax.errors import Argument, ConfigError, Setting
from resnet_jax.models import abstract_variables, create_model, depths, model_name, summary
from resnet_jax.models.depths import IMAGENET_STAGES
from resnet_jax.optim import create_optimizer, learning_rate_schedule
from resnet_jax.train_step import Metrics, TrainState

BN = {'scale': 'weight', 'bias': 'bias', 'mean': 'running_mean', 'var': 'running_var'}


def torch_key(path: tuple[str, ...]) -> str:
  """torchvision's name of one of our variables: ('params', 'stage2', 'transition', 'bn1', 'scale') ->
  'layer2.0.bn1.weight'. A scanned block's name has '{}' for its index."""
  *module, leaf = path[1:]
  name = 'weight' if leaf == 'kernel' else BN.get(leaf, leaf)
  if not module[0].startswith('stage'):
    return f"{ {'stem_conv': 'conv1', 'stem_bn': 'bn1', 'fc': 'fc'}[module[0]] }.{name}"
  stage, where, layer = module
  layer = {'shortcut_conv': 'downsample.0', 'shortcut_bn': 'downsample.1'}.get(layer, layer)
  return f'layer{stage[5:]}.{"0" if where == "transition" else "{}"}.{layer}.{name}'


def _to_ours(value: np.ndarray, leaf: str) -> np.ndarray:
  if leaf == 'kernel':
    return value.transpose(2, 3, 1, 0) if value.ndim == 4 else value.T  # OIHW -> HWIO; (out, in) -> (in, out).
  return value


def from_torchvision(state_dict: dict[str, np.ndarray], abstract, has_transition: dict[str, bool]):
  """Our variables (the structure of `abstract`) from a torchvision ResNet state_dict of numpy arrays."""
  used = set()

  def convert(path, like):
    path = tuple(getattr(p, 'key', p) for p in path)
    key = torch_key(path)
    if path[2] == 'blocks':
      first = 1 if has_transition[path[1]] else 0
      keys = [key.format(first + j) for j in range(like.shape[0])]
      values = [_to_ours(_get(state_dict, k), path[-1]) for k in keys]
      value = np.stack(values)
    else:
      keys, value = [key], _to_ours(_get(state_dict, key), path[-1])
    if value.shape != like.shape:
      raise ConfigError(
          f"{keys[0]} has shape {state_dict[keys[0]].shape}, which the config's network cannot hold (it needs "
          f'{like.shape}, laid out as its own): the file is no torchvision ResNet as torchvision builds it (RGB '
          'input, its widths); pass one that is.'
      )
    used.update(keys)
    return jnp.asarray(value, like.dtype)

  variables = jax.tree_util.tree_map_with_path(convert, abstract)
  unused = sorted(k for k in state_dict if k not in used and not k.endswith('num_batches_tracked'))
  if unused:
    raise ConfigError(
        f'The torchvision file has weights the config\'s network lacks ({", ".join(unused[:4])}...): '
        'choose the config of the same depth.'
    )
  return variables


def _get(state_dict, key):
  if key not in state_dict:
    raise ConfigError(f"The torchvision file lacks {key}: it is not a torchvision ResNet of the config's depth.")
  return state_dict[key]


def torchvision_net(state_dict: dict[str, np.ndarray]) -> tuple[int | None, int | None]:
  """(depth, classes) of a torchvision ResNet state_dict, from its blocks per stage and its head; None for what
  it does not show."""
  sizes = tuple(len({k.split('.')[1] for k in state_dict if k.startswith(f'layer{i}.')}) for i in range(1, 5))
  bottleneck = any(k.endswith('.conv3.weight') for k in state_dict)
  depth = next((d for d, stages in IMAGENET_STAGES.items() if stages == (bottleneck, sizes)), None)
  head = state_dict.get('fc.weight')
  return depth, None if head is None else head.shape[0]


def check_net(state_dict: dict[str, np.ndarray], config) -> None:
  """Refuses a config of another depth or number of classes than the torchvision file's, naming the right one."""
  depth, classes = torchvision_net(state_dict)
  if depth is not None and depth != config.model.depth:
    raise ConfigError(
        f"The torchvision file is a ResNet-{depth}, not the config's ResNet-{config.model.depth}: use ",
        Argument('config', f'configs/imagenet.py:resnet{depth},modern'),
        '.',
    )
  if classes is not None and classes != config.dataset.num_classes:
    raise ConfigError(
        f"The torchvision file's head has {classes} classes, not the config's {config.dataset.num_classes}: set ",
        Setting('dataset.num_classes', classes),
        '.',
    )


def check_config(config) -> None:
  """torchvision's conventions, which the config must share."""
  m = config.model
  if config.dataset.name != 'imagenet2012':
    raise ConfigError(
        'torchvision ResNets are ImageNet nets: use ', Argument('config', 'configs/imagenet.py:resnetN,modern'), '.'
    )
  fixes = [
      Setting(key, value)
      for key, value, wrong in (
          ('model.shortcut', 'B', m.shortcut != 'B'),
          ('model.preact', False, m.preact),
          ('model.bottleneck_stride', '3x3', m.depth >= 50 and m.bottleneck_stride != '3x3'),
          ('dataset.normalization', 'per_channel', config.dataset.normalization != 'per_channel'),
          ('num_replicas', 1, config.num_replicas != 1),
      )
      if wrong
  ]
  if fixes:
    raise ConfigError(
        'torchvision weights need ',
        *[part for fix in fixes for part in (fix, ' ')][:-1],
        f' (or the config configs/imagenet.py:resnet{m.depth},modern).',
    )


def load_state_dict(path: str) -> dict[str, np.ndarray]:
  try:
    import torch  # Only this command needs torch.
  except ImportError:
    raise ConfigError(
        'Reading a .pth needs torch, which the main job does not install: '
        '.venv/bin/pip install -r requirements-test.txt'
    ) from None
  if not os.path.isfile(path):
    raise ConfigError(
        f'{path} {"is a directory" if os.path.isdir(path) else "does not exist"}: pass ',
        Argument('torchvision', 'FILE.pth'),
        ', a torchvision ResNet state_dict.',
    )
  try:
    loaded = torch.load(path, map_location='cpu', weights_only=True)
  except Exception as e:  # noqa: BLE001 -- torch raises many kinds for a file that is not a checkpoint.
    if isinstance(e, pickle.UnpicklingError) and 'Unsupported global' in str(e):  # A pickled object of a class.
      raise ConfigError(
          f'{path} holds pickled Python objects (a whole model?), which are not read here: save its weights '
          'alone, torch.save(model.state_dict(), PATH), and pass that file.'
      ) from None
    why = re.sub(r'\x1b\[[0-9;]*m', '', ' '.join(str(e).split()))
    raise ConfigError(
        f'{path} is not a torch checkpoint ({type(e).__name__}: {textwrap.shorten(why, 150)}): '
        'pass a torchvision ResNet state_dict (.pth).'
    ) from None
  for wrapper in ('state_dict', 'model'):
    if isinstance(loaded, dict) and isinstance(loaded.get(wrapper), dict):
      loaded = loaded[wrapper]
  if not isinstance(loaded, dict) or not all(
      isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in loaded.items()
  ):
    raise ConfigError(
        f'{path} holds a {type(loaded).__name__}, not a state_dict of tensors: pass a torchvision '
        'ResNet state_dict (torch.save(model.state_dict(), PATH)).'
    )
  if not loaded:
    raise ConfigError(f'{path} holds no tensors: pass a torchvision ResNet state_dict (.pth).')
  arrays = {}
  for key, tensor in loaded.items():
    key = key.removeprefix('module.')
    if problem := _not_weights(key, tensor):
      raise ConfigError(f'{path}: {key} {problem}: pass a torchvision ResNet state_dict of trained weights.')
    arrays[key] = tensor.detach().float().numpy()
  return arrays


def _not_weights(key: str, tensor) -> str | None:
  """What keeps one tensor of a state_dict from being weights a net can hold (torchvision's BatchNorm step counts
  aside), or None."""
  if tensor.is_meta:
    return 'holds no values (a tensor on the meta device)'
  if str(tensor.layout) != 'torch.strided' or tensor.is_quantized:
    kind = 'quantized' if tensor.is_quantized else str(tensor.layout).removeprefix('torch.')
    return f'is a {kind} tensor, not a dense one'
  if key.endswith('num_batches_tracked'):
    return None
  if not tensor.is_floating_point():
    return f'is {str(tensor.dtype).removeprefix("torch.")}, not floating-point'
  values = tensor.detach().float()
  if not values.isfinite().all():
    return 'holds NaN or infinite values'
  if key.endswith('running_var') and (values < 0).any():
    return 'holds negative variances'
  return None


def convert_file(path: str, config, workdir: str) -> None:
  """convert() of the torchvision state_dict at `path` (a .pth), into a new workdir: one that holds a run already,
  or a config torchvision's nets do not share, is refused before the file is read."""
  schema.check(config)
  if held := workdirs.holdings(workdir):
    raise ConfigError(f'{workdir} already holds {held}: convert into a new ', Argument('workdir'), '.')
  check_config(config)
  convert(load_state_dict(path), config, workdir)


def convert(state_dict: dict[str, np.ndarray], config, workdir: str) -> None:
  """Writes a torchvision ResNet's state_dict (of numpy arrays) as step 0 of a training run of config in workdir."""
  check_net(state_dict, config)
  model = create_model(config)
  tx = create_optimizer(config, learning_rate_schedule(config))
  abstract = abstract_variables(model, config.dataset.image_size)
  arch = depths.architecture(config.model.family, config.model.depth)
  has_transition = {f'stage{i + 1}': arch.has_transition(i) for i in range(len(arch.stage_sizes))}
  variables = from_torchvision(state_dict, abstract, has_transition)
  state = TrainState(
      step=jnp.zeros((), jnp.int32),
      params=variables['params'],
      batch_stats=variables['batch_stats'],
      opt_state=tx.init(variables['params']),
  )
  workdirs.check_writable(workdir)
  lock = workdirs.lock(workdir)
  try:
    checkpoints = Checkpoints(workdir, model_name(config.model))
    workdirs.write_config(workdir, config)
    workdirs.write_model(workdir, summary(config))
    checkpoints.save(0, jax.device_put((state, Metrics.empty()), parallel.replicated(parallel.make_mesh())), force=True)
    checkpoints.close()
  finally:
    if lock:
      lock.release()
