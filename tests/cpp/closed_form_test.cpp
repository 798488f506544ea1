// Closed-form pharmacokinetics versus both solvers (exact matrix exponential; Boost.Odeint
// dopri5 at tight tolerance, rosenbrock4 once), element by element with explicit rtol/atol.
// Closed forms: Gibaldi & Perrier, Pharmacokinetics (2nd ed.), ch. 1-2 (one compartment: bolus,
// zero-order infusion, first-order absorption incl. ka == k) and ch. 2 (two compartments:
// alpha, beta, A, B from k10, k12, k21).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "ketasim/ketasim.hpp"
#include "tolerances.hpp"

namespace ketasim {
namespace {

using test::close_enough;

// ---- model construction ----------------------------------------------------------------------

Parameter param(const std::string& name, double value, const std::string& unit) {
    Parameter p;
    p.name = name;
    p.value = value;
    p.unit = unit;
    p.unit_info = parse_unit(unit);
    p.source = "closed_form_test";
    return p;
}

RouteBranch branch(const std::string& target, std::vector<std::string> fraction = {}) {
    RouteBranch b;
    b.target = target;
    b.fraction = std::move(fraction);
    return b;
}

// One disposition compartment (V, CL) with three routes:
//   iv:         central
//   oral:       fraction F to `gut` (ka), after lag `tlag` when tlag_h > 0
//   intranasal: FRn (device 1) or FRn * DF (devices 2, 3, ...) to `nasal` (ka_n); the remainder
//               times Fg to `gut`
struct OneCmtSpec {
    double V = 40.0;    // L
    double CL = 10.0;   // L/h  -> k = 0.25 /h
    double ka = 1.5;    // 1/h
    double F = 0.7;
    double tlag_h = 0.0;
    double ka_n = 3.0;   // 1/h
    double FRn = 0.5;
    double DF = 0.6;
    double Fg = 0.3;
    double cl_allometric_exponent = 0.0;
    double cl_age_slope = 0.0;   // L/h per year above 60
    double k() const { return CL / V; }
};

Model one_cmt(const OneCmtSpec& s) {
    Model m;
    m.name = "one_cmt";
    m.parameters = {param("V", s.V, "L"),   param("CL", s.CL, "L/h"),     param("ka", s.ka, "1/h"),
                    param("F", s.F, "1"),   param("ka_n", s.ka_n, "1/h"), param("FRn", s.FRn, "1"),
                    param("DF", s.DF, "1"), param("Fg", s.Fg, "1")};
    m.parameters[1].allometric_exponent = s.cl_allometric_exponent;
    m.parameters[1].age_slope = s.cl_age_slope;
    if (s.tlag_h > 0) m.parameters.push_back(param("tlag", s.tlag_h * 60.0, "min"));   // unit conversion too
    m.compartments = {{"gut", "", ""}, {"nasal", "", ""}, {"central", "V", ""}};
    m.flows = {{"gut", "central", "ka", false}, {"nasal", "central", "ka_n", false}, {"central", "", "CL", false}};
    Route iv;
    iv.name = "iv";
    iv.kind = RouteKind::iv;
    iv.branches = {branch("central")};
    Route oral;
    oral.name = "oral";
    oral.kind = RouteKind::oral;
    oral.branches = {branch("gut", {"F"})};
    if (s.tlag_h > 0) oral.branches[0].lag = "tlag";
    Route nasal;
    nasal.name = "intranasal";
    nasal.kind = RouteKind::intranasal;
    nasal.branches = {branch("nasal", {"FRn"}), branch("gut", {"Fg"})};
    nasal.branches[0].device_factor = "DF";
    nasal.branches[1].remainder = true;
    m.routes = {iv, oral, nasal};
    m.outputs = {{"C_plasma", "central", "test", ""}};
    m.validate();
    return m;
}

// Two compartments with micro-constants in 1/min and V1 in L/kg (as the Clements model), so the
// closed forms also check the unit conversions: k [1/h] = 60 k [1/min], V1 [L] = W v1 [L/kg].
struct TwoCmtSpec {
    double v1 = 1.75;      // L/kg
    double k10 = 0.0109;   // 1/min
    double k12 = 0.0186;
    double k21 = 0.0137;
    double weight = 70.0;
    double V1() const { return v1 * weight; }
};

Model two_cmt(const TwoCmtSpec& s) {
    Model m;
    m.name = "two_cmt";
    m.parameters = {param("V1", s.v1, "L/kg"), param("k10", s.k10, "1/min"), param("k12", s.k12, "1/min"),
                    param("k21", s.k21, "1/min")};
    m.compartments = {{"central", "V1", ""}, {"peripheral", "", ""}};
    m.flows = {{"central", "", "k10", false},
               {"central", "peripheral", "k12", false},
               {"peripheral", "central", "k21", false}};
    Route iv;
    iv.name = "iv";
    iv.kind = RouteKind::iv;
    iv.branches = {branch("central")};
    m.routes = {iv};
    m.outputs = {{"C_plasma", "central", "test", ""}};
    m.validate();
    return m;
}

// ---- closed forms (ng/mL; 1 mg/L = 1000 ng/mL) ------------------------------------------------

// 1 - exp(-x), accurate for small x.
double one_minus_exp(double x) { return -std::expm1(-x); }

double c1_bolus(double dose, double V, double k, double t) {
    return t < 0 ? 0.0 : 1000.0 * dose / V * std::exp(-k * t);
}

// Zero-order input of `dose` over T starting at 0.
double c1_infusion(double dose, double T, double V, double k, double t) {
    if (t <= 0) return 0.0;
    const double css = 1000.0 * dose / T / (V * k);
    if (t <= T) return css * one_minus_exp(k * t);
    return css * one_minus_exp(k * T) * std::exp(-k * (t - T));
}

// First-order absorption of `dose_abs` (bioavailable amount) at 0 (Bateman); ka == k gives the
// limit C = D ka t e^{-kt} / V.
double c1_oral(double dose_abs, double V, double k, double ka, double t) {
    if (t <= 0) return 0.0;
    if (ka == k) return 1000.0 * dose_abs * ka * t * std::exp(-k * t) / V;
    // e^{-kt} - e^{-ka t} = e^{-kt} (1 - e^{-(ka-k)t}), without cancellation at small t.
    return 1000.0 * dose_abs * ka / (V * (ka - k)) * std::exp(-k * t) * one_minus_exp((ka - k) * t);
}

struct Biexp {
    double alpha, beta, A, B;   // C(t) = dose/V1 (A e^{-alpha t} + B e^{-beta t}), A + B = 1
};

Biexp biexp(double k10, double k12, double k21) {
    const double s = k10 + k12 + k21;
    const double alpha = 0.5 * (s + std::sqrt(s * s - 4.0 * k10 * k21));
    const double beta = k10 * k21 / alpha;   // alpha beta = k10 k21, without cancellation
    return {alpha, beta, (alpha - k21) / (alpha - beta), (k21 - beta) / (alpha - beta)};
}

double c2_bolus(double dose, double V1, const Biexp& b, double t) {
    if (t < 0) return 0.0;
    return 1000.0 * dose / V1 * (b.A * std::exp(-b.alpha * t) + b.B * std::exp(-b.beta * t));
}

double c2_infusion(double dose, double T, double V1, const Biexp& b, double t) {
    if (t <= 0) return 0.0;
    const double R = dose / T;
    const double tt = std::min(t, T);
    const double after = std::max(0.0, t - T);
    return 1000.0 * R / V1 *
           (b.A / b.alpha * one_minus_exp(b.alpha * tt) * std::exp(-b.alpha * after) +
            b.B / b.beta * one_minus_exp(b.beta * tt) * std::exp(-b.beta * after));
}

// ---- helpers ---------------------------------------------------------------------------------

SimOptions exact_options() { return SimOptions{}; }

SimOptions dopri5_tight() {
    SimOptions o;
    o.solver = SolverKind::ode;
    o.method = OdeMethod::dopri5;
    o.rtol = test::kOdeTightSolverRtol;
    o.atol = test::kOdeTightSolverAtol;
    return o;
}

SimOptions rosenbrock() {
    SimOptions o;
    o.solver = SolverKind::ode;
    o.method = OdeMethod::rosenbrock4;
    o.rtol = test::kRosenbrockSolverRtol;
    o.atol = test::kRosenbrockSolverAtol;
    return o;
}

// Grid t_i = i / per_hour, i = 0..hours*per_hour: exact binary values at whole hours.
OutputGrid grid(int hours, int per_hour) {
    std::vector<double> t;
    for (int i = 0; i <= hours * per_hour; ++i) t.push_back(static_cast<double>(i) / per_hour);
    return OutputGrid::at(t);
}

DoseEvent dose(double time, double amount, const std::string& route, double duration = 0.0, int device = 1) {
    DoseEvent e;
    e.time = time;
    e.amount = amount;
    e.route = route;
    e.duration = duration;
    e.device = device;
    return e;
}

// Every point of `output` within rtol/atol of want(t); reports the worst point and prints the
// maximum relative error (over points above 1e-6 of the peak) for the record.
::testing::AssertionResult matches(const Trajectory& tr, const std::string& output,
                                   const std::function<double(double)>& want, double rtol, double atol,
                                   const std::string& label) {
    const auto y = tr[output];
    double peak = 0, max_rel = 0, max_abs = 0;
    for (double t : tr.time) peak = std::max(peak, std::fabs(want(t)));
    int bad = 0;
    std::string first_bad;
    for (std::size_t i = 0; i < tr.time.size(); ++i) {
        const double w = want(tr.time[i]), g = y[static_cast<Eigen::Index>(i)];
        const double err = std::fabs(g - w);
        max_abs = std::max(max_abs, err);
        if (std::fabs(w) > test::kSignificantFraction * peak) max_rel = std::max(max_rel, err / std::fabs(w));
        if (!close_enough(g, w, rtol, atol)) {
            if (bad++ == 0) {
                char buf[256];
                std::snprintf(buf, sizeof buf,
                              "t = %.17g h: got %.17g, closed form %.17g (rel %.3g, rtol %.3g, atol %.3g)", tr.time[i],
                              g, w, err / std::fabs(w), rtol, atol);
                first_bad = buf;
            }
        }
    }
    std::printf("[ max err  ] %-48s rel %.3e  abs %.3e ng/mL\n", label.c_str(), max_rel, max_abs);
    if (bad == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << label << ": " << bad << " of " << tr.time.size()
                                         << " points outside tolerance; first at " << first_bad;
}

// Runs the exact solver and dopri5 (tight) and checks both against the closed form.
void check_both_solvers(const Model& m, const Regimen& reg, const OutputGrid& g,
                        const std::function<double(double)>& want, const std::string& label,
                        const Subject& subject = {}) {
    const Trajectory ex = simulate(m, reg, g, exact_options(), subject);
    EXPECT_TRUE(matches(ex, "C_plasma", want, test::kExactRtol, test::kConcAtol, label + " exact"));
    const Trajectory od = simulate(m, reg, g, dopri5_tight(), subject);
    EXPECT_TRUE(matches(od, "C_plasma", want, test::kOdeTightRtol, test::kOdeConcAtol, label + " dopri5"));
}

// ---- one compartment ---------------------------------------------------------------------------

TEST(ClosedForm, OneCmtIvBolus) {
    const OneCmtSpec s;
    const Model m = one_cmt(s);
    const double D = 100;
    check_both_solvers(
        m, Regimen().add(dose(0, D, "iv")), grid(24, 4), [&](double t) { return c1_bolus(D, s.V, s.k(), t); },
        "1-cmt bolus");
}

TEST(ClosedForm, OneCmtIvBolusRosenbrock4) {
    const OneCmtSpec s;
    const Model m = one_cmt(s);
    const double D = 100;
    const Trajectory tr = simulate(m, Regimen().add(dose(0, D, "iv")), grid(24, 4), rosenbrock());
    EXPECT_TRUE(matches(
        tr, "C_plasma", [&](double t) { return c1_bolus(D, s.V, s.k(), t); }, test::kRosenbrockRtol, test::kOdeConcAtol,
        "1-cmt bolus rosenbrock4"));
}

TEST(ClosedForm, OneCmtZeroOrderInfusionDuringAndAfter) {
    const OneCmtSpec s;
    const Model m = one_cmt(s);
    const double D = 60, T = 40.0 / 60.0;   // 40 min infusion, ends between grid points
    const OutputGrid g = grid(12, 12);      // 5 min steps: 8 points during the infusion
    check_both_solvers(
        m, Regimen().add(dose(0, D, "iv", T)), g, [&](double t) { return c1_infusion(D, T, s.V, s.k(), t); },
        "1-cmt infusion");
    // A point exactly at the end of the infusion and just after it.
    const double t_end = T;
    const Trajectory ex = simulate(m, Regimen().add(dose(0, D, "iv", T)), OutputGrid::at({t_end, t_end + 1e-3}));
    EXPECT_NEAR(ex["C_plasma"][0], c1_infusion(D, T, s.V, s.k(), t_end), test::kExactRtol * ex["C_plasma"][0]);
    EXPECT_NEAR(ex["C_plasma"][1], c1_infusion(D, T, s.V, s.k(), t_end + 1e-3), test::kExactRtol * ex["C_plasma"][1]);
}

TEST(ClosedForm, OneCmtFirstOrderAbsorptionBateman) {
    const OneCmtSpec s;
    const Model m = one_cmt(s);
    const double D = 100;
    check_both_solvers(
        m, Regimen().add(dose(0, D, "oral")), grid(24, 4),
        [&](double t) { return c1_oral(s.F * D, s.V, s.k(), s.ka, t); }, "1-cmt Bateman");
}

TEST(ClosedForm, OneCmtEqualRateConstantsKaEqualsK) {
    // The classic closed-form trap: ka == k divides by zero in Bateman's formula. The solvers
    // have no formula to break (a defective matrix for expm), but they must reach the limit.
    OneCmtSpec s;
    s.ka = s.k();
    ASSERT_EQ(s.ka, 0.25);
    const Model m = one_cmt(s);
    const double D = 100;
    check_both_solvers(
        m, Regimen().add(dose(0, D, "oral")), grid(48, 4),
        [&](double t) { return c1_oral(s.F * D, s.V, s.k(), s.ka, t); }, "1-cmt ka == k");
    // Peak of t e^{-kt} at t = 1/k = 4 h.
    const Trajectory ex = simulate(m, Regimen().add(dose(0, D, "oral")), grid(48, 4));
    const Metrics mt = compute_metrics(ex, "C_plasma");
    EXPECT_DOUBLE_EQ(mt.tmax, 4.0);
}

TEST(ClosedForm, OneCmtRepeatedOralDosesSuperposition) {
    const OneCmtSpec s;
    const Model m = one_cmt(s);
    const double D = 50;
    const std::vector<double> times = {0, 8, 16};
    Regimen reg;
    for (double t0 : times) reg.add(dose(t0, D, "oral"));
    check_both_solvers(
        m, reg, grid(36, 4),
        [&](double t) {
            double c = 0;
            for (double t0 : times) c += c1_oral(s.F * D, s.V, s.k(), s.ka, t - t0);
            return c;
        },
        "1-cmt 3 oral doses");
}

TEST(ClosedForm, RegimenEqualsSumOfShiftedSingleDoses) {
    // Linearity and time invariance through the simulator itself: one 3-dose run equals three
    // single-dose runs shifted by the dose times (on a grid where the shifts are grid points).
    const OneCmtSpec s1;
    const TwoCmtSpec s2;
    struct Case {
        Model model;
        DoseEvent first;
        std::string label;
    };
    const std::vector<Case> cases = {{one_cmt(s1), dose(0, 50, "oral"), "1-cmt oral"},
                                     {one_cmt(s1), dose(0, 50, "intranasal"), "1-cmt intranasal"},
                                     {two_cmt(s2), dose(0, 35, "iv", 0.5), "2-cmt infusion"}};
    const std::vector<double> shifts = {0, 6, 13.5};
    const OutputGrid g = grid(30, 4);
    for (const auto& c : cases) {
        for (const SimOptions& opt : {exact_options(), dopri5_tight()}) {
            const Trajectory single = simulate(c.model, Regimen().add(c.first), g, opt);
            Regimen reg;
            for (double sh : shifts) {
                DoseEvent e = c.first;
                e.time = sh;
                reg.add(e);
            }
            const Trajectory multi = simulate(c.model, reg, g, opt);
            const auto y1 = single["C_plasma"];
            const double rtol = opt.solver == SolverKind::exact ? test::kExactRtol : test::kOdeTightRtol;
            const double atol = opt.solver == SolverKind::exact ? test::kConcAtol : test::kOdeConcAtol;
            EXPECT_TRUE(matches(
                multi, "C_plasma",
                [&](double t) {
                    double sum = 0;
                    for (double sh : shifts) {
                        const long i = std::lround((t - sh) * 4.0);   // grid index of t - shift
                        if (t - sh >= 0) sum += y1[i];
                    }
                    return sum;
                },
                rtol, atol, c.label + " 3 doses vs shifted single, " + to_string(opt.solver)));
            EXPECT_DOUBLE_EQ(multi.dose_total_mg, 3 * c.first.amount);
        }
    }
}

TEST(ClosedForm, LagTime) {
    OneCmtSpec s;
    s.tlag_h = 0.75;   // written as 45 min in the model
    const Model m = one_cmt(s);
    const double D = 100;
    check_both_solvers(
        m, Regimen().add(dose(0, D, "oral")), grid(24, 8),
        [&](double t) { return c1_oral(s.F * D, s.V, s.k(), s.ka, t - s.tlag_h); }, "1-cmt lag");
    // Nothing reaches plasma before the lag, exactly.
    const Trajectory ex = simulate(m, Regimen().add(dose(0, D, "oral")), grid(24, 8));
    for (std::size_t i = 0; ex.time[i] <= s.tlag_h; ++i) EXPECT_EQ(ex["C_plasma"][static_cast<Eigen::Index>(i)], 0.0);
}

TEST(ClosedForm, DeviceFactorOnIntranasalRoute) {
    // Three 28 mg devices 5 min apart: device d sends fn = FRn (d = 1) or FRn DF (d >= 2, not
    // compounded: Perez-Ruixo 2021, FRn 0.540 / 0.437 / 0.403 averaged over 1 / 2 / 3 devices) to
    // the nasal depot and (1 - fn) Fg to the gut; the rest, (1 - fn) (1 - Fg), is unabsorbed.
    const OneCmtSpec s;
    const Model m = one_cmt(s);
    const double per_device = 28, spacing = 5.0 / 60.0;
    const Regimen reg = Regimen::intranasal(84, {0.0}, per_device, spacing);
    ASSERT_EQ(reg.events.size(), 3u);
    auto want = [&](double t) {
        double c = 0;
        for (int d = 1; d <= 3; ++d) {
            const double t0 = (d - 1) * spacing;
            const double fn = s.FRn * (d > 1 ? s.DF : 1.0);
            c += c1_oral(per_device * fn, s.V, s.k(), s.ka_n, t - t0);
            c += c1_oral(per_device * (1 - fn) * s.Fg, s.V, s.k(), s.ka, t - t0);
        }
        return c;
    };
    check_both_solvers(m, reg, grid(24, 12), want, "1-cmt intranasal 3 devices");

    SimOptions o;
    o.output_amounts = true;
    const Trajectory ex = simulate(m, reg, grid(24, 12), o);
    double unabsorbed = 0;
    for (int d = 1; d <= 3; ++d) unabsorbed += per_device * (1 - s.FRn * (d > 1 ? s.DF : 1.0)) * (1 - s.Fg);
    const auto u = ex["A_unabsorbed"];
    EXPECT_NEAR(u[u.size() - 1], unabsorbed, test::kExactRtol * unabsorbed);
}

TEST(ClosedForm, DoseAtAnOutputTimeGivesThePostDoseValue) {
    const OneCmtSpec s;
    const Model m = one_cmt(s);
    const double D = 100;
    const Regimen reg = Regimen().add(dose(0, D, "iv")).add(dose(6, D, "iv"));
    auto want = [&](double t) { return c1_bolus(D, s.V, s.k(), t) + c1_bolus(D, s.V, s.k(), t - 6); };
    for (const SimOptions& opt : {exact_options(), dopri5_tight()}) {
        const Trajectory tr = simulate(m, reg, OutputGrid::at({0.0, 5.999, 6.0, 6.001}), opt);
        const auto c = tr["C_plasma"];
        const double rtol = opt.solver == SolverKind::exact ? test::kExactRtol : test::kOdeTightRtol;
        EXPECT_NEAR(c[0], 1000 * D / s.V, rtol * c[0]) << to_string(opt.solver);
        EXPECT_NEAR(c[2], want(6.0), rtol * want(6.0)) << to_string(opt.solver);
        // The jump at 6 h is the whole second bolus.
        EXPECT_NEAR(c[2] - c1_bolus(D, s.V, s.k(), 6.0), 1000 * D / s.V, rtol * c[2]) << to_string(opt.solver);
        EXPECT_LT(c[1], c1_bolus(D, s.V, s.k(), 5.998)) << to_string(opt.solver);
    }
    // Float noise in a grid time (0.1 + 0.2 != 0.3) does not flip the value to the pre-dose one.
    const Trajectory tr = simulate(m, Regimen().add(dose(0.3, D, "iv")), OutputGrid::at({0.1 + 0.2}));
    EXPECT_NEAR(tr["C_plasma"][0], 1000 * D / s.V, test::kExactRtol * 1000 * D / s.V);
}

// Runs `stmt` in a forked child first (GoogleTest's death-test machinery), so that a crash in
// the library fails the calling test with its signal instead of killing the whole executable.
#define KETASIM_ASSERT_NO_CRASH(stmt)     \
    ASSERT_EXIT(                          \
        {                                 \
            stmt;                         \
            std::exit(0);                 \
        },                                \
        ::testing::ExitedWithCode(0), "") \
        << "crashed: " #stmt

TEST(ClosedForm, OutputsBeforeTheFirstDose) {
    // Outputs before the first dose are zero, and the segment structure of the ODE solver
    // (outputs, then the breakpoint) must not shift later outputs by one column.
    const OneCmtSpec s;
    const Model m = one_cmt(s);
    const double D = 100;
    const Regimen reg = Regimen().add(dose(5, D, "oral")).add(dose(5.5, D, "iv", 0.25));
    auto want = [&](double t) {
        return c1_oral(s.F * D, s.V, s.k(), s.ka, t - 5) + c1_infusion(D, 0.25, s.V, s.k(), t - 5.5);
    };
    const Trajectory ex = simulate(m, reg, grid(24, 4));
    EXPECT_TRUE(matches(ex, "C_plasma", want, test::kExactRtol, test::kConcAtol, "1-cmt first dose at 5 h exact"));
    const Trajectory rb = simulate(m, reg, grid(24, 4), rosenbrock());
    EXPECT_TRUE(matches(rb, "C_plasma", want, test::kRosenbrockRtol, test::kOdeConcAtol,
                        "1-cmt first dose at 5 h rosenbrock4"));
    // The grid starts at 0 h, before any dose: see OdeDopri5OutputAtTimeZeroWithoutDoseThere.
    KETASIM_ASSERT_NO_CRASH(simulate(m, reg, grid(24, 4), dopri5_tight()));
    const Trajectory od = simulate(m, reg, grid(24, 4), dopri5_tight());
    EXPECT_TRUE(
        matches(od, "C_plasma", want, test::kOdeTightRtol, test::kOdeConcAtol, "1-cmt first dose at 5 h dopri5"));
}

// Regression (found by this suite): the dopri5 path of the ODE solver crashed (SIGSEGV) when
// the output grid contains t = 0 and no dose is given at t = 0 (first dose later, or no dose).
// Its first segment then starts with two equal times {0, 0}, and odeint's integrate_times()
// calls the dense-output stepper's calc_state() before any step has sized its buffers.
TEST(ClosedForm, OdeDopri5OutputAtTimeZeroWithoutDoseThere) {
    const OneCmtSpec s;
    const Model m = one_cmt(s);
    const OutputGrid g = OutputGrid::at({0.0, 1.0, 2.0, 3.0});
    KETASIM_ASSERT_NO_CRASH(simulate(m, Regimen().add(dose(1.0, 100, "iv")), g, dopri5_tight()));
    const Trajectory tr = simulate(m, Regimen().add(dose(1.0, 100, "iv")), g, dopri5_tight());
    EXPECT_TRUE(matches(
        tr, "C_plasma", [&](double t) { return c1_bolus(100, s.V, s.k(), t - 1.0); }, test::kOdeTightRtol,
        test::kOdeConcAtol, "dopri5 output at 0, bolus at 1 h"));
    KETASIM_ASSERT_NO_CRASH(simulate(m, Regimen(), g, dopri5_tight()));
    const Trajectory none = simulate(m, Regimen(), g, dopri5_tight());
    for (Eigen::Index i = 0; i < none.values.cols(); ++i) EXPECT_EQ(none.values(0, i), 0.0);
}

TEST(ClosedForm, DoseIntoACompartmentBypassesTheRoute) {
    // NONMEM-style CMT dosing: the whole amount enters `gut`, no bioavailability F applied.
    const OneCmtSpec s;
    const Model m = one_cmt(s);
    const double D = 100;
    DoseEvent e;
    e.amount = D;
    e.compartment = "gut";
    check_both_solvers(
        m, Regimen().add(e), grid(24, 4), [&](double t) { return c1_oral(D, s.V, s.k(), s.ka, t); },
        "1-cmt CMT dose into gut");
    DoseEvent inf;
    inf.amount = D;
    inf.compartment = "central";
    inf.duration = 2.0;
    check_both_solvers(
        m, Regimen().add(inf), grid(24, 4), [&](double t) { return c1_infusion(D, 2.0, s.V, s.k(), t); },
        "1-cmt CMT infusion");
}

TEST(ClosedForm, MgPerKgDosingScalesWithWeight) {
    const OneCmtSpec s;
    const Model m = one_cmt(s);
    const double mg_per_kg = 0.5, T = 40.0 / 60.0;
    DoseEvent e = dose(0, mg_per_kg, "iv", T);
    e.per_kg = true;
    for (double w : {50.0, 80.0, 120.0}) {
        Subject subj;
        subj.weight_kg = w;
        check_both_solvers(
            m, Regimen().add(e), grid(12, 12), [&](double t) { return c1_infusion(mg_per_kg * w, T, s.V, s.k(), t); },
            "mg/kg infusion, " + std::to_string(static_cast<int>(w)) + " kg", subj);
        const Trajectory tr = simulate(m, Regimen().add(e), grid(1, 1), SimOptions{}, subj);
        EXPECT_DOUBLE_EQ(tr.dose_total_mg, mg_per_kg * w);
    }
}

TEST(ClosedForm, AllometricExponentOnClearance) {
    OneCmtSpec s;
    s.cl_allometric_exponent = 0.75;
    const Model m = one_cmt(s);
    const double D = 100;
    for (double w : {35.0, 70.0, 140.0}) {
        Subject subj;
        subj.weight_kg = w;
        const double cl = s.CL * std::pow(w / 70.0, 0.75);
        EXPECT_NEAR(compile(m, subj).value("CL"), cl, 1e-14 * cl);
        check_both_solvers(
            m, Regimen().add(dose(0, D, "iv")), grid(24, 4), [&](double t) { return c1_bolus(D, s.V, cl / s.V, t); },
            "allometric CL, " + std::to_string(static_cast<int>(w)) + " kg", subj);
    }
}

TEST(ClosedForm, AgeSlopeOnClearance) {
    OneCmtSpec s;
    s.cl_age_slope = -0.1;   // L/h per year above 60 (reference age)
    const Model m = one_cmt(s);
    const double D = 100;
    for (double age : {40.0, 60.0, 80.0}) {
        Subject subj;
        subj.age_years = age;
        const double cl = s.CL - 0.1 * std::max(0.0, age - 60.0);
        EXPECT_NEAR(compile(m, subj).value("CL"), cl, 1e-14 * cl);
        check_both_solvers(
            m, Regimen().add(dose(0, D, "iv")), grid(24, 4), [&](double t) { return c1_bolus(D, s.V, cl / s.V, t); },
            "age slope CL, " + std::to_string(static_cast<int>(age)) + " y", subj);
    }
}

// ---- two compartments --------------------------------------------------------------------------

TEST(ClosedForm, TwoCmtBolusBiExponential) {
    const TwoCmtSpec s;
    const Model m = two_cmt(s);
    const Biexp b = biexp(60 * s.k10, 60 * s.k12, 60 * s.k21);
    const double D = 35;
    check_both_solvers(
        m, Regimen().add(dose(0, D, "iv")), grid(48, 4), [&](double t) { return c2_bolus(D, s.V1(), b, t); },
        "2-cmt bolus");
    // alpha + beta = k10 + k12 + k21 and alpha beta = k10 k21: the closed form's own consistency.
    EXPECT_NEAR(b.alpha + b.beta, 60 * (s.k10 + s.k12 + s.k21), 1e-14 * b.alpha);
}

TEST(ClosedForm, TwoCmtInfusion) {
    const TwoCmtSpec s;
    const Model m = two_cmt(s);
    const Biexp b = biexp(60 * s.k10, 60 * s.k12, 60 * s.k21);
    const double D = 35, T = 40.0 / 60.0;
    check_both_solvers(
        m, Regimen().add(dose(0, D, "iv", T)), grid(48, 12), [&](double t) { return c2_infusion(D, T, s.V1(), b, t); },
        "2-cmt infusion");
    const Trajectory tr = simulate(m, Regimen().add(dose(0, D, "iv", T)), grid(48, 12), rosenbrock());
    EXPECT_TRUE(matches(
        tr, "C_plasma", [&](double t) { return c2_infusion(D, T, s.V1(), b, t); }, test::kRosenbrockRtol,
        test::kOdeConcAtol, "2-cmt infusion rosenbrock4"));
}

TEST(ClosedForm, TwoCmtRepeatedBolusesSuperposition) {
    const TwoCmtSpec s;
    const Model m = two_cmt(s);
    const Biexp b = biexp(60 * s.k10, 60 * s.k12, 60 * s.k21);
    const std::vector<double> times = {0, 4, 10};
    Regimen reg;
    for (double t0 : times) reg.add(dose(t0, 20, "iv"));
    check_both_solvers(
        m, reg, grid(24, 8),
        [&](double t) {
            double c = 0;
            for (double t0 : times) c += c2_bolus(20, s.V1(), b, t - t0);
            return c;
        },
        "2-cmt 3 boluses");
}

// ---- steady state ------------------------------------------------------------------------------

TEST(ClosedForm, LongInfusionReachesRateOverClearance) {
    const double R = 5.0;   // mg/h
    {
        const OneCmtSpec s;
        const double T = 30 * std::log(2.0) / s.k();
        const double css = 1000.0 * R / s.CL;   // ng/mL
        for (const SimOptions& opt : {exact_options(), dopri5_tight()}) {
            const Trajectory tr =
                simulate(one_cmt(s), Regimen().add(dose(0, R * T, "iv", T)), OutputGrid::at({T}), opt);
            const double tol = opt.solver == SolverKind::exact ? test::kSteadyStateRtol : test::kOdeTightRtol;
            EXPECT_NEAR(tr["C_plasma"][0], css, tol * css) << "1-cmt, " << to_string(opt.solver);
            std::printf("[ max err  ] 1-cmt steady state %-30s rel %.3e\n", to_string(opt.solver),
                        std::fabs(tr["C_plasma"][0] - css) / css);
        }
    }
    {
        const TwoCmtSpec s;
        const Biexp b = biexp(60 * s.k10, 60 * s.k12, 60 * s.k21);
        const double T = 30 * std::log(2.0) / b.beta;
        const double cl = 60 * s.k10 * s.V1();   // L/h
        const double css = 1000.0 * R / cl;
        for (const SimOptions& opt : {exact_options(), dopri5_tight()}) {
            const Trajectory tr =
                simulate(two_cmt(s), Regimen().add(dose(0, R * T, "iv", T)), OutputGrid::at({T}), opt);
            const double tol = opt.solver == SolverKind::exact ? test::kSteadyStateRtol : test::kOdeTightRtol;
            EXPECT_NEAR(tr["C_plasma"][0], css, tol * css) << "2-cmt, " << to_string(opt.solver);
            std::printf("[ max err  ] 2-cmt steady state %-30s rel %.3e\n", to_string(opt.solver),
                        std::fabs(tr["C_plasma"][0] - css) / css);
        }
    }
}

// ---- convergence -------------------------------------------------------------------------------

TEST(ClosedForm, OdeErrorShrinksWithTolerance) {
    // dopri5 against the exact solution of a 2-cmt infusion: the peak-normalised maximum error
    // decreases at every tightening of rtol (1e-4 .. 1e-10) and stays proportional to rtol.
    const TwoCmtSpec s;
    const Model m = two_cmt(s);
    const Biexp b = biexp(60 * s.k10, 60 * s.k12, 60 * s.k21);
    const double D = 35, T = 40.0 / 60.0;
    const OutputGrid g = grid(24, 4);
    const Regimen reg = Regimen().add(dose(0, D, "iv", T)).add(dose(8, D, "iv"));
    auto want = [&](double t) { return c2_infusion(D, T, s.V1(), b, t) + c2_bolus(D, s.V1(), b, t - 8); };
    double peak = 0;
    for (double t : g.times) peak = std::max(peak, want(t));
    double previous = HUGE_VAL;
    for (int e = 4; e <= 10; ++e) {
        SimOptions o;
        o.solver = SolverKind::ode;
        o.rtol = std::pow(10.0, -e);
        o.atol = 1e-3 * o.rtol;
        const Trajectory tr = simulate(m, reg, g, o);
        double err = 0;
        for (std::size_t i = 0; i < g.times.size(); ++i)
            err = std::max(err, std::fabs(tr["C_plasma"][static_cast<Eigen::Index>(i)] - want(g.times[i])) / peak);
        std::printf("[ converge ] dopri5 rtol 1e-%02d: max error / peak %.3e (%.2f x rtol)\n", e, err, err / o.rtol);
        EXPECT_LT(err, test::kConvergenceFactor * o.rtol) << "rtol " << o.rtol;
        EXPECT_LT(err, previous) << "rtol " << o.rtol << ": error did not decrease";
        previous = err;
    }
}

}   // namespace
}   // namespace ketasim
