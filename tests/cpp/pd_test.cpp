// Pharmacodynamics: sigmoid Emax functions, the effect site against its closed form, discharge
// readiness, the calibrated (not published) symptom model against its single-dose targets, its
// bounds and grid convergence, the calibration fits themselves (reproduce models/pd/*.toml), and
// the schedules. Targets: /work/shared/references/ketamine-pkpd.md sections 3-5; docs/calibration.md.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "ketasim/ketasim.hpp"
#include "tolerances.hpp"

namespace ketasim {
namespace {

using test::close_enough;

// ---- named tolerances for this file (why each value) -----------------------------------------
// Calibration targets are reproduced on the 1-min grid the fit used; the fit drives residuals to
// ~1e-12 points, so 0.05 MADRS points (a tenth of the instrument's 1-point resolution, /2) only
// allows for the file's values being rounded to 6 significant digits.
constexpr double kTargetAtol = 0.05;   // MADRS points
// Peak time of the drug effect: the target is "~24 h"; the grid is 1 min, the fit puts
// dE/dt = 0 at 24 h exactly, rounding of the file values moves it by minutes. 0.5 h.
constexpr double kPeakTimeAtol = 0.5;   // h
// Grid convergence of the (P, E) integration: Ce linear between exact PK samples has an error
// O(dt^2 * Ce''); halving 1 min -> 0.5 min must change MADRS by less than 0.01 points (two
// orders below the instrument's resolution) everywhere.
constexpr double kGridConvergenceAtol = 0.01;   // MADRS points
// Refit versus file values: the file keeps 6 significant digits.
constexpr double kRefitRtol = 1e-4;
// The two PD solvers (ARCHITECTURE.md: "relative error < 1e-6 at tight tolerance"): the
// semi-analytic path (exact PK, Hermite Ce, dopri5 on P and E) against the coupled dopri5 run of
// every PK state plus P and E, both at rtol 1e-10. On MADRS, P, E and Ce (relative to each curve's
// peak, so near-zero values before the first dose or long after the last do not dominate).
constexpr double kPdSolverRtol = 1e-6;
constexpr double kPdSolverOdeRtol = 1e-10, kPdSolverOdeAtol = 1e-12;

std::string models_dir() { return KETASIM_TEST_MODELS_DIR; }

Model clements() { return load_model(models_dir() + "/ketamine_iv_clements.toml"); }
Model esketamine() { return load_model(models_dir() + "/esketamine_nasal.toml"); }

// The message of the InputError `f` throws ("" if it does not throw).
template <class F>
std::string input_error(F f) {
    try {
        f();
    } catch (const InputError& e) {
        return e.what();
    }
    return "";
}

Trajectory single_iv(double mg_per_kg, double t_end_h, double dt_h = 1.0 / 60.0) {
    return simulate(clements(), Regimen::iv_infusion(mg_per_kg, 40.0 / 60.0, {0.0}, true),
                    OutputGrid::uniform(0.0, t_end_h, dt_h));
}

double at(const SymptomCurve& c, const std::vector<double>& v, double t) { return interpolate(c.time, v.data(), t); }

// ---- sigmoid Emax ----------------------------------------------------------------------------

TEST(SigmoidEmax, HalfAtEc50MonotoneAndBounded) {
    for (double h : {0.5, 1.0, 3.0, 10.0}) {
        EXPECT_NEAR(sigmoid_emax(158.0, 100.0, 158.0, h), 50.0, 1e-12);
        double prev = -1.0;
        for (double c = 0.0; c <= 1e5; c = c * 1.3 + 0.1) {
            const double e = sigmoid_emax(c, 100.0, 158.0, h);
            EXPECT_GE(e, prev);
            EXPECT_GE(e, 0.0);
            EXPECT_LE(e, 100.0);
            prev = e;
        }
        EXPECT_GT(sigmoid_emax(158.0 * 2, 100.0, 158.0, h), 50.0);
        EXPECT_LT(sigmoid_emax(158.0 / 2, 100.0, 158.0, h), 50.0);
    }
    EXPECT_EQ(sigmoid_emax(0.0, 100.0, 158.0, 3.0), 0.0);
    EXPECT_EQ(sigmoid_emax(-1e-15, 100.0, 158.0, 3.0), 0.0);              // roundoff below zero
    EXPECT_NEAR(sigmoid_emax(1e300, 100.0, 158.0, 50.0), 100.0, 1e-12);   // no overflow
}

TEST(AcuteEffectModel, ValidateNamesField) {
    AcuteEffectModel m;
    m.diss_ec50 = -1;
    try {
        m.validate();
        FAIL() << "no throw";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("diss_ec50 = -1"), std::string::npos) << e.what();
    }
}

// ---- PD parameter files ----------------------------------------------------------------------

TEST(PdParameters, LibraryFilesLoadAndCalibratedAreMarked) {
    for (const char* name : {"acute_effects", "madrs", "madrs_v3", "madrs_v1"}) {
        const PdParameterSet p = load_library_pd(name, models_dir());
        int calibrated = 0;
        for (const auto& q : p.parameters) {
            EXPECT_FALSE(q.unit.empty()) << q.name;
            EXPECT_FALSE(q.description.empty()) << q.name;
            if (q.calibrated) {
                ++calibrated;
                EXPECT_EQ(q.source.rfind("calibrated:", 0), 0u) << q.name;
            }
        }
        EXPECT_GT(calibrated, 0) << name;
    }
    EXPECT_NO_THROW(AcuteEffectModel::from_parameters(load_library_pd("acute_effects", models_dir())).validate());
    EXPECT_NO_THROW(SymptomModel::from_parameters(load_library_pd("madrs", models_dir())).validate());
    EXPECT_EQ(SymptomModel::from_parameters(load_library_pd("madrs", models_dir())).structure,
              SymptomStructure::madrs_v2);
    EXPECT_EQ(SymptomModel::from_parameters(load_library_pd("madrs_v3", models_dir())).structure,
              SymptomStructure::madrs_v3);
    EXPECT_EQ(SymptomModel::from_parameters(load_library_pd("madrs_v1", models_dir())).structure,
              SymptomStructure::madrs_v1);
}

TEST(PdParameters, ErrorsNameFileLineKeyValueRule) {
    const std::string bad_calibrated =
        "name = \"x\"\n[parameters.a]\nvalue = 1.0\nunit = \"1\"\ndescription = \"d\"\nsource = \"paper\"\ncalibrated "
        "= true\n";
    try {
        parse_pd_parameters(bad_calibrated, "x.toml");
        FAIL() << "no throw";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("x.toml:6: parameters.a.source"), std::string::npos) << e.what();
    }
    const std::string typo = "name = \"x\"\n[parameters.a]\nvalue = 1.0\nunits = \"1\"\n";
    try {
        parse_pd_parameters(typo, "x.toml");
        FAIL() << "no throw";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("x.toml:4: parameters.a.units: unknown key"), std::string::npos)
            << e.what();
    }
    PdParameterSet lib = load_library_pd("acute_effects", models_dir());
    for (auto& q : lib.parameters)
        if (q.name == "diss_ec50") q.value = -5.0;
    try {
        AcuteEffectModel::from_parameters(lib);
        FAIL() << "no throw";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find(lib.where("diss_ec50") + ".value = -5: must be > 0"), std::string::npos)
            << e.what();
    }
}

// Regression (issue 9): PD files ignored `unit` (an EC50 in mg/L was 1000x off, a rate in 1/min
// 60x) and misspelt parameter names. Units are converted to canonical or rejected by dimension.
TEST(PdParameters, UnitsAreConvertedOrRejectedAndNamesChecked) {
    const PdParameterSet lib = load_library_pd("madrs", models_dir());
    auto with = [&](const std::string& name, double value, const std::string& unit) {
        PdParameterSet p = lib;
        for (auto& q : p.parameters)
            if (q.name == name) {
                q.value = value;
                q.unit = unit;
            }
        return p;
    };
    const SymptomModel base = SymptomModel::from_parameters(lib);
    EXPECT_EQ(SymptomModel::from_parameters(with("ec50", base.ec50 / 1000.0, "mg/L")).ec50,
              base.ec50 / 1000.0 * 1000.0);
    EXPECT_DOUBLE_EQ(SymptomModel::from_parameters(with("k_on", base.k_on / 60.0, "1/min")).k_on, base.k_on);
    auto expect_msg = [](const PdParameterSet& p, const std::vector<std::string>& parts) {
        try {
            SymptomModel::from_parameters(p);
            ADD_FAILURE() << "no throw";
        } catch (const InputError& e) {
            for (const auto& part : parts)
                EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << part << " not in " << e.what();
        }
    };
    expect_msg(with("ec50", 1.0, "parsec"), {"parameters.ec50.unit = 'parsec'", "concentration"});
    expect_msg(with("k_on", 1.0, "mg"), {"parameters.k_on.unit = 'mg'", "dimension amount", "rate"});
    expect_msg(with("baseline", 30.0, "points"), {"parameters.baseline.unit", "'MADRS points'"});
    PdParameterSet typo = lib;
    for (auto& q : typo.parameters)
        if (q.name == "k_off") q.name = "k_of";
    expect_msg(typo, {"parameters.k_of", "not a parameter of this PD model", "did you mean k_off?"});
    PdParameterSet missing = lib;   // a parameter no variability block names
    missing.parameters.erase(std::find_if(missing.parameters.begin(), missing.parameters.end(),
                                          [](const PdParameter& q) { return q.name == "k_tr"; }));
    expect_msg(missing, {"parameters.k_tr: required parameter is missing"});
}

// ---- effect site -----------------------------------------------------------------------------

