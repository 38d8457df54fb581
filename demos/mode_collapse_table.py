"""The mode-collapse table of demos/mode_collapse.py: per-run records summarised over seeds, as JSON,
Markdown and scatter plots.

A record is one (variant, dataset, seed) run: its mode coverage (minigan.gan.metrics.mode_coverage)
and, with --drs, the coverage of its rejection sampler under "drs". ``summarise`` gives each
variant's mean +- standard error over seeds and the number of seeds that meet GOAL.
"""
from __future__ import annotations

import math

import numpy

from minigan.data import toy
from minigan.viz import percent

DATASETS = {"ring": toy.ring, "grid": toy.grid}
NOISE_SIGMA = 0.25    # instance_noise: sigma_0 = this fraction of the smallest distance between two modes
GOAL = {"high_quality": 0.95, "reverse_kl": 0.05}  # with every mode captured (docs/07-variants.md)


def drs_record(r):
    """A run's record as seen through its rejection sampling: the '<variant>+drs' row's entry."""
    return {**r, **{k: r["drs"][k] for k in ("modes", "high_quality", "reverse_kl", "counts")},
            "variant": r["variant"] + "+drs", "cpu_seconds": r["cpu_seconds"] + r["drs"]["cpu_seconds"]}


def meets_goal(r):
    """All modes captured, >= 95% high-quality samples and reverse KL <= 0.05 (GOAL)."""
    return (r["modes"] == r["n_modes"] and r["high_quality"] >= GOAL["high_quality"]
            and math.isfinite(r["reverse_kl"]) and r["reverse_kl"] <= GOAL["reverse_kl"])


def mean_se(values):
    """Mean and standard error s / sqrt(n) (s with n - 1); nan values (no high-quality sample) are left out."""
    v = numpy.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=numpy.float64)
    if v.size == 0:
        return {"mean": None, "se": None, "n": 0}
    se = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else None
    return {"mean": float(v.mean()), "se": se, "n": int(v.size)}


def summarise(records, names):
    out = {}
    for name in names:
        out[name] = {}
        for dataset in DATASETS:
            rs = sorted((r for r in records if r["variant"] == name and r["dataset"] == dataset),
                        key=lambda r: r["seed"])
            if not rs:
                continue
            out[name][dataset] = {
                "modes": mean_se([r["modes"] for r in rs]),
                "high_quality": mean_se([r["high_quality"] for r in rs]),
                "reverse_kl": mean_se([r["reverse_kl"] for r in rs]),
                "n_modes": rs[0]["n_modes"], "n_seeds": len(rs), "seeds": [r["seed"] for r in rs],
                "goal_seeds": sum(meets_goal(r) for r in rs),
                "cpu_seconds": mean_se([r["cpu_seconds"] for r in rs])["mean"],
            }
    return out


def _fmt(stat, scale=1.0, digits=2):
    if stat["mean"] is None:
        return "n/a"
    s = f"{scale * stat['mean']:.{digits}f}"
    return s + (f" ± {scale * stat['se']:.{digits}f}" if stat["se"] is not None else "")


def noise_note(sigma):
    return f", instance noise sigma_0 = {sigma:g} of the mode spacing"


def table_md(summary, settings):
    lines = [
        f"Mode coverage after {settings['steps']} iterations (m = {settings['m']}, hidden = {settings['hidden']}"
        f"{'' if settings.get('g_layers', 2) == 2 else ', G with %d hidden layers' % settings['g_layers']}"
        f"{'' if settings.get('noise_sigma', NOISE_SIGMA) == NOISE_SIGMA else noise_note(settings['noise_sigma'])}), "
        f"2,500 samples per run, mean ± standard error over seeds. Goal: every mode, >= 95% high quality, "
        "reverse KL <= 0.05 (the `goal` column counts the seeds that meet it).",
        "",
        "| variant | ring modes (/8) | ring high quality % | ring reverse KL | ring goal | grid modes (/25) "
        "| grid high quality % | grid reverse KL | grid goal | CPU s/run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, per in summary.items():
        cells = [name]
        cpu = []
        for dataset in DATASETS:
            s = per.get(dataset)
            if s is None:
                cells += ["-"] * 4
                continue
            cells += [_fmt(s["modes"], digits=1), _fmt(s["high_quality"], 100.0, 1), _fmt(s["reverse_kl"], digits=3),
                      f"{s['goal_seeds']}/{s['n_seeds']}"]
            cpu.append(s["cpu_seconds"])
        cells.append(f"{numpy.mean(cpu):.0f}" if cpu else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def scatter(path, name, panels):
    """One figure per variant: G's samples (blue) over the modes (red crosses), ring left, grid right."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.3))
    for ax, (dataset, samples, record) in zip(numpy.atleast_1d(axes), panels):
        centers = DATASETS[dataset]().centers
        lim = 1.4 * float(numpy.abs(centers).max())
        ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.4, color="tab:blue")
        ax.scatter(centers[:, 0], centers[:, 1], s=30, marker="x", color="red")
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_title(f"{dataset}, seed {record['seed']}: {record['modes']}/{record['n_modes']} modes, "
                     f"{percent(record['high_quality'])} HQ, KL {record['reverse_kl']:.2f}", fontsize=9)
    fig.suptitle(name, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
