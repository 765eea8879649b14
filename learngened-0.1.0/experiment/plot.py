#!/usr/bin/python3
"""plot.py OUTDIR - turns experiment/experiment's curves.csv and summary.txt
into OUTDIR/results_table.md (the docs/results.md table) and
OUTDIR/curves.png (test accuracy vs steps, one panel per images-per-class,
TLEG / inherit / scratch at each depth)."""
import csv
import sys
from collections import defaultdict

out = sys.argv[1]
rows = list(csv.DictReader(open(f"{out}/curves.csv")))
summary = dict(line.split() for line in open(f"{out}/summary.txt") if line.strip())
curves = defaultdict(list)  # (method, n, depth) -> [(step, acc)]
for r in rows:
    curves[(r["method"], int(r["per_class"]), int(r["depth"]))].append((int(r["step"]), float(r["test_acc"])))
ns = sorted({k[1] for k in curves})
depths = sorted({k[2] for k in curves})
methods = ["tleg", "inherit", "scratch"] + sorted({k[0] for k in curves if k[0].startswith("pool")})
small_step = 100


def at(c, step):
    return next((a for s, a in c if s == step), None)


def steps_to(c, target):
    return next((s for s, a in c if a >= target), None)


lines = ["| images/class | depth | method | acc @ step 0 | acc @ 100 steps | final acc | steps to scratch's final |",
         "|---|---|---|---|---|---|---|"]
for n in ns:
    for d in depths:
        scratch = curves.get(("scratch", n, d))
        target = scratch[-1][1] if scratch else None
        for m in methods:
            c = curves.get((m, n, d))
            if not c:
                continue
            s = steps_to(c, target) if target is not None else None
            lines.append(f"| {n} | {d} | {m} | {c[0][1]:.3f} | {at(c, small_step) or float('nan'):.3f} | "
                         f"{c[-1][1]:.3f} | {s if s is not None else 'not reached'} |")
open(f"{out}/results_table.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
print("summary:", summary)

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("python3-matplotlib not installed: no curves.png")
    sys.exit(0)
fig, axes = plt.subplots(1, len(ns), figsize=(6 * len(ns), 4.5), sharey=True)
if len(ns) == 1:
    axes = [axes]
style = {"tleg": "-", "inherit": "--", "scratch": ":"}
style.update({m: "-." for m in methods if m.startswith("pool")})
cmap = plt.get_cmap("viridis")
for ax, n in zip(axes, ns):
    for i, d in enumerate(depths):
        for m in methods:
            c = curves.get((m, n, d))
            if c:
                ax.plot([s for s, _ in c], [a for _, a in c], style[m], color=cmap(i / max(1, len(depths) - 1)),
                        label=f"{m} d{d}")
    ax.set_title(f"classes 5-9, {n} images per class")
    ax.set_xlabel("training steps (batch 64)")
    ax.grid(alpha=0.3)
axes[0].set_ylabel("test accuracy (classes 5-9)")
axes[-1].legend(fontsize=7, ncol=2, loc="lower right")
fig.suptitle("Descendants initialized by TLEG (solid), inherited layers (dashed), scratch (dotted), pool (dash-dot)")
fig.tight_layout()
fig.savefig(f"{out}/curves.png", dpi=90)
print(f"wrote {out}/curves.png")
