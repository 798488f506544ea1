// The two solvers must agree (ARCHITECTURE.md, "Two solvers that must agree") on every model
// of the library and every route of each model: the cases are generated from models/index.toml,
// so a model added there is covered without touching this file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ketasim/ketasim.hpp"
#include "tolerances.hpp"

namespace ketasim {
namespace {

using test::close_enough;

const std::string kModelsDir = KETASIM_TEST_MODELS_DIR;
const std::vector<double> kDoseDays = {0, 2, 4};
constexpr double kEndH = 120.0;

struct Case {
    std::string model, route;
};

std::vector<Case> route_cases() {
    std::vector<Case> out;
    try {
        for (const auto& entry : list_models(kModelsDir)) {
            const Model m = load_library_model(entry.name, kModelsDir);
            for (const auto& r : m.route_names()) out.push_back({entry.name, r});
        }
    } catch (const std::exception& e) {
        // Reported by LibraryLoads below; an empty list must not crash test discovery.
        std::fprintf(stderr, "solver_agreement_test: cannot enumerate the model library: %s\n", e.what());
    }
    return out;
}

std::vector<std::string> model_names() {
    std::vector<std::string> out;
    try {
        for (const auto& entry : list_models(kModelsDir)) out.push_back(entry.name);
    } catch (const std::exception&) {
    }
    return out;
}

// The regimen a route is exercised with, on days 0, 2, 4:
//   iv: 0.5 mg/kg infusions over 40 min (the racemic-ketamine depression regimen);
//   intranasal: 84 mg sessions of three 28 mg devices 5 min apart (device_factor in play);
//   anything else (oral, im, sc): 50 mg doses.
Regimen regimen_for(const Route& r) {
    Regimen reg;
    if (r.kind == RouteKind::iv) {
        DoseEvent e;
        e.amount = 0.5;
        e.per_kg = true;
        e.route = r.name;
        e.duration = 40.0 / 60.0;
        reg.add_on_days(e, kDoseDays);
    } else if (r.kind == RouteKind::intranasal) {
        std::vector<double> times;
        for (double d : kDoseDays) times.push_back(24.0 * d);
        reg = Regimen::intranasal(84.0, times, 28.0, 5.0 / 60.0, r.name);
    } else {
        DoseEvent e;
        e.amount = 50.0;
        e.route = r.name;
        reg.add_on_days(e, kDoseDays);
    }
    return reg;
}

// t_i = i / per_hour: whole hours are exact binary values, shared by coarse and fine grids.
OutputGrid grid(double end_h, int per_hour) {
    std::vector<double> t;
    const int n = static_cast<int>(std::lround(end_h * per_hour));
    for (int i = 0; i <= n; ++i) t.push_back(static_cast<double>(i) / per_hour);
    return OutputGrid::at(t);
}

SimOptions ode_options(OdeMethod method) {
    SimOptions o;
    o.solver = SolverKind::ode;
    o.method = method;
    o.rtol = method == OdeMethod::dopri5 ? test::kOdeTightSolverRtol : test::kRosenbrockSolverRtol;
    o.atol = method == OdeMethod::dopri5 ? test::kOdeTightSolverAtol : test::kRosenbrockSolverAtol;
    return o;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
    std::string s = info.param.model + "_" + info.param.route;
    for (char& c : s)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    return s;
}

// Amount (mg) the regimen has delivered into the system by time t: each branch's bolus once its
// (lagged) time has come, each zero-order input in proportion to the elapsed fraction, and the
// part no branch takes (recorded in `unabsorbed`) at the dose time. Computed from the route
// definitions here, independently of the solvers' input schedule.
double delivered_by(const LinearSystem& sys, const Regimen& reg, double weight, double t) {
    double total = 0;
    for (const auto& e : reg.events) {
        const double amt = e.amount_mg(weight);
        const ResolvedRoute& r = sys.route(e.route);
        const std::vector<double> fr = r.fractions(e.device);
        double taken = 0;
        for (std::size_t b = 0; b < r.branches.size(); ++b) {
            taken += fr[b];
            const double start = e.time + r.branches[b].lag;
            const double dur = r.branches[b].duration > 0 ? r.branches[b].duration : e.duration;
            if (dur > 0)
                total += amt * fr[b] * std::clamp((t - start) / dur, 0.0, 1.0);
            else if (t >= start)
                total += amt * fr[b];
        }
        if (t >= e.time) total += amt * std::max(0.0, 1.0 - taken);
    }
    return total;
}

TEST(SolverAgreement, LibraryLoads) {
    const auto entries = list_models(kModelsDir);
    ASSERT_FALSE(entries.empty()) << kModelsDir << "/index.toml lists no models";
    for (const auto& entry : entries) EXPECT_NO_THROW(load_library_model(entry.name, kModelsDir)) << entry.name;
    EXPECT_FALSE(route_cases().empty());
}

// ---- per model and route -----------------------------------------------------------------------

class RouteAgreement : public ::testing::TestWithParam<Case> {
protected:
    void SetUp() override {
        model_ = load_library_model(GetParam().model, kModelsDir);
        regimen_ = regimen_for(model_.route(GetParam().route));
    }
    Model model_;
    Regimen regimen_;
    Subject subject_;   // 70 kg, 40 y
};

TEST_P(RouteAgreement, OdeMatchesExact) {
    // On the model's outputs (concentrations, effect site). Amounts are not compared here: a
    // depot emptied to 1e-5 of its peak sits at the solver's atol, where a relative error says
    // nothing; they are held to mass balance below instead.
    const OutputGrid g = grid(kEndH, 10);
    const Trajectory ex = simulate(model_, regimen_, g, SimOptions{}, subject_);
    for (OdeMethod method : {OdeMethod::dopri5, OdeMethod::rosenbrock4}) {
        const SimOptions o = ode_options(method);
        const Trajectory od = simulate(model_, regimen_, g, o, subject_);
        ASSERT_EQ(od.names, ex.names);
        ASSERT_EQ(od.time, ex.time);
        const double rtol = method == OdeMethod::dopri5 ? test::kOdeTightRtol : test::kRosenbrockRtol;
        double worst = 0;
        std::string worst_at;
        for (Eigen::Index r = 0; r < ex.values.rows(); ++r) {
            const double peak = ex.values.row(r).cwiseAbs().maxCoeff();
            for (Eigen::Index i = 0; i < ex.values.cols(); ++i) {
                const double want = ex.values(r, i), got = od.values(r, i);
                if (!(std::fabs(want) > test::kSignificantFraction * peak)) continue;
                const double rel = std::fabs(got - want) / std::fabs(want);
                if (rel > worst) {
                    worst = rel;
                    worst_at = ex.names[r] + " at t = " + std::to_string(ex.time[i]) + " h";
                }
                EXPECT_TRUE(close_enough(got, want, rtol, 0.0))
                    << to_string(method) << ": " << ex.names[r] << " at t = " << ex.time[i] << " h: ode " << got
                    << ", exact " << want << " (rel " << rel << ")";
                if (HasFailure()) return;   // one precise message, not thousands
            }
        }
        std::printf("[ max err  ] %-40s %-12s rel %.3e (%s)\n", (GetParam().model + "/" + GetParam().route).c_str(),
                    to_string(method), worst, worst_at.c_str());
    }
}

TEST_P(RouteAgreement, MassBalance) {
    // Sum of every amount state (compartments + eliminated + unabsorbed) = amount dosed so far,
    // at every output time, for both solvers. Event times are included so that the check also
    // runs at each dose, device and infusion start/stop.
    const LinearSystem sys = compile(model_, subject_);
    for (SimOptions o : {SimOptions{}, ode_options(OdeMethod::dopri5), ode_options(OdeMethod::rosenbrock4)}) {
        o.output_amounts = true;
        o.include_event_times = true;
        const Trajectory tr = simulate(model_, regimen_, grid(kEndH, 2), o, subject_);
        std::vector<Eigen::Index> rows;
        for (std::size_t r = 0; r < tr.names.size(); ++r)
            if (tr.names[r].rfind("A_", 0) == 0) rows.push_back(static_cast<Eigen::Index>(r));
        ASSERT_EQ(rows.size(), static_cast<std::size_t>(model_.compartments.size() + 2))
            << "expected A_<compartment> for every compartment plus A_eliminated and A_unabsorbed";
        double worst = 0;
        for (std::size_t i = 0; i < tr.time.size(); ++i) {
            double sum = 0;
            for (Eigen::Index r : rows) sum += tr.values(r, static_cast<Eigen::Index>(i));
            const double dosed = delivered_by(sys, regimen_, subject_.weight_kg, tr.time[i]);
            if (dosed > 0) worst = std::max(worst, std::fabs(sum - dosed) / dosed);
            ASSERT_TRUE(close_enough(sum, dosed, test::kMassBalanceRtol, 0.0))
                << to_string(o.solver) << "/" << to_string(o.method) << " at t = " << tr.time[i]
                << " h: sum of amounts " << sum << " mg, dosed so far " << dosed << " mg";
        }
        const double at_end = delivered_by(sys, regimen_, subject_.weight_kg, tr.time.back());
        EXPECT_NEAR(at_end, tr.dose_total_mg, test::kMassBalanceRtol * tr.dose_total_mg);
        std::printf("[ mass bal ] %-40s %-12s rel %.3e\n", (GetParam().model + "/" + GetParam().route).c_str(),
                    o.solver == SolverKind::exact ? "exact" : to_string(o.method), worst);
    }
}

TEST_P(RouteAgreement, OutputIndependentOfGrid) {
    // Coarse (1 h) and fine (3 min) grids share the whole-hour times exactly; the exact solver's
    // values there differ only by roundoff.
    const Trajectory coarse = simulate(model_, regimen_, grid(kEndH, 1), SimOptions{}, subject_);
    const Trajectory fine = simulate(model_, regimen_, grid(kEndH, 20), SimOptions{}, subject_);
    ASSERT_EQ(coarse.time.size() * 20 - 19, fine.time.size());
    double worst = 0;
    for (Eigen::Index r = 0; r < coarse.values.rows(); ++r) {
        const double peak = fine.values.row(r).cwiseAbs().maxCoeff();
        for (Eigen::Index i = 0; i < coarse.values.cols(); ++i) {
            ASSERT_EQ(coarse.time[static_cast<std::size_t>(i)], fine.time[static_cast<std::size_t>(20 * i)]);
            const double a = coarse.values(r, i), b = fine.values(r, 20 * i);
            if (std::fabs(b) > test::kSignificantFraction * peak)
                worst = std::max(worst, std::fabs(a - b) / std::fabs(b));
            EXPECT_TRUE(close_enough(a, b, test::kGridRtol, test::kGridRtol * test::kSignificantFraction * peak))
                << coarse.names[r] << " at t = " << coarse.time[static_cast<std::size_t>(i)] << " h: coarse " << a
                << ", fine " << b;
        }
    }
    std::printf("[ grid     ] %-40s rel %.3e\n", (GetParam().model + "/" + GetParam().route).c_str(), worst);
}

TEST_P(RouteAgreement, SelectedOutputsMatchFullRun) {
    // SimOptions::outputs records one output alone; both solvers then propagate only the states
    // that output depends on (a different, smaller eigenproblem; a smaller ODE system whose steps
    // differ). The exact solver must give the full run's values to rounding, the ODE solver its
    // own accuracy (kOdeTightRtol, and kOdeConcAtol in the tail: its atol per state).
    const OutputGrid g = grid(kEndH, 10);
    const Trajectory full = simulate(model_, regimen_, g, SimOptions{}, subject_);
    for (const auto& name : full.names) {
        for (SimOptions o : {SimOptions{}, ode_options(OdeMethod::dopri5)}) {
            o.outputs = {name};
            const Trajectory one = simulate(model_, regimen_, g, o, subject_);
            ASSERT_EQ(one.names, std::vector<std::string>{name});
            const auto want = full[name];
            const auto got = one[name];
            const double peak = want.cwiseAbs().maxCoeff();
            const double rtol = o.solver == SolverKind::exact ? test::kGridRtol : test::kOdeTightRtol;
            for (Eigen::Index i = 0; i < want.size(); ++i)
                ASSERT_TRUE(close_enough(got[i], want[i], rtol,
                                         rtol * test::kSignificantFraction * peak +
                                             (o.solver == SolverKind::ode ? test::kOdeConcAtol : 0.0)))
                    << to_string(o.solver) << ": " << name << " alone at t = " << full.time[static_cast<std::size_t>(i)]
                    << " h: " << got[i] << ", full run " << want[i];
        }
    }
}

TEST_P(RouteAgreement, OutputsZeroUntilDrugArrives) {
    // At the instant of the first dose no time has passed: every output is exactly 0 except one
    // read from the dosed state itself (plasma after an IV bolus). The exact solver works in an
    // eigenbasis and must not report the change-of-basis rounding (~1e-14) as a concentration.
    SimOptions o;
    o.include_event_times = true;
    const Trajectory tr = simulate(model_, regimen_, OutputGrid::at({0.0}), o, subject_);
    for (std::size_t r = 0; r < tr.names.size(); ++r)
        EXPECT_EQ(tr.values(static_cast<Eigen::Index>(r), 0), 0.0)
            << tr.names[r] << " at the first dose (every regimen here starts with an infusion or a depot dose)";
}

TEST(SimOptionsOutputs, UnknownOrRepeatedOutputIsAnInputError) {
    const Model m = load_library_model("ketamine_iv_clements", kModelsDir);
    const Regimen r = Regimen::iv_bolus(35, {0});
    SimOptions o;
    o.outputs = {"C_plasma", "C_nonsense"};
    try {
        simulate(m, r, OutputGrid::uniform(0, 1, 0.5), o);
        FAIL() << "expected InputError";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("SimOptions.outputs[1]: 'C_nonsense' is not an output"), std::string::npos)
            << e.what();
    }
    o.outputs = {"C_plasma", "C_plasma"};
    EXPECT_THROW(simulate(m, r, OutputGrid::uniform(0, 1, 0.5), o), InputError);
}

INSTANTIATE_TEST_SUITE_P(Library, RouteAgreement, ::testing::ValuesIn(route_cases()), case_name);

// ---- per model ---------------------------------------------------------------------------------

class ModelChecks : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override { model_ = load_library_model(GetParam(), kModelsDir); }
    // An IV route of the model, or "" if it has none.
    std::string iv_route() const {
        for (const auto& r : model_.routes)
            if (r.kind == RouteKind::iv) return r.name;
        return "";
    }
    Model model_;
};

