"""Python overhead on a population (issue 12): ks.population through the public API against the
same run in C++ (benchmarks/bench_population.cpp, case pk/metrics/threads/1).

Both: esketamine_nasal, 56 mg as two devices, 0-24 h at 1-min output, C_plasma, every registry
metric, 256 patients, one thread. The Python side runs it twice: subjects drawn (n=256, seed=1:
the very run of the C++ case) and subjects from a table (a DataFrame of 256 ages and ka_n values).
Prints the best of --repeat runs per patient; compare with the C++ case's time per patient:

    ./build/benchmarks/bench_population --benchmark_filter='pk/metrics/threads/1' \
        --benchmark_min_time=0.3 --benchmark_repetitions=5
    python3 benchmarks/bench_python_population.py --repeat 7
"""

import argparse
import time

import numpy as np
import pandas as pd

import ketasim as ks


def best_of(repeat, f):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=7)
    a = ap.parse_args()
    regimen = ks.Regimen.intranasal("56 mg", devices=2)
    rng = np.random.default_rng(1)
    table = pd.DataFrame({"AGE[years]": rng.uniform(20, 80, a.n), "ka_n[1/h]": rng.lognormal(np.log(2.5), 0.3, a.n)})
    common = dict(t_end="24 h", dt="1 min", outputs="C_plasma", threads=1)

    def drawn():
        return ks.population("esketamine_nasal", regimen, n=a.n, seed=1, **common)

    def tabled():
        return ks.population("esketamine_nasal", regimen, table=table, seed=1, **common)

    drawn()  # warm-up (model loading, imports)
    for name, f in (("drawn", drawn), ("table", tabled)):
        t = best_of(a.repeat, f)
        print(f"{name}: {t * 1e3:.2f} ms per run, {t / a.n * 1e6:.1f} us per patient (best of {a.repeat})")


if __name__ == "__main__":
    main()
