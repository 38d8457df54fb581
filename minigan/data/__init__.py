"""minigan.data: where p_data comes from.

toy.py: 1-D and 2-D toy densities and noise priors; each sampler is a callable
(generator, m) -> Tensor of m examples.
mnist.py: MNIST and Fashion-MNIST from local files, with the paper's 50k/10k/10k splits
(``load_mnist()["train"].images`` is uint8 [50000, 28, 28]); idx.py reads and writes the IDX
format; minibatch.py draws uniform minibatches of a data set held in memory (on the GPU
with CuPy); safe_unpickle.py reads the classic mnist.pkl.gz without letting it run code.
"""
from .idx import IdxError, read_idx, write_idx  # noqa: F401
from .minibatch import DataSampler  # noqa: F401
from .mnist import DataNotFoundError, DataVerificationError, Split, load_fashion_mnist, load_mnist  # noqa: F401
