// run_sweep: thread-count invariance, cancellation through the progress callback, and error
// propagation (first failing point by index, on the calling thread).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>

#include "ketasim/errors.hpp"
#include "ketasim/io.hpp"
#include "ketasim/run.hpp"
#include "ketasim/sweep.hpp"

namespace ks = ketasim;

namespace {

ks::Model esketamine() { return ks::load_library_model("esketamine_nasal", KETASIM_TEST_MODELS_DIR); }

std::vector<ks::SweepPoint> ka_grid(int n) {
    std::vector<ks::SweepPoint> pts;
    for (int i = 0; i < n; ++i) {
        ks::SweepPoint p;
        p.subject.parameters["ka_n"] = 1.0 + 4.0 * i / (n - 1);
        p.subject.weight_kg = 50.0 + (i % 3) * 20.0;
        p.regimen = ks::Regimen::intranasal(56.0, {0.0});
        pts.push_back(p);
    }
    return pts;
}

}   // namespace

TEST(Sweep, ResultsBitwiseIdenticalForAnyThreadCount) {
    const ks::Model m = esketamine();
    const auto pts = ka_grid(24);
    const auto grid = ks::OutputGrid::uniform(0, 24, 1.0 / 60);
    ks::SweepOptions one, three;
    one.keep_trajectories = three.keep_trajectories = true;
    three.threads = 3;
    const auto a = ks::run_sweep(m, pts, grid, {}, one);
    const auto b = ks::run_sweep(m, pts, grid, {}, three);
    ASSERT_EQ(a.metrics.size(), pts.size());
    ASSERT_EQ(b.trajectories.size(), pts.size());
    for (std::size_t i = 0; i < pts.size(); ++i) {
        // Exact equality on purpose: each point is computed by the same code, independently.
        EXPECT_EQ(a.metrics[i].at("C_plasma").cmax, b.metrics[i].at("C_plasma").cmax) << i;
        EXPECT_EQ(a.metrics[i].at("Ce").auc_0_t, b.metrics[i].at("Ce").auc_0_t) << i;
        EXPECT_TRUE(a.trajectories[i].values == b.trajectories[i].values) << i;
    }
    // And each point equals a plain simulate() of the same subject.
    const auto single = ks::simulate(m, pts[5].regimen, grid, {}, pts[5].subject);
    EXPECT_TRUE(single.values == a.trajectories[5].values);
}

TEST(Sweep, OutputsSelectsMetrics) {
    const ks::Model m = esketamine();
    ks::SweepOptions o;
    o.outputs = {"Ce"};
    const auto r = ks::run_sweep(m, ka_grid(3), ks::OutputGrid::uniform(0, 4, 0.1), {}, o);
    ASSERT_EQ(r.metrics[0].size(), 1u);
    EXPECT_EQ(r.metrics[0].count("Ce"), 1u);
    EXPECT_TRUE(r.trajectories.empty());
}

TEST(Sweep, ProgressFalseCancels) {
    const ks::Model m = esketamine();
    ks::SweepOptions o;
    o.threads = 2;
    std::atomic<int> calls{0};
    const auto caller = std::this_thread::get_id();
    bool other_thread = false;
    o.progress = [&](std::size_t, std::size_t total) {
        other_thread |= std::this_thread::get_id() != caller;
        EXPECT_EQ(total, 4000u);
        ++calls;
        return false;
    };
    EXPECT_THROW(ks::run_sweep(m, ka_grid(4000), ks::OutputGrid::uniform(0, 24, 1.0 / 60), {}, o), ks::SweepCancelled);
    EXPECT_EQ(calls.load(), 1);
    EXPECT_FALSE(other_thread);
}

TEST(Sweep, FirstErrorByIndexIsRethrown) {
    const ks::Model m = esketamine();
    auto pts = ka_grid(40);
    pts[7].subject.parameters["no_such_parameter"] = 1.0;
    pts[30].subject.weight_kg = -1.0;
    for (int threads : {1, 2, 4}) {
        ks::SweepOptions o;
        o.threads = threads;
        try {
            ks::run_sweep(m, pts, ks::OutputGrid::uniform(0, 24, 1.0 / 60), {}, o);
            FAIL() << "expected InputError";
        } catch (const ks::InputError& e) {
            EXPECT_NE(std::string(e.what()).find("no_such_parameter"), std::string::npos) << e.what();
        }
    }
}

TEST(Sweep, ValidatesOptions) {
    ks::SweepOptions o;
    o.threads = -1;
    try {
        o.validate();
        FAIL();
    } catch (const ks::InputError& e) {
        EXPECT_NE(std::string(e.what()).find("SweepOptions.threads: -1"), std::string::npos) << e.what();
    }
    ks::SweepOptions all;
    all.threads = 0;   // all available cores, as every run of the executor
    EXPECT_NO_THROW(all.validate());
    ks::SweepOptions unknown;
    unknown.outputs = {"C_nothing"};
    EXPECT_THROW(ks::run_sweep(esketamine(), ka_grid(2), ks::OutputGrid::uniform(0, 1, 0.5), {}, unknown),
                 ks::InputError);
}

