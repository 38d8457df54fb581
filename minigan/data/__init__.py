"""minigan.data: where p_data comes from (toy.py: 1-D and 2-D toy densities and noise priors).

Each sampler is a callable (generator, m) -> Tensor of m examples.
"""
