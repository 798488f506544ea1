#pragma once
// Sweeps and populations: the one-simulation pipeline repeated over many subjects/regimens,
// in parallel. Results do not depend on the thread count (each point is independent and
// written to its own slot).
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ketasim/metrics.hpp"
#include "ketasim/simulate.hpp"

namespace ketasim {

struct SweepPoint {
    Subject subject;      // weight, age, parameter overrides (file units)
    Regimen regimen;
};

struct SweepOptions {
    int threads = 1;                       // >= 1
    std::vector<std::string> outputs;      // outputs to compute metrics for; empty = all
    bool keep_trajectories = false;
    // metric_options.last_dose_time == 0 means: each point's own regimen.last_time().
    MetricOptions metric_options;
    // Called from the calling thread only, about every 50 ms, with (done, total); return false
    // to cancel (the sweep then throws SweepCancelled after the running points finish). An
    // exception thrown by the callback also cancels and is rethrown after the workers stop.
    // If points fail, the error of the lowest failing point index is rethrown, whatever the
    // thread count (indices are claimed in order, so every index below a failure completes).
    std::function<bool(std::size_t, std::size_t)> progress;
    void validate() const;
};

struct SweepResult {
    std::vector<std::map<std::string, Metrics>> metrics;   // per point, per output
    std::vector<Trajectory> trajectories;                  // per point if keep_trajectories
};

class SweepCancelled : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The points of a grid: row i of `values` (points x names, row-major) sets, for point i, each
// named variable: a model parameter override (file units), or one of the sweep variables
// "weight" (kg), "age" (years) and "dose" (total mg the regimen gives that subject; every event is
// scaled by the same factor). Everything else comes from `base` and `regimen`. Throws InputError
// for a non-finite value, a non-positive weight or dose, or "dose" with a regimen giving 0 mg.
std::vector<SweepPoint> grid_points(const Subject& base, const Regimen& regimen, const std::vector<std::string>& names,
                                    const double* values, std::size_t n_points);

SweepResult run_sweep(const Model& model, const std::vector<SweepPoint>& points, const OutputGrid& grid,
                      const SimOptions& options = {}, const SweepOptions& sweep = {});

}  // namespace ketasim
