// `ketasim run SPEC.toml` and `ketasim merge OUT SHARDS...`: translation only; the spec, the
// executor, the file format and the merge are the library's (include/ketasim/runspec.hpp).
// SIGTERM (what SLURM sends at the time limit) and SIGINT stop the run at the next chunk boundary
// with the file resumable.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "cli/commands.hpp"
#include "ketasim/errors.hpp"
#include "ketasim/runspec.hpp"

namespace ketasim::cli {

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }

void install_stop_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;   // the handler only sets a flag; interrupted I/O carries on
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
}

std::string size_text(double b) {
    char buf[64];
    if (b >= 1073741824.0)
        std::snprintf(buf, sizeof buf, "%.2f GiB", b / 1073741824.0);
    else if (b >= 1048576.0)
        std::snprintf(buf, sizeof buf, "%.1f MiB", b / 1048576.0);
    else
        std::snprintf(buf, sizeof buf, "%.0f KiB", b / 1024.0);
    return buf;
}

}   // namespace

int run_run_cli(const RunCliOptions& o) {
#ifdef KETASIM_WITH_MPI
    if (launched_by_mpi()) return run_run_mpi(o);
#endif
    return run_spec_cli(load_run_spec(o.spec), o);
}

int run_spec_cli(const RunSpec& spec, const RunCliOptions& o) {
    RunControl control;
    control.models_dir = o.models_dir;
    control.threads = o.threads;
    if (!o.shard.empty()) control.shard = parse_shard(o.shard);
    control.resume = o.resume;
    control.allow_over_budget = o.over_budget;
    if (o.dry_run || !o.resume) {
        const RunEstimate e = estimate_run(spec, control);
        if (o.dry_run) {
            std::cout << "ketasim run --dry-run: " << spec.source << "\n"
                      << "points: " << e.points << " (rows " << e.begin << " to " << e.end << " of " << e.total
                      << "), chunks: " << e.chunks << " of " << spec.chunk << "\n"
                      << "output: " << e.path << ", about " << size_text(e.output_bytes) << " ("
                      << static_cast<long long>(e.output_bytes) << " bytes; disk free " << size_text(e.disk_free_bytes)
                      << ")\n"
                      << "peak memory: about " << size_text(e.peak_memory_bytes) << " (budget "
                      << size_text(e.memory_budget_bytes) << ")\n";
        }
        check_estimate(e, control);
        if (o.dry_run) return 0;
    }
    install_stop_handlers();
    const bool tty = !o.quiet && ::isatty(STDERR_FILENO);
    const auto start = std::chrono::steady_clock::now();
    control.progress = [&](std::size_t done, std::size_t total) {
        if (tty) {
            const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            const double rate = s > 0 ? static_cast<double>(done) / s : 0.0;
            const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0.0;
            std::fprintf(stderr, "\rketasim run: %zu/%zu points, %.0f/s, ETA %.0f s   ", done, total, rate, eta);
        }
        return g_stop_signal == 0;
    };
    control.stop = [] { return g_stop_signal != 0; };
    const RunReport r = execute_run(spec, control);
    if (tty) std::fprintf(stderr, "\n");
    if (!r.complete) {
        std::cerr << "ketasim run: stopped by signal " << g_stop_signal << "; " << r.path << " keeps "
                  << r.resumed + r.computed << " of " << r.points
                  << " points; finish it with the same command and --resume\n";
        return 128 + static_cast<int>(g_stop_signal);
    }
    if (!o.quiet)
        std::cout << "written: " << r.path << " (" << r.points << " points; " << r.computed << " computed, "
                  << r.resumed << " kept from an interrupted run; " << r.seconds << " s)\n";
    return 0;
}

int run_merge_cli(const std::string& out, const std::vector<std::string>& shards) {
    merge_run_files(out, shards);
    std::cout << "written: " << out << " (" << shards.size() << " shards)\n";
    return 0;
}

}   // namespace ketasim::cli
