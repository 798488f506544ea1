// Public solver entry points (ketasim/solver.hpp): PkSolution against the exact solver, and
// walk_events (the breakpoint/output walk of the coupled PD solver): order, conventions, step
// limit and error mapping.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "ketasim/ketasim.hpp"
#include "tolerances.hpp"

using namespace ketasim;
using namespace ketasim::test;

namespace {
Model library(const std::string& name) { return load_library_model(name, KETASIM_TEST_MODELS_DIR); }

// Records the walk as text.
struct Recorder : EventVisitor {
    std::string log;
    void integrate(double t0, double t1, const Eigen::VectorXd&, long) override {
        log += "I" + std::to_string(t0) + "-" + std::to_string(t1) + " ";
    }
    void advance_exactly(double t0, double t1, const Eigen::VectorXd&) override {
        log += "X" + std::to_string(t0) + "-" + std::to_string(t1) + " ";
    }
    void bolus(int, double mg) override { log += "B" + std::to_string(mg) + " "; }
    void reset(const Eigen::VectorXd&) override { log += "R "; }
    void output(std::size_t i, double) override { log += "O" + std::to_string(i) + " "; }
};
}   // namespace

TEST(WalkEvents, AppliesADoseBeforeAnOutputAtItsTimeAndNeverStepsAcrossOne) {
    const Model model = library("ketamine_iv_clements");
    const LinearSystem sys = compile(model);
    Regimen r = Regimen::iv_infusion(0.5, 1.0, {1.0}, true);   // 35 mg over 1 h from t = 1 h
    Recorder rec;
    walk_events(sys, r, {0.0, 1.0, 1.5, 3.0}, rec, "test", 100);
    EXPECT_EQ(rec.log, "O0 I0.000000-1.000000 O1 I1.000000-1.500000 O2 I1.500000-2.000000 I2.000000-3.000000 O3 ");
    // An output 1e-12 h before a dose is read after it (kTimeSnap); the 1e-12 h is advanced exactly.
    Recorder snap;
    walk_events(sys, r, {1.0 - 1e-12}, snap, "test", 100);
    EXPECT_EQ(snap.log, "I0.000000-1.000000 O0 ");
    EXPECT_THROW(walk_events(sys, r, {2.0, 1.0}, rec, "test", 100), InputError);
    EXPECT_THROW(walk_events(sys, r, {1.0}, rec, "test", 0), InputError);
}

