"""minigan.models: the networks of the papers we reproduce, built from minigan.nn.

paper_mlp.py: the original GAN paper's MNIST generator (MLP) and maxout discriminator.
``from minigan.models import paper_mlp; G = paper_mlp.generator(gen)``.
"""
from . import paper_mlp
