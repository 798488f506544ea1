#pragma once
// Global sensitivity analysis: Sobol' first-order and total-effect indices of a scalar output over
// independent factors with given distributions (include/ketasim/design.hpp), by the Saltelli (2010)
// sampling scheme and estimators, with bootstrap confidence intervals. Conventions and references:
// docs/sensitivity.md.
//
// Sampling: a Sobol' sequence in 2d dimensions (d factors), its first d columns mapped through the
// factors' inverse CDFs give matrix A, the last d give B (n rows each); A_B^(i) is A with column i
// taken from B. The function is evaluated n (d + 2) times, on the run layer's executor.
// Estimators (Saltelli et al. 2010, Comput. Phys. Commun. 181:259-270, table 2):
//   V    = variance of f over the 2n rows of A and B (population variance, as SALib)
//   S1_i = mean((f(B) - c) (f(A_B^i) - f(A))) / V      (Saltelli 2010, eq. (b); c = the mean of all
//                                                        n (d + 2) outputs, as SALib, which
//                                                        standardizes them: a shift-invariant form)
//   ST_i = mean((f(A) - f(A_B^i))^2) / (2 V)           (Jansen 1999; Saltelli 2010, eq. (f))
// Intervals: rows resampled with replacement (bootstrap, seeded), half-width z * sd of the
// resampled estimates (sd with n - 1), z the normal quantile of (1 + confidence) / 2, as SALib.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "ketasim/design.hpp"
#include "ketasim/metrics.hpp"
#include "ketasim/run.hpp"
#include "ketasim/simulate.hpp"

namespace ketasim {

struct SensitivityOptions {
    std::size_t n = 1024;           // base sample rows; a power of 2 keeps the Sobol' balance
    std::uint64_t seed = 0;         // bootstrap resampling (and the digital shift when `scramble`)
    std::size_t bootstrap = 1000;   // resamples for the intervals; 0 = no intervals (NaN)
    double confidence = 0.95;       // in (0, 1)
    bool scramble = false;          // random digital shift of the Sobol' base sample
    std::size_t skip = 1;           // Sobol' points skipped (the origin: -inf under a normal)
    ParallelOptions parallel;       // threads (0 = all), chunk, progress (total = n (d + 2))
    void validate() const;          // names the field, value and rule
};

struct SobolIndices {
    std::vector<std::string> names;                 // factors
    std::vector<double> S1, S1_conf, ST, ST_conf;   // per factor; conf = interval half-width
    double mean = std::numeric_limits<double>::quiet_NaN();
    double variance = std::numeric_limits<double>::quiet_NaN();
    std::size_t n = 0, evaluations = 0;
    // The sample and the outputs, kept for checks (SALib's analyze can read them): A and B (n x d,
    // row-major, factor units), f(A), f(B), and f(A_B^(i)) (n x d, column i).
    std::vector<double> A, B, yA, yB, yAB;
};

// f(x) for x = d factor values (factor units); called concurrently from worker threads. A
// non-finite result is an error naming the sample row and its values.
using ScalarFunction = std::function<double(const double* x)>;

SobolIndices sobol_indices(const std::vector<Factor>& factors, const ScalarFunction& f,
                           const SensitivityOptions& options);

// The estimators alone, on outputs computed elsewhere: fills S1, ST, their intervals, mean and
// variance of `r` (whose yA, yB, yAB, n and names are set).
void sobol_estimates(SobolIndices& r, std::size_t bootstrap, double confidence, std::uint64_t seed);

// Sensitivity of one metric of one output of a PK run: each factor is a model parameter (file
// unit), "weight" (kg), "age" (years) or "dose" (total mg; the regimen scaled), as for sweeps;
// everything else from `base`. `metric` is a name of the metric registry (include/ketasim/
// metrics.hpp); `output` empty = the model's first output.
struct PkSensitivitySpec {
    Subject base;
    std::string output;
    std::string metric = "auc_0_t";
    MetricOptions metric_options;   // threshold for the time_* metrics; the terminal fit is set
                                    // from the metric
};
SobolIndices pk_sensitivity(const Model& model, const Regimen& regimen, const OutputGrid& grid, const SimOptions& sim,
                            const std::vector<Factor>& factors, const PkSensitivitySpec& spec,
                            const SensitivityOptions& options);

}   // namespace ketasim
