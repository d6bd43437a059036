"""Regenerates test/stats/extra-golden.json with Debian's scipy 1.10.1 / numpy 1.24.2.

Run from the repo root with /usr/bin/python3 test/stats/gen-extra-golden.py. Tests only read the JSON output.
"""
import json
import warnings

import numpy as np
import scipy
from scipy import stats

assert scipy.__version__ == "1.10.1", scipy.__version__
rng = np.random.default_rng(20240611)
out = {"meta": {"scipy": scipy.__version__, "numpy": np.__version__}}

# kstwo.sf across every branch of the Simard-L'Ecuyer method selection.
kstwo = []
ns = list(range(1, 31)) + [37, 50, 64, 99, 100, 139, 140, 141, 180, 250, 400, 777, 1000, 2500, 5000,
                            10000, 31623, 99999, 100000, 100001, 250000, 1000000, 1000001, 3000000]
for n in ns:
    targets = [0.05, 0.2, 0.5, 0.754693, 1.0, 1.5, 2.2, 3.0, 4.0, 5.0, 8.0, 12.0]
    ds = {min(0.999, np.sqrt(t / n)) for t in targets}
    ds |= {0.4 / n, 0.7 / n, 1.0 / n, 1.3 / n, 0.45, 0.5, 0.6, 0.93, 1 - 1.0 / n}
    ds |= set(rng.uniform(0, 1, 3).tolist())
    for d in sorted(ds):
        if 0 < d < 1:
            kstwo.append({"d": float(d), "n": n, "sf": float(stats.kstwo.sf(d, n))})
out["kstwo"] = kstwo

# ks_2samp on continuous, tied and shifted data, all three methods.
ks = []
def pack(x):
    # Large tied samples are stored as distinct values with multiplicities to keep the fixture small.
    vals, cnts = np.unique(x, return_counts=True)
    if len(x) > 2000 and len(vals) <= 500:
        return {"values": vals.tolist(), "counts": cnts.tolist()}
    return x.tolist()

samples = []

def sample_id(x):
    # Each sample is stored once and referenced by index from every method's case.
    packed = pack(x)
    for i, y in enumerate(samples):
        if y == packed:
            return i
    samples.append(packed)
    return len(samples) - 1

def add_ks(a, b, method):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r = stats.ks_2samp(a, b, method=method)
        fell_back = any("Switching to" in str(x.message) for x in w)
    ks.append({"a": sample_id(a), "b": sample_id(b), "method": method, "statistic": float(r.statistic),
               "pvalue": None if np.isnan(r.pvalue) else float(r.pvalue), "fellBack": fell_back})

sizes = [(1, 1), (2, 3), (7, 7), (13, 29), (60, 45), (150, 150), (333, 517), (1200, 800), (4000, 3999)]
for (n1, n2) in sizes:
    for kind in ["normal", "ties", "shift"]:
        if kind == "normal":
            a = rng.normal(size=n1); b = rng.normal(size=n2)
        elif kind == "ties":
            a = rng.integers(0, 6, n1).astype(float); b = rng.integers(0, 7, n2).astype(float)
        else:
            a = np.round(rng.normal(size=n1), 2); b = np.round(rng.normal(0.3, 1.2, size=n2), 2)
        for method in ["auto", "exact", "asymp"]:
            add_ks(a, b, method)
# Forced exact on a large unequal pair (runs exactly) and on a pair whose lattice is too large (falls back).
a = rng.integers(0, 50, 12000).astype(float); b = rng.integers(0, 50, 11999).astype(float) + (rng.random(11999) < 0.05)
add_ks(a, b, "exact")
a = rng.integers(0, 40, 50000).astype(float); b = rng.integers(0, 40, 49999).astype(float)
add_ks(a, b, "exact")
out["ks"] = ks
out["samples"] = samples

# chi2_contingency edge cases: a single category, zeros on one side, non-integer weights.
chi2 = []
for ref, cur in [([5, 0], [7, 0]), ([10, 0, 3], [0, 4, 3]), ([1.5, 2.5, 4.0], [3.0, 1.0, 2.0]),
                 ([1000, 1, 1], [900, 50, 2]), ([3], [4])]:
    r = np.array(ref, dtype=float); c = np.array(cur, dtype=float)
    keep = (r + c) > 0
    table = np.array([r[keep], c[keep]])
    if table.shape[1] == 1:
        res = (0.0, 1.0, 0)
    else:
        s, p, dof, _ = stats.chi2_contingency(table, correction=False)
        res = (float(s), float(p), int(dof))
    chi2.append({"ref_counts": ref, "cur_counts": cur, "statistic": res[0], "pvalue": res[1], "dof": res[2]})
