"""ml_collections configs: one file per dataset, the network chosen after the colon (configs/cifar10.py:resnet56)."""