TEST_P(ModelChecks, EffectSiteLagsPlasma) {
    if (!model_.effect_site) GTEST_SKIP() << GetParam() << " has no [effect_site]";
    const std::string iv = iv_route();
    if (iv.empty()) GTEST_SKIP() << GetParam() << " has no iv route";
    DoseEvent e;
    e.amount = 35;
    e.route = iv;
    const Trajectory tr = simulate(model_, Regimen().add(e), grid(6.0, 120));   // 30 s steps
    const Metrics cp = compute_metrics(tr, model_.effect_site->driver);
    const Metrics ce = compute_metrics(tr, model_.effect_site->name);
    EXPECT_EQ(tr[model_.effect_site->name][0], 0.0) << "Ce starts at zero";
    EXPECT_GT(ce.tmax, cp.tmax) << "effect-site peak must come after the plasma peak";
    EXPECT_LT(ce.cmax, cp.cmax) << "after a bolus the effect site never reaches the plasma peak";
    // dCe/dt = ke0 (Cp - Ce): Ce rises while Cp > Ce and falls after, so the curves cross at the
    // effect-site peak (between the grid points around it).
    const auto cpv = tr[model_.effect_site->driver];
    const auto cev = tr[model_.effect_site->name];
    const Eigen::Index i = static_cast<Eigen::Index>(std::lround(ce.tmax * 120));
    ASSERT_GT(i, 0);
    ASSERT_LT(i + 1, cev.size());
    EXPECT_GT(cpv[i - 1], cev[i - 1]);
    EXPECT_LT(cpv[i + 1], cev[i + 1]);
}