// One compartment, IV bolus D: C = D/V e^{-kt}; Ce = D/V ke0/(ke0-k) (e^{-kt} - e^{-ke0 t}).
TEST(EffectSite, LagsPlasmaAndMatchesClosedFormOneCompartmentBolus) {
    const std::string text = R"(name = "one_cmt_es"
title = "t"
analyte = "a"
description = "d"
[parameters.V]
value = 40.0
unit = "L"
description = "d"
source = "pd_test"
[parameters.CL]
value = 10.0
unit = "L/h"
description = "d"
source = "pd_test"
[parameters.ke0]
value = 0.1136
unit = "1/min"
description = "d"
source = "pd_test"
[[compartments]]
name = "central"
volume = "V"
[[flows]]
from = "central"
rate = "CL"
[routes.iv]
kind = "iv"
[[routes.iv.branches]]
target = "central"
[[outputs]]
name = "C_plasma"
compartment = "central"
analyte = "a"
[effect_site]
name = "Ce"
driver = "C_plasma"
ke0 = "ke0"
)";
    const Model m = parse_model(text, "one_cmt_es");
    const double D = 35.0, V = 40.0, k = 10.0 / 40.0, ke0 = 0.1136 * 60.0;
    const Trajectory tr = simulate(m, Regimen::iv_bolus(D, {0.0}), OutputGrid::uniform(0.0, 12.0, 0.05));
    const auto cp = tr["C_plasma"];
    const auto ce = tr["Ce"];
    for (std::size_t i = 0; i < tr.time.size(); ++i) {
        const double t = tr.time[i];
        const double want = D / V * 1000.0 * ke0 / (ke0 - k) * (std::exp(-k * t) - std::exp(-ke0 * t));
        EXPECT_TRUE(close_enough(ce[i], want, test::kExactRtol, test::kConcAtol))
            << "t=" << t << " " << ce[i] << " vs " << want;
        if (t > 0 && t < 0.5) {
            EXPECT_LT(ce[i], cp[i]) << "Ce lags the plasma early, t=" << t;
        }
    }
    // Peak of Ce at ln(ke0/k)/(ke0-k), after the plasma peak (t = 0).
    const double tmax = std::log(ke0 / k) / (ke0 - k);
    const Metrics me = compute_metrics(tr, "Ce");
    EXPECT_NEAR(me.tmax, tmax, 0.05);
}

// ---- acute calibration (reproduces models/pd/acute_effects.toml) ------------------------------
// Targets: reference section 3 and the clinic's discharge window (docs/calibration.md section 1).
// Every fit is on the default IV model (Clements, 70 kg, racemic 0.5 mg/kg over 40 min), exact PK.

constexpr double kInfusionEndMin = 40.0;
constexpr double kDischargeTargetAfterEndMin = 37.5;   // middle of the clinic's 30-45 min
constexpr double kSbpPeakTargetMin = 30.0;             // Riva-Posse 2018: largest mean rise at 30 min
constexpr double kSbpPeakTargetMmHg = 3.3;             // ... of +3.3 mmHg
constexpr int kCourseSessions = 6;                     // assumption: the Rodrigues 2022 course as 6 sessions
struct Incidence {
    const char* name;
    double course;   // over the course (Rodrigues 2022, n = 203)
};
constexpr Incidence kIncidences[] = {
    {"nausea", 0.133}, {"dizziness", 0.452}, {"drowsiness", 0.564}, {"dissociation", 0.356}};
// Target tolerances. Discharge: the clinic's window itself (30-45 min after the end). SBP peak
// time: one grid step (1 min) either side, the resolution of the course grid. SBP size: 0.05 mmHg,
// below the 0.1 mmHg precision of the published mean. Incidences: 0.005 absolute (the published
// percentages have one decimal; the six sessions of a 3x weekly course carry over ~nothing).
constexpr double kSbpPeakTimeTolMin = 1.0;
constexpr double kSbpPeakTolMmHg = 0.05;
constexpr double kIncidenceAtol = 0.005;

double side(const SideEffectRisk& r, const std::string& name) {
    if (name == "nausea") return r.nausea;
    if (name == "dizziness") return r.dizziness;
    if (name == "drowsiness") return r.drowsiness;
    return r.dissociation;
}
double& side_c50(AcuteEffectModel& m, const std::string& name) {
    if (name == "nausea") return m.nausea_c50;
    if (name == "dizziness") return m.dizziness_c50;
    if (name == "drowsiness") return m.drowsiness_c50;
    return m.dissociation_report_c50;
}

// Time (min) of the SBP peak from the three grid points around the grid maximum (parabola), so
// that the fit sees a continuous function of sbp_k_tol; and the grid maximum (mmHg).
std::pair<double, double> sbp_peak(const Trajectory& tr, const AcuteEffectModel& m) {
    const AcuteCurves a = acute_effects(tr, m, {0.0});
    const auto it = std::max_element(a.sbp_rise.begin(), a.sbp_rise.end());
    const auto i = static_cast<std::size_t>(it - a.sbp_rise.begin());
    const double y0 = a.sbp_rise[i - 1], y1 = a.sbp_rise[i], y2 = a.sbp_rise[i + 1];
    const double dt = tr.time[i + 1] - tr.time[i];
    const double offset = 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2);
    return {(tr.time[i] + offset * dt) * 60.0, y1};
}

// The calibration, from scratch: only the assumptions (scale, thresholds, sbp_ec50, slope) are
// taken from `fixed`; every `calibrated = true` value is recomputed.
AcuteEffectModel refit_acute(const AcuteEffectModel& fixed) {
    AcuteEffectModel m = fixed;
    // (1) diss_hill: Krystal 1994 range 100-250 ng/mL as 10-90% of Emax.
    m.diss_hill = std::log(81.0) / std::log(2.5);
    // (2) diss_ec50: dissociation = threshold at 37.5 min after the end (closed form in Ce there).
    const double t_min = kInfusionEndMin + kDischargeTargetAfterEndMin;
    const Trajectory fine = single_iv(0.5, 2.0, 0.5 / 60.0);   // 77.5 min is a grid point
    const double ce_t = fine["Ce"][static_cast<Eigen::Index>(std::lround(t_min / 0.5))];
    const double r = m.diss_emax / m.diss_discharge_threshold - 1.0;   // (ec50/c)^h = r
    m.diss_ec50 = ce_t * std::pow(r, 1.0 / m.diss_hill);
    // (3) sbp_hill = diss_hill (assumption); sbp_k_tol: peak at 30 min (bisection in log k, the
    // peak moves earlier as k grows); sbp_emax: the grid peak = +3.3 mmHg.
    m.sbp_hill = m.diss_hill;
    m.sbp_emax = 1.0;
    const Trajectory tr = single_iv(0.5, 6.0);
    double lo = 1e-2, hi = 1e2;   // 1/h
    m.sbp_k_tol = lo;
    EXPECT_GT(sbp_peak(tr, m).first, kSbpPeakTargetMin);
    m.sbp_k_tol = hi;
    EXPECT_LT(sbp_peak(tr, m).first, kSbpPeakTargetMin);
    for (int it = 0; it < 80 && hi / lo > 1 + 1e-12; ++it) {
        m.sbp_k_tol = std::sqrt(lo * hi);
        (sbp_peak(tr, m).first > kSbpPeakTargetMin ? lo : hi) = m.sbp_k_tol;
    }
    m.sbp_k_tol = std::sqrt(lo * hi);
    m.sbp_emax = kSbpPeakTargetMmHg / sbp_peak(tr, m).second;
    // (4) side effects: per-session p from the course incidence (6 independent sessions), then
    // c50 = peak Ce ((1 - p) / p)^(1 / slope) at the session's peak Ce on the 1-min grid.
    const double peak_ce = compute_metrics(tr, "Ce").cmax;
    for (const auto& inc : kIncidences) {
        const double p = 1.0 - std::pow(1.0 - inc.course, 1.0 / kCourseSessions);
        side_c50(m, inc.name) = peak_ce * std::pow((1.0 - p) / p, 1.0 / m.se_slope);
    }
    return m;
}

TEST(AcuteCalibration, RefitFromScratchReproducesFile) {
    const AcuteEffectModel file = AcuteEffectModel::from_parameters(load_library_pd("acute_effects", models_dir()));
    const AcuteEffectModel fit = refit_acute(file);
    const std::pair<const char*, std::pair<double, double>> pairs[] = {
        {"diss_hill", {fit.diss_hill, file.diss_hill}},
        {"diss_ec50", {fit.diss_ec50, file.diss_ec50}},
        {"sbp_hill", {fit.sbp_hill, file.sbp_hill}},
        {"sbp_k_tol", {fit.sbp_k_tol, file.sbp_k_tol}},
        {"sbp_emax", {fit.sbp_emax, file.sbp_emax}},
        {"nausea_c50", {fit.nausea_c50, file.nausea_c50}},
        {"dizziness_c50", {fit.dizziness_c50, file.dizziness_c50}},
        {"drowsiness_c50", {fit.drowsiness_c50, file.drowsiness_c50}},
        {"dissociation_report_c50", {fit.dissociation_report_c50, file.dissociation_report_c50}},
    };
    for (const auto& [name, v] : pairs) {
        std::printf("refit %-24s %.8g (file %.8g)\n", name, v.first, v.second);
        EXPECT_TRUE(close_enough(v.second, v.first, kRefitRtol, 0.0)) << name << ": refit " << v.first;
    }
}