TEST(WalkEvents, CoupledSymptomSolverGetsTheStepLimitAndTheSolverErrorOfThePkOdeSolver) {
    const Model model = library("ketamine_iv_clements");
    const Regimen r = Regimen::iv_infusion(0.5, 40.0 / 60.0, {0.0}, true);
    SymptomOptions o;
    o.max_steps = 3;
    try {
        simulate_symptoms_coupled(model, r, Subject{}, {0.0, 24.0}, SymptomModel{}, 0.0, 1.0, o);
        FAIL() << "no SolverError";
    } catch (const SolverError& e) {
        EXPECT_NE(std::string(e.what()).find("more than max_steps = 3"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("coupled symptom model"), std::string::npos) << e.what();
    }
    o.max_steps = 0;
    EXPECT_THROW(o.validate(), InputError);
}

TEST(PkSolution, EqualsTheExactSolverAndItsBoundHoldsUntilTheNextDose) {
    const Model model = library("esketamine_nasal");
    const CourseSpec spec = esketamine_induction(model, 2);
    Subject s;
    const LinearSystem sys = compile(model, s);
    const PkSolution pk(sys, spec.regimen, {"Ce", "C_plasma"});
    ASSERT_TRUE(pk.spectral());
    const OutputGrid grid = OutputGrid::uniform(0, 14 * 24.0, 1.0 / 60.0);
    SimOptions so;
    so.outputs = {"Ce", "C_plasma"};
    const Trajectory tr = simulate(model, spec.regimen, grid, so, s);
    PkSolution::Cursor cur(pk);
    double y[2], yc[2];
    for (std::size_t i = 0; i < grid.times.size(); ++i) {
        pk.values(grid.times[i], y);
        cur.values(grid.times[i], yc);
        for (int j = 0; j < 2; ++j) {
            const double want = tr.values(j, static_cast<Eigen::Index>(i));
            ASSERT_NEAR(y[j], want, kExactRtol * std::fabs(want) + kConcAtol) << tr.names[j] << " t " << grid.times[i];
            ASSERT_NEAR(yc[j], want, kExactRtol * std::fabs(want) + kConcAtol) << "cursor " << grid.times[i];
        }
    }
    // The bound from 2 h after the second session's start holds at every later point before the
    // next dose; 12 h after the start, once the fast modes whose signs cancel have decayed, it is
    // within a factor 3 of the true value (useful, not just valid).
    const double t0 = 72.0 + 2.0;
    ASSERT_EQ(pk.next_breakpoint(t0), 168.0);   // the third session
    for (int j = 0; j < 2; ++j) {
        const double b = pk.bound(static_cast<std::size_t>(j), t0);
        pk.values(t0 + 10.0, y);
        EXPECT_LT(pk.bound(static_cast<std::size_t>(j), t0 + 10.0), 3.0 * y[j]);
        for (double t = t0; t < 168.0; t += 0.25) {
            pk.values(t, yc);
            ASSERT_LE(yc[j], b * (1 + 1e-12)) << t;
        }
    }
    // While an infusion runs there is no bound.
    const Model iv = library("ketamine_iv_clements");
    const PkSolution piv(compile(iv, s), Regimen::iv_infusion(0.5, 40.0 / 60.0, {0.0}, true), {"Ce"});
    EXPECT_TRUE(std::isinf(piv.bound(0, 0.2)));
    EXPECT_TRUE(std::isfinite(piv.bound(0, 1.0)));
    EXPECT_THROW(PkSolution(compile(iv, s), Regimen::iv_infusion(0.5, 0.5, {0.0}, true), {"Cx"}), InputError);
}

TEST(PkSolution, SubjectsWithTwoNearEqualRatesUseThePairBlockAndStillMatch) {
    // About 4 % of esketamine patients have two near-equal rate constants (e.g. 1.568 and 1.564
    // 1/h): no well-conditioned eigenbasis, so PkSolution carries the pair as a 2x2 block.
    const Model model = library("esketamine_nasal");
    const CourseSpec spec = esketamine_induction(model, 2);
    PopulationSpec ps;
    ps.n = 400;
    ps.seed = 2026;
    const PopulationSource src(spec.model, ps, spec.regimen.per_kg());
    std::vector<double> ov;
    std::size_t found = ps.n;
    for (std::size_t i = 0; i < ps.n && found == ps.n; ++i) {
        const Subject s = src.subject(i, ov);
        if (PkSolution(src.layout().compile(s), spec.regimen, {"Ce"}).paired()) found = i;
    }
    ASSERT_LT(found, ps.n);
    const Subject s = src.subject(found, ov);
    const LinearSystem sys = src.layout().compile(s);
    const PkSolution pk(sys, spec.regimen, {"Ce", "C_plasma"});
    // The mass bound (compartmental A) holds from 2 h after the second session until the next.
    for (int j = 0; j < 2; ++j) {
        const double b = pk.bound(static_cast<std::size_t>(j), 74.0);
        ASSERT_TRUE(std::isfinite(b));
        double v[2];
        for (double t = 74.0; t < 168.0; t += 0.25) {
            pk.values(t, v);
            ASSERT_LE(v[j], b) << t;
        }
    }
    const OutputGrid grid = OutputGrid::uniform(0, 10 * 24.0, 1.0 / 60.0);
    SimOptions so;
    so.outputs = {"Ce", "C_plasma"};
    const Trajectory tr = simulate(sys, spec.regimen, grid, so);
    PkSolution::Cursor cur(pk);
    double y[2], yc[2];
    for (std::size_t i = 0; i < grid.times.size(); i += 7) {
        pk.values(grid.times[i], y);
        cur.values(grid.times[i], yc);
        for (int j = 0; j < 2; ++j) {
            const double want = tr.values(j, static_cast<Eigen::Index>(i));
            ASSERT_NEAR(y[j], want, kExactRtol * std::fabs(want) + kConcAtol) << grid.times[i];
            ASSERT_NEAR(yc[j], want, kExactRtol * std::fabs(want) + kConcAtol) << "cursor " << grid.times[i];
        }
    }
    // And its course metrics equal run_course's.
    CourseOptions co;
    co.follow_up_h = 7 * 24.0;
    const AcuteEffectModel am =
        AcuteEffectModel::from_parameters(load_library_pd("acute_effects", KETASIM_TEST_MODELS_DIR));
    const SymptomModel sm = SymptomModel::from_parameters(load_library_pd("madrs", KETASIM_TEST_MODELS_DIR));
    const CourseResult full = run_course(spec, am, sm, co, s);
    const CourseMetrics fast = run_course_metrics(spec, am, sm, co, sys);
    ASSERT_EQ(full.sessions.size(), fast.sessions.size());
    for (std::size_t k = 0; k < fast.sessions.size(); ++k) {
        const SessionReport &a = full.sessions[k], &b = fast.sessions[k];
        EXPECT_NEAR(b.madrs_after_24h, a.madrs_after_24h, kCourseMetricsMadrsAtol);
        EXPECT_NEAR(b.madrs_before, a.madrs_before, kCourseMetricsMadrsAtol);
        EXPECT_NEAR(b.acute.peak_ce, a.acute.peak_ce, kCourseMetricsPeakRtol * a.acute.peak_ce);
        EXPECT_NEAR(b.acute.peak_sbp, a.acute.peak_sbp, kCourseMetricsPeakRtol * a.acute.peak_sbp);
        EXPECT_NEAR(b.acute.t_peak_ce_h, a.acute.t_peak_ce_h, co.dt_h);
        EXPECT_NEAR(b.acute.discharge_h, a.acute.discharge_h, co.dt_h);
    }
    EXPECT_NEAR(fast.madrs_end, full.symptoms.madrs.back(), kCourseMetricsMadrsAtol);
}

namespace {
// tests/data/iov_model.toml's one-compartment oral model (gut -ka-> central -CL/V->), here with an
// IV route into the gut as well (a zero-order input on the near-equal pair), and ka = ratio CL / V.
const char* kPairModel = R"toml(
name = "pair_test"
title = "1-cmt oral, near-equal ka and k (test)"
analyte = "racemic ketamine"
[parameters.ka]
value = 0.2
unit = "1/h"
source = "test value"
[parameters.V]
value = 100
unit = "L"
source = "test value"
[parameters.CL]
value = 20
unit = "L/h"
source = "test value"
[[compartments]]
name = "gut"
[[compartments]]
name = "central"
volume = "V"
[[flows]]
from = "gut"
to = "central"
rate = "ka"
[[flows]]
from = "central"
rate = "CL"
[routes.oral]
kind = "oral"
[[routes.oral.branches]]
target = "gut"
[routes.iv]
kind = "iv"
[[routes.iv.branches]]
target = "gut"
[[outputs]]
name = "C_plasma"
compartment = "central"
)toml";

// Bateman with expm1 (exact_paths_test.cpp): D ka / V e^{-k s} (1 - e^{-d s}) / d, d = ka - k,
// the limit D ka / V s e^{-k s} at d == 0 (Gibaldi & Perrier, Pharmacokinetics, 2nd ed., ch. 1).
double bateman(double ka, double k, double c_per_mg, double mg, const std::vector<double>& doses, double t) {
    double y = 0;
    for (double t0 : doses) {
        const double s = t - t0;
        if (s < 0) continue;
        const double d = ka - k;
        const double phi = d == 0.0 ? s : -std::expm1(-d * s) / d;
        y += c_per_mg * mg * ka * std::exp(-k * s) * phi;
    }
    return y;
}
}   // namespace

