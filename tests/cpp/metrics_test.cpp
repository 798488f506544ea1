// compute_metrics() and interpolate() on analytic curves whose metrics are known exactly:
// a sampled mono-exponential (AUC, lambda_z, half-life) and piecewise-linear curves (threshold
// crossings, which metrics.cpp finds by linear interpolation, so they are exact on such curves).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ketasim/ketasim.hpp"
#include "tolerances.hpp"

namespace ketasim {
namespace {

// C(t) = 1000 D / V e^{-kt} (ng/mL) on t = 0, 0.5, ..., 24 h.
struct MonoExp {
    double D = 100, V = 40, k = 0.25;
    std::vector<double> t, c;
    MonoExp() {
        for (int i = 0; i <= 48; ++i) {
            t.push_back(0.5 * i);
            c.push_back(1000.0 * D / V * std::exp(-k * t.back()));
        }
    }
};

TEST(Metrics, MonoExponentialAucLambdaHalfLife) {
    const MonoExp e;
    const Metrics m = compute_metrics(e.t, e.c.data());
    const double auc_inf = 1000.0 * e.D / (e.V * e.k);   // D / (V k) in ng h/mL
    const double auc_t = auc_inf * (1 - std::exp(-e.k * e.t.back()));
    const double rtol = test::kMetricsRtol;
    EXPECT_NEAR(m.auc_0_t, auc_t, rtol * auc_t) << "log-down trapezoids are exact for exponential decay";
    EXPECT_NEAR(m.auc_0_inf, auc_inf, rtol * auc_inf);
    EXPECT_NEAR(m.lambda_z, e.k, rtol * e.k);
    EXPECT_NEAR(m.half_life, std::log(2.0) / e.k, rtol * std::log(2.0) / e.k);
    EXPECT_NEAR(m.terminal_r2, 1.0, rtol);
    EXPECT_DOUBLE_EQ(m.cmax, e.c[0]);
    EXPECT_DOUBLE_EQ(m.tmax, 0.0);
    // Automatic window: the last third of [Tmax, end] = [16, 24] h.
    EXPECT_DOUBLE_EQ(m.terminal_start, 16.0);
}

TEST(MetricAccumulator, PiecewiseFeedingEqualsTheWholeCurveAndKeepsOnlyTheTerminalTail) {
    const MonoExp e;
    const Metrics whole = compute_metrics(e.t, e.c.data());
    for (std::size_t piece : {1, 2, 7, 49}) {
        MetricAccumulator acc(MetricOptions{}, e.t.back());
        for (std::size_t i = 0; i < e.t.size(); i += piece)
            acc.add(e.t.data() + i, e.c.data() + i, std::min(piece, e.t.size() - i));
        const Metrics m = acc.finish();
        for (std::size_t k = 0; k < metric_registry().size(); ++k) {
            const double a = metric_value(m, k), b = metric_value(whole, k);
            if (std::isnan(a) && std::isnan(b)) continue;
            EXPECT_EQ(a, b) << piece << " " << metric_registry()[k].name;
        }
        // The window can start no earlier than 16 h (no dose after 0, end 24 h): the 17 points
        // 16, 16.5, ..., 24 h are all the fit needs, and all it keeps.
        EXPECT_EQ(acc.stored(), 17u) << piece;
    }
    MetricOptions no_fit;
    no_fit.terminal_phase = false;
    MetricAccumulator acc(no_fit, e.t.back());
    acc.add(e.t.data(), e.c.data(), e.t.size());
    EXPECT_EQ(acc.stored(), 0u);
    // A curve that ends before the announced end would have lost tail points: an error.
    MetricAccumulator early(MetricOptions{}, 30.0);
    early.add(e.t.data(), e.c.data(), e.t.size());
    EXPECT_THROW(early.finish(), InputError);
}

TEST(Metrics, LinearTrapezoidsWouldNotBeExact) {
    // Guards the log-down rule: linear trapezoids over-estimate this AUC by ~0.5 % at 0.5 h steps,
    // fifty million times the tolerance used above.
    const MonoExp e;
    double linear = 0;
    for (std::size_t i = 1; i < e.t.size(); ++i) linear += 0.5 * (e.c[i] + e.c[i - 1]) * (e.t[i] - e.t[i - 1]);
    const Metrics m = compute_metrics(e.t, e.c.data());
    EXPECT_GT((linear - m.auc_0_t) / m.auc_0_t, 1e-3);
}

TEST(Metrics, LogDownExactOnFineAndCoarseSteps) {
    // One exponential sampled with steps whose ratio x = (a - b) / (a + b) = tanh(k dt / 2) runs
    // from 1e-6 (the 1-min grids of sweeps) through the series/logarithm switch at x = 0.01 to
    // 0.46: every step must give the exact area, so both branches of the log-down rule agree.
    const double c0 = 2500.0, k = 0.25;
    for (double dt : {8e-6, 1.0 / 60.0, 0.079, 0.0799, 0.08, 0.0801, 0.081, 0.5, 4.0}) {
        std::vector<double> t, c;
        for (int i = 0; i <= 60; ++i) {
            t.push_back(dt * i);
            c.push_back(c0 * std::exp(-k * t.back()));
        }
        const double want = c0 / k * (1 - std::exp(-k * t.back()));
        const Metrics m = compute_metrics(t, c.data());
        EXPECT_NEAR(m.auc_0_t, want, test::kMetricsRtol * want) << "dt = " << dt << " h";
    }
}

TEST(Metrics, WithoutTerminalPhaseOnlyTheTerminalMetricsChange) {
    const MonoExp e;
    MetricOptions o;
    o.threshold = 500.0;
    o.at_times = {1.0, 7.25};
    const Metrics full = compute_metrics(e.t, e.c.data(), o);
    o.terminal_phase = false;
    const Metrics m = compute_metrics(e.t, e.c.data(), o);
    for (double v : {m.lambda_z, m.half_life, m.auc_0_inf, m.terminal_r2, m.terminal_start}) EXPECT_TRUE(std::isnan(v));
    EXPECT_EQ(m.cmax, full.cmax);
    EXPECT_EQ(m.tmax, full.tmax);
    EXPECT_EQ(m.auc_0_t, full.auc_0_t);
    EXPECT_EQ(m.c_at, full.c_at);
    EXPECT_EQ(m.time_above, full.time_above);
    EXPECT_EQ(m.time_to_threshold, full.time_to_threshold);
    EXPECT_EQ(m.time_below_after_peak, full.time_below_after_peak);
}

TEST(Metrics, ExplicitTerminalWindow) {
    const MonoExp e;
    MetricOptions o;
    o.terminal_start = 4.0;
    const Metrics m = compute_metrics(e.t, e.c.data(), o);
    EXPECT_DOUBLE_EQ(m.terminal_start, 4.0);
    EXPECT_NEAR(m.lambda_z, e.k, test::kMetricsRtol * e.k);
}

Model one_compartment() {
    return parse_model(R"(
name = "one_cmt"
[parameters.V]
value = 40
unit = "L"
source = "test"
[parameters.CL]
value = 10
unit = "L/h"
source = "test"
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
)",
                       "metrics_test");
}

TEST(Metrics, OnASimulatedBolusAucInfIsDoseOverClearance) {
    const Model m = one_compartment();
    DoseEvent d;
    d.amount = 100;
    const Trajectory tr = simulate(m, Regimen().add(d), OutputGrid::uniform(0, 48, 0.5));
    const Metrics mt = compute_metrics(tr, "C_plasma");
    const double auc_inf = 1000.0 * 100 / 10;   // D / CL, ng h/mL
    // The exact solver is within kExactRtol of the closed form; the metrics add only roundoff.
    EXPECT_NEAR(mt.auc_0_inf, auc_inf, test::kExactRtol * auc_inf);
    EXPECT_NEAR(mt.lambda_z, 0.25, test::kExactRtol * 0.25);
}

TEST(Metrics, TrajectoryKnowsItsLastDoseForTheTerminalWindow) {
    // 100 mg at 0 h and 10 mg at 30 h (so tmax stays 0), grid to 48 h: the automatic terminal
    // window starts after the LAST dose (30 + (48 - 30) * 2/3 = 42 h) without the caller passing
    // it; an explicit value overrides (0: from tmax = 0, 48 * 2/3 = 32 h).
    DoseEvent d;
    d.amount = 100;
    Regimen reg;
    reg.add(d);
    d.time = 30;
    d.amount = 10;
    reg.add(d);
    const Trajectory tr = simulate(one_compartment(), reg, OutputGrid::uniform(0, 48, 0.5));
    EXPECT_EQ(tr.dose_times, (std::vector<double>{0.0, 30.0}));
    EXPECT_EQ(tr.last_dose_time, reg.last_time());
    const Metrics own = compute_metrics(tr, "C_plasma");
    ASSERT_EQ(own.tmax, 0.0);
    EXPECT_DOUBLE_EQ(own.terminal_start, 42.0);
    MetricOptions explicit_zero;
    explicit_zero.last_dose_time = 0.0;
    EXPECT_DOUBLE_EQ(compute_metrics(tr, "C_plasma", explicit_zero).terminal_start, 32.0);   // 48 * 2/3
    MetricOptions bad;
    bad.last_dose_time = std::numeric_limits<double>::infinity();
    EXPECT_THROW(compute_metrics(tr, "C_plasma", bad), InputError);
}

TEST(MetricRegistry, EveryEntryReadsItsOwnField) {
    // Distinct values in every field, so a registry entry reading the wrong field fails.
    Metrics m;
    m.cmax = 1, m.tmax = 2, m.auc_0_t = 3, m.auc_0_inf = 4, m.lambda_z = 5, m.half_life = 6, m.terminal_r2 = 7;
    m.terminal_start = 8, m.time_above = 9, m.time_to_threshold = 10, m.time_below_after_peak = 11;
    const std::vector<std::pair<std::string, double>> expect = {{"cmax", 1},
                                                                {"tmax", 2},
                                                                {"auc_0_t", 3},
                                                                {"auc_0_inf", 4},
                                                                {"lambda_z", 5},
                                                                {"half_life", 6},
                                                                {"terminal_r2", 7},
                                                                {"terminal_start", 8},
                                                                {"time_above", 9},
                                                                {"time_to_threshold", 10},
                                                                {"time_below_after_peak", 11}};
    ASSERT_EQ(metric_registry().size(), expect.size());
    for (std::size_t i = 0; i < expect.size(); ++i) {
        EXPECT_EQ(metric_registry()[i].name, expect[i].first);
        EXPECT_EQ(metric_index(expect[i].first), i);
        EXPECT_EQ(metric_value(m, i), expect[i].second) << expect[i].first;
    }
    EXPECT_THROW(metric_value(m, expect.size()), std::out_of_range);
}

TEST(MetricRegistry, UnitsFlagsAndUnknownNames) {
    auto unit = [](const std::string& n) { return metric_unit(metric_registry()[metric_index(n)], "ng/mL"); };
    EXPECT_EQ(unit("cmax"), "ng/mL");
    EXPECT_EQ(unit("auc_0_inf"), "ng/mL*h");
    EXPECT_EQ(unit("tmax"), "h");
    EXPECT_EQ(unit("lambda_z"), "1/h");
    EXPECT_EQ(unit("terminal_r2"), "1");
    // terminal_fit and threshold flags agree with what compute_metrics leaves NaN.
    const MonoExp e;
    MetricOptions no_fit;
    no_fit.terminal_phase = false;
    const Metrics m = compute_metrics(e.t, e.c.data(), no_fit);
    for (std::size_t i = 0; i < metric_registry().size(); ++i) {
        const MetricInfo& info = metric_registry()[i];
        EXPECT_EQ(std::isnan(metric_value(m, i)), info.terminal_fit || info.threshold) << info.name;
    }
    try {
        metric_index("Cmax");
        FAIL() << "expected InputError";
    } catch (const InputError& err) {
        const std::string msg = err.what();
        EXPECT_NE(msg.find("metric 'Cmax' is not known"), std::string::npos) << msg;
        EXPECT_NE(msg.find("cmax, tmax, auc_0_t"), std::string::npos) << msg;
    }
}

// Triangle: 0 at t = 0, peak 10 at t = 5, back to 0 at t = 10 (1 h steps).
struct Triangle {
    std::vector<double> t, c;
    Triangle() {
        for (int i = 0; i <= 10; ++i) {
            t.push_back(i);
            c.push_back(i <= 5 ? 2.0 * i : 2.0 * (10 - i));
        }
    }
};

TEST(Metrics, CmaxTmaxOnTriangle) {
    const Triangle tri;
    const Metrics m = compute_metrics(tri.t, tri.c.data());
    EXPECT_DOUBLE_EQ(m.cmax, 10.0);
    EXPECT_DOUBLE_EQ(m.tmax, 5.0);
    // Linear up (25); log-down (a - b) / ln(a / b) per 1 h step on the way down, except the last
    // step to C = 0, where the log rule is undefined and the linear one (1) is used.
    double want = 25.0 + 1.0;
    for (double a : {10.0, 8.0, 6.0, 4.0}) want += (a - (a - 2)) / std::log(a / (a - 2));
    EXPECT_NEAR(m.auc_0_t, want, test::kMetricsRtol * want);
}

TEST(Metrics, ThresholdCrossingsBetweenGridPoints) {
    const Triangle tri;
    MetricOptions o;
    o.threshold = 3.0;   // crossed up at 1.5 h and down at 8.5 h
    const Metrics m = compute_metrics(tri.t, tri.c.data(), o);
    EXPECT_DOUBLE_EQ(m.time_to_threshold, 1.5);
    EXPECT_DOUBLE_EQ(m.time_above, 7.0);
    EXPECT_DOUBLE_EQ(m.time_below_after_peak, 8.5);
}

TEST(Metrics, ThresholdEqualToGridValues) {
    const Triangle tri;
    MetricOptions o;
    o.threshold = 4.0;   // C(2) = C(8) = 4 exactly; "above" is strict
    const Metrics m = compute_metrics(tri.t, tri.c.data(), o);
    EXPECT_DOUBLE_EQ(m.time_to_threshold, 2.0);
    EXPECT_DOUBLE_EQ(m.time_above, 6.0);
    EXPECT_DOUBLE_EQ(m.time_below_after_peak, 8.0);
}

TEST(Metrics, ThresholdOnLinearRamps) {
    // Two pulses on an uneven grid: time above sums both, time to threshold is the first rise.
    const std::vector<double> t = {0, 0.5, 2, 3, 3.25, 6, 7};
    const std::vector<double> c = {0, 5, 5, 0, 0, 11, 0};
    MetricOptions o;
    o.threshold = 2.0;
    const Metrics m = compute_metrics(t, c.data(), o);
    // Up at 0.2 h, down at 2.6 h; up at 3.25 + 2.75 * 2/11 = 3.75 h, down at 6 + 9/11 h.
    EXPECT_NEAR(m.time_to_threshold, 0.2, 1e-15);
    EXPECT_NEAR(m.time_above, (2.6 - 0.2) + (6 + 9.0 / 11 - 3.75), 1e-14);
    // Tmax = 6 h (the second, higher pulse); below the threshold again at 6 + 9/11 h.
    EXPECT_DOUBLE_EQ(m.tmax, 6.0);
    EXPECT_NEAR(m.time_below_after_peak, 6 + 9.0 / 11, 1e-14);
}

TEST(Metrics, CurveStartingAboveThresholdAndNeverFalling) {
    const std::vector<double> t = {0, 1, 2, 3};
    const std::vector<double> c = {5, 6, 7, 8};
    MetricOptions o;
    o.threshold = 1.0;
    const Metrics m = compute_metrics(t, c.data(), o);
    EXPECT_DOUBLE_EQ(m.time_to_threshold, 0.0);
    EXPECT_DOUBLE_EQ(m.time_above, 3.0);
    EXPECT_TRUE(std::isnan(m.time_below_after_peak));
}

TEST(Metrics, ThresholdNeverReached) {
    const Triangle tri;
    MetricOptions o;
    o.threshold = 20.0;
    const Metrics m = compute_metrics(tri.t, tri.c.data(), o);
    EXPECT_TRUE(std::isnan(m.time_to_threshold));
    EXPECT_DOUBLE_EQ(m.time_above, 0.0);
}

TEST(Metrics, NoThresholdGivesNaN) {
    const Triangle tri;
    const Metrics m = compute_metrics(tri.t, tri.c.data());   // threshold defaults to NaN
    EXPECT_TRUE(std::isnan(m.time_above));
    EXPECT_TRUE(std::isnan(m.time_to_threshold));
    EXPECT_TRUE(std::isnan(m.time_below_after_peak));
}

TEST(Metrics, InfiniteThresholdIsRejected) {
    const Triangle tri;
    MetricOptions o;
    o.threshold = std::numeric_limits<double>::infinity();
    EXPECT_THROW(compute_metrics(tri.t, tri.c.data(), o), InputError);
}

TEST(Metrics, NoTerminalFitWithFewerThanThreePoints) {
    const MonoExp e;
    MetricOptions o;
    o.terminal_start = 23.5;   // two points: 23.5 and 24 h
    const Metrics m = compute_metrics(e.t, e.c.data(), o);
    EXPECT_TRUE(std::isnan(m.lambda_z));
    EXPECT_TRUE(std::isnan(m.half_life));
    EXPECT_TRUE(std::isnan(m.auc_0_inf));
    EXPECT_TRUE(std::isnan(m.terminal_r2));
    EXPECT_TRUE(std::isfinite(m.auc_0_t));

    const std::vector<double> t2 = {0, 1};
    const std::vector<double> c2 = {10, 5};
    const Metrics m2 = compute_metrics(t2, c2.data());
    EXPECT_TRUE(std::isnan(m2.lambda_z));
    EXPECT_TRUE(std::isnan(m2.auc_0_inf));
    EXPECT_NEAR(m2.auc_0_t, 5.0 / std::log(2.0), 1e-14);   // log-down: (a - b) / ln(a / b)
}

TEST(Metrics, NoTerminalFitOnRisingCurve) {
    const std::vector<double> t = {0, 1, 2, 3, 4};
    const std::vector<double> c = {1, 2, 3, 4, 5};
    MetricOptions o;
    o.terminal_start = 0;
    const Metrics m = compute_metrics(t, c.data(), o);
    EXPECT_TRUE(std::isnan(m.lambda_z));
    EXPECT_TRUE(std::isnan(m.auc_0_inf));
}

TEST(Metrics, ConcentrationAtTimes) {
    const Triangle tri;
    MetricOptions o;
    o.at_times = {0.0, 2.5, 5.0, 7.25, 10.0};
    const Metrics m = compute_metrics(tri.t, tri.c.data(), o);
    ASSERT_EQ(m.c_at.size(), 5u);
    EXPECT_DOUBLE_EQ(m.c_at[0], 0.0);
    EXPECT_DOUBLE_EQ(m.c_at[1], 5.0);
    EXPECT_DOUBLE_EQ(m.c_at[2], 10.0);
    EXPECT_DOUBLE_EQ(m.c_at[3], 5.5);
    EXPECT_DOUBLE_EQ(m.c_at[4], 0.0);
}

TEST(Metrics, Interpolate) {
    const std::vector<double> t = {0, 1, 3};
    const std::vector<double> c = {2, 4, 0};
    EXPECT_DOUBLE_EQ(interpolate(t, c.data(), 0.0), 2.0);
    EXPECT_DOUBLE_EQ(interpolate(t, c.data(), 0.25), 2.5);
    EXPECT_DOUBLE_EQ(interpolate(t, c.data(), 1.0), 4.0);
    EXPECT_DOUBLE_EQ(interpolate(t, c.data(), 2.0), 2.0);
    EXPECT_DOUBLE_EQ(interpolate(t, c.data(), 3.0), 0.0);
}

TEST(Metrics, InterpolateOutOfRangeNamesTheTime) {
    const std::vector<double> t = {0, 1, 3};
    const std::vector<double> c = {2, 4, 0};
    for (double x : {-0.5, 3.5}) {
        try {
            interpolate(t, c.data(), x);
            ADD_FAILURE() << "no error for t = " << x;
        } catch (const InputError& e) {
            const std::string msg = e.what();
            EXPECT_NE(msg.find(x < 0 ? "-0.5" : "3.5"), std::string::npos) << msg;
            EXPECT_NE(msg.find("outside"), std::string::npos) << msg;
        }
    }
    EXPECT_THROW(interpolate({}, c.data(), 0.0), InputError);
}

TEST(Metrics, EmptyCurveIsRejected) {
    const std::vector<double> t;
    EXPECT_THROW(compute_metrics(t, nullptr), InputError);
}

}   // namespace
}   // namespace ketasim
