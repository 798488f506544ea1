#pragma once
// Exposure metrics computed on a simulated curve (noise-free, on the output grid).
#include <limits>
#include <string>
#include <vector>

#include "ketasim/simulate.hpp"

namespace ketasim {

struct MetricOptions {
    std::vector<double> at_times;                                  // h: report C at these times (linear interpolation)
    double threshold = std::numeric_limits<double>::quiet_NaN();   // same unit as the output
    // Terminal phase for lambda_z: points with t >= terminal_start (h). NaN = automatic: the last
    // third of the interval from the later of Tmax and the last dose event to the end.
    double terminal_start = std::numeric_limits<double>::quiet_NaN();
    // h, used by the automatic terminal window. NaN = the trajectory's own (Trajectory::
    // last_dose_time, filled by simulate()); 0 for the (t, c) overload. A number overrides it.
    double last_dose_time = std::numeric_limits<double>::quiet_NaN();
    // false skips the log-linear terminal fit (one log per terminal point): lambda_z, half_life,
    // auc_0_inf, terminal_r2 and terminal_start are then NaN. For sweeps that do not report them.
    bool terminal_phase = true;
    void validate() const;
};

struct Metrics {
    double cmax = 0, tmax = 0;            // output unit, h
    double auc_0_t = 0;                   // unit*h, linear-up/log-down trapezoids
    double auc_0_inf = 0;                 // auc_0_t + C_last / lambda_z (NaN if no terminal fit)
    double lambda_z = 0, half_life = 0;   // 1/h, h (NaN if no terminal fit)
    double terminal_r2 = 0;               // log-linear fit quality
    double terminal_start = 0;            // h, first point used
    std::vector<double> c_at;             // at MetricOptions::at_times
    double time_above = 0;                // h with C > threshold (NaN if no threshold)
    double time_to_threshold = 0;         // first upward crossing, h (NaN if never)
    double time_below_after_peak = 0;     // first time after Tmax with C <= threshold (NaN if never)
};

Metrics compute_metrics(const std::vector<double>& t, const double* c, const MetricOptions& options = {});
Metrics compute_metrics(const Trajectory& traj, const std::string& output, const MetricOptions& options = {});

// ---- the metric registry ---------------------------------------------------------------------
// Every scalar metric of Metrics, once: the HDF5 writer, the CLI tables, the Python bindings
// (ketasim.METRICS, metric frames, sweeps) all loop over this list. Names are lower_snake.
// Metrics::c_at (C at MetricOptions::at_times) is a vector, not in the list; the HDF5 writer
// stores it as /metrics/<output>/c_at (docs/formats.md).
enum class MetricUnit {
    output,           // the output's unit (ng/mL)
    output_times_h,   // output unit * h
    hour,             // h
    per_hour,         // 1/h
    one               // dimensionless
};
struct MetricInfo {
    const char* name;
    MetricUnit unit;
    bool terminal_fit;   // NaN unless MetricOptions::terminal_phase (the log-linear terminal fit)
    bool threshold;      // NaN unless MetricOptions::threshold is given
    const char* description;
};
const std::vector<MetricInfo>& metric_registry();
// Index in metric_registry() of `name`; InputError naming the value and the accepted names.
std::size_t metric_index(const std::string& name);
// Value of metric_registry()[index] in `m` (std::out_of_range past the end).
double metric_value(const Metrics& m, std::size_t index);
// The unit rule: "output unit", "output unit * h", "h", "1/h", "1".
const char* to_string(MetricUnit u);
// The unit of a metric for an output with unit `output_unit`: "ng/mL", "ng/mL*h", "h", "1/h", "1".
std::string metric_unit(const MetricInfo& info, const std::string& output_unit);
// Appends the metric columns of a metrics table: "<output>.<metric>" for each output (in order)
// and each registry metric (in registry order), with their units. The one column layout of the
// population and sweep sinks (and so of their HDF5 files and frames).
void append_metric_columns(const std::vector<std::string>& outputs, const std::vector<std::string>& output_units,
                           std::vector<std::string>& names, std::vector<std::string>& units);

// Linear interpolation of c(t) at time x (t sorted); throws InputError outside the range.
double interpolate(const std::vector<double>& t, const double* c, double x);

}   // namespace ketasim