TEST(PkSolution, NearEqualRatesSweepThePairBlockAgainstTheClosedForm) {
    // ka / k = 1 +- 1e-2 ... 1e-10 and 1: the plain eigenbasis (cond ~ 2 / |ka / k - 1|) is refused
    // from about 2e-4 on; the pair block must then hold the exact solver's accuracy against Bateman,
    // by values(), by a cursor (cached step propagators), and with the bound valid until the next dose.
    const Model m = parse_model(kPairModel, "pair_test");
    const std::vector<double> doses = {0.0, 10.0};
    Regimen r;
    for (double t : doses) {
        DoseEvent e;
        e.time = t;
        e.amount = 50.0;
        e.route = "oral";
        r.add(e);
    }
    int paired = 0;
    for (int e = 2; e <= 11; ++e)
        for (double sign : {1.0, -1.0}) {
            const double ratio = e == 11 ? 1.0 : 1.0 + sign * std::pow(10.0, -e);
            Subject s;
            s.parameters["ka"] = ratio * 20.0 / 100.0;
            const LinearSystem sys = compile(m, s);
            const double ka = -sys.A(0, 0), k = -sys.A(1, 1), cpm = sys.C(0, 1);
            const PkSolution pk(sys, r, {"C_plasma"});
            const std::string label = "ka/k = " + std::to_string(ratio);
            ASSERT_TRUE(pk.spectral()) << label;
            if (std::fabs(ratio - 1.0) <= 1e-5) {
                EXPECT_TRUE(pk.paired()) << label;
            }
            paired += pk.paired();
            PkSolution::Cursor cur(pk);
            double y = 0, yc = 0;
            for (int i = 0; i <= 48 * 8; ++i) {
                const double t = i / 8.0, want = bateman(ka, k, cpm, 50.0, doses, t);
                pk.values(t, &y);
                cur.values(t, &yc);
                ASSERT_NEAR(y, want, kExactRtol * want + kConcAtol) << label << " t " << t;
                ASSERT_NEAR(yc, want, kExactRtol * want + kConcAtol) << label << " cursor t " << t;
            }
            for (double t0 : {0.5, 3.0, 12.0}) {
                const double b = pk.bound(0, t0), end = t0 < 10.0 ? 10.0 : 200.0;
                for (double t = t0; t < end; t += 0.125)
                    ASSERT_LE(bateman(ka, k, cpm, 50.0, doses, t), b * (1 + 1e-12) + 1e-15) << label << " " << t;
            }
        }
    EXPECT_GE(paired, 9);
}

