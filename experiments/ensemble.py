r"""Ensembles of trained nets (He et al. 2015, Table 5): every net of the given workdirs (a workdir of K replicas
gives K members; networks of different depths and shortcut options of one dataset may be mixed), each member's
softmax scores averaged over the evaluation protocol's views, then across members.

    python experiments/ensemble.py --workdirs=workdirs/paper/cifar10/resnet20-A-x3 \
        --out=workdirs/paper/report/ensemble_cifar10 [--replica=K] [--orders=10]

Prints each member's error and the ensemble's; writes to --out the tables, the error against the number of members
(in the order given, and over random orders) as a figure, and ensemble.json, which the report's Table 5 reads.
Read-only on the workdirs.
"""

from resnet_jax.runtime import startup  # noqa: F401 -- first: a signal while the program starts is one line.

from absl import flags

from resnet_jax import bn_stats
from resnet_jax.analysis import ensemble
from resnet_jax.reproduce import reporting
from resnet_jax.runtime import cli, environment, study_cli
from resnet_jax.runtime.console import say

flags.DEFINE_integer(
    'orders',
    10,
    'Random orders of the members over which the error by number of members is averaged.',
    lower_bound=0,
    upper_bound=1000,
)
FLAGS = flags.FLAGS


def main():
  out = study_cli.out('workdirs/report/ensemble')
  paths = study_cli.workdirs()
  environment.announce()
  say(f'Evaluating the nets of {len(paths)} workdir{"s" if len(paths) > 1 else ""}, one restore each.')
  result = ensemble.evaluate(paths, study_cli.overrides(), FLAGS.replica, FLAGS.orders, FLAGS.seed)
  for path in reporting.ensemble_report(result, out):
    print(path)
  for member in result.members:
    errors = member.errors
    print(
        f'{member.label} ({member.name}, step {member.step:,}'
        + ('' if member.bn_stats == bn_stats.RUNNING else f', BN statistics {member.bn_stats}')
        + f'): top-1 error {errors["top1_error"]:.2f}%, '
        f'top-5 error {errors["top5_error"]:.2f}%'
    )
  print(
      f'ensemble of {len(result.members)}: top-1 error {result.errors["top1_error"]:.2f}%, '
      f'top-5 error {result.errors["top5_error"]:.2f}%'
  )


PROGRAM = cli.Program(main, study_cli.DIALECT, (*study_cli.USES, 'seed'))

if __name__ == '__main__':
  PROGRAM.run()
