"""The mode-collapse table: every GAN variant on the 8-Gaussian ring and the 25-Gaussian grid, over seeds.

    python3 demos/mode_collapse.py --out runs/mode_collapse [--quick] [--variants vanilla,unrolled]
                                   [--seeds 10] [--steps N] [--workers 2] [--g-layers 2]
                                   [--save-models] [--drs]

Each variant is a builder in the registry minigan/experiments/variants.py; all share G, D, z ~ N(0, I_2),
the minibatch size m and the number of Algorithm-1 iterations, unless the idea of the variant is
to change one of them. p_data (minigan/data/toy.py): eight Gaussians of std 0.01 on the unit
circle; 25 Gaussians of std 0.05 on {-4, -2, 0, 2, 4}^2. After training, 2,500 samples of G are
scored by minigan.gan.metrics.mode_coverage (VEEGAN's and PacGAN's definitions): a sample is high
quality within 3 std of its nearest mode, a mode is captured when some high-quality sample is
nearest to it, and reverse KL = KL(mode histogram of the high-quality samples || uniform).

--drs adds a '<variant>+drs' row: the same trained pair sampled by discriminator rejection
(minigan/gan/rejection.py; Azadi et al. 2019): D fine-tuned towards D*_G with G fixed, then each
sample of G kept with probability exp(logit D(x) - log M). It changes how the pair is sampled,
not how it was trained, and needs a D with one cross-entropy logit per example (DRS_VARIANTS).

Writes to --out:
  runs.jsonl     one line per (seed, dataset, variant) run, appended as runs finish; --resume skips
                 the runs already there with the same settings (an interrupted table resumes;
                 other settings are other runs), --overwrite starts the table afresh
  metrics.json   {variant: {"ring": {"modes": {"mean", "se"}, "high_quality": {...},
                 "reverse_kl": {...}, "n_seeds", "goal_seeds", "cpu_seconds"}, "grid": {...}}, "settings": {...}}
                 (settings: the run's flags, versions, git commit and command line)
  table.md       the same as a Markdown table, mean +- standard error over seeds
  scatter_<variant>.png   G's 2,500 samples of the first seed on the ring and the grid
  models/<variant>_<dataset>_<seed>.npz   with --save-models: the trained GAN (GAN.save_checkpoint: G, D,
                 optimizers, schedules, the Generator's state), saved just before the evaluation samples

Runs are ordered seed by seed (every variant's seed 0, then seed 1 ...) so that a table cut short
holds the same seeds for every variant. --workers N trains N runs at once in separate processes
(numpy held to one thread each): on 2 cores, 2 workers halve the wall time.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one BLAS thread per worker:
    os.environ.setdefault(_var, "1")  # with several workers, threads would only fight over the cores

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

import minigan as mg  # noqa: E402
from minigan import runs  # noqa: E402
from minigan.experiments import variants  # noqa: E402
from minigan.gan import rejection  # noqa: E402
from minigan.gan.metrics import mode_coverage  # noqa: E402
from demos.mode_collapse_table import (  # noqa: E402,F401 - the table's pieces, re-exported for the tests
    DATASETS, GOAL, NOISE_SIGMA, drs_record, mean_se, meets_goal, scatter, summarise, table_md,
)

N_EVAL = 2500
STEPS = 1500          # Algorithm-1 iterations per run: the 60-minute budget on 2 cores (docs/07-variants.md)
M, HIDDEN = 128, 128  # minibatch size and hidden width shared by every variant
# --drs: the run's D fine-tuned towards D*_G (G fixed), then rejection sampling (minigan/gan/rejection.py).
# Small steps from the trained D: it is already near D*_G, and a large lr would first undo that.
DRS = {"steps": 500, "m": 256, "lr": 1e-4}
#: the variants whose D outputs one logit per example, trained by the cross-entropy d_loss: their D
#: estimates log p_data/p_g. (A WGAN critic, an EBGAN energy, a packed or conditional D do not.)
DRS_VARIANTS = ("vanilla", "ml", "label_smoothing", "instance_noise", "unrolled", "consensus")


def run_one(job):
    """Train one variant on one dataset from one seed (or, for a job with ``record``, restore the pair
    that run saved); with ``drs``, sample it by rejection too. Returns (record, samples, drs_samples)."""
    variant, dataset, seed = job["variant"], job["dataset"], job["seed"]
    mg.use_backend(job["backend"])
    p_data = DATASETS[dataset]()
    gen = mg.Generator(seed)
    options = {"sigma_fraction": job["noise_sigma"]} if variant == "instance_noise" else {}
    setup = variants.build(variant, p_data, gen, steps=job["steps"], m=job["m"], hidden=job["hidden"],
                           g_layers=job["g_layers"], **options)
    path = None if job["models_dir"] is None else model_path(job["models_dir"], variant, dataset, seed)
    samples = None
    gan = setup.make_gan(gen)
    if job.get("record") is not None:  # trained before: only the rejection sampling is left to do
        record = dict(job["record"])
        # the whole trainer, not G and D alone: a schedule's state (instance noise's sigma_t) is part of D
        gan.load_checkpoint(path)
    else:
        t_cpu, t_wall = time.process_time(), time.time()
        try:
            gan.train(job["steps"], progress=False)
        except mg.DivergenceError:
            pass  # a variant that diverges is a row of the table (finite: false), not the end of the table
        cpu, wall = time.process_time() - t_cpu, time.time() - t_wall
        if path is not None:  # the trained pair with its schedules and the Generator's state, before sampling
            gan.save_checkpoint(path)
        samples = setup.generate(gen, N_EVAL)
        c = mode_coverage(samples, p_data.centers, p_data.std)
        record = {"variant": variant, "dataset": dataset, "seed": seed, "steps": job["steps"], "m": job["m"],
                  "hidden": job["hidden"], "g_layers": job["g_layers"], "noise_sigma": job["noise_sigma"],
                  "modes": c["modes"], "n_modes": len(p_data.centers), "high_quality": c["high_quality"],
                  "reverse_kl": c["reverse_kl"], "counts": c["counts"], "cpu_seconds": round(cpu, 2),
                  "wall_seconds": round(wall, 2), "finite": bool(numpy.isfinite(samples).all())}
    drs_samples = None
    if job["drs"]:
        record["drs"], drs_samples = drs_eval(setup, p_data, seed)
    return record, samples, drs_samples


def drs_eval(setup, p_data, seed):
    """Discriminator rejection sampling of a trained pair (minigan/gan/rejection.py): D fine-tuned for
    DRS["steps"] minibatches towards D*_G with G fixed (Azadi et al. 2019 fine-tune the trained D too),
    then G's samples kept with probability exp(logit D(x) - log M) until N_EVAL are kept."""
    g = mg.Generator([seed, 1])  # a stream of its own, so the raw row's samples stay as they were

    def sample_g(generator, n):
        return setup.G(setup.sample_z(generator, n))

    t_cpu = time.process_time()
    history = rejection.fit_discriminator(setup.D, sample_g, setup.sample_data, g, steps=DRS["steps"],
                                          m=DRS["m"], lr=DRS["lr"])
    samples, stats = rejection.rejection_sample(sample_g, rejection.log_ratio(setup.D), N_EVAL, g)
    c = mode_coverage(samples, p_data.centers, p_data.std)
    return ({"modes": c["modes"], "high_quality": c["high_quality"], "reverse_kl": c["reverse_kl"],
             "counts": c["counts"], "acceptance": stats["acceptance"], "log_M": stats["log_M"],
             "draws": stats["draws"], "d_loss": float(numpy.mean(history[-100:])), **DRS,
             "cpu_seconds": round(time.process_time() - t_cpu, 2)}, samples)


