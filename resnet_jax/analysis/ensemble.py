"""Ensembles (He et al. 2015, Table 5): the members are trained nets of one dataset, every net of the given workdirs
(a workdir of config.num_replicas = K gives K members), of any depth and shortcut option. An image's score is the
mean of its members' softmax scores, each member's the mean over the evaluation protocol's views; weights are never
averaged (independently initialised nets do not average in weight space).

Each workdir is restored once and its nets evaluated in one program; the members' scores are kept, so that the
ensemble's error against its number of members (in the order given, and over random orders) costs no further
evaluation.
"""

import contextlib
import dataclasses
import math
import os

import numpy as np

from configs import schema
from resnet_jax import replicas, workdir as workdirs
from resnet_jax.errors import Argument, ConfigError, Setting
from resnet_jax.evaluation import error_sums, errors
from resnet_jax.models import model_name
from resnet_jax.trained import TrainedNet

# What every member must share: the images an ensemble is tested on, and how they are viewed.
SHARED = ('dataset.name', 'dataset.num_classes', 'dataset.image_size', 'eval.protocol', 'eval.scales')


@dataclasses.dataclass
class Member:
  """One net of an ensemble, and its own errors on the held-out split."""

  label: str  # The workdir's folder name, with its replica where the workdir holds several.
  name: str  # The network's, as model_name gives it.
  workdir: str
  replica: int
  step: int
  bn_stats: str  # Which BN statistics it was read with (TrainedNet.bn_stats).
  config: dict  # The workdir's config.json, as trained.
  errors: dict | None = None  # {'loss', 'top1_error', 'top5_error'} (errors in %).


@dataclasses.dataclass
class Ensemble:
  members: list[Member]
  split: str  # 'test' (CIFAR-10) or 'val' (ImageNet).
  protocol: str  # How each image is viewed: 'one view' (CIFAR-10), or ImageNet's eval.protocol.
  errors: dict  # The ensemble of every member.
  in_order: list[dict]  # The ensemble of the first m members, for m = 1..M.
  random_orders: list[list[dict]]  # Per random order of the members, the same.


def _data(config) -> tuple:
  """Where a config's data is: its source and the real path of its folder or file."""
  return config.dataset.source, os.path.realpath(config.dataset.dir) if config.dataset.get('dir') else ''


def check_members(read: dict) -> None:
  """Refuses workdirs (path -> (trained config, config read), as workdir.read_configs gives them) that do not test on
  the same images viewed the same way: another dataset, class count, image size, evaluation protocol or data."""
  first, *others = read
  for path in others:
    for key in SHARED:
      ours, theirs = (schema.flatten(read[p][1]).get(key) for p in (first, path))
      if ours != theirs:
        raise ConfigError(
            f'{path} has {key}={theirs}, {first} has {ours}: an ensemble averages the scores of nets tested on the '
            f'same images viewed the same way; ensemble workdirs of one {key}'
            + (', or set it for all with --set' if key.startswith('eval.') else '')
            + '.'
        )
    if _data(read[path][1]) != _data(read[first][1]):
      raise ConfigError(
          f'{path} is tested on {" ".join(_data(read[path][1]))}, {first} on {" ".join(_data(read[first][1]))}: an '
          'ensemble averages the scores of nets tested on the same images; set the data for all with ',
          Setting('dataset.dir', 'PATH'),
          '.',
      )


def _prefix_sums(scores: list[np.ndarray], order, labels: np.ndarray) -> np.ndarray:
  """error_sums of the ensemble of the first m members of `order`, for m = 1..M: (M, 4)."""
  total, sums = None, []
  for m, member in enumerate(order, start=1):
    total = scores[member] if total is None else np.logaddexp(total, scores[member])
    sums.append(error_sums(total - math.log(m), labels))
  return np.stack(sums)


def _members(paths, read: dict, overrides, replica: int | None):
  """(members, their scores (Evaluator.scores of one net), the held-out split's labels, name and views), each
  workdir restored once and its nets evaluated in one program."""
  members, scores, split = [], [], None
  for path in paths:
    with contextlib.closing(TrainedNet(path, overrides, replica or 0, configs=read[path])) as trained:
      split = split or trained.split  # check_members: every member's is the same.
      share = trained.scores()
      for k in range(trained.nets) if replica is None else [replica]:
        label = os.path.basename(os.path.normpath(path)) + replicas.of_several(trained.nets, f' replica {k}')
        network = model_name(trained.config.model)
        members.append(Member(label, network, path, k, trained.step, trained.bn_stats, read[path][0].to_dict()))
        scores.append(None if share is None else share[k])
  return members, scores, split


def evaluate(paths, overrides=(), replica: int | None = None, orders: int = 10, seed: int = 0) -> Ensemble:
  """The ensemble of every net of the workdirs `paths` (only net `replica` of each, where given), read with
  `overrides` ('KEY=VALUE' of workdir.READ_OVERRIDABLE), and of its first m members in the order given and in
  `orders` random orders (drawn with `seed`)."""
  paths = list(paths)
  if not paths:
    raise ConfigError('An ensemble needs members: name one or more trained workdirs in ', Argument('workdirs'), '.')
  real = [os.path.realpath(p) for p in paths]
  twice = [p for p, r in zip(paths, real) if real.count(r) > 1]
  if twice:
    raise ConfigError(
        f'{" and ".join(twice[:2])} are one workdir, named twice in ', Argument('workdirs'), ': name each workdir once.'
    )
  read = {path: workdirs.read_configs(path, overrides) for path in paths}
  check_members(read)
  members, scores, split = _members(paths, read, overrides, replica)
  count = len(members)
  rng = np.random.default_rng(seed)
  order_list = [list(range(count))] + [list(rng.permutation(count)) for _ in range(orders)]
  if scores[0] is None:  # This process holds no held-out image: it adds nothing to the sums.
    sums = np.zeros((count * (1 + len(order_list)), 4))
  else:
    sums = np.concatenate(
        [np.stack([error_sums(s, split.labels) for s in scores])]
        + [_prefix_sums(scores, order, split.labels) for order in order_list]
    )
  gathered = errors(sums)  # Per member, then per order the first 1..count members.
  for member, member_errors in zip(members, gathered):
    member.errors = member_errors
  by_order = [gathered[count * (i + 1) : count * (i + 2)] for i in range(len(order_list))]
  protocol = schema.flatten(read[paths[0]][1]).get('eval.protocol') or (
      'one view' if split.views == 1 else f'{split.views} views'
  )
  return Ensemble(members, split.name, protocol, by_order[0][-1], by_order[0], by_order[1:])