out["chi2"] = chi2

# Wasserstein with ties and a constant reference (normalisation floor).
wass = []
for a, b in [(np.zeros(5), np.arange(4.0)), (rng.integers(0, 4, 300).astype(float), rng.integers(0, 6, 200).astype(float)),
             (rng.exponential(size=400), rng.exponential(2.0, size=250))]:
    d = stats.wasserstein_distance(a, b)
    wass.append({"a": a.tolist(), "b": b.tolist(), "distance": float(d), "normed": float(d / max(np.std(a), 0.001))})
out["wasserstein"] = wass

# Benjamini-Hochberg via statsmodels' definition: cumulative minimum of m p_(i)/i from the top, clipped at 1.
p = np.concatenate([rng.uniform(size=20), [0.0, 1.0, 0.01, 0.01, 0.5]])
order = np.argsort(p)
m = len(p)
adj = np.minimum.accumulate((p[order] * m / np.arange(1, m + 1))[::-1])[::-1]
bh = np.empty(m); bh[order] = np.minimum(adj, 1)
out["bh"] = {"p": p.tolist(), "adjusted": bh.tolist()}

# Isotonic regression (weighted, with tied scores) by the min-max formula, independent of any PAV code:
# after pooling equal x, fit_i = max_{j<=i} min_{k>=i} (weighted mean of y_j..y_k). scipy 1.10 has no
# isotonic regression and scikit-learn is not installed. Its own generator so earlier sections keep their draws.
iso_rng = np.random.default_rng(20250301)

def isotonic_minmax(x, y, w):
    ux, inv = np.unique(x, return_inverse=True)
    sw = np.bincount(inv, weights=w)
    swy = np.bincount(inv, weights=w * y)
    cw = np.concatenate([[0.0], np.cumsum(sw)])
    cwy = np.concatenate([[0.0], np.cumsum(swy)])
    m = len(ux)
    fit = np.empty(m)
    for i in range(m):
        j = np.arange(i + 1)[:, None]
        k = np.arange(i, m)[None, :]
        means = (cwy[k + 1] - cwy[j]) / (cw[k + 1] - cw[j])
        fit[i] = means.min(axis=1).max()
    return fit[inv]

iso = []
for n, kind in [(1, "cont"), (2, "cont"), (7, "cont"), (40, "cont"), (150, "cont"), (60, "ties"), (200, "ties"),
                (120, "weights"), (80, "monotone"), (80, "reversed")]:
    if kind == "ties":
        x = iso_rng.integers(0, 12, n) / 11.0
    else:
        x = iso_rng.uniform(size=n)
    if kind == "monotone":
        y = np.sort(iso_rng.uniform(size=n))[np.argsort(np.argsort(x))]
    elif kind == "reversed":
        y = (x < 0.5).astype(float)
    else:
        y = (iso_rng.uniform(size=n) < 1 / (1 + np.exp(-6 * (x - 0.5)))).astype(float)
    w = iso_rng.uniform(0.2, 3.0, n) if kind == "weights" else np.ones(n)
    iso.append({"x": x.tolist(), "y": y.tolist(), "w": w.tolist(), "fit": isotonic_minmax(x, y, w).tolist()})
out["isotonic"] = iso

# Expected calibration error over equal-width bins on [0, 1] (numpy searchsorted right; 1.0 in the last bin).
ece_cases = []
for n, bins in [(1, 10), (50, 10), (1000, 10), (1000, 15), (300, 4)]:
    p = iso_rng.uniform(size=n)
    p[: min(n, 3)] = [0.0, 1.0, 0.3][: min(n, 3)]
    y = (iso_rng.uniform(size=n) < p ** 1.3).astype(float)
    b = np.minimum(np.searchsorted(np.arange(1, bins) / bins, p, side="right"), bins - 1)
    e = sum(abs((y[b == k] - p[b == k]).sum()) for k in range(bins)) / n
    ece_cases.append({"p": p.tolist(), "y": y.tolist(), "bins": bins, "ece": float(e)})
out["ece"] = ece_cases

with open("test/stats/extra-golden.json", "w") as f:
    json.dump(out, f)
print(len(kstwo), "kstwo;", len(ks), "ks;", len(chi2), "chi2;", len(wass), "wasserstein;", len(iso), "isotonic;",
      len(ece_cases), "ece")
