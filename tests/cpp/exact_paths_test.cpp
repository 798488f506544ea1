// The exact solver's two propagation paths (src/solve/exact.cpp) on near-equal rate constants,
// the classic closed-form trap (ka == k divides by zero in Bateman's formula). The eigenbasis
// path's basis degenerates as ka -> k (cond(V) ~ 2 k / |ka - k|), so the solver switches to the
// Pade exponential of the augmented matrix when cond(V) >= 1e4. This sweeps ka / k = 1 +- 1e-2
// ... 1e-10 across that switch, runs each system automatically and with each path forced, and
// compares with the Bateman closed form (Gibaldi & Perrier, Pharmacokinetics, 2nd ed., ch. 1)
// written so that it stays accurate for ka -> k and takes its limit k t e^{-k t} at ka == k.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "ketasim/ketasim.hpp"
#include "solve/exact.hpp"
#include "tolerances.hpp"

using namespace ketasim;

namespace {

constexpr double kDoseMg = 50.0;
const std::vector<double> kDoseTimes = {0.0, 10.0};   // a second dose exercises a mid-run input

struct Case {
    LinearSystem sys;
    detail::InputSchedule in;
    std::vector<double> times;
    double ka = 0, k = 0, c_per_mg = 0;   // as compiled (1/h, 1/h, ng/mL per mg)
};

// tests/data/iov_model.toml (gut -ka-> central -CL/V->) with ka = ratio * CL / V.
Case make_case(double ratio) {
    const Model m = load_model(KETASIM_TEST_DATA_DIR "/iov_model.toml");
    Subject s;
    s.parameters["ka"] = ratio * m.parameter("CL").value / m.parameter("V").value;
    Case c;
    c.sys = compile(m, s);
    Regimen r;
    for (double t : kDoseTimes) {
        DoseEvent e;
        e.time = t;
        e.amount = kDoseMg;
        e.route = "oral";
        r.add(e);
    }
    c.in = detail::build_inputs(c.sys, r, s.weight_kg);
    for (int i = 0; i <= 48 * 4; ++i) c.times.push_back(i / 4.0);
    int gut = -1, central = -1;
    for (int i = 0; i < c.sys.size(); ++i) {
        if (c.sys.state_names[static_cast<std::size_t>(i)] == "gut") gut = i;
        if (c.sys.state_names[static_cast<std::size_t>(i)] == "central") central = i;
    }
    // The rate constants exactly as the solver sees them.
    c.ka = -c.sys.A(gut, gut);
    c.k = -c.sys.A(central, central);
    c.c_per_mg = c.sys.C(0, central);
    return c;
}

// Bateman: C = D ka / V (e^{-k t} - e^{-ka t}) / (ka - k) = D ka / V e^{-k t} (1 - e^{-d t}) / d
// with d = ka - k, evaluated with expm1 so that no cancellation occurs as d -> 0 (the textbook
// form loses all digits at |d| / k = 1e-10); d == 0 is the limit D ka / V t e^{-k t}.
double closed_form(const Case& c, double t) {
    double y = 0;
    for (double t0 : kDoseTimes) {
        const double s = t - t0;
        if (s < 0) continue;
        const double d = c.ka - c.k;
        const double phi = d == 0.0 ? s : -std::expm1(-d * s) / d;
        y += c.c_per_mg * kDoseMg * c.ka * std::exp(-c.k * s) * phi;
    }
    return y;
}

// Largest |got - want| / (rtol |want| + atol) over the run: <= 1 means within tolerance.
double worst_ratio(const Case& c, const Trajectory& tr, double rtol, double atol, double* max_rel = nullptr) {
    double worst = 0, rel = 0;
    for (std::size_t i = 0; i < c.times.size(); ++i) {
        const double want = closed_form(c, c.times[i]);
        const double got = tr.values(0, static_cast<Eigen::Index>(i));
        const double err = std::fabs(got - want);
        worst = std::max(worst, err / (rtol * std::fabs(want) + atol));
        if (want > 0) rel = std::max(rel, err / want);
    }
    if (max_rel) *max_rel = rel;
    return worst;
}

Trajectory run(const Case& c, detail::ExactPath path) {
    return detail::simulate_exact(c.sys, c.in, c.times, SimOptions{}, path);
}

bool same_values(const Trajectory& a, const Trajectory& b) { return a.values == b.values; }

}   // namespace

TEST(ExactPaths, NearEqualRatesSweepAcrossTheSwitch) {
    bool saw_spectral = false, saw_pade = false;
    for (int e = 2; e <= 10; ++e)
        for (double sign : {1.0, -1.0}) {
            const double delta = sign * std::pow(10.0, -e);
            const Case c = make_case(1.0 + delta);
            const std::string label = "ka/k = 1 + " + std::to_string(delta);
            const Trajectory pade = run(c, detail::ExactPath::pade);
            const Trajectory spectral = run(c, detail::ExactPath::spectral);
            const Trajectory automatic = run(c, detail::ExactPath::automatic);
            double rel_pade = 0, rel_spectral = 0, rel_auto = 0;
            // The Pade path and the automatic choice are held to the exact solver's accuracy at
            // every ratio.
            EXPECT_LE(worst_ratio(c, pade, test::kExactRtol, test::kConcAtol, &rel_pade), 1.0) << label << " pade";
            EXPECT_LE(worst_ratio(c, automatic, test::kExactRtol, test::kConcAtol, &rel_auto), 1.0) << label;
            // The forced eigenbasis loses accuracy as cond(V) ~ 2 / |delta| grows (the reason for the
            // switch): held to eps * cond(V) with a factor 100 for the steps and the closed form.
            const double spectral_rtol = std::max(test::kExactRtol, 100 * 2.2e-16 * 2.0 / std::fabs(delta));
            EXPECT_LE(worst_ratio(c, spectral, spectral_rtol, test::kConcAtol, &rel_spectral), 1.0)
                << label << " spectral";
            const bool is_spectral = same_values(automatic, spectral), is_pade = same_values(automatic, pade);
            EXPECT_TRUE(is_spectral || is_pade) << label << ": the automatic run matches neither forced path";
            saw_spectral |= is_spectral;
            saw_pade |= is_pade;
            std::printf(
                "[ near-eq  ] ka/k - 1 = %+.0e  automatic = %-8s max rel err: pade %.2e  spectral %.2e  automatic "
                "%.2e\n",
                delta, is_spectral ? "spectral" : "pade", rel_pade, rel_spectral, rel_auto);
        }
    // The sweep must actually cross the switch.
    EXPECT_TRUE(saw_spectral);
    EXPECT_TRUE(saw_pade);
}

TEST(ExactPaths, EqualRatesTakeThePadePathAndMatchTheLimit) {
    const Case c = make_case(1.0);
    ASSERT_EQ(c.ka, c.k);
    const Trajectory automatic = run(c, detail::ExactPath::automatic);
    const Trajectory pade = run(c, detail::ExactPath::pade);
    EXPECT_TRUE(same_values(automatic, pade));
    double rel = 0;
    EXPECT_LE(worst_ratio(c, automatic, test::kExactRtol, test::kConcAtol, &rel), 1.0);
    std::printf("[ ka == k  ] max rel err vs k t e^{-k t} limit: %.2e\n", rel);
}