TEST(PkSolution, PairBlockWithAnInfusionIntoThePairEqualsTheExactSolver) {
    // A zero-order input on the pair exercises int_0^h exp(T s) ds (psi in pk_solution.cpp, by its
    // series for short steps and by divided differences for long ones).
    const Model m = parse_model(kPairModel, "pair_test");
    for (double ratio : {1.0 + 1e-7, 1.0, 1.0 - 1e-9}) {
        Subject s;
        s.parameters["ka"] = ratio * 20.0 / 100.0;
        const LinearSystem sys = compile(m, s);
        const Regimen r = Regimen::iv_infusion(100.0, 6.0, {1.0, 30.0});
        const PkSolution pk(sys, r, {"C_plasma"});
        ASSERT_TRUE(pk.paired());
        const OutputGrid grid = OutputGrid::uniform(0, 72.0, 1.0 / 60.0);
        SimOptions so;
        so.outputs = {"C_plasma"};
        const Trajectory tr = simulate(sys, r, grid, so);
        PkSolution::Cursor cur(pk);
        double y = 0, yc = 0;
        for (std::size_t i = 0; i < grid.times.size(); ++i) {
            const double want = tr.values(0, static_cast<Eigen::Index>(i));
            pk.values(grid.times[i], &y);
            cur.values(grid.times[i], &yc);
            ASSERT_NEAR(y, want, kExactRtol * std::fabs(want) + kConcAtol) << ratio << " t " << grid.times[i];
            ASSERT_NEAR(yc, want, kExactRtol * std::fabs(want) + kConcAtol) << ratio << " cursor " << grid.times[i];
        }
    }
}

TEST(PkSolution, CursorStagesEqualValuesOnEveryPath) {
    // Cursor::stages / advance (the metrics-only course's Runge-Kutta stages) against values() at
    // the same times, for a subject with an eigenbasis, one with a near-equal pair and one without
    // either (Pade; 6 of these 2,000 esketamine patients), over steps of repeated and clipped sizes
    // that stop at every dose breakpoint.
    const Model model = library("esketamine_nasal");
    const CourseSpec spec = esketamine_induction(model, 1);
    PopulationSpec ps;
    ps.n = 2000;
    ps.seed = 2026;
    const PopulationSource src(spec.model, ps, spec.regimen.per_kg());
    std::vector<double> ov;
    std::size_t plain = ps.n, paired = ps.n, pade = ps.n;
    for (std::size_t i = 0; i < ps.n; ++i) {
        const PkSolution pk(src.layout().compile(src.subject(i, ov)), spec.regimen, {"Ce"});
        if (!pk.spectral() && pade == ps.n) pade = i;
        if (pk.paired() && paired == ps.n) paired = i;
        if (pk.spectral() && !pk.paired() && plain == ps.n) plain = i;
    }
    ASSERT_LT(pade, ps.n);
    ASSERT_LT(paired, ps.n);
    static constexpr double c[5] = {0.2, 0.3, 0.8, 8.0 / 9.0, 1.0};
    for (std::size_t who : {plain, paired, pade}) {
        const PkSolution pk(src.layout().compile(src.subject(who, ov)), spec.regimen, {"Ce", "C_plasma"});
        PkSolution::Cursor cur(pk);
        double y[2];
        double t = 0.0;
        cur.values(t, y);
        std::vector<double> stops = pk.breakpoints();
        stops.push_back(100.0);
        for (double stop : stops) {
            if (stop <= t) continue;
            while (t < stop) {
                const double h = std::min(stop - t, t < 1.0 ? 0.0625 : 0.75);
                if (cur.time() != t) cur.values(t, y);
                for (std::size_t j = 0; j < 2; ++j) {
                    double ys[5];
                    cur.stages(h, c, 5, j, ys);
                    for (int i = 0; i < 5; ++i) {
                        pk.values(t + c[i] * h, y);
                        ASSERT_NEAR(ys[i], y[j], 1e-12 * std::fabs(y[j]) + 1e-15)
                            << "subject " << who << " t " << t << " stage " << i << " output " << j;
                    }
                }
                cur.advance(h);
                t += h;
                pk.values(t, y);
                double yc[2];
                cur.values(t, yc);   // from the advanced state (no reset: same time)
                ASSERT_NEAR(yc[0], y[0], 1e-12 * std::fabs(y[0]) + 1e-15) << "subject " << who << " t " << t;
            }
        }
    }
}