TEST(AcuteCalibration, EveryTargetMetWithinTolerance) {
    const AcuteEffectModel m = AcuteEffectModel::from_parameters(load_library_pd("acute_effects", models_dir()));
    const Trajectory tr = single_iv(0.5, 6.0);
    const auto s = session_acute_metrics(tr, acute_effects(tr, m, {0.0}), m, {0.0});
    ASSERT_EQ(s.size(), 1u);
    const double discharge_after_end = s[0].discharge_h * 60.0 - kInfusionEndMin;
    EXPECT_GE(discharge_after_end, 30.0);
    EXPECT_LE(discharge_after_end, 45.0);
    EXPECT_NEAR(s[0].t_peak_sbp_h * 60.0, kSbpPeakTargetMin, kSbpPeakTimeTolMin);
    EXPECT_NEAR(s[0].peak_sbp, kSbpPeakTargetMmHg, kSbpPeakTolMmHg);
    std::printf(
        "targets: discharge %.0f min after the end (target 30-45, fit 37.5); SBP peak +%.3f mmHg (3.3) at "
        "%.0f min (30)\n",
        discharge_after_end, s[0].peak_sbp, s[0].t_peak_sbp_h * 60.0);
    // Incidences over a 3x weekly course of 6 sessions (run_course: the per-course aggregation).
    CourseOptions o;
    o.models_dir = models_dir();
    o.follow_up_h = 24.0;
    const CourseResult r = run_course(iv_course(clements(), 3, 2), m, SymptomModel{}, o);
    ASSERT_EQ(r.sessions.size(), static_cast<std::size_t>(kCourseSessions));
    for (const auto& inc : kIncidences) {
        const double got = side(r.side_effects_course, inc.name);
        std::printf("  %-13s over the course %.4f (target %.3f), session 1 p = %.4f\n", inc.name, got, inc.course,
                    side(r.sessions[0].acute.side_effects, inc.name));
        EXPECT_NEAR(got, inc.course, kIncidenceAtol) << inc.name;
    }
    // Not fitted: no BP tolerance over 6 sessions (reference section 3). X decays between sessions
    // (half-life ~39 min, sessions >= 2 days apart), so every session's peak is the first one's up
    // to the plasma left from the previous session (measured +4e-6 mmHg): 1e-3 mmHg.
    for (const auto& x : r.sessions) EXPECT_NEAR(x.acute.peak_sbp, r.sessions[0].acute.peak_sbp, 1e-3) << x.index;
}

// Facts of reference section 3 that were NOT fitted: the model's values, checked against them.
TEST(AcuteCalibration, UnfittedFactsAndPredictions) {
    const AcuteEffectModel m = AcuteEffectModel::from_parameters(load_library_pd("acute_effects", models_dir()));
    const Trajectory tr = single_iv(0.5, 6.0);
    const AcuteCurves a = acute_effects(tr, m, {0.0});
    const auto s = session_acute_metrics(tr, a, m, {0.0});
    // Dissociation concentrated in the first 60 min; resolved by 1.5-2 h (discharge threshold).
    EXPECT_LT(s[0].t_peak_diss_h, 1.0);
    EXPECT_LT(s[0].discharge_h, 1.5);
    // SBP peak within 30-40 min, +3 to +7 mmHg; back to baseline after the infusion, within 1.5 h:
    // below 1 mmHg (under the resolution of a cuff reading) at 90 min.
    EXPECT_LT(interpolate(a.time, a.sbp_rise.data(), 1.5), 1.0);
    std::printf(
        "IV 0.5 mg/kg: peak Ce %.1f ng/mL at %.0f min; dissociation %.1f%% at %.0f min; SBP +%.2f at %.0f min, "
        "+%.2f at 40 min, +%.2f at 60 min, +%.2f at 90 min; discharge %.0f min after the start\n",
        s[0].peak_ce, s[0].t_peak_ce_h * 60, s[0].peak_diss, s[0].t_peak_diss_h * 60, s[0].peak_sbp,
        s[0].t_peak_sbp_h * 60, interpolate(a.time, a.sbp_rise.data(), 40.0 / 60),
        interpolate(a.time, a.sbp_rise.data(), 1.0), interpolate(a.time, a.sbp_rise.data(), 1.5),
        s[0].discharge_h * 60);
    // Esketamine (predictions): the label observes >= 2 h; TRANSFORM-2: resolved by 1.5 h.
    const Model esk = esketamine();
    const double scale = racemic_equivalent_scale(esk);
    for (double mg : {56.0, 84.0}) {
        const Trajectory te = simulate(esk, Regimen::intranasal(mg, {0.0}), OutputGrid::uniform(0.0, 8.0, 1.0 / 60));
        const auto se = session_acute_metrics(te, acute_effects(te, m, {0.0}, scale), m, {0.0}, scale);
        std::printf(
            "esketamine %.0f mg: peak Ce %.1f ng/mL (racemic-equivalent) at %.0f min; dissociation %.1f%% at "
            "%.0f min; SBP +%.2f at %.0f min; discharge %.0f min after the first spray; p nausea %.3f, "
            "dizziness %.3f, drowsiness %.3f, dissociation %.3f\n",
            mg, se[0].peak_ce, se[0].t_peak_ce_h * 60, se[0].peak_diss, se[0].t_peak_diss_h * 60, se[0].peak_sbp,
            se[0].t_peak_sbp_h * 60, se[0].discharge_h * 60, se[0].side_effects.nausea, se[0].side_effects.dizziness,
            se[0].side_effects.drowsiness, se[0].side_effects.dissociation);
        EXPECT_FALSE(std::isnan(se[0].discharge_h)) << mg;
        // Sensitivity to the assumed racemic-equivalence factor (not used anywhere else).
        for (double f : {1.0, 1.5}) {
            const auto sf = session_acute_metrics(te, acute_effects(te, m, {0.0}, f), m, {0.0}, f);
            std::printf("  with racemic_equivalent %.1f instead of %.1f: discharge %.0f min\n", f, scale,
                        sf[0].discharge_h * 60);
        }
    }
}

// The tolerance state against its closed form: S constant from t = 0 gives X = S (1 - e^{-kt}).
TEST(AcuteEffects, ToleranceStateMatchesClosedFormUnderConstantDrive) {
    AcuteEffectModel m;
    m.sbp_emax = 5.0;
    m.sbp_ec50 = 100.0;
    m.sbp_hill = 2.0;
    m.sbp_k_tol = 1.3;
    Trajectory tr;
    for (int i = 0; i <= 300; ++i) tr.time.push_back(i * 0.01 + (i % 3) * 1e-3);   // non-uniform grid
    const Eigen::Index n = static_cast<Eigen::Index>(tr.time.size());
    tr.names = {"Ce", "C_plasma"};
    tr.units = {"ng/mL", "ng/mL"};
    tr.values = Eigen::MatrixXd::Constant(2, n, 150.0);
    const AcuteCurves a = acute_effects(tr, m, {0.0});
    const double s = sigmoid_emax(150.0, 1.0, 100.0, 2.0);
    for (std::size_t i = 0; i < tr.time.size(); ++i) {
        const double x = s * (1.0 - std::exp(-1.3 * tr.time[i]));
        EXPECT_NEAR(a.sbp_tolerance[i], x, 1e-14) << tr.time[i];
        EXPECT_NEAR(a.sbp_rise[i], 5.0 * s * (1.0 - x), 1e-13) << tr.time[i];
    }
    m.sbp_k_tol = 0.0;   // no tolerance: the plain sigmoid of the plasma concentration
    const AcuteCurves b = acute_effects(tr, m, {0.0});
    for (std::size_t i = 0; i < tr.time.size(); ++i) EXPECT_EQ(b.sbp_rise[i], 5.0 * s);
}

// Halving the grid converges (second order: S(Cp) is linear between grid points in the update).
TEST(AcuteEffects, SbpGridHalvingConverges) {
    const AcuteEffectModel m = AcuteEffectModel::from_parameters(load_library_pd("acute_effects", models_dir()));
    auto sbp = [&](double dt_min) {
        const Trajectory tr = single_iv(0.5, 3.0, dt_min / 60.0);
        const AcuteCurves a = acute_effects(tr, m, {0.0});
        std::vector<double> v;
        for (int k = 0; k <= 180; ++k) v.push_back(interpolate(a.time, a.sbp_rise.data(), k / 60.0));
        return v;
    };
    const auto s2 = sbp(2.0), s1 = sbp(1.0), s05 = sbp(0.5);
    double d21 = 0, d105 = 0;
    for (std::size_t k = 0; k < s1.size(); k += 2) {   // minutes on all three grids
        d21 = std::max(d21, std::fabs(s2[k] - s1[k]));
        d105 = std::max(d105, std::fabs(s1[k] - s05[k]));
    }
    std::printf("SBP grid halving: max change 2->1 min %.2e, 1->0.5 min %.2e mmHg\n", d21, d105);
    EXPECT_LT(d105, 0.01);   // mmHg, far below a cuff's 1-2 mmHg resolution
    EXPECT_GT(d21 / d105, 3.0);
}

TEST(SideEffects, CourseIncidenceIsOneMinusProductOfComplements) {
    std::vector<SideEffectRisk> v(3);
    v[0].nausea = 0.1;
    v[1].nausea = 0.2;
    v[2].nausea = 0.3;
    v[0].drowsiness = 1.0;
    const SideEffectRisk c = course_incidence(v);
    EXPECT_NEAR(c.nausea, 1.0 - 0.9 * 0.8 * 0.7, 1e-15);
    EXPECT_EQ(c.drowsiness, 1.0);
    EXPECT_EQ(c.dizziness, 0.0);
    EXPECT_EQ(course_incidence({}).nausea, 0.0);
    v[1].dizziness = 1.5;
    EXPECT_NE(input_error([&] { course_incidence(v); }).find("1.5 outside [0, 1]"), std::string::npos);
    AcuteEffectModel m;
    m.nausea_c50 = 200.0;
    EXPECT_DOUBLE_EQ(side_effect_risk(m, 200.0).nausea, 0.5);
    EXPECT_EQ(side_effect_risk(m, 0.0).nausea, 0.0);
    m.se_slope = 0.0;
    EXPECT_NE(input_error([&] { m.validate(); }).find("se_slope = 0"), std::string::npos);
}

