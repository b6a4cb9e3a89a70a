"""The networks of benchmarks/published_models.py have the sizes their papers give.
ResNet20v2 is the network of Tensil's measured runs (reference/published/tensil_resnet20_zcu104.csv).
"""
import os
import sys

from codesign.frontend import extract

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


def conv_macs(c_in: int, c_out: int, kernel: int, out_hw: int) -> int:
    return c_in * c_out * kernel * kernel * out_hw * out_hw


def test_resnet20v2_has_the_cifar_resnet20_shape_and_size():
    sys.path.insert(0, BENCHMARKS)
    try:
        graph = extract("published_models:resnet20v2", input_size=(3, 32, 32))
    finally:
        sys.path.remove(BENCHMARKS)
    totals = graph.totals()
    # He et al. 2016: a 3x3 stem, 3 stages x 3 blocks x two 3x3 convs at 16/32/64 channels on
    # 32/16/8 pixels, 1x1 projections into stages 2 and 3, a 64 -> 10 classifier
    expected = (conv_macs(3, 16, 3, 32) + 6 * conv_macs(16, 16, 3, 32)
                + conv_macs(16, 32, 3, 16) + 5 * conv_macs(32, 32, 3, 16) + conv_macs(16, 32, 1, 16)
                + conv_macs(32, 64, 3, 8) + 5 * conv_macs(64, 64, 3, 8) + conv_macs(32, 64, 1, 8) + 64 * 10)
    assert totals.macs == expected == 40_813_184
    assert totals.ops_by_kind["conv2d"] == 21 and totals.ops_by_kind["linear"] == 1
    # He et al. CVPR 2016, table 6: ResNet-20 on CIFAR-10 has 0.27 M parameters
    assert round(totals.params / 1e6, 2) == 0.27
    assert graph.by_name["fc"].output == (1, 10)
