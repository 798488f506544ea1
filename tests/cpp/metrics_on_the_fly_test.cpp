// Metrics computed while the exact solver propagates (detail::simulate_metrics, no trajectory
// stored) against the two-pass way (simulate, then compute_metrics on the trajectory), and the
// solver's block output (detail::simulate_exact_blocks) against its trajectory.
//
// Tolerance: none; the values must be bitwise equal. compute_metrics is MetricAccumulator fed the
// whole curve, the on-the-fly run feeds the same accumulator the same values (the solver performs
// the same operations whether it writes a trajectory or a block buffer) in the same order, and
// negatives within check_outputs' allowance are set to 0 before either sees them. AUC is summed
// in four lanes by point index (not by position in a block), so it too is the same sum whatever
// the blocks: no ulp can differ, and any difference is a bug (a lost or repeated point at a block
// boundary, a misplaced threshold crossing or a dropped tail point).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ketasim/ketasim.hpp"
#include "solve/inputs.hpp"

namespace ketasim {
namespace {

Model library(const std::string& name) { return load_library_model(name, KETASIM_TEST_MODELS_DIR); }

// Equal as bits, NaN equal to NaN (a metric without a threshold or terminal fit).
void expect_same(double a, double b, const std::string& what) {
    if (std::isnan(a) && std::isnan(b)) return;
    EXPECT_EQ(a, b) << what;
}

void expect_same(const Metrics& a, const Metrics& b, const std::string& what) {
    const auto& reg = metric_registry();
    for (std::size_t k = 0; k < reg.size(); ++k)
        expect_same(metric_value(a, k), metric_value(b, k), what + ": " + reg[k].name);
    ASSERT_EQ(a.c_at.size(), b.c_at.size()) << what;
    for (std::size_t k = 0; k < a.c_at.size(); ++k) expect_same(a.c_at[k], b.c_at[k], what + ": c_at");
}

// Both ways on one compiled system; returns the on-the-fly metrics.
std::vector<Metrics> compare(const LinearSystem& sys, const Regimen& regimen, const OutputGrid& grid,
                             const SimOptions& opt, const MetricOptions& mo, const std::string& what) {
    const std::vector<Metrics> fly = detail::simulate_metrics(sys, regimen, grid, opt, mo);
    const Trajectory tr = simulate(sys, regimen, grid, opt);
    EXPECT_EQ(fly.size(), tr.names.size()) << what;
    for (std::size_t k = 0; k < fly.size() && k < tr.names.size(); ++k)
        expect_same(fly[k], compute_metrics(tr, tr.names[k], mo), what + " [" + tr.names[k] + "]");
    return fly;
}

TEST(MetricsOnTheFly, IvBolusAndInfusionBothOutputsEveryThresholdCase) {
    const Model model = library("ketamine_iv_domino");
    const LinearSystem sys = compile(model, Subject{});
    Regimen regimen = Regimen::iv_bolus(35.0, {0.0});
    const Regimen inf = Regimen::iv_infusion(20.0, 0.75, {6.0, 30.0});
    regimen.events.insert(regimen.events.end(), inf.events.begin(), inf.events.end());
    const OutputGrid grid = OutputGrid::uniform(0, 48, 1.0 / 60.0);   // 2,881 times: 12 blocks
    const SimOptions opt;
    // Thresholds of C_plasma: crossed several times, never reached, below the whole curve
    // (above from t = 0 on: Ce starts at 0, C_plasma at its peak), and none.
    const Trajectory tr = simulate(sys, regimen, grid, opt);
    const double cmax = compute_metrics(tr, "C_plasma").cmax;
    for (double thr : {0.3 * cmax, 2.0 * cmax, 1e-6, std::numeric_limits<double>::quiet_NaN()}) {
        MetricOptions mo;
        mo.threshold = thr;
        mo.at_times = {47.99, 0.0, 6.0 + 1.0 / 120.0, 48.0, 17.3};   // unsorted, ends, between points
        compare(sys, regimen, grid, opt, mo, "threshold " + std::to_string(thr));
    }
    // A threshold crossed: the crossing times are the linear crossings of the two-pass rule.
    MetricOptions mo;
    mo.threshold = 0.3 * cmax;
    const auto fly = compare(sys, regimen, grid, opt, mo, "crossed");
    EXPECT_GT(fly[0].time_above, 0.0);
    EXPECT_LT(fly[0].time_above, 48.0);
    EXPECT_FALSE(std::isnan(fly[0].time_below_after_peak));
}

TEST(MetricsOnTheFly, NasalMultipleDosesAndTerminalWindowOptions) {
    const Model model = library("esketamine_nasal");
    LinearSystem sys = compile(model, Subject{});
    detail::select_outputs(sys, {"C_plasma", "C_metabolite"});
    const Regimen regimen = Regimen::intranasal(56.0, {0.0, 24.0, 48.0});
    const OutputGrid grid = OutputGrid::uniform(0, 72, 1.0 / 60.0);
    for (int variant = 0; variant < 4; ++variant) {
        MetricOptions mo;
        if (variant == 1) mo.terminal_phase = false;
        if (variant == 2) mo.terminal_start = 60.0;
        if (variant == 3) mo.last_dose_time = 10.0;   // a window that starts before the last dose
        const auto fly = compare(sys, regimen, grid, SimOptions{}, mo, "variant " + std::to_string(variant));
        if (variant != 1) {
            EXPECT_TRUE(std::isfinite(fly[0].lambda_z)) << variant;
        }
    }
}

TEST(MetricsOnTheFly, DosesBetweenOutputPointsAndEventTimesMerged) {
    const Model model = library("ketamine_iv_domino");
    const LinearSystem sys = compile(model, Subject{});
    // Doses and infusion ends that fall between output times (grid step 0.7 h).
    Regimen regimen = Regimen::iv_bolus(10.0, {0.3, 5.05});
    const Regimen inf = Regimen::iv_infusion(15.0, 1.13, {9.91});
    regimen.events.insert(regimen.events.end(), inf.events.begin(), inf.events.end());
    const OutputGrid grid = OutputGrid::uniform(0, 30, 0.7);
    MetricOptions mo;
    mo.threshold = 50.0;
    SimOptions opt;
    compare(sys, regimen, grid, opt, mo, "between");
    opt.include_event_times = true;
    compare(sys, regimen, grid, opt, mo, "event times merged");
}

TEST(MetricsOnTheFly, OdeSolverAndAmountsTakeTheTrajectoryPathWithTheSameResult) {
    const Model model = library("ketamine_iv_domino");
    const LinearSystem sys = compile(model, Subject{});
    const Regimen regimen = Regimen::iv_infusion(35.0, 0.5, {0.0});
    const OutputGrid grid = OutputGrid::uniform(0, 12, 0.1);
    SimOptions opt;
    opt.solver = SolverKind::ode;
    compare(sys, regimen, grid, opt, MetricOptions{}, "ode");
    opt = SimOptions{};
    opt.output_amounts = true;
    compare(sys, regimen, grid, opt, MetricOptions{}, "amounts");
}

TEST(MetricsOnTheFly, AtTimesOutsideTheCurveIsTheSameError) {
    const Model model = library("ketamine_iv_domino");
    const LinearSystem sys = compile(model, Subject{});
    MetricOptions mo;
    mo.at_times = {1.0, 30.0};
    const OutputGrid grid = OutputGrid::uniform(0, 24, 0.5);
    const Regimen regimen = Regimen::iv_bolus(35.0, {0.0});
    std::string two_pass, fly;
    try {
        compute_metrics(simulate(sys, regimen, grid), "C_plasma", mo);
    } catch (const InputError& e) {
        two_pass = e.what();
    }
    try {
        detail::simulate_metrics(sys, regimen, grid, SimOptions{}, mo);
    } catch (const InputError& e) {
        fly = e.what();
    }
    EXPECT_NE(two_pass.find("time 30 h is outside the simulated range [0, 24] h"), std::string::npos) << two_pass;
    EXPECT_EQ(fly, two_pass);
}

// Collects the solver's blocks into a matrix, checking they tile the times in order.
struct Collect final : detail::OutputBlockSink {
    OutputMatrix values;
    std::size_t next = 0;
    int blocks = 0;
    Collect(Eigen::Index rows, std::size_t cols) : values(rows, static_cast<Eigen::Index>(cols)) {}
    void block(double* v, std::size_t stride, std::size_t begin, std::size_t end) override {
        EXPECT_EQ(begin, next);
        EXPECT_GT(end, begin);
        for (Eigen::Index k = 0; k < values.rows(); ++k)
            for (std::size_t j = begin; j < end; ++j)
                values(k, static_cast<Eigen::Index>(j)) = v[static_cast<std::size_t>(k) * stride + (j - begin)];
        next = end;
        ++blocks;
    }
};

TEST(MetricsOnTheFly, SolverBlocksAreTheTrajectoryBitwiseForAnyBlockSize) {
    const Model model = library("esketamine_nasal");
    LinearSystem sys = compile(model, Subject{});
    detail::select_outputs(sys, {"C_plasma", "C_metabolite"});
    // Devices at 0 and 5 min, a second session at 6 h: doses inside and at block boundaries.
    const Regimen regimen = Regimen::intranasal(56.0, {0.0, 6.0});
    const OutputGrid grid = OutputGrid::uniform(0, 24, 1.0 / 60.0);
    const SimOptions opt;
    const detail::InputSchedule in = detail::build_inputs(sys, regimen, sys.weight_kg);
    const Trajectory tr = detail::simulate_exact(sys, in, grid.times, opt);
    for (std::size_t block :
         {std::size_t{1}, std::size_t{5}, std::size_t{360}, std::size_t{256}, std::size_t{100000}}) {
        Collect c(tr.values.rows(), grid.times.size());
        detail::simulate_exact_blocks(sys, in, grid.times, opt, c, block);
        EXPECT_EQ(c.next, grid.times.size()) << block;
        EXPECT_EQ(c.blocks, static_cast<int>((grid.times.size() + block - 1) / block)) << block;
        EXPECT_TRUE(c.values == tr.values) << "block " << block;
    }
}

TEST(MetricsOnTheFly, PopulationMetricsOnlyEqualsMetricsOnKeptTrajectories) {
    const Model model = library("esketamine_nasal");
    PopulationSpec spec;
    spec.n = 12;
    spec.seed = 3;
    const PopulationSource src(model, spec);
    const Regimen regimen = Regimen::intranasal(56.0, {0.0});
    const OutputGrid grid = OutputGrid::uniform(0, 24, 1.0 / 60.0);
    PopulationRunOptions o;
    o.outputs = {"C_plasma", "C_metabolite"};
    o.metric_options.threshold = 20.0;
    MemorySink fly, kept(true);
    run_population(model, regimen, grid, src, 0, spec.n, SimOptions{}, o, fly);
    o.keep_trajectories = true;
    run_population(model, regimen, grid, src, 0, spec.n, SimOptions{}, o, kept);
    ASSERT_EQ(fly.names, kept.names);
    EXPECT_TRUE(fly.trajectories.empty());
    ASSERT_EQ(kept.trajectories.size(), spec.n);
    for (std::size_t c = 0; c < fly.names.size(); ++c)
        for (std::size_t i = 0; i < spec.n; ++i) expect_same(fly.columns[c][i], kept.columns[c][i], fly.names[c]);
}

TEST(MetricsOnTheFly, SweepMetricsOnlyEqualsMetricsOnKeptTrajectories) {
    const Model model = library("esketamine_nasal");
    std::vector<SweepPoint> points;
    for (double ka : {1.0, 2.5, 4.0}) {
        SweepPoint p{Subject{}, Regimen::intranasal(56.0, {0.0})};
        p.subject.parameters["ka_n"] = ka;
        points.push_back(p);
    }
    const OutputGrid grid = OutputGrid::uniform(0, 24, 1.0 / 60.0);
    SweepOptions so;
    so.outputs = {"C_plasma"};
    so.metric_options.threshold = 20.0;
    // The same recorded outputs both ways (a sweep that keeps trajectories records every output
    // unless told, and propagating more states changes the last bits of C_plasma).
    SimOptions opt;
    opt.outputs = {"C_plasma"};
    const SweepResult fly = run_sweep(model, points, grid, opt, so);
    so.keep_trajectories = true;
    const SweepResult kept = run_sweep(model, points, grid, opt, so);
    for (std::size_t i = 0; i < points.size(); ++i)
        expect_same(fly.metrics[i].at("C_plasma"), kept.metrics[i].at("C_plasma"), "point " + std::to_string(i));
}

}   // namespace
}   // namespace ketasim
