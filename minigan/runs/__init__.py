"""Running a demo as an experiment: one command line, one folder, one run.

The demos under demos/ share this package so that every run is protected the same way:

* cli.py -- the flags every demo takes, argparse help with defaults and an example, and value
  checks (``positive``, ``at_least``, ...) that turn a bad value into a one-line usage error;
* folder.py -- one run per ``--out``: a lock file holding the owner's pid, and a folder that
  already holds a run is reused only with ``--resume`` or ``--overwrite``;
* identity.py -- the settings that define a run, stored in its checkpoint and compared on resume;
* deadline.py -- ``--minutes``: a budget checked after every iteration;
* provenance.py -- what metrics.json records about the code and the command, and the closing summary.

An error the user can fix (a busy folder, a resume that would change the objective) is a
``RunError``; ``cli.run_main`` prints it as one line and exits with status 2, as argparse does.
"""
from .cli import (  # noqa: F401
    RunError, at_least, demo_parser, finite_float, parse_explicit, positive, run_main, unit_interval,
)  # noqa: F401
from .deadline import Deadline, OutOfTime  # noqa: F401
from .folder import CHECKPOINT, RunFolder, write_json  # noqa: F401
from .identity import check_identity, resolve_identity, saved_identity  # noqa: F401
from .provenance import closing_summary, provenance  # noqa: F401