TEST(Discharge, MonotoneInDose) {
    const AcuteEffectModel m = AcuteEffectModel::from_parameters(load_library_pd("acute_effects", models_dir()));
    double prev = -1.0;
    for (double dose : {0.1, 0.25, 0.5, 0.75, 1.0, 1.5}) {
        const Trajectory tr = single_iv(dose, 12.0);
        const auto s = session_acute_metrics(tr, acute_effects(tr, m, {0.0}), m, {0.0});
        ASSERT_FALSE(std::isnan(s[0].discharge_h)) << dose;
        EXPECT_GE(s[0].discharge_h, prev) << "dose " << dose << " mg/kg";
        prev = s[0].discharge_h;
    }
    EXPECT_GT(prev, 0.0);
}

TEST(Discharge, ToleranceShortensLaterSessions) {
    AcuteEffectModel m = AcuteEffectModel::from_parameters(load_library_pd("acute_effects", models_dir()));
    m.diss_tolerance_per_session = 0.7;
    const std::vector<double> starts = {0.0, 48.0, 96.0};
    const Trajectory tr = simulate(clements(), Regimen::iv_infusion(0.5, 40.0 / 60.0, starts, true),
                                   OutputGrid::uniform(0.0, 120.0, 1.0 / 60.0));
    const auto s = session_acute_metrics(tr, acute_effects(tr, m, starts), m, starts);
    ASSERT_EQ(s.size(), 3u);
    EXPECT_NEAR(s[1].peak_diss / s[0].peak_diss, 0.7, 0.01);   // sessions 48 h apart: no carry-over
    EXPECT_NEAR(s[2].peak_diss / s[0].peak_diss, 0.49, 0.01);
    EXPECT_NEAR(s[2].peak_sbp, s[0].peak_sbp, 0.05);   // no tolerance of BP
}

// ---- symptom model ---------------------------------------------------------------------------

struct SingleDose {
    SymptomModel m;
    SymptomCurve c;
};

const SingleDose& single_dose() {
    static const SingleDose sd = [] {
        SingleDose s;
        s.m = SymptomModel::from_parameters(load_library_pd("madrs_v1", models_dir()));
        s.c = simulate_symptoms(single_iv(0.5, 14.0 * 24.0), s.m, 0.0);
        return s;
    }();
    return sd;
}

TEST(SymptomModel, SingleDoseMatchesCalibrationTargets) {
    const auto& [m, c] = single_dose();
    ASSERT_EQ(m.baseline, 32.0);
    EXPECT_NEAR(at(c, c.madrs, 24.0) - m.baseline, -16.5, kTargetAtol);          // Murrough 2013
    EXPECT_NEAR(at(c, c.madrs_control, 24.0) - m.baseline, -8.8, kTargetAtol);   // midazolam control
    // Peak drug effect (control - ketamine) near 24 h.
    double best = -1, t_best = 0;
    for (std::size_t i = 0; i < c.time.size(); ++i) {
        const double d = c.madrs_control[i] - c.madrs[i];
        if (d > best) {
            best = d;
            t_best = c.time[i];
        }
    }
    EXPECT_NEAR(t_best, 24.0, kPeakTimeAtol);
    // Onset: superior from 40 min, visible within hours (>= 2 points by 4 h: checks, not fitted).
    EXPECT_GT(at(c, c.madrs_control, 40.0 / 60.0) - at(c, c.madrs, 40.0 / 60.0), 0.0);
    EXPECT_GE(at(c, c.madrs_control, 4.0) - at(c, c.madrs, 4.0), 2.0);
    // Duration: the drug effect at day 11 is 10% of the 24 h one (fitted); at day 7 still >= 20%
    // ("lasting as long as 1 week", a check); by day 14 below 1 point.
    EXPECT_NEAR(at(c, c.madrs_control, 264.0) - at(c, c.madrs, 264.0), 0.77, kTargetAtol);
    EXPECT_GE(at(c, c.madrs_control, 168.0) - at(c, c.madrs, 168.0), 0.2 * 7.7);
    EXPECT_LT(at(c, c.madrs_control, 336.0) - at(c, c.madrs, 336.0), 1.0);
}

TEST(SymptomModel, BoundedForExtremeDosesAndBaselines) {
    for (const char* name : {"madrs", "madrs_v3", "madrs_v1"}) {
        const SymptomModel file = SymptomModel::from_parameters(load_library_pd(name, models_dir()));
        const Trajectory zero = single_iv(1e-9, 48.0, 0.1);
        const Trajectory huge = single_iv(50.0, 48.0, 0.1);   // 100x the 0.5 mg/kg dose
        for (double b : {0.0, 32.0, 60.0}) {
            SymptomModel m = file;
            m.baseline = b;
            m.emax_p = 1.0;
            for (const Trajectory* tr : {&zero, &huge}) {
                const SymptomCurve c = simulate_symptoms(*tr, m, 0.0);
                for (std::size_t i = 0; i < c.time.size(); ++i) {
                    ASSERT_GE(c.madrs[i], 0.0);
                    ASSERT_LE(c.madrs[i], 60.0);
                    ASSERT_LE(c.madrs[i], b + 1e-12);
                    ASSERT_GE(c.P[i], 0.0);
                    ASSERT_LE(c.P[i], 1.0);
                    ASSERT_GE(c.C[i], 0.0);
                    ASSERT_LE(c.C[i], 1.0);
                    ASSERT_GE(c.E[i], 0.0);
                    ASSERT_LE(c.E[i], 1.0);
                }
            }
        }
        SymptomModel m = file;
        m.baseline = 61;
        EXPECT_THROW(m.validate(), InputError);
    }
}

TEST(SymptomModel, GridHalvingConverges) {
    const SymptomModel m = SymptomModel::from_parameters(load_library_pd("madrs_v1", models_dir()));
    const SymptomCurve c1 = simulate_symptoms(single_iv(0.5, 72.0, 2.0 / 60.0), m, 0.0);
    const SymptomCurve c2 = simulate_symptoms(single_iv(0.5, 72.0, 1.0 / 60.0), m, 0.0);
    const SymptomCurve c3 = simulate_symptoms(single_iv(0.5, 72.0, 0.5 / 60.0), m, 0.0);
    double e12 = 0, e23 = 0;
    for (std::size_t i = 0; i < c1.time.size(); ++i) {
        const double t = c1.time[i];
        e12 = std::max(e12, std::fabs(c1.madrs[i] - at(c2, c2.madrs, t)));
        e23 = std::max(e23, std::fabs(at(c2, c2.madrs, t) - at(c3, c3.madrs, t)));
    }
    EXPECT_LT(e23, kGridConvergenceAtol);
    // Linear interpolation of Ce: second order, so the change shrinks ~4x per halving (>= 3x).
    EXPECT_LT(e23, e12 / 3.0) << "e12 " << e12 << " e23 " << e23;
    std::printf("grid convergence: max |dMADRS| 2->1 min %.2e, 1->0.5 min %.2e points\n", e12, e23);
}

// ---- madrs_v1 calibration (deterministic least squares; reproduces models/pd/madrs_v1.toml) ----
// Fixed: baseline 32, ec50 158.11, hill 1, emax_p 1, k_placebo ln2/4h; placebo_max in closed form
// from the control change. Fitted: log k_on, log k_off, log k_tr by Levenberg-Marquardt with a
// forward-difference Jacobian from (k_on, k_off, k_tr) = (1, 0.01, 0.1) /h to three residuals:
//   r1 = MADRS change at 24 h + 16.5                       (Murrough 2013)
//   r2 = (1/k_tr) d/dt[control - ketamine](24 h)           (the drug effect peaks at 24 h)
//      = baseline [(1 - placebo) (P - E) - placebo' E / k_tr](24 h)
//   r3 = (control - ketamine)(day 11) - 0.1 * 7.7          (superiority lost by days 10-12)
TEST(SymptomCalibration, FitReproducesFile) {
    const SymptomModel file = SymptomModel::from_parameters(load_library_pd("madrs_v1", models_dir()));
    SymptomModel s = file;
    s.placebo_max = (8.8 / 32.0) / (1.0 - std::exp(-24.0 * s.k_placebo));
    EXPECT_TRUE(close_enough(file.placebo_max, s.placebo_max, kRefitRtol, 0.0));
    const Trajectory tr = single_iv(0.5, 14.0 * 24.0);
    auto residuals = [&](const Eigen::Vector3d& x) {
        SymptomModel q = s;
        q.k_on = std::exp(x[0]);
        q.k_off = std::exp(x[1]);
        q.k_tr = std::exp(x[2]);
        const SymptomCurve c = simulate_symptoms(tr, q, 0.0);
        const double pl24 = at(c, c.placebo, 24.0);
        Eigen::Vector3d r;
        r[0] = at(c, c.madrs, 24.0) - q.baseline + 16.5;
        const double dpl24 = q.placebo_max * q.k_placebo * std::exp(-q.k_placebo * 24.0);
        const double e24 = at(c, c.E, 24.0);
        r[1] = q.baseline * ((1.0 - pl24) * (at(c, c.P, 24.0) - e24) - dpl24 * e24 / q.k_tr);
        r[2] = at(c, c.madrs_control, 264.0) - at(c, c.madrs, 264.0) - 0.1 * (16.5 - 8.8);
        return r;
    };
    Eigen::Vector3d x(std::log(1.0), std::log(0.01), std::log(0.1));
    double lambda = 1e-3;
    Eigen::Vector3d r = residuals(x);
    for (int it = 0; it < 100 && r.norm() > 1e-10; ++it) {
        Eigen::Matrix3d J;
        for (int j = 0; j < 3; ++j) {
            Eigen::Vector3d y = x;
            y[j] += 1e-6;
            J.col(j) = (residuals(y) - r) / 1e-6;
        }
        Eigen::Matrix3d A = J.transpose() * J;
        A.diagonal() *= 1.0 + lambda;
        const Eigen::Vector3d dx = A.ldlt().solve(-J.transpose() * r);
        const Eigen::Vector3d r_new = residuals(x + dx);
        if (r_new.norm() < r.norm()) {
            x += dx;
            r = r_new;
            lambda *= 0.3;
        } else {
            lambda *= 10.0;
        }
    }
    std::printf("symptom fit: k_on %.6g /h, k_off %.6g /h, k_tr %.6g /h, placebo_max %.6g; residuals %.2e %.2e %.2e\n",
                std::exp(x[0]), std::exp(x[1]), std::exp(x[2]), s.placebo_max, r[0], r[1], r[2]);
    EXPECT_LT(r.norm(), 1e-8);
    EXPECT_TRUE(close_enough(file.k_on, std::exp(x[0]), kRefitRtol, 0.0));
    EXPECT_TRUE(close_enough(file.k_off, std::exp(x[1]), kRefitRtol, 0.0));
    EXPECT_TRUE(close_enough(file.k_tr, std::exp(x[2]), kRefitRtol, 0.0));
}

