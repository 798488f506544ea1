// Steady-state doses (DoseEvent::steady_state, NONMEM SS=1 with II): the periodic steady state
// is computed exactly (src/solve/inputs.cpp, steady_state_trough()), not by simulating doses.
// Checked against closed forms (one compartment: Gibaldi & Perrier, Pharmacokinetics 2nd ed.,
// ch. 11, multiple dosing: accumulation factor 1 / (1 - e^{-k tau})), against the same dose
// simulated many times on library models, and across the two solvers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "ketasim/ketasim.hpp"
#include "tolerances.hpp"

namespace ketasim {
namespace {

using test::close_enough;

const std::string kModelsDir = KETASIM_TEST_MODELS_DIR;

Parameter param(const std::string& name, double value, const std::string& unit) {
    Parameter p;
    p.name = name;
    p.value = value;
    p.unit = unit;
    p.unit_info = parse_unit(unit);
    p.source = "steady_state_test";
    return p;
}

// One compartment, V = 40 L, CL = 10 L/h (k = 0.25 /h), IV route; `cl` = 0 makes a model with no
// elimination (no steady state exists).
Model one_cmt(double cl = 10.0) {
    Model m;
    m.name = "one_cmt";
    m.parameters = {param("V", 40.0, "L")};
    m.compartments = {{"central", "V", ""}};
    if (cl > 0) {
        m.parameters.push_back(param("CL", cl, "L/h"));
        m.flows = {{"central", "", "CL", false}};
    }
    Route iv;
    iv.name = "iv";
    iv.kind = RouteKind::iv;
    RouteBranch b;
    b.target = "central";
    iv.branches = {b};
    m.routes = {iv};
    m.outputs = {{"C_plasma", "central", "test", ""}};
    m.validate();
    return m;
}

DoseEvent ss_dose(double time, double amount, double interval, double duration = 0.0, const std::string& route = "iv") {
    DoseEvent e;
    e.time = time;
    e.amount = amount;
    e.route = route;
    e.duration = duration;
    e.steady_state = true;
    e.interval = interval;
    return e;
}

SimOptions tight_ode() {
    SimOptions o;
    o.solver = SolverKind::ode;
    o.rtol = test::kOdeTightSolverRtol;
    o.atol = test::kOdeTightSolverAtol;
    return o;
}

// (1) IV bolus D every tau: C(t) = (D / V) e^{-k t} / (1 - e^{-k tau}) for t in [0, tau) after a
// steady-state dose; peak (t = 0, just after the dose) (D/V) / (1 - e^{-k tau}), trough (t = tau,
// no further dose) (D/V) e^{-k tau} / (1 - e^{-k tau}). A plain dose before the steady-state dose
// is ignored (SS=1 resets the state), so it must not show.
TEST(SteadyState, OneCmtBolusClosedForm) {
    const double D = 100, V = 40, k = 0.25, tau = 12, T = 24;
    Regimen r;
    DoseEvent before;
    before.time = 5;
    before.amount = 500;
    r.add(before);
    r.add(ss_dose(T, D, tau));
    std::vector<double> times;
    for (int i = 0; i <= 24; ++i) times.push_back(T + 0.5 * i);
    const Model m = one_cmt();
    for (const SimOptions& opt : {SimOptions{}, tight_ode()}) {
        const Trajectory tr = simulate(m, r, OutputGrid::at(times), opt);
        const double rtol = opt.solver == SolverKind::exact ? test::kExactRtol : test::kOdeTightRtol;
        const auto c = tr["C_plasma"];
        for (std::size_t i = 0; i < times.size(); ++i) {
            const double t = times[i] - T;
            const double want = 1000.0 * D / V * std::exp(-k * t) / -std::expm1(-k * tau);
            EXPECT_TRUE(close_enough(c[static_cast<Eigen::Index>(i)], want, rtol, test::kConcAtol))
                << to_string(opt.solver) << " t = " << times[i] << ": " << c[static_cast<Eigen::Index>(i)] << " vs "
                << want;
        }
        // Peak and trough by name (the two numbers a clinician reads).
        const double peak = 1000.0 * D / V / -std::expm1(-k * tau);
        const double trough = peak * std::exp(-k * tau);
        EXPECT_TRUE(close_enough(c[0], peak, rtol, 0.0)) << c[0] << " vs " << peak;
        EXPECT_TRUE(close_enough(c[24], trough, rtol, 0.0)) << c[24] << " vs " << trough;
        // Only the steady-state dose counts as given (the earlier dose was dropped).
        EXPECT_DOUBLE_EQ(tr.dose_total_mg, D);
        EXPECT_EQ(tr.dose_times, std::vector<double>{T});
    }
}

// (2) Zero-order infusion of D over d every tau (rate R = D / d): trough
// C_min = (R / (k V)) (1 - e^{-k d}) e^{-k (tau - d)} / (1 - e^{-k tau}); during the infusion
// C(t) = C_min e^{-k t} + (R / (k V)) (1 - e^{-k t}); after it C(d) e^{-k (t - d)}.
TEST(SteadyState, OneCmtInfusionClosedForm) {
    const double D = 100, V = 40, k = 0.25, tau = 8, d = 2, R = D / d;
    Regimen r;
    r.add(ss_dose(0, D, tau, d));
    std::vector<double> times;
    for (int i = 0; i <= 32; ++i) times.push_back(0.25 * i);
    const double css = 1000.0 * R / (k * V);
    const double cmin = css * -std::expm1(-k * d) * std::exp(-k * (tau - d)) / -std::expm1(-k * tau);
    auto want = [&](double t) {
        if (t <= d) return cmin * std::exp(-k * t) + css * -std::expm1(-k * t);
        return (cmin * std::exp(-k * d) + css * -std::expm1(-k * d)) * std::exp(-k * (t - d));
    };
    for (const SimOptions& opt : {SimOptions{}, tight_ode()}) {
        const Trajectory tr = simulate(one_cmt(), r, OutputGrid::at(times), opt);
        const double rtol = opt.solver == SolverKind::exact ? test::kExactRtol : test::kOdeTightRtol;
        const auto c = tr["C_plasma"];
        for (std::size_t i = 0; i < times.size(); ++i)
            EXPECT_TRUE(close_enough(c[static_cast<Eigen::Index>(i)], want(times[i]), rtol, test::kConcAtol))
                << to_string(opt.solver) << " t = " << times[i] << ": " << c[static_cast<Eigen::Index>(i)] << " vs "
                << want(times[i]);
        // The trough at tau equals the trough the state was reset to at 0 (periodicity).
        EXPECT_TRUE(close_enough(c[32], cmin, rtol, 0.0)) << c[32] << " vs " << cmin;
    }
}

// (3) Library models: the steady-state dose equals the same dose simulated `kRepeats` times
// first. After 60 intervals the distance to the steady state is e^{-lambda_z 60 tau}, below
// 1e-12 for the library's terminal half-lives (at most ~30 h, tau >= 12 h), so the two agree to
// the exact solver's accuracy.
constexpr int kRepeats = 60;

struct LibraryCase {
    std::string model, route;
    double amount, interval, duration;
};

class SteadyStateLibrary : public ::testing::TestWithParam<LibraryCase> {};

// Compares every output over one interval after the steady-state dose, where an output exceeds
// kSignificantFraction of its maximum (elsewhere relative error is meaningless noise).
void expect_outputs_close(const Trajectory& got, const Trajectory& want, double rtol, const std::string& what) {
    ASSERT_EQ(got.names, want.names);
    double worst = 0.0;
    for (Eigen::Index k = 0; k < got.values.rows(); ++k) {
        const double peak = want.values.row(k).cwiseAbs().maxCoeff();
        for (Eigen::Index j = 0; j < got.values.cols(); ++j) {
            const double w = want.values(k, j), g = got.values(k, j);
            if (std::fabs(w) < test::kSignificantFraction * peak) continue;
            worst = std::max(worst, std::fabs(g - w) / std::fabs(w));
            EXPECT_TRUE(close_enough(g, w, rtol, 0.0)) << what << ": " << got.names[static_cast<std::size_t>(k)]
                                                       << " at t = " << got.time[static_cast<std::size_t>(j)] << ": "
                                                       << g << " vs " << w << " (rel " << (g - w) / w << ")";
        }
    }
    std::printf("%s: largest relative difference %.3g\n", what.c_str(), worst);
}

TEST_P(SteadyStateLibrary, EqualsManyRepeatedDoses) {
    const LibraryCase& p = GetParam();
    const Model m = load_library_model(p.model, kModelsDir);
    const double T = kRepeats * p.interval;
    Regimen ss;
    ss.add(ss_dose(T, p.amount, p.interval, p.duration, p.route));
    DoseEvent plain = ss.events[0];
    plain.steady_state = false;
    plain.interval = 0;
    plain.time = 0;
    Regimen repeated;
    repeated.add_repeated(plain, p.interval, kRepeats);   // doses at 0, tau, ..., T
    const OutputGrid grid = OutputGrid::uniform(T, T + p.interval, p.interval / 48);
    const Trajectory a = simulate(m, ss, grid);
    const Trajectory b = simulate(m, repeated, grid);
    expect_outputs_close(a, b, test::kExactRtol, "SS vs " + std::to_string(kRepeats) + " repeats");
    // (4) Both solvers agree after the steady-state reset.
    const Trajectory o = simulate(m, ss, grid, tight_ode());
    expect_outputs_close(o, a, test::kOdeTightRtol, "ode vs exact");
}

INSTANTIATE_TEST_SUITE_P(
    Library, SteadyStateLibrary,
    ::testing::Values(
        // One 28 mg device daily: nasal absorption plus the swallowed part's 0.53 h zero-order input.
        LibraryCase{"esketamine_nasal", "intranasal", 28.0, 24.0, 0.0},
        LibraryCase{"esketamine_nasal", "intranasal", 28.0, 12.0, 0.0},
        // 35 mg over 40 min every 12 h (Clements: two compartments, effect site).
        LibraryCase{"ketamine_iv_clements", "iv", 35.0, 12.0, 40.0 / 60.0}),
    [](const ::testing::TestParamInfo<LibraryCase>& i) {
        return i.param.model + "_" + std::to_string(static_cast<int>(i.param.interval)) + "h";
    });

// Amounts: at the reset the sinks restart from 0 and every other state holds its trough; the
// drug in the body just before the dose equals D e^{-k tau} / (1 - e^{-k tau}) (1 cmt).
TEST(SteadyState, SinksRestartFromZero) {
    const double D = 100, k = 0.25, tau = 12;
    Regimen r;
    r.add(ss_dose(0, D, tau));
    SimOptions opt;
    opt.output_amounts = true;
    const Trajectory tr = simulate(one_cmt(), r, OutputGrid::at({0.0, tau}), opt);
    const double body0 = D / -std::expm1(-k * tau);
    EXPECT_TRUE(close_enough(tr["A_central"][0], body0, test::kExactRtol, 0.0));
    // 0 up to the eigenbasis round trip (x = V V^-1 x_ss: ~1e-14 mg measured).
    EXPECT_NEAR(tr["A_eliminated"][0], 0.0, test::kExactRtol * D);
    // Over one interval at steady state exactly one dose is eliminated.
    EXPECT_TRUE(close_enough(tr["A_eliminated"][1], D, test::kExactRtol, 0.0)) << tr["A_eliminated"][1];
}

// NONMEM SS=1 with ADDL: the copies are plain doses given at the steady state, so the troughs
// stay at the steady-state trough.
TEST(SteadyState, AddRepeatedCopiesArePlainDoses) {
    const double D = 100, V = 40, k = 0.25, tau = 12;
    Regimen r;
    r.add_repeated(ss_dose(0, D, tau), tau, 3);
    ASSERT_EQ(r.events.size(), 4u);
    EXPECT_TRUE(r.events[0].steady_state);
    for (std::size_t i = 1; i < 4; ++i) {
        EXPECT_FALSE(r.events[i].steady_state);
        EXPECT_EQ(r.events[i].interval, 0.0);
    }
    const Trajectory tr = simulate(one_cmt(), r, OutputGrid::at({11.999999, 23.999999, 35.999999, 47.999999}));
    const double trough = 1000.0 * D / V * std::exp(-k * 11.999999) / -std::expm1(-k * tau);
    for (Eigen::Index j = 0; j < 4; ++j) EXPECT_TRUE(close_enough(tr["C_plasma"][j], trough, test::kExactRtol, 0.0));
}

// (5) Bad input is an InputError naming the field and the rule.
void expect_input_error(const Model& m, const DoseEvent& e, const std::string& needle) {
    Regimen r;
    r.add(e);
    try {
        simulate(m, r, OutputGrid::at({0.0, 1.0}));
        ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
    } catch (const InputError& err) {
        EXPECT_NE(std::string(err.what()).find(needle), std::string::npos) << err.what();
    }
}

TEST(SteadyState, BadInputIsAnError) {
    const Model m = one_cmt();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    for (double ii : {0.0, -12.0, nan, inf}) expect_input_error(m, ss_dose(0, 100, ii), "dose[0].interval");
    expect_input_error(m, ss_dose(0, 100, 2.0, 3.0), "longer than the steady-state interval");
    DoseEvent plain_with_ii;
    plain_with_ii.amount = 100;
    plain_with_ii.interval = 12;
    expect_input_error(m, plain_with_ii, "not steady state");
    // Inputs that outlast the interval through the route (the swallowed part of a nasal dose is a
    // 0.53 h zero-order input): the interval must cover them.
    const Model nasal = load_library_model("esketamine_nasal", kModelsDir);
    expect_input_error(nasal, ss_dose(0, 28, 0.3, 0.0, "intranasal"), "dose's inputs");
}

TEST(SteadyState, NoEliminationIsAnError) {
    Regimen r;
    r.add(ss_dose(0, 100, 12));
    EXPECT_THROW(simulate(one_cmt(0.0), r, OutputGrid::at({0.0, 1.0})), SolverError);
}

}   // namespace
}   // namespace ketasim
