"""Networks that published accelerators were measured on but timm does not ship (for validate.py).

AlexNet's five conv layers as Eyeriss ran them (Krizhevsky et al. 2012; Chen et al. JSSC 2017).
"""
from torch import nn


class AlexNetConvs(nn.Module):
    """CONV1-5 of AlexNet with its two-group convolutions, ReLU and max pooling (LRN omitted)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, 11, stride=4)
        self.pool1 = nn.MaxPool2d(3, 2)
        self.conv2 = nn.Conv2d(96, 256, 5, padding=2, groups=2)
        self.pool2 = nn.MaxPool2d(3, 2)
        self.conv3 = nn.Conv2d(256, 384, 3, padding=1)
        self.conv4 = nn.Conv2d(384, 384, 3, padding=1, groups=2)
        self.conv5 = nn.Conv2d(384, 256, 3, padding=1, groups=2)
        self.act = nn.ReLU()

    def forward(self, x):
        x = self.pool1(self.act(self.conv1(x)))
        x = self.pool2(self.act(self.conv2(x)))
        x = self.act(self.conv3(x))
        x = self.act(self.conv4(x))
        return self.act(self.conv5(x))


def alexnet_convs():
    return AlexNetConvs()