// ---- clinical metrics and schedules ----------------------------------------------------------

TEST(ClinicalMetrics, HandBuiltCurve) {
    SymptomModel m;
    m.baseline = 30;
    SymptomCurve c;
    c.time = {0, 1, 2, 3, 4, 5, 6};
    c.madrs = {30, 25, 14, 9, 12, 16, 20};
    const ClinicalMetrics x = clinical_metrics(c, m, {0.0, 2.5});
    EXPECT_EQ(x.onset_h, 2.0);   // 20% fall: <= 24; 25 at t = 1 is not
    EXPECT_EQ(x.response_h, 2.0);
    EXPECT_EQ(x.remission_h, 3.0);
    EXPECT_EQ(x.sessions_to_response, 1);
    EXPECT_TRUE(x.response_lost);
    EXPECT_EQ(x.response_duration_h, 3.0);    // lost at t = 5 (16 > 15)
    EXPECT_EQ(x.relapse_after_last_h, 2.5);   // 5 - 2.5
    EXPECT_EQ(x.min_madrs, 9.0);
}

TEST(Schedules, StandardRegimens) {
    const CourseSpec three = iv_course(clements(), 3, 2);
    EXPECT_EQ(three.session_starts_h, (std::vector<double>{0, 48, 96, 168, 216, 264}));
    EXPECT_EQ(three.regimen.events.size(), 6u);
    EXPECT_DOUBLE_EQ(three.regimen.events[0].duration, 40.0 / 60.0);
    EXPECT_TRUE(three.regimen.events[0].per_kg);
    EXPECT_EQ(iv_course(clements(), 2, 4).session_starts_h.size(), 8u);
    const CourseSpec esk = esketamine_induction(esketamine());
    EXPECT_EQ(esk.session_starts_h.size(), 12u);           // 8 + 4
    EXPECT_EQ(esk.regimen.events.size(), 2u + 11u * 3u);   // 56 mg = 2 devices, then 84 mg = 3
    EXPECT_DOUBLE_EQ(esk.session_starts_h.back(), 24.0 * 49.0);
    EXPECT_EQ(esk.model.name, "esketamine_nasal");
    EXPECT_THROW(iv_course(clements(), 4, 2), InputError);
    EXPECT_THROW(esketamine_induction(esketamine(), 9), InputError);
}

TEST(Schedules, ByNameMatchesTheBuildersAndRejectsBadArguments) {
    // Every registered name builds, on its default model, the course of its builder.
    for (const auto& info : schedule_registry()) {
        ScheduleRequest q;
        q.name = info.name;
        if (q.name == "iv-days") q.days = {0, 2, 4};
        const Model model = load_library_model(info.default_model, models_dir());
        const CourseSpec c = schedule_course(q, model);
        EXPECT_EQ(c.name, info.name);
        EXPECT_EQ(c.model.name, info.default_model);
    }
    ScheduleRequest q;
    q.name = "iv-3x-weekly";
    EXPECT_EQ(schedule_course(q, clements()).session_starts_h, iv_course(clements(), 3, 2).session_starts_h);
    q.weeks = 3;
    EXPECT_EQ(schedule_course(q, clements()).session_starts_h.size(), 9u);
    // Regression (issue 9): a given weeks outside the range is an error, never the default.
    for (int w : {-1, 0, 53}) {
        q.weeks = w;
        const std::string msg = input_error([&] { schedule_course(q, clements()); });
        EXPECT_NE(msg.find("weeks = " + std::to_string(w) + ": must be in [1, 52]"), std::string::npos) << msg;
    }
    q.name = "esketamine-induction";
    q.weeks = 9;
    EXPECT_NE(input_error([&] { schedule_course(q, esketamine()); }).find("must be in [1, 8]"), std::string::npos);
    q.weeks.reset();
    q.mg_per_kg = 0.5;
    EXPECT_NE(input_error([&] { schedule_course(q, esketamine()); }).find("IV schedules only"), std::string::npos);
    ScheduleRequest d;
    d.name = "iv-days";
    EXPECT_NE(input_error([&] { schedule_course(d, clements()); }).find("days is empty"), std::string::npos);
    d.days = {0, 2};
    d.weeks = 2;
    EXPECT_NE(input_error([&] { schedule_course(d, clements()); }).find("takes days, not weeks"), std::string::npos);
    ScheduleRequest bad;
    bad.name = "weekly";
    const std::string msg = input_error([&] { schedule_course(bad, clements()); });
    EXPECT_NE(msg.find("'weekly' is not a schedule"), std::string::npos) << msg;
    EXPECT_NE(msg.find("iv-days"), std::string::npos) << msg;
    // A schedule on a model without its route.
    q = ScheduleRequest{};
    q.name = "esketamine-induction";
    EXPECT_NE(input_error([&] { schedule_course(q, clements()); }).find("route 'intranasal'"), std::string::npos);
}

TEST(Course, SixIvSessionsPrediction) {
    const AcuteEffectModel a = AcuteEffectModel::from_parameters(load_library_pd("acute_effects", models_dir()));
    const SymptomModel s = SymptomModel::from_parameters(load_library_pd("madrs", models_dir()));
    CourseOptions o;
    o.models_dir = models_dir();
    const CourseResult r = run_course(iv_course_on_days(clements(), {0, 2, 4, 7, 9, 11}), a, s, o);
    ASSERT_EQ(r.sessions.size(), 6u);
    for (const auto& x : r.sessions) {
        EXPECT_NEAR(x.acute.peak_sbp, r.sessions[0].acute.peak_sbp, 0.5);   // no BP tolerance
        EXPECT_LE(x.madrs_after_24h, x.madrs_before + 1e-9);
    }
    EXPECT_NEAR(r.sessions[0].madrs_after_24h, 15.5, 0.1);   // session 1 is the calibrated single dose
    EXPECT_LT(r.sessions.back().madrs_after_24h, r.sessions[0].madrs_after_24h);
}

// ---- courses from regimen files ----------------------------------------------------------------

Regimen regimen_file(const std::string& name) { return load_regimen(models_dir() + "/regimens/" + name); }

// Largest |a - b| / max|b| over a curve.
double max_rel_to_peak(const std::vector<double>& a, const std::vector<double>& b) {
    double peak = 0, worst = 0;
    for (double v : b) peak = std::max(peak, std::fabs(v));
    for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
    return peak > 0 ? worst / peak : worst;
}

TEST(Course, BothPdSolversAgreeOnTheFullPkPdSystem) {
    for (const char* file : {"madrs", "madrs_v3", "madrs_v1"}) {   // structures madrs_v2, madrs_v3, madrs_v1
        const SymptomModel sm = SymptomModel::from_parameters(load_library_pd(file, models_dir()));
        const AcuteEffectModel am = AcuteEffectModel::from_parameters(load_library_pd("acute_effects", models_dir()));
        struct Case {
            std::string what;
            CourseSpec spec;
            double follow_up_h;
        };
        // Six IV infusions (IV route, racemic) and the esketamine induction's first two weeks (nasal
        // devices, swallowed fraction, metabolite chain, Ce scaled x2).
        const std::vector<Case> cases = {
            {"6 IV sessions", iv_course_on_days(clements(), {0, 2, 4, 7, 9, 11}), 7 * 24.0},
            {"esketamine induction, 2 weeks", esketamine_induction(esketamine(), 2), 7 * 24.0}};
        for (const auto& c : cases) {
            CourseOptions o;
            o.models_dir = models_dir();
            o.follow_up_h = c.follow_up_h;
            o.symptom.rtol = kPdSolverOdeRtol;
            o.symptom.atol = kPdSolverOdeAtol;
            o.pd_solver = PdSolver::semi_analytic;
            const CourseResult semi = run_course(c.spec, am, sm, o);
            o.pd_solver = PdSolver::coupled_ode;
            const CourseResult coupled = run_course(c.spec, am, sm, o);
            ASSERT_EQ(semi.symptoms.time, coupled.symptoms.time);
            const double e_madrs = max_rel_to_peak(coupled.symptoms.madrs, semi.symptoms.madrs);
            const double e_p = max_rel_to_peak(coupled.symptoms.P, semi.symptoms.P);
            const double e_e = max_rel_to_peak(coupled.symptoms.E, semi.symptoms.E);
            const double e_c = max_rel_to_peak(coupled.symptoms.C, semi.symptoms.C);
            const double e_ce = max_rel_to_peak(coupled.symptoms.ce, semi.symptoms.ce);
            EXPECT_LT(e_madrs, kPdSolverRtol) << c.what << " " << file;
            EXPECT_LT(e_p, kPdSolverRtol) << c.what;
            EXPECT_LT(e_c, kPdSolverRtol) << c.what;
            EXPECT_LT(e_e, kPdSolverRtol) << c.what;
            EXPECT_LT(e_ce, kPdSolverRtol) << c.what;
            // And what a clinician reads off the course is the same.
            ASSERT_EQ(semi.sessions.size(), coupled.sessions.size());
            EXPECT_EQ(semi.clinical.sessions_to_response, coupled.clinical.sessions_to_response) << c.what;
            std::printf("[ pd solvers ] %-8s %-32s max rel (to peak): MADRS %.2e  P %.2e  C %.2e  E %.2e  Ce %.2e\n",
                        file, c.what.c_str(), e_madrs, e_p, e_c, e_e, e_ce);
        }
    }
}