TEST_P(ModelChecks, IncludeEventTimesAddsInfusionStops) {
    const std::string iv = iv_route();
    if (iv.empty()) GTEST_SKIP() << GetParam() << " has no iv route";
    DoseEvent e;
    e.time = 0.25;
    e.amount = 35;
    e.route = iv;
    e.duration = 40.0 / 60.0;
    const Regimen reg = Regimen().add(e);
    // Neither start nor stop is on the grid. (It starts at 0.5 h, not 0: an output at 0 h before
    // the first dose is the separate dopri5 crash of MorningDosesWithOutputsFromMidnight.)
    const OutputGrid g = OutputGrid::at({0.5, 1.0, 1.5, 2.0});
    const double stop = e.time + e.duration;
    for (SolverKind solver : {SolverKind::exact, SolverKind::ode}) {
        SimOptions o;
        o.solver = solver;
        const Trajectory plain = simulate(model_, reg, g, o);
        EXPECT_EQ(plain.time, g.times);
        o.include_event_times = true;
        const Trajectory with = simulate(model_, reg, g, o);
        std::vector<double> expected = g.times;
        expected.push_back(e.time);
        expected.push_back(stop);
        std::sort(expected.begin(), expected.end());
        EXPECT_EQ(with.time, expected) << to_string(solver);
        // The value at the added stop time is the one an explicit output time there gives.
        const Trajectory at_stop = simulate(model_, reg, OutputGrid::at({stop}), SimOptions{});
        const auto it = std::find(with.time.begin(), with.time.end(), stop);
        ASSERT_NE(it, with.time.end());
        const double rtol = solver == SolverKind::exact ? test::kExactRtol : 1e-6;   // default ode rtol 1e-8
        for (const auto& name : at_stop.names)
            EXPECT_TRUE(close_enough(with[name][it - with.time.begin()], at_stop[name][0], rtol, 0.0))
                << name << " " << to_string(solver);
    }
}

