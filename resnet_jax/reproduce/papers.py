"""The papers' published numbers and claims, which the report puts beside ours: He et al. 2015 ("Deep Residual
Learning for Image Recognition") and Veit et al. 2016 ("Residual Networks Behave Like Ensembles of Relatively Shallow
Networks"). Errors in %."""

# He et al. 2015, Table 6: CIFAR-10 test error of the option-A ResNets, and their parameters.
CIFAR_TABLE6 = {
    'resnet20-A': ('0.27M', 8.75),
    'resnet32-A': ('0.46M', 7.51),
    'resnet44-A': ('0.66M', 7.17),
    'resnet56-A': ('0.85M', 6.97),
    'resnet110-A': ('1.7M', '6.43 (6.61±0.16)'),
    'resnet1202-A': ('19.4M', 7.93),
}  # ResNet-110: best (mean±std) of 5 runs.
# He et al. 2015, Table 2: ImageNet val top-1 error, 10-crop; the ResNets use option A (no extra parameters).
IMAGENET_TABLE2 = {'plain18': 27.94, 'plain34': 28.54, 'resnet18-A': 27.88, 'resnet34-A': 25.03}
# He et al. 2015, Table 3: ImageNet val (top-1, top-5) error, 10-crop.
IMAGENET_TABLE3 = {
    'plain34': (28.54, 10.02),
    'resnet34-A': (25.03, 7.76),
    'resnet34-B': (24.52, 7.46),
    'resnet34-C': (24.19, 7.40),
    'resnet50-B': (22.85, 6.71),
    'resnet101-B': (21.75, 6.05),
    'resnet152-B': (21.43, 5.71),
}
# The papers' claims that have no table: what our figures are compared with.
CLAIMS = {
    'depth': 'He et al. 2015, Fig. 4 and 6: deeper plain nets have higher training error (plain-34 above plain-18, '
    'plain-56 above plain-20); deeper ResNets have lower error; ResNet-1202 trains to a lower training '
    'error than ResNet-110 but tests worse (7.93% vs 6.43%).',
    'shortcuts': 'He et al. 2015, Table 3: A < B < C by small margins (ResNet-34: 25.03 / 24.52 / 24.19% top-1).',
    'responses': 'He et al. 2015, Fig. 7: ResNets have generally smaller layer responses than their plain twins, '
    'and the deeper the ResNet, the smaller its responses.',
    'single_deletion': 'Veit et al. 2016, Fig. 3: deleting one block of ResNet-110 on CIFAR-10 barely changes the '
    'error, except for the downsampling blocks; deleting one layer of a plain net (VGG) '
    'gives chance-level error (90%).',
    'random_deletion': 'Veit et al. 2016, Fig. 5a: the error grows smoothly with the number of blocks deleted.',
    'reordering': "Veit et al. 2016, Fig. 5b: the error grows smoothly as Kendall's tau of the block order falls.",
    'paths': 'Veit et al. 2016, Fig. 6: ResNet-110 (54 blocks) has path lengths Binomial(54, 1/2), mean 27; the '
    'gradient along a path falls exponentially with its length; nearly all of the gradient comes from '
    'paths 5 to 17 blocks long.',
}
# He et al. 2015, Table 1: FLOPs (multiply-adds) of the ImageNet ResNets, x10^9; the paper gives no parameter counts.
IMAGENET_TABLE1 = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}
# He et al. 2015, Table 4: single-model ImageNet val (top-1, top-5) error, fully-convolutional multi-scale testing.
IMAGENET_TABLE4 = {
    'resnet34-B': (21.84, 5.71),
    'resnet34-C': (21.53, 5.60),
    'resnet50-B': (20.74, 5.25),
    'resnet101-B': (19.87, 4.60),
    'resnet152-B': (19.38, 4.49),
}
# He et al. 2015, Table 5: top-5 error of their ensemble of six nets of different depths (two of them ResNet-152), on
# the ILSVRC 2015 test server.
IMAGENET_TABLE5 = 3.57
