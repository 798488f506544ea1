// `mpirun -n R ketasim run SPEC.toml` (CMake option KETASIM_WITH_MPI): rank r runs shard r/R into
// its own shard file, the ranks agree that every shard completed, and rank 0 merges the shards
// into the spec's output with the library's merge (the result equals a one-process run; the
// shard files are removed). MPI stays here: the library knows index ranges and files only.
// Why per-rank files and a merge rather than parallel HDF5: Debian's libhdf5-dev is the serial
// build, a collective writer would need the MPI build of HDF5 (libhdf5-openmpi-dev) and its
// crash-safety story, while chunk-aligned shards merge by copying compressed chunks
// (BENCHMARKS.md: a merge costs ~13 % of the run), and a killed MPI job resumes per shard.
#include <mpi.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <signal.h>

#include "cli/commands.hpp"
#include "io/stream_h5.hpp"
#include "ketasim/errors.hpp"
#include "ketasim/runspec.hpp"

namespace ketasim::cli {

namespace {
volatile std::sig_atomic_t g_mpi_stop = 0;
extern "C" void on_mpi_stop(int sig) { g_mpi_stop = sig; }
}   // namespace

bool launched_by_mpi() {
    for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
        if (std::getenv(v)) return true;
    return false;
}

int run_run_mpi(const RunCliOptions& o) {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size == 1) {
        // One rank: the one shard's file is the output itself (shard_path of 1 of 1), so there is
        // nothing to merge; it is a one-process run (--resume, --dry-run, --shard as without
        // mpirun). Merging it into itself failed with "exists" after the run (found measuring
        // 1 vs 2 ranks).
        MPI_Finalize();
        return run_spec_cli(load_run_spec(o.spec), o);
    }
    struct sigaction sa {};
    sa.sa_handler = on_mpi_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);

    // status: 0 complete, 1 stopped by a signal (resumable), 2 bad input, 3 failure
    int status = 0;
    std::string out;
    Shard shard{static_cast<std::size_t>(rank), static_cast<std::size_t>(size)};
    bool already_done = false;
    try {
        if (!o.shard.empty()) throw InputError("--shard: not with mpirun (each rank runs its own shard)");
        if (o.dry_run) throw InputError("--dry-run: run it without mpirun");
        const RunSpec spec = load_run_spec(o.spec);
        out = spec.out;
        if (std::filesystem::exists(out)) {
            const bool complete = detail::RunFileReader(out).complete();
            if (!o.resume || !complete)
                throw InputError(out + (complete ? ": exists (a complete run); remove it to run again"
                                                 : ": exists and is not a merged result; remove it"));
            already_done = true;
        } else {
            RunControl control;
            control.models_dir = o.models_dir;
            control.threads = o.threads;
            control.shard = shard;
            control.resume = o.resume;
            control.allow_over_budget = o.over_budget;
            if (!o.resume) check_estimate(estimate_run(spec, control), control);
            control.stop = [] { return g_mpi_stop != 0; };
            control.progress = [](std::size_t, std::size_t) { return g_mpi_stop == 0; };
            const RunReport r = execute_run(spec, control);
            if (!r.complete) status = 1;
        }
    } catch (const InputError& e) {
        std::cerr << "ketasim: rank " << rank << ": error: " << e.what() << "\n";
        status = 2;
    } catch (const std::exception& e) {
        std::cerr << "ketasim: rank " << rank << ": failed: " << e.what() << "\n";
        status = 3;
    }
    int worst = 0;
    MPI_Allreduce(&status, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    int code = worst == 1 ? 128 + static_cast<int>(g_mpi_stop ? g_mpi_stop : SIGTERM) : worst;
    if (worst == 0 && !already_done && rank == 0) {
        std::vector<std::string> parts;
        for (int r = 0; r < size; ++r)
            parts.push_back(shard_path(out, Shard{static_cast<std::size_t>(r), static_cast<std::size_t>(size)}));
        try {
            merge_run_files(out, parts);
            for (const auto& p : parts) std::filesystem::remove(p);
            if (!o.quiet) std::cout << "written: " << out << " (" << size << " ranks merged)\n";
        } catch (const InputError& e) {
            std::cerr << "ketasim: rank 0: merge: error: " << e.what() << "\n";
            code = 2;
        } catch (const std::exception& e) {
            std::cerr << "ketasim: rank 0: merge failed: " << e.what() << "\n";
            code = 3;
        }
    } else if (worst == 1 && rank == 0) {
        std::cerr << "ketasim run: stopped by a signal; the shard files are resumable: rerun with --resume\n";
    }
    MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Finalize();
    return code;
}

}   // namespace ketasim::cli
