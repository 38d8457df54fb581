"""minigan.experiments: set-ups of the experiments, built from the library's algorithms.

variants.py is the registry of the 2-D mode-collapse benchmark (docs/07-variants.md): each name
maps to a builder that assembles G, D, their optimisers and the keyword arguments of Algorithm 1
for one variant. The algorithms themselves live in minigan/gan; nothing here changes them.
``from minigan.experiments import variants``.
"""
