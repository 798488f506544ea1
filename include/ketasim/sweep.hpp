#pragma once
// Sweeps: the one-simulation pipeline over the points of a design (a full grid, a Latin hypercube,
// a Sobol' sequence: include/ketasim/design.hpp), run on the run layer's executor (parallel_for,
// include/ketasim/run.hpp). A point is computed from its index alone and written to its own slot,
// so results do not depend on the thread count, the chunk size or the index range.
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ketasim/design.hpp"
#include "ketasim/metrics.hpp"
#include "ketasim/run.hpp"
#include "ketasim/simulate.hpp"

namespace ketasim {

struct SweepPoint {
    Subject subject;   // weight, age, parameter overrides (file units)
    Regimen regimen;
};

struct SweepOptions {
    int threads = 1;                    // 0 = all available cores (ParallelOptions::threads)
    std::size_t chunk = 16;             // points per claimed chunk; results never depend on it
    std::vector<std::string> outputs;   // outputs to compute metrics for; empty = all
    bool keep_trajectories = false;
    // metric_options.last_dose_time NaN or 0 means: each point's own regimen.last_time().
    MetricOptions metric_options;
    // Called from the calling thread only, about every 50 ms, with (done, total); return false
    // to cancel (the sweep then throws SweepCancelled after the running chunks finish). An
    // exception thrown by the callback also cancels and is rethrown after the workers stop.
    // If points fail, the error of the lowest failing chunk is rethrown, whatever the thread count.
    std::function<bool(std::size_t, std::size_t)> progress;
    void validate() const;
    ParallelOptions parallel() const;   // threads, chunk and progress for parallel_for
};

struct SweepResult {
    std::vector<std::map<std::string, Metrics>> metrics;   // per point, per output
    std::vector<Trajectory> trajectories;                  // per point if keep_trajectories
};

// A cancelled sweep is a cancelled run (Python maps both to KeyboardInterrupt).
class SweepCancelled : public RunCancelled {
public:
    using RunCancelled::RunCancelled;
};

// The points of a sweep: design point i sets, for that point, each design factor: a model
// parameter override (file units), or one of the sweep variables "weight" (kg), "age" (years) and
// "dose" (total mg the regimen gives that subject; every event is scaled by the same factor).
// Everything else comes from `base` and `regimen`. Nothing is materialized: point(i) decodes the
// design's point i (O(factors) memory for any design size).
class SweepSource {
public:
    // Keeps a reference to `design`, which must outlive the source. InputError for "dose" with a
    // regimen giving 0 mg.
    SweepSource(const Subject& base, const Regimen& regimen, const DesignSource& design);
    std::size_t size() const { return design_->size(); }
    const DesignSource& design() const { return *design_; }
    const Subject& base_subject() const { return base_; }
    // Point i; InputError naming the point for a non-finite value, a non-positive dose.
    SweepPoint point(std::size_t i) const;
    // Point i for the design values `values` (design().dimensions() of them).
    SweepPoint point(std::size_t i, const double* values) const;

private:
    Subject base_;
    Regimen regimen_;
    const DesignSource* design_;
    enum class Slot { weight, age, dose, parameter };
    std::vector<Slot> slots_;
};

// Runs points [begin, end) of `source`; the sink receives the columns: one per design factor
// (its values), then `<output>.<metric>` for every output (options.outputs, or all) and every
// metric of the registry (include/ketasim/metrics.hpp), and the trajectories when kept. Memory is
// one block of `chunk` points per thread plus what the sink keeps.
void run_sweep(const Model& model, const SweepSource& source, std::size_t begin, std::size_t end,
               const OutputGrid& grid, const SimOptions& options, const SweepOptions& sweep, ResultSink& sink);

// The same over a list of points (each its own subject and regimen), results in memory.
SweepResult run_sweep(const Model& model, const std::vector<SweepPoint>& points, const OutputGrid& grid,
                      const SimOptions& options = {}, const SweepOptions& sweep = {});

}   // namespace ketasim
