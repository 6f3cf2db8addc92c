"""Manifold smoothness and adversarial vulnerability of deep nets trained with local errors.

A reproduction of Jiang, Zhou & Huang, Chin. Phys. B 30, 048702 (2021), arXiv:2007.02047.
"""

__version__ = "0.1.0"