TEST(Course, HermiteAndLinearCeDifferByTheGridErrorOnly) {
    // run_course interpolates Ce with exact end slopes (Hermite); the calibration used linear Ce.
    // On the 1-min course grid the two must differ by less than the grid-convergence bound.
    const SymptomModel sm = SymptomModel::from_parameters(load_library_pd("madrs", models_dir()));
    const AcuteEffectModel am = AcuteEffectModel::from_parameters(load_library_pd("acute_effects", models_dir()));
    const CourseSpec spec = iv_course_on_days(clements(), {0, 2, 4, 7, 9, 11});
    CourseOptions o;
    o.models_dir = models_dir();
    o.follow_up_h = 7 * 24.0;
    const CourseResult r = run_course(spec, am, sm, o);
    const SymptomCurve linear = simulate_symptoms(r.pk, sm, spec.session_starts_h.front(), r.ce_scale, o.symptom);
    double worst = 0;
    for (std::size_t i = 0; i < linear.madrs.size(); ++i)
        worst = std::max(worst, std::fabs(linear.madrs[i] - r.symptoms.madrs[i]));
    EXPECT_LT(worst, kGridConvergenceAtol);
    std::printf("[ Ce interp ] 6 IV sessions: max |MADRS(Hermite) - MADRS(linear)| = %.2e points\n", worst);
}

TEST(Course, PdSolverNames) {
    EXPECT_EQ(pd_solver_from_string("coupled-ode"), PdSolver::coupled_ode);
    EXPECT_EQ(std::string(to_string(PdSolver::semi_analytic)), "semi-analytic");
    try {
        pd_solver_from_string("rk4");
        FAIL() << "expected InputError";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("'rk4' is not a PD solver"), std::string::npos) << e.what();
    }
}

TEST(CourseFromRegimen, GroupSessionsByWindowFromFirstDose) {
    Regimen r;
    // Out of order on purpose; 0, 5, 10 min and 1.9 h join the session at 0; 2.5 h starts a new one
    // (window counted from the session's first dose, not chained); exactly 2 h after 24 h joins.
    for (double t : {24.0, 2.5, 0.0, 5.0 / 60.0, 26.0, 10.0 / 60.0, 1.9}) {
        DoseEvent e;
        e.time = t;
        e.amount = 1.0;
        r.add(e);
    }
    EXPECT_EQ(group_sessions(r, 2.0), (std::vector<double>{0.0, 2.5, 24.0}));
    EXPECT_EQ(group_sessions(r, 0.05), (std::vector<double>{0.0, 5.0 / 60.0, 10.0 / 60.0, 1.9, 2.5, 24.0, 26.0}));
    for (double w : {0.0, -1.0, 25.0, std::nan("")})
        EXPECT_NE(input_error([&] { group_sessions(r, w); }).find("session_window_h"), std::string::npos) << w;
    EXPECT_NE(input_error([&] { group_sessions(Regimen{}, 2.0); }).find("no dose events"), std::string::npos);
}

TEST(CourseFromRegimen, EsketamineFileIsTheInductionSchedule) {
    const CourseSpec file = course_from_regimen(regimen_file("esketamine_induction.toml"), esketamine());
    const CourseSpec code = esketamine_induction(esketamine(), 8);
    EXPECT_EQ(file.session_starts_h, code.session_starts_h);   // 3 devices of a session count once
    EXPECT_EQ(file.model.name, code.model.name);
    const auto a = file.regimen.sorted(), b = code.regimen.sorted();
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        // Same text ("5 min" -> 5.0 / 60.0 exactly, see regimen_toml.cpp), so equal doubles.
        EXPECT_EQ(a[i].time, b[i].time) << i;
        EXPECT_EQ(a[i].amount, b[i].amount) << i;
        EXPECT_EQ(a[i].device, b[i].device) << i;
        EXPECT_EQ(a[i].route, b[i].route) << i;
    }
}

TEST(CourseFromRegimen, SixSessionFileGivesTheSameCourseAsIvCourseOnDays) {
    const AcuteEffectModel a = AcuteEffectModel::from_parameters(load_library_pd("acute_effects", models_dir()));
    const SymptomModel s = SymptomModel::from_parameters(load_library_pd("madrs", models_dir()));
    CourseOptions o;
    o.models_dir = models_dir();
    const CourseSpec file = course_from_regimen(regimen_file("iv_6_sessions.toml"), clements());
    const CourseSpec code = iv_course_on_days(clements(), {0, 2, 4, 7, 9, 11});
    EXPECT_EQ(file.session_starts_h, code.session_starts_h);
    const CourseResult rf = run_course(file, a, s, o);
    const CourseResult rc = run_course(code, a, s, o);
    EXPECT_EQ(rf.ce_scale, 1.0);
    ASSERT_EQ(rf.sessions.size(), 6u);
    ASSERT_EQ(rc.sessions.size(), 6u);
    // Same dose events (bit for bit) through the same code path: the results are identical.
    for (std::size_t k = 0; k < 6; ++k) {
        EXPECT_EQ(rf.sessions[k].acute.peak_ce, rc.sessions[k].acute.peak_ce) << k;
        EXPECT_EQ(rf.sessions[k].acute.discharge_h, rc.sessions[k].acute.discharge_h) << k;
        EXPECT_EQ(rf.sessions[k].madrs_after_24h, rc.sessions[k].madrs_after_24h) << k;
    }
    EXPECT_EQ(rf.clinical.sessions_to_response, rc.clinical.sessions_to_response);
    EXPECT_EQ(rf.clinical.response_h, rc.clinical.response_h);
    // The 2x weekly file is iv_course(2, 4).
    EXPECT_EQ(course_from_regimen(regimen_file("iv_2x_weekly_4_weeks.toml"), clements()).session_starts_h,
              iv_course(clements(), 2, 4).session_starts_h);
}

TEST(CourseFromRegimen, BadInputsNameTheProblem) {
    // Intranasal doses on the IV-only model: event, route, model and its routes.
    const std::string route =
        input_error([] { course_from_regimen(regimen_file("esketamine_induction.toml"), clements()); });
    EXPECT_NE(route.find("route 'intranasal'"), std::string::npos) << route;
    EXPECT_NE(route.find("ketamine_iv_clements"), std::string::npos) << route;
    EXPECT_NE(route.find("routes: iv"), std::string::npos) << route;
    // The Ce scale is the model file's racemic_equivalent parameter (1 racemic, 2 esketamine), never
    // guessed: a model without the key cannot run PD.
    EXPECT_EQ(racemic_equivalent_scale(clements()), 1.0);
    EXPECT_EQ(racemic_equivalent_scale(esketamine()), 2.0);
    Model none = clements();
    none.effect_site->racemic_equivalent.clear();
    const std::string missing = input_error([&] { racemic_equivalent_scale(none); });
    EXPECT_NE(missing.find("no racemic_equivalent key"), std::string::npos) << missing;
    EXPECT_NE(
        input_error([&] { course_from_regimen(regimen_file("iv_6_sessions.toml"), none); }).find("racemic_equivalent"),
        std::string::npos);
    // A regimen that fails its own validation (negative amount) is rejected before grouping.
    Regimen neg;
    DoseEvent e;
    e.amount = -1.0;
    neg.add(e);
    EXPECT_NE(input_error([&] { course_from_regimen(neg, clements()); }).find("amount"), std::string::npos);
}

TEST(Course, DissociationToleranceAndModelsAreValidated) {
    AcuteEffectModel a;
    a.diss_tolerance_per_session = 1.5;
    const SymptomModel s;
    const std::string msg = input_error([&] { run_course(iv_course_on_days(clements(), {0}), a, s); });
    EXPECT_NE(msg.find("diss_tolerance_per_session = 1.5"), std::string::npos) << msg;
}

TEST(Course, IvScheduleOnTheEsketamineModelUsesThatModelsScaleAndName) {
    // Regression: run_course(esketamine_nasal, iv_course(...)) ran with the Ce scale 1 of the IV
    // course and reported the IV model. The course now carries its model: scale 2, its name.
    const AcuteEffectModel a = AcuteEffectModel::from_parameters(load_library_pd("acute_effects", models_dir()));
    const SymptomModel s = SymptomModel::from_parameters(load_library_pd("madrs", models_dir()));
    CourseOptions o;
    o.models_dir = models_dir();
    o.follow_up_h = 48.0;
    const CourseResult r = run_course(iv_course_on_days(esketamine(), {0}), a, s, o);
    EXPECT_EQ(r.spec.model.name, "esketamine_nasal");
    EXPECT_EQ(r.ce_scale, 2.0);
    // The scale really reaches the PD: racemic-equivalent Ce is 2x the model's Ce row, everywhere.
    const auto ce = r.pk["Ce"];
    for (std::size_t i = 0; i < r.symptoms.ce.size(); i += 97)
        EXPECT_DOUBLE_EQ(r.symptoms.ce[i], std::max(0.0, 2.0 * ce[static_cast<Eigen::Index>(i)])) << i;
    // with_model moves a course to another model and re-checks it.
    const CourseSpec moved = with_model(iv_course_on_days(clements(), {0, 2}), esketamine());
    EXPECT_EQ(moved.model.name, "esketamine_nasal");
    EXPECT_EQ(moved.session_starts_h, (std::vector<double>{0.0, 48.0}));
    EXPECT_NE(input_error([&] { with_model(esketamine_induction(esketamine(), 1), clements()); }).find("route"),
              std::string::npos);
}

