// run_sweep: thread-count invariance, cancellation through the progress callback, and error
// propagation (first failing point by index, on the calling thread).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "ketasim/errors.hpp"
#include "ketasim/io.hpp"
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

}  // namespace

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
    EXPECT_THROW(ks::run_sweep(m, ka_grid(4000), ks::OutputGrid::uniform(0, 24, 1.0 / 60), {}, o),
                 ks::SweepCancelled);
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
    o.threads = 0;
    try {
        o.validate();
        FAIL();
    } catch (const ks::InputError& e) {
        EXPECT_NE(std::string(e.what()).find("SweepOptions.threads: 0"), std::string::npos);
    }
    ks::SweepOptions unknown;
    unknown.outputs = {"C_nothing"};
    EXPECT_THROW(ks::run_sweep(esketamine(), ka_grid(2), ks::OutputGrid::uniform(0, 1, 0.5), {}, unknown),
                 ks::InputError);
}

TEST(Sweep, EmptyPointListIsEmptyResult) {
    const auto r = ks::run_sweep(esketamine(), {}, ks::OutputGrid::uniform(0, 1, 0.5));
    EXPECT_TRUE(r.metrics.empty());
}
