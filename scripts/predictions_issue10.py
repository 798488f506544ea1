#!/usr/bin/env python3
"""Predictions of the calibrated models for issue 10 ("Done means"), computed, never tuned.

    python scripts/predictions_issue10.py [--n 2000] [--seed 2026] [--threads 2] [--symptom-model madrs]

Prints a markdown table for docs/calibration.md ("Predictions, not tuned"): for every scenario the
typical patient (no variability, 70 kg) and a virtual population (n patients, seed stated). None of
these numbers was used in any fit (the calibration rows are reference section 4 only).

Conventions: "day N" counts the first session as day 1, so day 15 is 14 days (336 h) after the
first session start and day 8 is 168 h after it. Response = MADRS fall >= 50 % from the patient's
baseline; remission = MADRS <= 10 (the library defaults). "Minus placebo" subtracts the model's
own control arm (the same expectation component, no drug), patient by patient: the control
change is -baseline x placebo_max (1 - exp(-k_placebo t)) with the patient's own placebo_max. Population runs use a 15-min PK grid (the Hermite Ce
interpolation is fourth order; the typical patient is also run on the 1-min grid and the
difference is printed); discharge readiness and SBP timing use the 1-min grid.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import ketasim as ks

IV6 = [0, 2, 4, 7, 9, 11]


def esketamine(mg: float, days) -> ks.Schedule:
    return ks.schedules.from_regimen(
        ks.Regimen.intranasal(f"{mg:g} mg", at=[f"{24.0 * d:g} h" for d in days]), "esketamine_nasal"
    )


def racemic_in() -> ks.Schedule:
    return ks.schedules.from_regimen(ks.Regimen.intranasal("50 mg", devices=1), "ketamine_intranasal_racemic")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--symptom-model", default="madrs")
    a = ap.parse_args()
    sm = a.symptom_model
    t0 = time.time()
    rows = []

    def add(scenario, quantity, typical, population):
        rows.append((scenario, quantity, typical, population))

    def pop(schedule, **kw):
        opts = dict(dt="15 min", symptom_model=sm)
        opts.update(kw)
        return ks.population(None, schedule, n=a.n, seed=a.seed, threads=a.threads, course_options=opts)

    def typ(schedule, **kw):
        opts = dict(dt="15 min", symptom_model=sm)
        opts.update(kw)
        return ks.population(None, schedule, n=1, seed=a.seed, variability=False, threads=1, course_options=opts)

    def pct(v):
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f} %"

    def days(h):
        return "not reached" if h is None or math.isnan(h) else f"{h / 24:.1f} d"

    # 1. Six IV sessions, 3x weekly.
    s6 = ks.schedules.iv_days(IV6)
    p = pop(s6, follow_up="42 d")
    t = typ(s6, follow_up="42 d")
    pr, tr = p.rates, t.rates
    for k in (1, 6):
        add(
            "6 IV sessions 3x/week",
            f"response after session {k} (24 h)",
            pct(tr.loc[k, "response"]),
            pct(pr.loc[k, "response"]),
        )
        add(
            "6 IV sessions 3x/week",
            f"remission after session {k} (24 h)",
            pct(tr.loc[k, "remission"]),
            pct(pr.loc[k, "remission"]),
        )
    add(
        "6 IV sessions 3x/week",
        "median sessions to first response",
        str(t.sessions_to_response["median"]),
        f"{p.sessions_to_response['median']:g}",
    )
    add(
        "6 IV sessions 3x/week",
        "responders still responding 4 weeks after the last session",
        pct(t.still_responding("28 d")),
        pct(p.still_responding("28 d")),
    )
    add(
        "6 IV sessions 3x/week",
        "median relapse after the last session (responders)",
        days(t.relapse["median"]),
        days(p.relapse["median"]),
    )
    # The grid: typical patient on 1 min vs 15 min.
    fine = ks.course(s6, follow_up="42 d", dt="1 min", symptom_model=sm)
    coarse = ks.course(s6, follow_up="42 d", dt="15 min", symptom_model=sm)
    grid_err = float(
        np.max(
            np.abs(
                np.interp(coarse.symptoms["time_h"], fine.symptoms["time_h"], fine.symptoms["madrs"])
                - coarse.symptoms["madrs"]
            )
        )
    )

    # 2. Twice vs three times weekly: MADRS change at day 15 (336 h after the first session).
    for per_week in (2, 3):
        sch = ks.schedules.iv(per_week=per_week, weeks=3)
        p = pop(sch, follow_up="7 d", madrs_at=["336 h"]).frame
        t = typ(sch, follow_up="7 d", madrs_at=["336 h"]).frame
        add(
            f"IV {per_week}x/week",
            "MADRS change at day 15 (mean)",
            f"{(t['madrs_at.336'] - t['baseline_madrs']).iloc[0]:+.1f}",
            f"{(p['madrs_at.336'] - p['baseline_madrs']).mean():+.1f}",
        )

    # 3. Up to 12 sessions 3x weekly, stopping at remission.
    sch = ks.schedules.iv(per_week=3, weeks=4)
    p = pop(sch, follow_up="7 d", stop_at_remission=True)
    t = typ(sch, follow_up="7 d", stop_at_remission=True)
    add(
        "IV 3x/week, up to 12 sessions, stop at remission",
        "remission by the end (ever remitted)",
        pct(t.rates["ever_remitted"].iloc[-1]),
        pct(p.rates["ever_remitted"].iloc[-1]),
    )
    add(
        "IV 3x/week, up to 12 sessions, stop at remission",
        "median sessions to remission",
        str(t.sessions_to_remission["median"]),
        f"{p.sessions_to_remission['median']:g}",
    )

    # 4. Twice weekly for 3 weeks (6 sessions): response at the end.
    sch = ks.schedules.iv(per_week=2, weeks=3)
    p = pop(sch, follow_up="7 d")
    t = typ(sch, follow_up="7 d")
    add(
        "IV 2x/week for 3 weeks (6 sessions)",
        "response 24 h after session 6",
        pct(t.rates["response"].iloc[-1]),
        pct(p.rates["response"].iloc[-1]),
    )

    # The control arm's change at t h after the first session, per patient: -baseline x
    # placebo_max (1 - exp(-k_placebo t)) with each patient's own placebo_max (it varies).
    pdp = ks.load_pd(sm)
    k_pl, pl_typ = float(pdp.loc["k_placebo", "value"]), float(pdp.loc["placebo_max", "value"])

    def control_change(frame, h):
        plmax = frame["placebo_max"] if "placebo_max" in frame else pl_typ
        return -frame["baseline_madrs"] * plmax * (1.0 - math.exp(-k_pl * h))

    # 5. Esketamine 28 / 56 / 84 mg twice weekly (days 0, 3, 7, 10).
    for mg in (28, 56, 84):
        sch = esketamine(mg, [0, 3, 7, 10])
        p = pop(sch, follow_up="7 d", madrs_at=["24 h", "168 h"]).frame
        t = typ(sch, follow_up="7 d", madrs_at=["24 h", "168 h"]).frame
        for h, label in ((24, "24 h"), (168, "day 8")):
            col = f"madrs_at.{h}"
            tv = (t[col] - t["baseline_madrs"] - control_change(t, h)).iloc[0]
            pv = (p[col] - p["baseline_madrs"] - control_change(p, h)).mean()
            add(f"esketamine {mg} mg 2x/week", f"MADRS change minus placebo at {label}", f"{tv:+.1f}", f"{pv:+.1f}")

        def resp(f):
            return float(np.mean(f["madrs_at.168"] <= 0.5 * f["baseline_madrs"]))

        add(f"esketamine {mg} mg 2x/week", "response at day 8", pct(resp(t)), pct(resp(p)))

    # 6. Racemic ketamine 50 mg intranasal, one dose.
    sch = racemic_in()
    p = pop(sch, follow_up="2 d", madrs_at=["24 h"]).frame
    t = typ(sch, follow_up="2 d", madrs_at=["24 h"]).frame
    tv = (t["madrs_at.24"] - t["baseline_madrs"] - control_change(t, 24)).iloc[0]
    pv = (p["madrs_at.24"] - p["baseline_madrs"] - control_change(p, 24)).mean()
    add("racemic ketamine 50 mg intranasal, one dose", "MADRS change minus placebo at 24 h", f"{tv:+.1f}", f"{pv:+.1f}")
    add(
        "racemic ketamine 50 mg intranasal, one dose",
        "response at 24 h",
        pct(float(np.mean(t["madrs_at.24"] <= 0.5 * t["baseline_madrs"]))),
        pct(float(np.mean(p["madrs_at.24"] <= 0.5 * p["baseline_madrs"]))),
    )

    # 7. Discharge readiness and SBP peak (typical patient, 1-min grid).
    for label, sch in (
        ("IV 0.5 mg/kg over 40 min", ks.schedules.iv_days([0])),
        ("esketamine 56 mg", esketamine(56, [0])),
        ("esketamine 84 mg", esketamine(84, [0])),
    ):
        r = ks.course(sch, follow_up="1 d", dt="1 min", symptom_model=sm).sessions.iloc[0]
        add(label, "discharge ready after the session start", f"{r['discharge_min']:.0f} min", "-")
        add(label, "time of the peak SBP rise after the start", f"{60 * r['t_peak_sbp_h']:.0f} min", "-")

    print(
        f"Predictions of structure file '{sm}': typical patient (70 kg, no variability) and {a.n} virtual "
        f"patients, seed {a.seed}; computed by scripts/predictions_issue10.py in {time.time() - t0:.0f} s.\n"
    )
    print("| scenario | quantity | typical patient | population |\n| --- | --- | --- | --- |")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print(
        f"\nGrid check: typical patient, 6 IV sessions + 42 d, max |MADRS(15-min grid) - MADRS(1-min grid)| = "
        f"{grid_err:.2e} points."
    )


if __name__ == "__main__":
    main()