TEST(Sweep, EmptyPointListIsEmptyResult) {
    const auto r = ks::run_sweep(esketamine(), {}, ks::OutputGrid::uniform(0, 1, 0.5));
    EXPECT_TRUE(r.metrics.empty());
}

// ---- sweeps over a design source (lazily indexed grid) on the executor --------------------------

TEST(SweepSource, BillionPointGridIsDecodedWithoutMaterializing) {
    // 1000 x 1000 x 1000 levels: the design stores 3000 numbers and decodes any index.
    std::vector<double> a(1000), b(1000), c(1000);
    for (int i = 0; i < 1000; ++i) a[i] = i, b[i] = 1000 + i, c[i] = 2000 + i;
    const ks::GridDesign g({"ka_n", "age", "dose"}, {a, b, c});
    EXPECT_EQ(g.size(), 1000000000u);
    double x[3];
    g.point(123456789, x);   // last factor fastest: digits 123, 456, 789
    EXPECT_EQ(x[0], 123.0);
    EXPECT_EQ(x[1], 1456.0);
    EXPECT_EQ(x[2], 2789.0);
    g.point(999999999, x);
    EXPECT_EQ(x[0], 999.0);
    EXPECT_EQ(x[2], 2999.0);
    EXPECT_THROW(g.point(1000000000, x), ks::InputError);
    const ks::SweepSource src(ks::Subject{}, ks::Regimen::intranasal(56.0, {0.0}), g);
    EXPECT_EQ(src.size(), 1000000000u);
    const ks::SweepPoint p = src.point(999999999);
    EXPECT_EQ(p.subject.parameters.at("ka_n"), 999.0);
    EXPECT_EQ(p.subject.age_years, 1999.0);   // range checked when the point runs, not when decoded
}

TEST(SweepSource, GridOverflowIsAnError) {
    std::vector<std::vector<double>> levels(7, std::vector<double>(1000, 1.0));
    std::vector<std::string> names = {"a", "b", "c", "d", "e", "f", "g"};
    EXPECT_THROW(ks::GridDesign(names, levels), ks::InputError);   // 1e21 points > 2^63
}

TEST(SweepSource, EqualsPointListAndIsInvariantToThreadsChunksAndRanges) {
    const ks::Model m = esketamine();
    std::vector<double> ka = {1.0, 2.5, 4.0}, age = {30, 70}, dose = {28, 56, 84};
    const ks::GridDesign g({"ka_n", "age", "dose"}, {ka, age, dose});
    const ks::Regimen reg = ks::Regimen::intranasal(56.0, {0.0});
    const ks::SweepSource src(ks::Subject{}, reg, g);
    const auto grid = ks::OutputGrid::uniform(0, 12, 1.0 / 30);
    ks::SweepOptions o;
    o.outputs = {"C_plasma"};
    ks::MemorySink whole;
    ks::run_sweep(m, src, 0, src.size(), grid, {}, o, whole);
    ASSERT_EQ(whole.columns[0].size(), 18u);
    EXPECT_EQ(whole.names[0], "ka_n");
    EXPECT_EQ(whole.names[3], "C_plasma.cmax");
    // Against the list-of-points form (the pre-executor API), point by point, bit for bit.
    std::vector<ks::SweepPoint> pts;
    for (std::size_t i = 0; i < src.size(); ++i) pts.push_back(src.point(i));
    const auto list = ks::run_sweep(m, pts, grid, {}, o);
    for (std::size_t i = 0; i < pts.size(); ++i) {
        EXPECT_EQ(whole.column("C_plasma.cmax")[i], list.metrics[i].at("C_plasma").cmax) << i;
        EXPECT_EQ(whole.column("C_plasma.auc_0_t")[i], list.metrics[i].at("C_plasma").auc_0_t) << i;
    }
    // Dose scales the regimen: 84 mg gives 1.5x the AUC of 56 mg (linear PK).
    EXPECT_NEAR(whole.column("C_plasma.auc_0_t")[2] / whole.column("C_plasma.auc_0_t")[1], 1.5, 1e-9);
    // Two threads, chunk 1, and two index ranges concatenated: identical.
    ks::SweepOptions o2 = o;
    o2.threads = 2;
    o2.chunk = 1;
    ks::MemorySink lo, hi;
    ks::run_sweep(m, src, 0, 7, grid, {}, o2, lo);
    ks::run_sweep(m, src, 7, 18, grid, {}, o2, hi);
    for (std::size_t c = 0; c < whole.columns.size(); ++c)
        for (std::size_t i = 0; i < 18; ++i) {
            const double v = i < 7 ? lo.columns[c][i] : hi.columns[c][i - 7];
            const double w = whole.columns[c][i];
            EXPECT_TRUE((std::isnan(v) && std::isnan(w)) || v == w) << whole.names[c] << " " << i;
        }
}