TEST(SessionTable, ColumnsRowsAndCsvAgree) {
    const AcuteEffectModel a = AcuteEffectModel::from_parameters(load_library_pd("acute_effects", models_dir()));
    const SymptomModel s = SymptomModel::from_parameters(load_library_pd("madrs", models_dir()));
    CourseOptions o;
    o.models_dir = models_dir();
    o.follow_up_h = 48.0;
    const CourseResult r = run_course(iv_course_on_days(clements(), {0, 2}), a, s, o);
    const auto& cols = session_columns();
    const auto rows = session_table(r);
    ASSERT_EQ(rows.size(), 2u);
    ASSERT_EQ(rows[0].size(), cols.size());
    std::set<std::string> names;
    for (const auto& c : cols) {
        EXPECT_TRUE(names.insert(c.name).second) << c.name;
        EXPECT_STRNE(c.unit, "");
    }
    auto col = [&](const std::string& n) {
        for (std::size_t k = 0; k < cols.size(); ++k)
            if (n == cols[k].name) return k;
        ADD_FAILURE() << n;
        return std::size_t{0};
    };
    // Each column holds the SessionReport field it names.
    EXPECT_EQ(rows[1][col("session")], 2.0);
    EXPECT_EQ(rows[1][col("day")], 2.0);
    EXPECT_EQ(rows[1][col("peak_ce_ng_per_mL")], r.sessions[1].acute.peak_ce);
    EXPECT_EQ(rows[1][col("discharge_min")], r.sessions[1].acute.discharge_h * 60.0);
    EXPECT_EQ(rows[1][col("madrs_24h")], r.sessions[1].madrs_after_24h);
    EXPECT_EQ(rows[1][col("response_24h")], r.sessions[1].response ? 1.0 : 0.0);
    // CSV: header = names; values round-trip exactly.
    const std::string csv = session_table_csv(r);
    std::istringstream is(csv);
    std::string header, line;
    std::getline(is, header);
    std::string expect;
    for (const auto& c : cols) expect += (expect.empty() ? "" : ",") + std::string(c.name);
    EXPECT_EQ(header, expect);
    std::getline(is, line);
    std::getline(is, line);
    std::istringstream ls(line);
    std::string cell;
    for (std::size_t k = 0; std::getline(ls, cell, ','); ++k) EXPECT_EQ(std::stod(cell), rows[1][k]) << cols[k].name;
}

TEST(Flagship, ArmsAreDefinedOnce) {
    const auto arms = flagship_arms();
    ASSERT_EQ(arms.size(), 3u);
    EXPECT_EQ(arms[0].name, "iv_racemic");
    EXPECT_EQ(arms[0].model, "ketamine_iv_clements");
    ASSERT_EQ(arms[0].regimen.events.size(), 1u);
    EXPECT_TRUE(arms[0].regimen.events[0].per_kg);
    EXPECT_EQ(arms[0].regimen.events[0].amount, 0.5);
    EXPECT_DOUBLE_EQ(arms[0].regimen.events[0].duration, 40.0 / 60.0);
    EXPECT_EQ(arms[1].model, "esketamine_nasal");
    EXPECT_EQ(arms[1].regimen.events.size(), 2u);   // 56 mg = two 28 mg devices
    EXPECT_EQ(arms[2].regimen.events.size(), 1u);   // one 50 mg dose event
    EXPECT_EQ(arms[2].regimen.events[0].amount, 50.0);
    FlagshipOptions o;
    o.esketamine_mg = 84.0;
    EXPECT_EQ(flagship_arms(o)[1].regimen.events.size(), 3u);
    o.esketamine_mg = 50.0;   // not whole devices: the Regimen builder's rule
    EXPECT_THROW(flagship_arms(o), InputError);
    o = FlagshipOptions{};
    o.weight_kg = -1;
    EXPECT_NE(input_error([&] { flagship_arms(o); }).find("weight_kg = -1"), std::string::npos);
}

// ---- [uncertainty] table: parameter uncertainty of fitted values (docs/calibration.md) ----------

std::string with_uncertainty(const std::string& table) {
    return "name = \"x\"\n"
           "[parameters.a]\nvalue = 2.0\nunit = \"1/h\"\ndescription = \"d\"\nsource = \"s\"\n"
           "[parameters.b]\nvalue = 0.5\nunit = \"1\"\ndescription = \"d\"\nsource = \"s\"\n"
           "[[variability]]\nparameters = [\"a\"]\ndistribution = \"lognormal\"\ncv_percent = [30.0]\nsource = \"s\"\n"
           "[[variability]]\nparameters = [\"b\"]\ndistribution = \"logit\"\nsd = [1.5]\nsource = \"s\"\n"
           "[uncertainty]\nmethod = \"laplace\"\nscale = \"log\"\nsource = \"fit\"\n" +
           table;
}

const std::string kGoodUncertainty =
    "parameters = [\"a\", \"variability.a.cv_percent\", \"variability.b.sd\"]\n"
    "estimate = [2.0, 30.0, 1.5]\nse = [0.5, 0.4, 0.1]\n"
    "correlation = [[1.0, -0.8, 0.2], [-0.8, 1.0, 0.0], [0.2, 0.0, 1.0]]\n";

TEST(PdUncertainty, LibraryMadrsCarriesTheLaplaceCovarianceOfItsFit) {
    const PdParameterSet p = load_library_pd("madrs", models_dir());
    const PdUncertainty& u = p.uncertainty;
    ASSERT_EQ(u.names.size(), 5u);
    EXPECT_EQ(u.method, "laplace");
    EXPECT_EQ(u.scale, "log");
    // docs/calibration.md section 2 ("Uncertainty"): the full covariance of the five stage-B values,
    // SE 0.95 and 1.69 on log k_cons / log k_off_c (correlation 0.61), and the durability spread
    // (the common SD of the k_off/k_off_c block) SE 0.186, correlated 0.78 with log k_off_c.
    EXPECT_EQ(u.names[0], "k_cons");
    EXPECT_EQ(u.names[4], "variability.k_off.sd");
    EXPECT_DOUBLE_EQ(u.se[0], 0.95);
    EXPECT_DOUBLE_EQ(u.se[1], 1.69);
    EXPECT_DOUBLE_EQ(u.se[4], 0.186);
    EXPECT_DOUBLE_EQ(u.correlation(0, 1), 0.61);
    EXPECT_DOUBLE_EQ(u.correlation(1, 4), 0.78);
    // The durability spread's estimate is the SD of the block's (equal) variances.
    EXPECT_NEAR(u.estimate[4], std::sqrt(p.variability[2].omega(0, 0)), 1e-6 * u.estimate[4]);
    EXPECT_EQ(p.variability[2].parameters, (std::vector<std::string>{"k_off", "k_off_c"}));
    for (std::size_t j = 0; j < u.names.size(); ++j)
        EXPECT_NEAR(uncertainty_value(p, u.names[j], p.source_path, p.source_path), u.estimate[j], 1e-6 * u.estimate[j])
            << u.names[j];
    EXPECT_TRUE(load_library_pd("acute_effects", models_dir()).uncertainty.empty());
}

TEST(PdUncertainty, ErrorsNameTheLineNameAndRule) {
    EXPECT_NO_THROW(parse_pd_parameters(with_uncertainty(kGoodUncertainty), "x.toml"));
    const auto err = [](const std::string& table) {
        return input_error([&] { parse_pd_parameters(with_uncertainty(table), "x.toml"); });
    };
    const auto swap = [&](const std::string& from, const std::string& to) {
        std::string s = kGoodUncertainty;
        s.replace(s.find(from), from.size(), to);
        return s;
    };
    EXPECT_NE(err(swap("\"a\", \"var", "\"c\", \"var")).find("'c' is not a parameter of this file"), std::string::npos);
    EXPECT_NE(err(swap("variability.b.sd", "variability.b.cv_percent")).find("cv_percent names a log-normal block"),
              std::string::npos);
    EXPECT_NE(err(swap("variability.b.sd", "variability.z.sd")).find("no variability block of 'z'"), std::string::npos);
    // Not positive definite (eigenvalue 1 - 0.99 - 0.99 < 0 along (1, 1, 1)-like directions).
    EXPECT_NE(err(swap("[[1.0, -0.8, 0.2], [-0.8, 1.0, 0.0], [0.2, 0.0, 1.0]]",
                       "[[1.0, 0.99, -0.99], [0.99, 1.0, 0.99], [-0.99, 0.99, 1.0]]"))
                  .find("x.toml:29: uncertainty.correlation: not positive definite"),
              std::string::npos);
    EXPECT_NE(err(swap("[-0.8, 1.0, 0.0]", "[-0.7, 1.0, 0.0]")).find("(symmetric)"), std::string::npos);
    EXPECT_NE(err(swap("estimate = [2.0", "estimate = [2.1")).find("differs from the file's value 2"),
              std::string::npos);
    EXPECT_NE(err(swap("se = [0.5", "se = [-0.5")).find("uncertainty.se[0] (a) = -0.5: must be finite and >= 0"),
              std::string::npos);
    EXPECT_NE(err(swap("se = [0.5, 0.4, 0.1]", "se = [0.5, 0.4]")).find("2 values for 3 parameters"),
              std::string::npos);
    EXPECT_NE(err(kGoodUncertainty + "sigma = 1\n").find("uncertainty.sigma"), std::string::npos);
    EXPECT_NE(input_error([&] {
                  parse_pd_parameters(
                      with_uncertainty(kGoodUncertainty)
                          .replace(with_uncertainty(kGoodUncertainty).find("\"laplace\""), 9, "\"boot\""),
                      "x.toml");
              }).find("the only method is \"laplace\""),
              std::string::npos);
}

