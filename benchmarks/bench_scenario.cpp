// Issue 12's speed scenario, with a hand-written floor beside ketasim so the ratio is measured in
// one run. Model benchmarks/data/depot_2cmt_effect.toml (depot, central, peripheral, effect site);
// six 40-min infusions of 35 mg into the depot on days 0, 2, 4, 7, 9, 11; output every 5 min for
// 14 days (4,033 points); C_plasma and Ce recorded; C_plasma's Cmax taken. Subject i (cycling
// through a table of 1,000) has its own CL and V1, log-normal draws from a fixed seed.
//
//   scenario/floor              the propagation written by hand for this model: A built from the
//                               subject's parameters, a 4x4 eigendecomposition, the state carried
//                               in the eigenbasis, both outputs written, Cmax scanned.
//   scenario/ketasim_simulate   the public API: simulate(Model, Regimen, OutputGrid, SimOptions,
//                               Subject) with the subject's CL and V1 as parameter overrides.
//   scenario/ketasim_population the population runner's path: ParameterLayout::compile with
//                               override values + detail::simulate_system (no name lookups).
// The setup checks that the floor and ketasim agree (max relative difference, printed as the
// counter `max_rel_diff`), so the floor is the same computation and not a shortcut.
#include <benchmark/benchmark.h>

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "ketasim/ketasim.hpp"
#include "solve/inputs.hpp"

using namespace ketasim;