TEST(SweepSource, BadPointNamesItsIndex) {
    const ks::GridDesign g({"dose"}, {{56.0, -1.0}});
    const ks::SweepSource src(ks::Subject{}, ks::Regimen::intranasal(56.0, {0.0}), g);
    ks::MemorySink sink;
    try {
        ks::run_sweep(esketamine(), src, 0, 2, ks::OutputGrid::uniform(0, 1, 0.5), {}, {}, sink);
        FAIL();
    } catch (const ks::InputError& e) {
        EXPECT_NE(std::string(e.what()).find("sweep point 1: dose = -1 mg must be > 0"), std::string::npos) << e.what();
    }
}

namespace {
// A metrics-only sink that keeps nothing: counts rows and checks blocks fall inside the range.
class CountingSink : public ks::ResultSink {
public:
    void start(const std::vector<std::string>& n, const std::vector<std::string>&, std::size_t b,
               std::size_t e) override {
        names = n;
        begin = b;
        end = e;
    }
    void write(ks::ColumnBlock&& block) override {
        EXPECT_GE(block.begin, begin);
        EXPECT_LE(block.end, end);
        rows += block.end - block.begin;
        max_cmax = std::max(max_cmax, *std::max_element(block.columns[3].begin(), block.columns[3].end()));
    }
    std::vector<std::string> names;
    std::size_t begin = 0, end = 0, rows = 0;
    double max_cmax = 0;
};
}   // namespace

TEST(SweepSource, IndexRangeOfABillionPointGridStreamsToASink) {
    // The run touches only its range: rows [999999936, 1e9) of a 1e9-point grid, into a sink that
    // keeps nothing (a shard of a huge sweep, as the HPC run layer will run it).
    std::vector<double> ka(1000), age(1000), dose(1000);
    for (int i = 0; i < 1000; ++i) ka[i] = 1.0 + 4.0 * i / 999, age[i] = 20 + 0.06 * i, dose[i] = 14 + 0.07 * i;
    const ks::GridDesign g({"ka_n", "age", "dose"}, {ka, age, dose});
    const ks::SweepSource src(ks::Subject{}, ks::Regimen::intranasal(56.0, {0.0}), g);
    ks::SweepOptions o;
    o.outputs = {"C_plasma"};
    o.threads = 2;
    CountingSink sink;
    ks::run_sweep(esketamine(), src, src.size() - 64, src.size(), ks::OutputGrid::uniform(0, 6, 0.1), {}, o, sink);
    EXPECT_EQ(sink.rows, 64u);
    EXPECT_EQ(sink.names[3], "C_plasma.cmax");
    EXPECT_GT(sink.max_cmax, 0.0);
    EXPECT_THROW(ks::run_sweep(esketamine(), src, 5, src.size() + 1, ks::OutputGrid::uniform(0, 6, 0.1), {}, o, sink),
                 ks::InputError);
}

TEST(SweepSource, LatinHypercubeOverParameterDoseAndCovariateRuns) {
    // A design other than a grid through the same source: parameter, dose and age per point, each
    // point equal to the same subject and regimen run alone.
    const ks::Model m = esketamine();
    std::vector<ks::Factor> f = {
        ks::parse_factor("ka_n=uniform(1, 5)", "test", &m),
        ks::parse_factor("dose=loguniform(28 mg, 84 mg)", "test", &m),
        ks::parse_factor("age=normal(50 years, 15 years, lower=20 years, upper=90 years)", "test", &m)};
    const ks::LatinHypercubeDesign lhs(f, 12, 7);
    const ks::Regimen reg = ks::Regimen::intranasal(56.0, {0.0});
    const ks::SweepSource src(ks::Subject{}, reg, lhs);
    const auto grid = ks::OutputGrid::uniform(0, 12, 0.1);
    ks::SweepOptions o;
    o.outputs = {"C_plasma"};
    o.threads = 2;
    ks::MemorySink sink;
    ks::run_sweep(m, src, 0, src.size(), grid, {}, o, sink);
    for (std::size_t i = 0; i < src.size(); ++i) {
        const ks::SweepPoint p = src.point(i);
        EXPECT_EQ(sink.column("ka_n")[i], p.subject.parameters.at("ka_n"));
        EXPECT_EQ(sink.column("age")[i], p.subject.age_years);
        double total = 0;
        for (const auto& e : p.regimen.events) total += e.amount;   // every device scaled alike
        EXPECT_NEAR(total, sink.column("dose")[i], 1e-12 * sink.column("dose")[i]);
        const ks::Trajectory tr = ks::simulate(m, p.regimen, grid, {}, p.subject);
        EXPECT_NEAR(sink.column("C_plasma.cmax")[i], ks::compute_metrics(tr, "C_plasma").cmax,
                    1e-11 * sink.column("C_plasma.cmax")[i]);
    }
}