TEST(PdUncertainty, DrawsAreKeyedBySeedAndReplicateAndFollowTheCovariance) {
    const PdParameterSet p = parse_pd_parameters(with_uncertainty(kGoodUncertainty), "x.toml");
    const auto a = [](const PdParameterSet& s) { return s.value("a"); };
    EXPECT_EQ(a(draw_pd_uncertainty(p, 7, 3)), a(draw_pd_uncertainty(p, 7, 3)));
    EXPECT_NE(a(draw_pd_uncertainty(p, 7, 3)), a(draw_pd_uncertainty(p, 7, 4)));
    EXPECT_NE(a(draw_pd_uncertainty(p, 8, 3)), a(draw_pd_uncertainty(p, 7, 3)));
    // Zero SE: every draw is the file's set exactly (values and omegas).
    std::string zero = kGoodUncertainty;
    zero.replace(zero.find("se = [0.5, 0.4, 0.1]"), 20, "se = [0.0, 0.0, 0.0]");
    const PdParameterSet z = parse_pd_parameters(with_uncertainty(zero), "x.toml");
    for (std::uint64_t k = 0; k < 5; ++k) {
        const PdParameterSet d = draw_pd_uncertainty(z, 1, k);
        EXPECT_EQ(d.value("a"), 2.0);
        EXPECT_EQ(d.variability[0].omega(0, 0), z.variability[0].omega(0, 0));
        EXPECT_EQ(d.variability[1].omega(0, 0), z.variability[1].omega(0, 0));
    }
    // Sample moments of the log draws against (0, se) and the stated correlation; omegas follow
    // the file conventions (omega = log(1 + CV^2), omega = SD^2) through uncertainty_value.
    const int n = 4000;
    Eigen::MatrixXd x(n, 3);
    for (int k = 0; k < n; ++k) {
        const PdParameterSet d = draw_pd_uncertainty(p, 11, static_cast<std::uint64_t>(k));
        for (int j = 0; j < 3; ++j)
            x(k, j) = std::log(uncertainty_value(d, p.uncertainty.names[static_cast<std::size_t>(j)], "", "") /
                               p.uncertainty.estimate[static_cast<std::size_t>(j)]);
    }
    const Eigen::RowVectorXd mean = x.colwise().mean();
    const Eigen::MatrixXd c = x.rowwise() - mean;
    const Eigen::MatrixXd cov = c.transpose() * c / (n - 1);
    for (int j = 0; j < 3; ++j) {
        const double se = p.uncertainty.se[static_cast<std::size_t>(j)];
        EXPECT_LT(std::abs(mean(j)), test::kSampleSigmas * se / std::sqrt(n)) << j;
        EXPECT_LT(std::abs(cov(j, j) - se * se), test::kSampleSigmas * se * se * std::sqrt(2.0 / (n - 1))) << j;
    }
    // Correlation -0.8: the SE of a sample correlation is about (1 - r^2) / sqrt(n).
    EXPECT_LT(std::abs(cov(0, 1) / std::sqrt(cov(0, 0) * cov(1, 1)) + 0.8), test::kSampleSigmas * 0.36 / std::sqrt(n));
    EXPECT_NE(input_error([&] {
                  draw_pd_uncertainty(load_library_pd("acute_effects", models_dir()), 1, 0);
              }).find("no [uncertainty] table"),
              std::string::npos);
}

// A two-parameter block [c, d] with equal variances 0.25 (SD 0.5) and covariance 0.2 (correlation
// 0.8): "variability.c.sd" names their common SD (the madrs durability spread's pattern).
std::string with_block(const std::string& variance, const std::string& name) {
    return "name = \"x\"\n"
           "[parameters.c]\nvalue = 2.0\nunit = \"1/h\"\ndescription = \"d\"\nsource = \"s\"\n"
           "[parameters.d]\nvalue = 0.5\nunit = \"1/h\"\ndescription = \"d\"\nsource = \"s\"\n"
           "[[variability]]\nparameters = [\"c\", \"d\"]\ndistribution = \"lognormal\"\nvariance = " +
           variance +
           "\nsource = \"s\"\n"
           "[uncertainty]\nmethod = \"laplace\"\nscale = \"log\"\nsource = \"fit\"\n"
           "parameters = [\"c\", \"" +
           name + "\"]\nestimate = [2.0, 0.5]\nse = [0.3, 0.4]\ncorrelation = [[1.0, 0.5], [0.5, 1.0]]\n";
}

TEST(PdUncertainty, MultiParameterBlockWithEqualVariancesIsNamedByItsCommonSd) {
    const PdParameterSet p =
        parse_pd_parameters(with_block("[[0.25, 0.2], [0.2, 0.25]]", "variability.c.sd"), "x.toml");
    EXPECT_DOUBLE_EQ(uncertainty_value(p, "variability.c.sd", "", ""), 0.5);
    // Setting it scales the whole block by (new/old)^2: variances 1.0, covariance 0.8, and the
    // correlation stays 0.8.
    PdParameterSet q = p;
    set_uncertainty_value(q, "variability.c.sd", 1.0);
    EXPECT_DOUBLE_EQ(q.variability[0].omega(0, 0), 1.0);
    EXPECT_DOUBLE_EQ(q.variability[0].omega(1, 1), 1.0);
    EXPECT_DOUBLE_EQ(q.variability[0].omega(0, 1), 0.8);
    EXPECT_DOUBLE_EQ(q.variability[0].omega(1, 0), 0.8);
    // Drawn: every replicate keeps equal variances and the correlation 0.8; the log of the drawn SD
    // has the stated SE 0.4 and the correlation 0.5 with log c.
    const int n = 4000;
    Eigen::MatrixXd x(n, 2);
    for (int k = 0; k < n; ++k) {
        const PdParameterSet d = draw_pd_uncertainty(p, 5, static_cast<std::uint64_t>(k));
        const Eigen::MatrixXd& w = d.variability[0].omega;
        ASSERT_EQ(w(0, 0), w(1, 1)) << k;
        ASSERT_NEAR(w(0, 1) / w(0, 0), 0.8, 1e-12) << k;
        x(k, 0) = std::log(d.value("c") / 2.0);
        x(k, 1) = std::log(std::sqrt(w(0, 0)) / 0.5);
    }
    const Eigen::RowVectorXd mean = x.colwise().mean();
    const Eigen::MatrixXd c = x.rowwise() - mean;
    const Eigen::MatrixXd cov = c.transpose() * c / (n - 1);
    EXPECT_LT(std::abs(mean(1)), test::kSampleSigmas * 0.4 / std::sqrt(n));
    EXPECT_LT(std::abs(cov(1, 1) - 0.16), test::kSampleSigmas * 0.16 * std::sqrt(2.0 / (n - 1)));
    // Correlation 0.5: the SE of a sample correlation is about (1 - r^2) / sqrt(n).
    EXPECT_LT(std::abs(cov(0, 1) / std::sqrt(cov(0, 0) * cov(1, 1)) - 0.5), test::kSampleSigmas * 0.75 / std::sqrt(n));
    // cv_percent of the log-normal block: the common CV, 100 sqrt(exp(0.25) - 1).
    const PdParameterSet cv = parse_pd_parameters(
        with_block("[[0.25, 0.2], [0.2, 0.25]]", "variability.c.cv_percent")
            .replace(with_block("[[0.25, 0.2], [0.2, 0.25]]", "variability.c.cv_percent").find("0.5]\nse"), 3,
                     "53.294035"),
        "x.toml");
    EXPECT_DOUBLE_EQ(uncertainty_value(cv, "variability.c.cv_percent", "", ""), 100 * std::sqrt(std::expm1(0.25)));
}

TEST(PdUncertainty, MultiParameterBlockErrorsNameTheRule) {
    const auto err = [](const std::string& variance, const std::string& name) {
        return input_error([&] { parse_pd_parameters(with_block(variance, name), "x.toml"); });
    };
    // Unequal variances: no common SD to name.
    const std::string e = err("[[0.25, 0.2], [0.2, 0.36]]", "variability.c.sd");
    EXPECT_NE(e.find("x.toml:"), std::string::npos) << e;
    EXPECT_NE(e.find("'variability.c.sd': the block [c, d] has unequal variances (0.25, 0.36)"), std::string::npos)
        << e;
    EXPECT_NE(e.find("only when its diagonal variances are equal"), std::string::npos) << e;
    // The block is named by its first parameter (one name per block).
    EXPECT_NE(err("[[0.25, 0.2], [0.2, 0.25]]", "variability.d.sd")
                  .find("the block [c, d] is named by its first parameter: variability.c.sd"),
              std::string::npos);
    // Its .sd and .cv_percent together would draw it twice.
    std::string twice = with_block("[[0.25, 0.2], [0.2, 0.25]]", "variability.c.sd");
    twice.replace(twice.find("\"c\", \"variability"), 5, "\"variability.c.cv_percent\", ");
    EXPECT_NE(input_error([&] { parse_pd_parameters(twice, "x.toml"); }).find("name the same variability block"),
              std::string::npos);
    // set_uncertainty_value applies the same rule to a set whose block was changed after reading.
    PdParameterSet p = parse_pd_parameters(with_block("[[0.25, 0.2], [0.2, 0.25]]", "variability.c.sd"), "x.toml");
    p.variability[0].omega(1, 1) = 0.36;
    EXPECT_NE(input_error([&] { set_uncertainty_value(p, "variability.c.sd", 1.0); }).find("unequal variances"),
              std::string::npos);
}

}   // namespace
}   // namespace ketasim
