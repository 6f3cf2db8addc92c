"""Side-by-side timings of the analysis hot paths, as ratios measured in one run.

    python bench/bench_spectrum.py [--n 10000] [--width 1000] [--repeat 3]

1. eigen-spectrum of an (n, N) activation matrix: our float64 covariance + symmetric solver
   against the SVD of the centred data (same numbers, more work) and a float32 covariance
   (faster, but loses the small eigenvalues that the alpha fit window reaches).
2. reading one layer of an activation file: our zero-copy Arrow view against pandas (similar
   time; the view saves a second (n, N) copy in memory).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from manifold_smoothness.activations import activations_table, read_layer
from manifold_smoothness.spectrum import eigenspectrum
from manifold_smoothness.storage import read_table, write_table


def best_of(repeat: int, fn, *args):
    times = []
    for _ in range(repeat):
        tic = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - tic)
    return min(times), result


def svd_spectrum(x: np.ndarray) -> np.ndarray:
    xc = x.astype(np.float64) - x.mean(axis=0, dtype=np.float64)
    s = np.linalg.svd(xc, compute_uv=False)
    return s**2 / (len(x) - 1)


def float32_spectrum(x: np.ndarray) -> np.ndarray:
    xc = x - x.mean(axis=0)
    values = np.linalg.eigvalsh(xc.T @ xc / np.float32(len(x) - 1))
    return np.clip(values[::-1], 0, None)


def pandas_layer(path: Path, column: str) -> np.ndarray:
    frame = read_table(path, columns=[column]).to_pandas()
    return np.stack(frame[column].to_numpy())


def activations_like(n: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """ReLU activations whose covariance spectrum decays as a power law (alpha ~ 1.2)."""
    basis = np.linalg.qr(rng.standard_normal((width, width)))[0]
    scales = np.arange(1, width + 1) ** -0.6
    return np.maximum(rng.standard_normal((n, width)) * scales @ basis.T, 0).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    x = activations_like(args.n, args.width, np.random.default_rng(0))

    t_ours, ours = best_of(args.repeat, eigenspectrum, x)
    t_svd, svd = best_of(args.repeat, svd_spectrum, x)
    t_f32, f32 = best_of(args.repeat, float32_spectrum, x)
    tail = slice(400, 500)  # ranks the default fit window reaches
    print(f"eigenspectrum of a {args.n} x {args.width} float32 matrix (best of {args.repeat}):")
    f32_error = np.max(np.abs(f32[tail] - ours[tail]) / ours[tail])
    print("  method                          time      time / ours")
    print(f"  float64 covariance + eigvalsh  {t_ours:7.3f} s   1.00")
    print(
        f"  SVD of centred float64 data    {t_svd:7.3f} s   {t_svd / t_ours:.2f}  "
        f"(max rel. diff {np.max(np.abs(svd - ours) / ours.max()):.1e})"
    )
    print(
        f"  float32 covariance + eigvalsh  {t_f32:7.3f} s   {t_f32 / t_ours:.2f}  "
        f"(rel. error at ranks 401-500 up to {f32_error:.1e})"
    )

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "activations.parquet"
        labels = np.zeros(args.n, np.int8)
        write_table(activations_table(np.arange(args.n), labels, [x]), path)
        t_zero, a = best_of(args.repeat, read_layer, path, 1)
        t_pandas, b = best_of(args.repeat, pandas_layer, path, "layer_1")
        assert np.array_equal(a, b)
        print(f"reading one {args.n} x {args.width} layer from parquet (best of {args.repeat}):")
        print(f"  read_layer (zero-copy Arrow)   {t_zero:7.3f} s   1.00")
        print(f"  pandas + np.stack              {t_pandas:7.3f} s   {t_pandas / t_zero:.2f}")


if __name__ == "__main__":
    main()
