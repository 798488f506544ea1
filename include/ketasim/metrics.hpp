#pragma once
// Exposure metrics computed on a simulated curve (noise-free, on the output grid).
#include <cstddef>
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

// The metrics of a curve fed point by point, without storing it: for runs that keep only metrics
// (the exact solver hands its outputs over in blocks, see detail::simulate_metrics). It is the one
// definition of the metrics: compute_metrics(t, c, options) adds the whole curve and finishes, so
// both give bitwise the same values (same operations, same order). Only the terminal fit needs
// stored points: those that can fall in its window (t >= the window's earliest start, known from
// `end_time`, options.terminal_start and options.last_dose_time), and none without
// options.terminal_phase. `end_time` must not exceed the curve's last time (a smaller value, such
// as the default, keeps more points; finish() rejects a curve that ends before it).
class MetricAccumulator {
public:
    explicit MetricAccumulator(const MetricOptions& options,
                               double end_time = -std::numeric_limits<double>::infinity());
    // Points in increasing time order (times as an OutputGrid's: strictly increasing).
    void add(const double* t, const double* c, std::size_t n);
    void add(double t, double c) { add(&t, &c, 1); }
    std::size_t size() const { return n_; }
    std::size_t stored() const { return tail_t_.size(); }   // points kept for the terminal fit
    // Optional: the times that will be added (sorted), to size the terminal fit's storage once.
    void reserve(const double* t, std::size_t n);
    // InputError for an empty curve or an at_times entry outside the curve's time range.
    Metrics finish() const;

private:
    MetricOptions opt_;
    double end_time_;
    bool has_threshold_;
    double tail_from_;   // points from here on are kept for the terminal fit (+inf: none)
    std::size_t n_ = 0, imax_ = 0;
    double t_first_ = 0, t_prev_ = 0, c_prev_ = 0, cmax_ = 0, tmax_ = 0;
    double auc_lane_[4] = {0, 0, 0, 0};   // AUC by point index modulo 4 (see add())
    double time_above_ = 0, time_to_threshold_, below_after_peak_;
    // The points kept for the terminal fit: a suffix of the curve (times increase), from point
    // tail_first_ on.
    std::size_t tail_first_ = 0;
    std::vector<double> tail_t_, tail_c_;
    std::vector<std::size_t> at_order_;   // at_times indices sorted by time
    std::size_t at_next_ = 0;             // at_order_ entries before this are resolved
    std::vector<double> c_at_;            // in at_times order
};
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
