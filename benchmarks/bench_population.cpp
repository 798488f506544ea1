// Populations (issue 8): what a population run costs per patient, against a bare loop over the
// same patients in the same run.
//  - pk/bare: for each patient, draw (PopulationSource), compile, simulate C_plasma; no metrics.
//  - pk/metrics: run_population, metrics only (every registry metric of C_plasma), one thread.
//    The ratio metrics / bare is the "metrics-only costs at most 1.2x a bare simulation" target.
//  - pk/metrics_no_terminal_fit: pk/metrics (one thread) without the log-linear terminal fit.
//  - pk/threads:N: run_population with N threads (1 vs 2: scaling on this machine).
//  - course/<schedule>: run_course_population per patient (PK + acute + symptom model), 1 thread.
// Esketamine 56 mg (two devices), 0-24 h at 1-min output, 256 patients per iteration.
#include <benchmark/benchmark.h>

#include "ketasim/ketasim.hpp"
#include "solve/inputs.hpp"

using namespace ketasim;

namespace {

constexpr std::size_t kPatients = 256;

struct PkCase {
    Model model = load_library_model("esketamine_nasal", KETASIM_BENCH_MODELS_DIR);
    Regimen regimen = Regimen::intranasal(56.0, {0.0});
    OutputGrid grid = OutputGrid::uniform(0, 24, 1.0 / 60.0);
    PopulationSpec spec = [] {
        PopulationSpec s;
        s.n = kPatients;
        s.seed = 1;
        return s;
    }();
};

void pk_bare(benchmark::State& state) {
    const PkCase c;
    const PopulationSource src(c.model, c.spec);
    SimOptions o;
    o.outputs = {"C_plasma"};
    std::vector<double> ov;
    for (auto _ : state) {
        for (std::size_t i = 0; i < kPatients; ++i) {
            const Subject s = src.subject(i, ov);
            LinearSystem sys = src.layout().compile(s, ov.data());
            detail::select_outputs(sys, o.outputs);
            Trajectory tr = detail::simulate_system(sys, c.regimen, c.grid, o);
            benchmark::DoNotOptimize(tr.values.data());
        }
    }
    state.counters["patients/s"] =
        benchmark::Counter(static_cast<double>(kPatients), benchmark::Counter::kIsIterationInvariantRate);
}

void pk_metrics(benchmark::State& state) {
    const PkCase c;
    const PopulationSource src(c.model, c.spec);
    PopulationRunOptions o;
    o.outputs = {"C_plasma"};
    o.parallel.threads = static_cast<int>(state.range(0));
    o.parallel.chunk = 16;
    for (auto _ : state) {
        MemorySink sink;
        run_population(c.model, c.regimen, c.grid, src, 0, kPatients, SimOptions{}, o, sink);
        benchmark::DoNotOptimize(sink.columns.data());
    }
    state.counters["patients/s"] =
        benchmark::Counter(static_cast<double>(kPatients), benchmark::Counter::kIsIterationInvariantRate);
}

// pk/metrics without the terminal fit (MetricOptions::terminal_phase = false): what the fit costs.
void pk_metrics_no_fit(benchmark::State& state) {
    const PkCase c;
    const PopulationSource src(c.model, c.spec);
    PopulationRunOptions o;
    o.outputs = {"C_plasma"};
    o.parallel.threads = 1;
    o.metric_options.terminal_phase = false;
    for (auto _ : state) {
        MemorySink sink;
        run_population(c.model, c.regimen, c.grid, src, 0, kPatients, SimOptions{}, o, sink);
        benchmark::DoNotOptimize(sink.columns.data());
    }
    state.counters["patients/s"] =
        benchmark::Counter(static_cast<double>(kPatients), benchmark::Counter::kIsIterationInvariantRate);
}

void course(benchmark::State& state, const std::string& schedule, double dt_h, bool metrics_only = false) {
    ScheduleRequest q;
    q.name = schedule;
    const ScheduleInfo& info = schedule_info(schedule);
    const Model model = load_library_model(info.default_model, KETASIM_BENCH_MODELS_DIR);
    const CourseSpec spec = schedule_course(q, model);
    const PdParameterSet acute = load_library_pd("acute_effects", KETASIM_BENCH_MODELS_DIR);
    const PdParameterSet madrs = load_library_pd("madrs", KETASIM_BENCH_MODELS_DIR);
    PopulationSpec ps;
    ps.n = 16;
    ps.seed = 1;
    const PopulationSource src(spec.model, ps, spec.regimen.per_kg());
    CoursePopulationOptions o;
    o.course.dt_h = dt_h;
    o.metrics_only = metrics_only;
    o.parallel.threads = 1;
    for (auto _ : state) {
        MemorySink sink;
        run_course_population(spec, acute, madrs, src, 0, ps.n, o, sink);
        benchmark::DoNotOptimize(sink.columns.data());
    }
    state.counters["patients/s"] =
        benchmark::Counter(static_cast<double>(ps.n), benchmark::Counter::kIsIterationInvariantRate);
}

}   // namespace

BENCHMARK(pk_bare)->Name("pk/bare")->Unit(benchmark::kMillisecond);
BENCHMARK(pk_metrics)->Name("pk/metrics/threads")->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(pk_metrics_no_fit)->Name("pk/metrics_no_terminal_fit")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(course, iv_3x_weekly_dt1min, "iv-3x-weekly", 1.0 / 60.0)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(course, esketamine_induction_dt1min, "esketamine-induction", 1.0 / 60.0)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(course, esketamine_induction_dt5min, "esketamine-induction", 5.0 / 60.0)
    ->Unit(benchmark::kMillisecond);

// Metrics-only course path (run_course_metrics): same patients, same columns.
BENCHMARK_CAPTURE(course, esketamine_induction_dt1min_metrics_only, "esketamine-induction", 1.0 / 60.0, true)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(course, esketamine_induction_dt5min_metrics_only, "esketamine-induction", 5.0 / 60.0, true)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(course, iv_3x_weekly_dt1min_metrics_only, "iv-3x-weekly", 1.0 / 60.0, true)
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
