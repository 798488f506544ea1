"""Exit 0 when two ketasim run files hold identical datasets (bitwise, NaN == NaN) and the same
attributes apart from `created` (or only datasets, with --datasets-only); print the first difference otherwise. Used by run_hpc_tests.sh."""

import sys

import h5py
import numpy as np


def main(a: str, b: str, datasets_only: bool = False) -> int:
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        if sorted(fa.keys()) != sorted(fb.keys()):
            print(f"datasets differ: {sorted(fa.keys())} vs {sorted(fb.keys())}")
            return 1
        for k in fa.keys():
            x, y = fa[k][()], fb[k][()]
            if x.dtype.kind == "f":
                same = x.shape == y.shape and np.array_equal(x.view(np.uint64), y.view(np.uint64))
            else:
                same = x.shape == y.shape and np.array_equal(x, y)
            if not same:
                print(f"dataset {k} differs")
                return 1
        if datasets_only:
            return 0
        ka = {k: v for k, v in fa.attrs.items() if k != "created"}
        kb = {k: v for k, v in fb.attrs.items() if k != "created"}
        if sorted(ka) != sorted(kb):
            print(f"attributes differ: {sorted(ka)} vs {sorted(kb)}")
            return 1
        for k in ka:
            if not np.array_equal(np.asarray(ka[k]), np.asarray(kb[k])):
                print(f"attribute {k} differs: {ka[k]!r} vs {kb[k]!r}")
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], "--datasets-only" in sys.argv[3:]))