def model_path(models_dir, variant, dataset, seed):
    return os.path.join(models_dir, f"{variant}_{dataset}_{seed}.npz")


def parse(argv):
    ap = runs.demo_parser(__doc__, example="python3 demos/mode_collapse.py --out runs/mode_collapse --quick",
                          steps=STEPS, batch_size=M)
    add = ap.add_argument
    add("--quick", action="store_true", help="2 seeds instead of 10")
    add("--variants", default=None, help="comma-separated names (None: every registered variant)")
    add("--seeds", type=runs.positive(int), default=None, help="seeds per variant and dataset (None: 10; --quick 2)")
    add("--hidden", type=runs.positive(int), default=HIDDEN, help="hidden width of G and D")
    add("--g-layers", type=runs.positive(int), default=2, help="hidden layers of G (D keeps two)")
    add("--noise-sigma", type=runs.positive(float), default=NOISE_SIGMA,
        help="instance_noise's sigma_0 as a fraction of the smallest mode spacing")
    add("--save-models", action="store_true",
        help="write each run's trained GAN (G, D, optimizers, schedules) to OUT/models/<variant>_<dataset>_<seed>.npz")
    add("--drs", action="store_true", help="also sample each run by discriminator rejection (a '<variant>+drs' "
        "row); runs already in OUT whose models were saved are sampled without training again")
    add("--datasets", default="ring,grid", help="comma-separated subset of ring,grid")
    add("--workers", type=runs.positive(int), default=min(2, os.cpu_count() or 1), help="runs trained at once")
    args = ap.parse_args(argv)
    args.seeds = args.seeds if args.seeds is not None else (2 if args.quick else 10)
    names = variants.names() if args.variants is None else [v.strip() for v in args.variants.split(",") if v.strip()]
    if not names:
        ap.error(f"--variants must name at least one variant, got {args.variants!r}")
    unknown = [v for v in names if v not in variants.VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s) {', '.join(unknown)}; registered: {', '.join(variants.names())}")
    args.names = names
    if args.drs and any(v not in DRS_VARIANTS for v in names):
        ap.error(f"--drs needs a D that outputs a logit per example, trained by cross-entropy: "
                 f"{', '.join(v for v in names if v not in DRS_VARIANTS)} do not have one "
                 f"(--drs works with {', '.join(DRS_VARIANTS)})")
    args.dataset_names = [d.strip() for d in args.datasets.split(",") if d.strip()]
    if not args.dataset_names or any(d not in DATASETS for d in args.dataset_names):
        ap.error(f"--datasets must name some of {', '.join(DATASETS)}, got {args.datasets!r}")
    if args.steps < 1:
        ap.error(f"argument --steps: expected an integer > 0, got {args.steps}")
    return args