TEST_P(ModelChecks, MorningDosesWithOutputsFromMidnight) {
    // Doses at 08:00 on days 0, 2, 4 with the output grid from 0 h: the first outputs precede
    // the first dose. Both ODE methods must still match the exact solver. The dopri5 run is
    // first made in a forked child: it crashed on this input (see closed_form_test.cpp,
    // OdeDopri5OutputAtTimeZeroWithoutDoseThere), and a crash must fail this test only.
    for (const auto& route : model_.routes) {
        Regimen reg = regimen_for(route);
        for (auto& e : reg.events) e.time += 8.0;
        const OutputGrid g = grid(kEndH, 4);
        const Trajectory ex = simulate(model_, reg, g);
        for (OdeMethod method : {OdeMethod::rosenbrock4, OdeMethod::dopri5}) {
            const SimOptions o = ode_options(method);
            ASSERT_EXIT(
                {
                    simulate(model_, reg, g, o);
                    std::exit(0);
                },
                ::testing::ExitedWithCode(0), "")
                << GetParam() << "/" << route.name << ": " << to_string(method) << " crashed";
            const Trajectory od = simulate(model_, reg, g, o);
            const double rtol = method == OdeMethod::dopri5 ? test::kOdeTightRtol : test::kRosenbrockRtol;
            for (Eigen::Index r = 0; r < ex.values.rows(); ++r) {
                const double peak = ex.values.row(r).cwiseAbs().maxCoeff();
                for (Eigen::Index i = 0; i < ex.values.cols(); ++i) {
                    const double want = ex.values(r, i), got = od.values(r, i);
                    // Before the first dose both must be exactly zero.
                    const double atol = test::kSignificantFraction * peak * rtol;
                    ASSERT_TRUE(close_enough(got, want, rtol, atol))
                        << route.name << " " << to_string(method) << ": " << ex.names[r]
                        << " at t = " << ex.time[static_cast<std::size_t>(i)] << " h: ode " << got << ", exact "
                        << want;
                }
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Library, ModelChecks, ::testing::ValuesIn(model_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}   // namespace
}   // namespace ketasim
