// Issue 11: where a trajectory run's time goes per run chunk, in thread CPU time (not wall time,
// so that a shared, loaded machine still measures it). The spec of benchmarks/run/
// iv_28d_hourly.toml: ketamine_iv_clements, six IV sessions, C_plasma hourly over 28 days (673
// points), weight drawn, 256 patients per chunk, deflate level 1 (run specs' default).
//   simulate: run_population of one chunk (one thread)        -> in the workers
//   encode:   RunFileWriter::encode_chunk (checks, filters)   -> in the workers (was in the writer)
//   write:    RunFileWriter::write_encoded (H5Dwrite_chunk, chunks_done, two flushes) -> serialized
// The serialized share bounds the speed-up of p threads at 1 / (serial + (1 - serial) / p).
// A plain program (one measurement over 40 chunks), as bench_course_population.
#include <time.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "io/stream_h5.hpp"
#include "ketasim/ketasim.hpp"

using namespace ketasim;

namespace {
double thread_cpu_s() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}
}   // namespace

int main(int argc, char** argv) {
    const int level = argc > 1 ? std::stoi(argv[1]) : 1;
    constexpr std::size_t kChunk = 256, kChunks = 40;
    const Model model = load_library_model("ketamine_iv_clements", KETASIM_BENCH_MODELS_DIR);
    const Regimen regimen = load_regimen(std::string(KETASIM_BENCH_MODELS_DIR) + "/regimens/iv_6_sessions.toml");
    const OutputGrid grid = OutputGrid::uniform(0.0, 28 * 24.0, 1.0);
    PopulationSpec ps;
    ps.n = kChunk * kChunks;
    ps.seed = 1;
    ps.covariates = load_covariate_distributions(KETASIM_BENCH_DATA_DIR "/run/weight.toml");
    const PopulationSource source(model, ps, regimen.per_kg());
    PopulationRunOptions ro;
    ro.outputs = {"C_plasma"};
    ro.keep_trajectories = true;
    ro.parallel.threads = 1;
    ro.parallel.chunk = kChunk;
    SimOptions sim;

    const std::string path = (std::filesystem::temp_directory_path() / "ketasim_bench_run_chunk.h5").string();
    std::filesystem::remove(path);
    detail::RunFileLayout L;
    double t_sim = 0, t_enc = 0, t_write = 0;
    std::unique_ptr<detail::RunFileWriter> w;
    for (std::size_t k = 0; k < kChunks; ++k) {
        MemorySink sink(true);
        double t0 = thread_cpu_s();
        run_population(model, regimen, grid, source, k * kChunk, (k + 1) * kChunk, sim, ro, sink);
        t_sim += thread_cpu_s() - t0;
        if (!w) {
            L.n_total = L.end = kChunk * kChunks;
            L.chunk = kChunk;
            L.columns = sink.names;
            L.column_units = sink.units;
            L.outputs = {"C_plasma"};
            L.output_units = {"ng/mL"};
            L.time = grid.times;
            L.compression = level;
            w = std::make_unique<detail::RunFileWriter>(path, L);
        }
        detail::RowBlock b;
        b.begin = k * kChunk;
        b.end = (k + 1) * kChunk;
        b.columns = sink.columns;
        std::vector<double> v;
        for (const auto& tr : sink.trajectories)
            v.insert(v.end(), tr.values.row(0).data(), tr.values.row(0).data() + tr.values.cols());
        b.outputs = {v};
        t0 = thread_cpu_s();
        const detail::EncodedChunk e = w->encode_chunk(k, b);
        t_enc += thread_cpu_s() - t0;
        t0 = thread_cpu_s();
        w->write_encoded(e);
        t_write += thread_cpu_s() - t0;
    }
    w->mark_complete();
    w.reset();
    const double total = t_sim + t_enc + t_write, n = static_cast<double>(kChunks);
    std::printf("deflate level %d, %zu chunks of %zu patients, %zu time points; thread CPU ms per chunk:\n", level,
                kChunks, kChunk, grid.times.size());
    std::printf("  simulate %.1f  encode %.1f  write %.1f  (total %.1f)\n", 1e3 * t_sim / n, 1e3 * t_enc / n,
                1e3 * t_write / n, 1e3 * total / n);
    const double serial_old = (t_enc + t_write) / total, serial_new = t_write / total;
    std::printf("  serialized share: %.1f %% (encode in the writer, as before) -> %.1f %% (encode in the workers)\n",
                100 * serial_old, 100 * serial_new);
    for (int p : {2, 4, 8})
        std::printf("  bound on the speed-up with %d threads: %.2fx before, %.2fx now\n", p,
                    1 / (serial_old + (1 - serial_old) / p), 1 / (serial_new + (1 - serial_new) / p));
    std::filesystem::remove(path);
    return 0;
}
