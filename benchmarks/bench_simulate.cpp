// One subject: 6 IV infusions of 0.5 mg/kg over 40 min on days 0,2,4,7,9,11, output every 5 min
// for 14 days (4033 output times), per solver and model. Each iteration compiles the model for
// the subject and simulates (what a population run does per subject).
#include <benchmark/benchmark.h>

#include "ketasim/ketasim.hpp"

using namespace ketasim;

namespace {

void run(benchmark::State& state, const std::string& model_name, SolverKind solver, OdeMethod method) {
    const Model m = load_library_model(model_name, KETASIM_BENCH_MODELS_DIR);
    const Regimen r = Regimen::iv_infusion(0.5, 40.0 / 60.0, {0, 48, 96, 168, 216, 264}, true);
    const OutputGrid g = OutputGrid::uniform(0, 14 * 24, 5.0 / 60.0);
    SimOptions o;
    o.solver = solver;
    o.method = method;
    o.rtol = 1e-8;
    o.atol = 1e-10;
    Subject s;
    for (auto _ : state) {
        Trajectory tr = simulate(m, r, g, o, s);
        benchmark::DoNotOptimize(tr.values.data());
    }
    state.counters["outputs"] = static_cast<double>(g.times.size());
}

// The point of issue 3's Python sweep benchmark, without Python: esketamine_nasal, 56 mg as two
// 28 mg devices 5 min apart, 0-24 h every minute (1,441 outputs). `stage` selects how much of
// one sweep point runs: 0 compile only, 1 compile + simulate (C_plasma only), 2 + metrics.
void sweep_point(benchmark::State& state) {
    const Model m = load_library_model("esketamine_nasal", KETASIM_BENCH_MODELS_DIR);
    const Regimen r = Regimen::intranasal(56.0, {0.0});
    const OutputGrid g = OutputGrid::uniform(0, 24, state.range(1) == 0 ? 1.0 / 60.0 : 1.0);
    SimOptions o;
    o.outputs = {"C_plasma"};
    Subject s;
    const auto stage = state.range(0);
    for (auto _ : state) {
        if (stage == 0) {
            LinearSystem sys = compile(m, s);
            benchmark::DoNotOptimize(sys.A.data());
            continue;
        }
        Trajectory tr = simulate(m, r, g, o, s);
        if (stage == 2) {
            Metrics mt = compute_metrics(tr, "C_plasma");
            benchmark::DoNotOptimize(mt.auc_0_t);
        }
        benchmark::DoNotOptimize(tr.values.data());
    }
}

}   // namespace

BENCHMARK(sweep_point)->Args({0, 0})->Args({1, 0})->Args({2, 0})->Args({1, 1})->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(run, clements_exact, "ketamine_iv_clements", SolverKind::exact, OdeMethod::dopri5)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(run, clements_ode_dopri5, "ketamine_iv_clements", SolverKind::ode, OdeMethod::dopri5)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(run, clements_ode_rosenbrock4, "ketamine_iv_clements", SolverKind::ode, OdeMethod::rosenbrock4)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(run, domino_exact, "ketamine_iv_domino", SolverKind::exact, OdeMethod::dopri5)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(run, domino_ode_dopri5, "ketamine_iv_domino", SolverKind::ode, OdeMethod::dopri5)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(run, esketamine_iv_exact, "esketamine_nasal", SolverKind::exact, OdeMethod::dopri5)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(run, esketamine_iv_ode_dopri5, "esketamine_nasal", SolverKind::ode, OdeMethod::dopri5)
    ->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
