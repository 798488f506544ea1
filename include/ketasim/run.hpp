#pragma once
// The run layer's executor pieces: a deterministic parallel_for over an index range, the thread
// count rule, and the sink interface that receives finished blocks of result columns. Every
// many-point job (sweeps, populations, courses) runs through these; a shard or an MPI rank is
// just an index range.
#include <cstddef>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "ketasim/simulate.hpp"

namespace ketasim {

struct ParallelOptions {
    // Worker threads; 0 = all available: $SLURM_CPUS_PER_TASK when set (a job's allocation),
    // else std::thread::hardware_concurrency().
    int threads = 0;
    // Indices per claimed chunk. Results never depend on it (each index is computed alone).
    std::size_t chunk = 16;
    // Called from the calling thread only, about every 50 ms, with (done, total); return false to
    // cancel (parallel_for then throws RunCancelled once the running chunks finish).
    std::function<bool(std::size_t, std::size_t)> progress;
    void validate() const;   // names the field, value and rule
};

class RunCancelled : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Threads actually used for `requested` (0 = all available, see ParallelOptions::threads).
int resolve_thread_count(int requested);

// Calls fn(begin_i, end_i) on consecutive chunks covering [begin, end), on up to `threads` threads
// (the calling thread works too). Chunks are claimed in index order; after a failure no new chunk
// is claimed, every earlier chunk completes, and the exception of the lowest failing chunk is
// rethrown, so which error a caller sees does not depend on the thread count.
void parallel_for(std::size_t begin, std::size_t end, const ParallelOptions& options,
                  const std::function<void(std::size_t, std::size_t)>& fn);

// A finished block of rows [begin, end): one column per name, each end - begin values, and the
// trajectories of those rows when a run keeps them.
struct ColumnBlock {
    std::size_t begin = 0, end = 0;
    const std::vector<std::string>* names = nullptr;
    std::vector<std::vector<double>> columns;
    std::vector<Trajectory> trajectories;
};

// Receives blocks as they finish (in any order; at most one call at a time). A file sink writes
// them; the in-memory sink below places them at their rows.
class ResultSink {
public:
    virtual ~ResultSink() = default;
    // Once, before any block: the column names and units, and the index range of the run.
    virtual void start(const std::vector<std::string>& names, const std::vector<std::string>& units, std::size_t begin,
                       std::size_t end) = 0;
    virtual void write(ColumnBlock&& block) = 0;
    // True: write() may be called from several worker threads at once (the sink serializes what
    // must be, so that per-block work such as a run file's compression runs in the workers).
    virtual bool concurrent_writes() const { return false; }
};

// Hands a finished block to the sink from a worker thread: under `serial` unless the sink takes
// concurrent writes.
void deliver(ResultSink& sink, std::mutex& serial, ColumnBlock&& block);

class MemorySink : public ResultSink {
public:
    explicit MemorySink(bool keep_trajectories = false) : keep_trajectories_(keep_trajectories) {}
    void start(const std::vector<std::string>& names, const std::vector<std::string>& units, std::size_t begin,
               std::size_t end) override;
    void write(ColumnBlock&& block) override;

    std::vector<std::string> names, units;
    std::size_t begin = 0, end = 0;
    std::vector<std::vector<double>> columns;                           // one per name, end - begin rows
    std::vector<Trajectory> trajectories;                               // end - begin when kept
    const std::vector<double>& column(const std::string& name) const;   // InputError if unknown

private:
    bool keep_trajectories_;
};

}   // namespace ketasim
