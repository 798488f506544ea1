"""ks.sweep (C++, 1 thread) versus the same esketamine model hand-written for SciPy solve_ivp.

The model is esketamine_nasal (Perez-Ruixo 2021), dosed as 56 mg = two 28 mg devices 5 min
apart, simulated 0-24 h with output every minute, for N values of ka_n. SciPy integrates with
LSODA (rtol 1e-6, atol 1e-9 mg), restarted at every dose and infusion start/stop. Both sides
compute Cmax and AUC0-24 (linear-up/log-down) on the same grid; agreement is required within
1e-3 relative. Prints a markdown table (subjects per second and the speed ratio).

    python benchmarks/bench_python_vs_scipy.py [--n 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np
from scipy.integrate import solve_ivp

import ketasim as ks

RTOL_AGREEMENT = 1e-3  # the acceptance bound; LSODA at rtol 1e-6 is far inside it
DEVICE_MG, N_DEVICES, SPACING_H = 28.0, 2, 5.0 / 60.0
T_END_H, DT_H = 24.0, 1.0 / 60.0  # the ketasim calls below spell these as "24 h" and "1 min"


def model_values(model) -> dict:
    """Parameter values in h, L, mg (only the units this model uses)."""
    to_h = {"1/h": 1.0, "1/min": 60.0, "L/h": 1.0, "L": 1.0, "h": 1.0, "1": 1.0, "dimensionless": 1.0}
    return {p.name: p.value * to_h[p.unit] for p in model.parameters}


def scipy_curve(v: dict, t_out: np.ndarray) -> np.ndarray:
    """Plasma esketamine (ng/mL) at t_out. States (mg; Ce ng/mL): nasal, swallowed, central,
    peripheral1, peripheral2, liver, nor_central, nor_peripheral, Ce."""
    nasal, sw, c, p1, p2, li, nc, npn, ce = range(9)
    doses = []  # (time, nasal bolus mg, swallowed zero-order rate mg/h, infusion end)
    for d in range(N_DEVICES):
        f_nasal = v["FRn"] * v["FRn_next_device"] ** d
        t0 = d * SPACING_H
        doses.append((t0, DEVICE_MG * f_nasal, DEVICE_MG * (1 - f_nasal) * v["Fgut"] / v["Dsw"], t0 + v["Dsw"]))

    def rhs(t, x, infusion):
        dx = np.zeros(9)
        a_n = v["ka_n"] * x[nasal]
        a_sw = v["ka_sw"] * x[sw]
        q1 = v["Q1"] * (x[c] / v["Vc"] - x[p1] / v["Vp1"])
        q2 = v["Q2"] * (x[c] / v["Vc"] - x[p2] / v["Vp2"])
        qh = v["Qh"] * (x[c] / v["Vc"] - x[li] / v["Vh"])
        q3 = v["Q3"] * (x[nc] / v["Vcn"] - x[npn] / v["Vpn"])
        dx[nasal] = -a_n
        dx[sw] = infusion - a_sw
        dx[c] = a_n - q1 - q2 - qh
        dx[p1], dx[p2] = q1, q2
        dx[li] = a_sw + qh - (v["kel"] + v["kmet"]) * x[li]
        dx[nc] = v["kmet"] * x[li] - q3 - v["CLn"] / v["Vcn"] * x[nc]
        dx[npn] = q3
        dx[ce] = v["ke0"] * (1000.0 * x[c] / v["Vc"] - x[ce])
        return dx

    breaks = sorted({0.0, T_END_H, *[d[0] for d in doses], *[d[3] for d in doses if d[3] < T_END_H]})
    x = np.zeros(9)
    out = np.empty_like(t_out)
    for a, b in zip(breaks[:-1], breaks[1:]):
        for t0, bolus, _, _ in doses:
            if t0 == a:
                x[nasal] += bolus
        infusion = sum(rate for t0, _, rate, t1 in doses if t0 <= a < t1)
        # Output at a break time is the value just after the dose (as ketasim does).
        mask = (t_out >= a) & ((t_out < b) | (b == T_END_H))
        t_eval = np.union1d(t_out[mask], [b])  # b last: the state carried to the next segment
        sol = solve_ivp(rhs, (a, b), x, method="LSODA", rtol=1e-6, atol=1e-9, t_eval=t_eval, args=(infusion,))
        if not sol.success:
            raise RuntimeError(sol.message)
        out[mask] = 1000.0 * sol.y[c, np.isin(t_eval, t_out[mask])] / v["Vc"]
        x = sol.y[:, -1].copy()
    return out


def auc_lin_up_log_down(t: np.ndarray, c: np.ndarray) -> float:
    a, b, dt = c[:-1], c[1:], np.diff(t)
    log_down = (b < a) & (b > 0) & (a > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        seg = np.where(log_down, dt * (a - b) / np.log(a / b), 0.5 * dt * (a + b))
    return float(seg.sum())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="number of ka_n values (subjects)")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many timings")
    a = ap.parse_args(argv)

    model = ks.load_model("esketamine_nasal")
    regimen = ks.Regimen.intranasal("56 mg", devices=2)
    ka = np.linspace(1.0, 5.0, a.n)

    # A ketasim run of N subjects takes milliseconds, where scheduler noise is a large fraction:
    # best of at least 20 runs (SciPy's seconds-long runs: best of --repeat).
    ks_times = []
    for _ in range(max(20, a.repeat)):
        t0 = time.perf_counter()
        df = ks.sweep(
            model, regimen, {"ka_n": ka}, metrics=["cmax", "auc_0_t"], t_end=f"{T_END_H:g} h", dt="1 min", threads=1
        )
        ks_times.append(time.perf_counter() - t0)

    base = model_values(model)
    t_out = np.asarray(ks.simulate(model, regimen, f"{T_END_H:g} h", "1 min").time)
    sp_times, cmax, auc = [], np.empty(a.n), np.empty(a.n)
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        for i, k in enumerate(ka):
            c = scipy_curve({**base, "ka_n": k}, t_out)
            cmax[i], auc[i] = c.max(), auc_lin_up_log_down(t_out, c)
        sp_times.append(time.perf_counter() - t0)

    err_cmax = float(np.max(np.abs(cmax / df["cmax"].to_numpy() - 1)))
    err_auc = float(np.max(np.abs(auc / df["auc_0_t"].to_numpy() - 1)))
    ks_rate, sp_rate = a.n / min(ks_times), a.n / min(sp_times)

    print(
        f"esketamine_nasal, 56 mg (2 x 28 mg, 5 min apart), 0-24 h every 1 min ({t_out.size} points), "
        f"{a.n} values of ka_n in [1, 5] 1/h; best of {max(20, a.repeat)} (ketasim) and {a.repeat} (SciPy); Python {platform.python_version()}, "
        f"{platform.machine()}\n"
    )
    print("| implementation | subjects/s | time for %d (s) | max rel. diff Cmax | max rel. diff AUC |" % a.n)
    print("| --- | ---: | ---: | ---: | ---: |")
    print(
        f"| ketasim `ks.sweep` (C++ exact, 1 thread) | {ks_rate:,.0f} | {min(ks_times):.4f} | reference | reference |"
    )
    print(
        f"| SciPy `solve_ivp` LSODA (rtol 1e-6) | {sp_rate:,.1f} | {min(sp_times):.3f} | {err_cmax:.1e} | {err_auc:.1e} |"
    )
    print(f"\nspeed ratio (ketasim / SciPy): {ks_rate / sp_rate:,.0f}x")
    ok = err_cmax < RTOL_AGREEMENT and err_auc < RTOL_AGREEMENT
    print(f"agreement within {RTOL_AGREEMENT:g} relative on Cmax and AUC: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
