"""Regenerates test/stats/multivariate-golden.json (co-moment drift references) with Debian's scipy 1.10.1 /
numpy 1.24.2, computed directly on the raw rows.

Run from the repo root with /usr/bin/python3 test/stats/gen-multivariate-golden.py. Tests only read the JSON output.
"""
import json

import numpy as np
import scipy
from scipy import stats

assert scipy.__version__ == "1.10.1", scipy.__version__
rng = np.random.default_rng(20250301)


def rows_with_missing(n, cov, mean, scale, missing_rate):
    x = rng.multivariate_normal(mean, cov, size=n) * scale
    x[rng.random(x.shape) < missing_rate] = np.nan
    return x


def to_json(x):
    return [[None if np.isnan(v) else float(v) for v in row] for row in x]


cases = []
d = 5
a = rng.normal(size=(d, d))
base_cov = a @ a.T / d + np.eye(d) * 0.3
scale = np.array([1.0, 10.0, 0.01, 250.0, 3.0])
offset = np.array([0.0, 100.0, -3.0, 1e4, 0.5])
win_cov = base_cov.copy()
win_cov[0, 1] = win_cov[1, 0] = -win_cov[0, 1]
win_cov += np.eye(d) * 0.5  # keep it positive definite after the sign flip
for n_base, n_win, rate, cov_w, shift in [(400, 250, 0.02, base_cov, 0.0), (400, 150, 0.05, win_cov, 0.3)]:
    base = rows_with_missing(n_base, base_cov, np.zeros(d), scale, rate) + offset
    win = rows_with_missing(n_win, cov_w, np.full(d, shift), scale, rate) + offset
    mu = np.nanmean(base, axis=0)
    sd = np.nanstd(base, axis=0)
    zb = np.nan_to_num((base - mu) / sd, nan=0.0)
    zw = np.nan_to_num((win - mu) / sd, nan=0.0)
    fit, cal = zb[0::2], zb[1::2]
    c = fit.T @ fit / len(fit)
    lam, vec = np.linalg.eigh(c)
    lam, vec = lam[::-1], vec[:, ::-1]
    k = 0
    acc = 0.0
    while k < d - 1 and acc < 0.65 * lam.sum():
        acc += lam[k]
        k += 1
    v = vec[:, :k]
    resid = zw - zw @ v @ v.T
    err = float(np.mean(np.sum(resid ** 2, axis=1)))
    a = np.eye(d) - v @ v.T
    ac = a @ (cal.T @ cal / len(cal))
    s1, s2 = np.trace(ac), np.trace(ac @ ac)
    m = 1 / (1 / n_win + 1 / len(cal))
    h = m * s1 ** 2 / s2
    thr = float(s2 / s1 * stats.chi2.isf(1e-4, h) / m)
    rb, rw = np.corrcoef(zb.T), np.corrcoef(zw.T)
    pairs = []
    for i in range(d):
        for j in range(i + 1, d):
            zst = (np.arctanh(rw[i, j]) - np.arctanh(rb[i, j])) / np.sqrt(1 / (n_base - 3) + 1 / (n_win - 3))
            pairs.append({"i": i, "j": j, "baseline": float(rb[i, j]), "window": float(rw[i, j]),
                          "z": float(zst), "pvalue": float(2 * stats.norm.sf(abs(zst)))})
    cases.append({
        "baseline": to_json(base), "window": to_json(win), "mean": mu.tolist(), "sd": sd.tolist(),
        "windowMissing": np.isnan(win).sum(axis=0).tolist(),
        "windowMean": zw.mean(axis=0).tolist(), "windowCov": np.cov(zw.T).ravel().tolist(),
        "windowCorr": rw.ravel().tolist(), "baselineSecondMoment": c.ravel().tolist(),
        "eigenvalues": lam.tolist(), "kept": k, "reconstructionError": err,
        "nullMean": float(s1), "nullSd": float(np.sqrt(2 * s2 / m)), "threshold": thr, "pairs": pairs,
    })

with open("test/stats/multivariate-golden.json", "w") as f:
    json.dump({"meta": {"scipy": scipy.__version__, "numpy": np.__version__}, "cases": cases}, f)
print(len(cases), "cases")
