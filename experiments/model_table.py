"""Prints the Markdown table of the model family: parameters and forward multiply-adds, as the code computes them.

python experiments/model_table.py
"""

from resnet_jax.runtime import startup  # noqa: F401 -- first: a signal while the program starts is one line.

import configs
from resnet_jax.models import summary
from resnet_jax.runtime import cli

NETS = [
    ('imagenet', v)
    for v in (
        'resnet18',
        'resnet34',
        'resnet50',
        'resnet101',
        'resnet152',
        'plain18',
        'plain34',
        'resnet34-A',
        'resnet34-C',
    )
]
NETS += [
    ('cifar10', v)
    for v in (
        'resnet20',
        'resnet32',
        'resnet44',
        'resnet56',
        'resnet110',
        'resnet1202',
        'plain20',
        'plain56',
        'resnet56-B',
        'resnet56-C',
    )
]


def main():
  print('| config | network | params | multiply-adds (one image) | image size |')
  print('|---|---|---:|---:|---:|')
  for dataset, variant in NETS:
    facts = summary(configs.named(dataset, variant))
    print(
        f"| `configs/{dataset}.py:{variant}` | {facts['name']} | {facts['params']:,} | "
        f"{facts['macs'] / 1e9:.3f} G | {facts['image_size']} |"
    )


PROGRAM = cli.Program(main)

if __name__ == '__main__':
  PROGRAM.run()