def main(argv=None):
    args = parse(argv)
    with runs.RunFolder(args.out, "mode_collapse", resume=args.resume, overwrite=args.overwrite,
                        records=("runs.jsonl", "table.md")):
        mg.use_backend(args.backend)
        return run(args, argv)


def run(args, argv):
    settings = {"steps": args.steps, "m": args.m, "hidden": args.hidden, "g_layers": args.g_layers,
                "noise_sigma": args.noise_sigma,
                "backend": args.backend,
                "seeds": list(range(args.seed, args.seed + args.seeds)), "n_eval": N_EVAL, "workers": args.workers}
    log_path = os.path.join(args.out, "runs.jsonl")
    done = {}
    # the settings a logged run must share to count (noise_sigma only matters to instance_noise)
    key = (args.steps, args.m, args.hidden, args.g_layers)
    if os.path.exists(log_path):  # resume: keep the runs made with these settings
        with open(log_path) as f:
            for line in f:
                r = json.loads(line)
                same_noise = r["variant"] != "instance_noise" or r.get("noise_sigma", NOISE_SIGMA) == args.noise_sigma
                if (r["steps"], r["m"], r["hidden"], r.get("g_layers", 2)) == key and same_noise:
                    done[(r["variant"], r["dataset"], r["seed"])] = r
    models_dir = os.path.join(args.out, "models")
    if args.save_models:
        os.makedirs(models_dir, exist_ok=True)
    common = dict(steps=args.steps, m=args.m, hidden=args.hidden, g_layers=args.g_layers,
                  noise_sigma=args.noise_sigma, backend=args.backend,
                  drs=args.drs, models_dir=models_dir if args.save_models else None)
    jobs = []
    for s in settings["seeds"]:
        for d in args.dataset_names:
            for v in args.names:
                r = done.get((v, d, s))
                if r is None:
                    jobs.append(dict(common, variant=v, dataset=d, seed=s))
                elif args.drs and "drs" not in r:  # trained before --drs: sample its saved pair
                    if os.path.exists(model_path(models_dir, v, d, s)):
                        jobs.append(dict(common, variant=v, dataset=d, seed=s, record=r, models_dir=models_dir))
                    else:
                        print(f"mode_collapse: no saved models for {v} {d} seed {s} (train with --save-models): "
                              "no rejection sampling for it", flush=True)
    first_seed = {}  # (variant, dataset) -> (samples, record) of the first seed, for the figures
    t0 = time.time()
    print(f"mode_collapse: {len(jobs)} runs to do ({len(done)} already in {log_path}), {args.workers} worker(s)",
          flush=True)

    def finished(i, record, samples, drs_samples):
        done[(record["variant"], record["dataset"], record["seed"])] = record
        with open(log_path, "a") as f:  # a later line for the same run (its DRS added) replaces the earlier
            f.write(json.dumps(record) + "\n")
        if record["seed"] == args.seed:
            for name, x in ((record["variant"], samples), (record["variant"] + "+drs", drs_samples)):
                if x is not None:
                    first_seed[(name, record["dataset"])] = (x, record if name == record["variant"]
                                                             else drs_record(record))
                    numpy.save(os.path.join(args.out, f"samples_{name}_{record['dataset']}.npy"), x)
        line = (f"[{i + 1}/{len(jobs)} {time.time() - t0:7.0f}s] {record['variant']:>24s} {record['dataset']} "
                f"seed {record['seed']}: {record['modes']}/{record['n_modes']} modes, "
                f"{100 * record['high_quality']:.1f}% HQ, KL {record['reverse_kl']:.3f} "
                f"({record['cpu_seconds']:.0f} s CPU)")
        if "drs" in record:
            r = record["drs"]
            line += (f"; DRS: {r['modes']}/{record['n_modes']} modes, {100 * r['high_quality']:.1f}% HQ, "
                     f"KL {r['reverse_kl']:.3f}, {100 * r['acceptance']:.0f}% kept")
        print(line, flush=True)

    if args.workers == 1:
        for i, job in enumerate(jobs):
            finished(i, *run_one(job))
    else:
        import multiprocessing
        # a forked child cannot use the CUDA context its parent made: CuPy runs start their workers fresh
        method = "fork" if sys.platform != "win32" and args.backend == "numpy" else "spawn"
        with multiprocessing.get_context(method).Pool(args.workers) as pool:
            for i, result in enumerate(pool.imap(run_one, jobs)):
                finished(i, *result)

    records = [r for (v, d, s), r in done.items() if v in args.names and d in args.dataset_names
               and s in settings["seeds"]]
    names = list(args.names)
    if args.drs:  # each variant's DRS row right below its own
        records += [drs_record(r) for r in records if "drs" in r]
        names = [n for v in args.names for n in (v, v + "+drs")]
    summary = summarise(records, names)
    figures = []
    for name in names:
        panels = []
        for dataset in args.dataset_names:
            if (name, dataset) not in first_seed:
                path = os.path.join(args.out, f"samples_{name}_{dataset}.npy")
                rec = done.get((name.removesuffix("+drs"), dataset, args.seed))
                if rec is not None and name.endswith("+drs"):
                    rec = drs_record(rec) if "drs" in rec else None
                if rec is None or not os.path.exists(path):
                    continue
                first_seed[(name, dataset)] = (numpy.load(path), rec)
            samples, rec = first_seed[(name, dataset)]
            panels.append((dataset, samples, rec))
        if panels:
            figures.append(os.path.basename(scatter(os.path.join(args.out, f"scatter_{name}.png"), name, panels)))
    settings["seconds"] = round(time.time() - t0, 1)
    settings.update(goal=GOAL, **runs.provenance(args, argv))
    metrics = {**summary, "settings": settings, "files": ["table.md", "runs.jsonl", "metrics.json"] + figures}
    runs.write_json(os.path.join(args.out, "metrics.json"), metrics)
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(table_md(summary, settings))
    print(table_md(summary, settings))
    runs.closing_summary("mode_collapse", args.out, metrics["files"],
                         {f"{n} {d}": f"{s[d]['goal_seeds']}/{s[d]['n_seeds']} seeds meet the goal"
                          for n, s in summary.items() for d in s}, "every mode captured, >= 95% high-quality samples, "
                         "reverse KL <= 0.05 (table.md has the mean +- standard error over seeds)")
    return metrics


if __name__ == "__main__":
    runs.run_main(main)