namespace {

constexpr int kSubjects = 1000;
constexpr double kDoseMg = 35.0;
constexpr double kInfusionH = 40.0 / 60.0;
constexpr double kStepH = 5.0 / 60.0;
const std::vector<double> kDoseDays = {0, 2, 4, 7, 9, 11};

struct Scenario {
    Model model;
    Regimen regimen;
    OutputGrid grid;
    std::vector<double> cl, v1;   // per subject, L/h and L
    Scenario() : model(load_model(KETASIM_BENCH_DATA_DIR "/depot_2cmt_effect.toml")) {
        DoseEvent e;
        e.compartment = "depot";
        e.amount = kDoseMg;
        e.duration = kInfusionH;
        regimen.add_on_days(e, kDoseDays);
        grid = OutputGrid::uniform(0, 14 * 24, kStepH);
        // omega^2 = ln(1 + CV^2) for CV 30 % (CL) and 25 % (V1).
        std::mt19937_64 rng(20261122);
        std::normal_distribution<double> z(0.0, 1.0);
        const double cl0 = model.parameter("CL").value, v10 = model.parameter("V1").value;
        for (int i = 0; i < kSubjects; ++i) {
            cl.push_back(cl0 * std::exp(std::sqrt(std::log(1 + 0.09)) * z(rng)));
            v1.push_back(v10 * std::exp(std::sqrt(std::log(1 + 0.0625)) * z(rng)));
        }
    }
};

const Scenario& scenario() {
    static const Scenario s;
    return s;
}

struct FloorResult {
    std::vector<double> cp, ce;
    double cmax;
};

// The floor: what a programmer would write for exactly this model and grid. Every output step is
// the same 5 min; infusions start and stop on grid points (day boundaries, 40 min = 8 steps).
void floor_subject(double CL, double V1, FloorResult& out) {
    const Model& m = scenario().model;
    const double ka = m.parameter("ka").value, Q = m.parameter("Q").value, V2 = m.parameter("V2").value,
                 ke0 = m.parameter("ke0").value;
    Eigen::Matrix4d A = Eigen::Matrix4d::Zero();   // depot, central, peripheral, Ce (ng/mL)
    A(0, 0) = -ka;
    A(1, 0) = ka;
    A(1, 1) = -(CL + Q) / V1;
    A(1, 2) = Q / V2;
    A(2, 1) = Q / V1;
    A(2, 2) = -Q / V2;
    A(3, 1) = ke0 * 1000.0 / V1;
    A(3, 3) = -ke0;
    Eigen::EigenSolver<Eigen::Matrix4d> es(A);
    const Eigen::Vector4d lam = es.eigenvalues().real();
    const Eigen::Matrix4d V = es.pseudoEigenvectors();
    const Eigen::Matrix4d Vinv = V.inverse();
    double e[4], g[4], w[4], z[4] = {0, 0, 0, 0}, cv0[4], cv1[4];
    const double rate = kDoseMg / kInfusionH;
    for (int i = 0; i < 4; ++i) {
        const double x = lam[i] * kStepH;
        e[i] = std::exp(x);
        g[i] = std::expm1(x) / lam[i];
        w[i] = Vinv(i, 0) * rate;   // the input goes into the depot only
        cv0[i] = 1000.0 / V1 * V(1, i);
        cv1[i] = V(3, i);
    }
    const int n = static_cast<int>(scenario().grid.times.size());
    out.cp.resize(static_cast<std::size_t>(n));
    out.ce.resize(static_cast<std::size_t>(n));
    const int per_day = static_cast<int>(std::lround(24 / kStepH)),
              on_steps = static_cast<int>(std::lround(kInfusionH / kStepH));
    std::vector<int> starts;
    for (double d : kDoseDays) starts.push_back(static_cast<int>(d) * per_day);
    std::size_t next = 0;
    int stop = -1;
    bool on = false;
    double cmax = 0;
    for (int k = 0; k < n; ++k) {
        if (k > 0) {
            if (on)
                for (int i = 0; i < 4; ++i) z[i] = e[i] * z[i] + g[i] * w[i];
            else
                for (int i = 0; i < 4; ++i) z[i] *= e[i];
        }
        if (k == stop) on = false;
        if (next < starts.size() && k == starts[next]) {
            on = true;
            stop = k + on_steps;
            ++next;
        }
        const double cp = cv0[0] * z[0] + cv0[1] * z[1] + cv0[2] * z[2] + cv0[3] * z[3];
        const double ce = cv1[0] * z[0] + cv1[1] * z[1] + cv1[2] * z[2] + cv1[3] * z[3];
        out.cp[static_cast<std::size_t>(k)] = cp;
        out.ce[static_cast<std::size_t>(k)] = ce;
        cmax = std::max(cmax, cp);
    }
    out.cmax = cmax;
}

Subject subject_of(int i) {
    Subject s;
    s.parameters["CL"] = scenario().cl[static_cast<std::size_t>(i)];
    s.parameters["V1"] = scenario().v1[static_cast<std::size_t>(i)];
    return s;
}

// Max relative difference (to each output's own max) between ketasim and the floor over the
// first subjects: shows the floor computes the same thing.
double floor_vs_ketasim() {
    const Scenario& sc = scenario();
    double worst = 0;
    FloorResult f;
    for (int i = 0; i < 20; ++i) {
        floor_subject(sc.cl[static_cast<std::size_t>(i)], sc.v1[static_cast<std::size_t>(i)], f);
        const Trajectory tr = simulate(sc.model, sc.regimen, sc.grid, SimOptions{}, subject_of(i));
        for (const auto* name : {"C_plasma", "Ce"}) {
            const auto y = tr[name];
            const std::vector<double>& ref = std::string(name) == "Ce" ? f.ce : f.cp;
            const double scale = y.cwiseAbs().maxCoeff();
            for (Eigen::Index k = 0; k < y.size(); ++k)
                worst = std::max(worst, std::fabs(y[k] - ref[static_cast<std::size_t>(k)]) / scale);
        }
    }
    return worst;
}

void floor_loop(benchmark::State& state) {
    const Scenario& sc = scenario();
    FloorResult f;
    int i = 0;
    for (auto _ : state) {
        floor_subject(sc.cl[static_cast<std::size_t>(i)], sc.v1[static_cast<std::size_t>(i)], f);
        benchmark::DoNotOptimize(f.cmax);
        benchmark::DoNotOptimize(f.ce.data());
        i = (i + 1) % kSubjects;
    }
    state.counters["max_rel_diff"] = floor_vs_ketasim();
}

void ketasim_simulate(benchmark::State& state) {
    const Scenario& sc = scenario();
    std::vector<Subject> subjects;
    for (int i = 0; i < kSubjects; ++i) subjects.push_back(subject_of(i));
    int i = 0;
    for (auto _ : state) {
        const Trajectory tr =
            simulate(sc.model, sc.regimen, sc.grid, SimOptions{}, subjects[static_cast<std::size_t>(i)]);
        double cmax = tr["C_plasma"].maxCoeff();
        benchmark::DoNotOptimize(cmax);
        i = (i + 1) % kSubjects;
    }
}

void ketasim_population(benchmark::State& state) {
    const Scenario& sc = scenario();
    const ParameterLayout layout(sc.model);
    const int icl = layout.index("CL"), iv1 = layout.index("V1");
    std::vector<double> overrides(layout.size(), std::numeric_limits<double>::quiet_NaN());
    const Subject s;
    const SimOptions opt;
    int i = 0;
    for (auto _ : state) {
        overrides[static_cast<std::size_t>(icl)] = sc.cl[static_cast<std::size_t>(i)];
        overrides[static_cast<std::size_t>(iv1)] = sc.v1[static_cast<std::size_t>(i)];
        const LinearSystem sys = layout.compile(s, overrides.data());
        const Trajectory tr = detail::simulate_system(sys, sc.regimen, sc.grid, opt);
        double cmax = tr.values.row(0).maxCoeff();
        benchmark::DoNotOptimize(cmax);
        i = (i + 1) % kSubjects;
    }
}

}   // namespace

BENCHMARK(floor_loop)->Name("scenario/floor")->Unit(benchmark::kMicrosecond);
BENCHMARK(ketasim_simulate)->Name("scenario/ketasim_simulate")->Unit(benchmark::kMicrosecond);
BENCHMARK(ketasim_population)->Name("scenario/ketasim_population")->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
