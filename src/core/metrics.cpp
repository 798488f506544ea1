#include "ketasim/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/text.hpp"
#include "ketasim/errors.hpp"

namespace ketasim {

namespace {
using detail::fmt;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Below this |x| = |a - b| / (a + b) the series in log_mean() is exact to rounding: the first
// omitted term, 428 x^8 / 14175, is < 4e-18 relative.
constexpr double kLogMeanSeriesMax = 1e-2;

// Logarithmic mean (a - b) / ln(a / b) of a > b > 0: the area under an exponential through
// (0, a) and (1, b). On fine grids a/b is close to 1, where ln(a / b) loses digits (and costs a
// libm call); there L = A x / atanh(x) = A (1 - x^2/3 - 4x^4/45 - 44x^6/945 - ...) with
// A = (a + b) / 2 and x = (a - b) / (a + b), which is both faster and more accurate.
inline double log_mean(double a, double b) {
    const double s = a + b, x = (a - b) / s;
    if (x < kLogMeanSeriesMax) {
        const double x2 = x * x;
        return 0.5 * s * (1.0 - x2 * (1.0 / 3.0 + x2 * (4.0 / 45.0 + x2 * (44.0 / 945.0))));
    }
    return (a - b) / std::log(a / b);
}
}   // namespace

namespace {
struct MetricEntry {
    MetricInfo info;
    double Metrics::*field;
};
const std::vector<MetricEntry>& entries() {
    using U = MetricUnit;
    static const std::vector<MetricEntry> e = {
        {{"cmax", U::output, false, false, "highest value on the output grid"}, &Metrics::cmax},
        {{"tmax", U::hour, false, false, "time of cmax (first occurrence)"}, &Metrics::tmax},
        {{"auc_0_t", U::output_times_h, false, false,
          "area under the curve over the grid, linear-up/log-down trapezoids"},
         &Metrics::auc_0_t},
        {{"auc_0_inf", U::output_times_h, true, false, "auc_0_t + C_last / lambda_z"}, &Metrics::auc_0_inf},
        {{"lambda_z", U::per_hour, true, false,
          "terminal rate constant, log-linear least squares over the terminal window"},
         &Metrics::lambda_z},
        {{"half_life", U::hour, true, false, "ln 2 / lambda_z: apparent terminal half-life within the window"},
         &Metrics::half_life},
        {{"terminal_r2", U::one, true, false, "r^2 of the log-linear terminal fit"}, &Metrics::terminal_r2},
        {{"terminal_start", U::hour, true, false, "time of the first point of the terminal fit"},
         &Metrics::terminal_start},
        {{"time_above", U::hour, false, true, "total time with the output above the threshold"}, &Metrics::time_above},
        {{"time_to_threshold", U::hour, false, true, "first upward crossing of the threshold"},
         &Metrics::time_to_threshold},
        {{"time_below_after_peak", U::hour, false, true,
          "first time after tmax with the output at or below the threshold"},
         &Metrics::time_below_after_peak},
    };
    return e;
}
}   // namespace

const std::vector<MetricInfo>& metric_registry() {
    static const std::vector<MetricInfo> r = [] {
        std::vector<MetricInfo> v;
        for (const auto& e : entries()) v.push_back(e.info);
        return v;
    }();
    return r;
}

std::size_t metric_index(const std::string& name) {
    const auto& r = metric_registry();
    for (std::size_t i = 0; i < r.size(); ++i)
        if (name == r[i].name) return i;
    std::string names;
    for (const auto& m : r) names += (names.empty() ? "" : ", ") + std::string(m.name);
    throw InputError("metric '" + name + "' is not known (accepted: " + names + ")");
}

double metric_value(const Metrics& m, std::size_t index) { return m.*(entries().at(index).field); }

const char* to_string(MetricUnit u) {
    switch (u) {
        case MetricUnit::output:
            return "output unit";
        case MetricUnit::output_times_h:
            return "output unit * h";
        case MetricUnit::hour:
            return "h";
        case MetricUnit::per_hour:
            return "1/h";
        case MetricUnit::one:
            return "1";
    }
    return "?";
}

std::string metric_unit(const MetricInfo& info, const std::string& output_unit) {
    switch (info.unit) {
        case MetricUnit::output:
            return output_unit;
        case MetricUnit::output_times_h:
            return output_unit + "*h";
        case MetricUnit::hour:
            return "h";
        case MetricUnit::per_hour:
            return "1/h";
        case MetricUnit::one:
            return "1";
    }
    return "";
}

void append_metric_columns(const std::vector<std::string>& outputs, const std::vector<std::string>& output_units,
                           std::vector<std::string>& names, std::vector<std::string>& units) {
    for (std::size_t o = 0; o < outputs.size(); ++o)
        for (const auto& m : metric_registry()) {
            names.push_back(outputs[o] + "." + m.name);
            units.push_back(metric_unit(m, output_units.at(o)));
        }
}

void MetricOptions::validate() const {
    for (double t : at_times)
        if (!std::isfinite(t)) throw InputError("metrics.at_times: " + fmt(t) + " is not finite");
    if (!std::isnan(threshold) && !std::isfinite(threshold))
        throw InputError("metrics.threshold: " + fmt(threshold) + " is not finite");
    if (!std::isnan(last_dose_time) && !std::isfinite(last_dose_time))
        throw InputError("metrics.last_dose_time: " + fmt(last_dose_time) + " is not finite");
}

double interpolate(const std::vector<double>& t, const double* c, double x) {
    if (t.empty()) throw InputError("interpolate: empty curve");
    if (x < t.front() - 1e-12 || x > t.back() + 1e-12)
        throw InputError("time " + fmt(x) + " h is outside the simulated range [" + fmt(t.front()) + ", " +
                         fmt(t.back()) + "] h");
    auto it = std::lower_bound(t.begin(), t.end(), x);
    if (it == t.end()) return c[t.size() - 1];
    const std::size_t j = static_cast<std::size_t>(it - t.begin());
    if (j == 0 || *it == x) return c[j];
    const double w = (x - t[j - 1]) / (t[j] - t[j - 1]);
    return c[j - 1] + w * (c[j] - c[j - 1]);
}

Metrics compute_metrics(const std::vector<double>& t, const double* c, const MetricOptions& opt) {
    opt.validate();
    Metrics m;
    const std::size_t n = t.size();
    if (n == 0) throw InputError("metrics: empty curve");
    std::size_t imax = 0;
    for (std::size_t i = 1; i < n; ++i)
        if (c[i] > c[imax]) imax = i;
    m.cmax = c[imax];
    m.tmax = t[imax];
    // Linear-up / log-down trapezoids (exact for mono-exponential decline). First pass, branch
    // free so that it vectorizes: the linear trapezoid, or on the way down the series form of
    // the logarithmic mean; steps whose ratio is too large for the series are fixed up with the
    // logarithm afterwards (few: the series covers a/b < 1.02). Summed in order: deterministic.
    std::vector<double> seg(n > 0 ? n - 1 : 0);
    for (std::size_t i = 1; i < n; ++i) {
        const double dt = t[i] - t[i - 1], a = c[i - 1], b = c[i];
        const double s = a + b, x = (a - b) / s, x2 = x * x;
        const double series = 1.0 - x2 * (1.0 / 3.0 + x2 * (4.0 / 45.0 + x2 * (44.0 / 945.0)));
        const bool down = b < a && b > 0;   // b > 0 and b < a imply a > 0
        seg[i - 1] = dt * 0.5 * s * (down ? series : 1.0);
    }
    for (std::size_t i = 1; i < n; ++i) {
        const double a = c[i - 1], b = c[i];
        if (b < a && b > 0 && !((a - b) < kLogMeanSeriesMax * (a + b))) seg[i - 1] = (t[i] - t[i - 1]) * log_mean(a, b);
    }
    for (double v : seg) m.auc_0_t += v;
    // Terminal phase: log-linear least squares over the window.
    double ts = opt.terminal_start;
    if (std::isnan(ts)) {
        const double from = std::max(m.tmax, std::isnan(opt.last_dose_time) ? 0.0 : opt.last_dose_time);
        ts = from + (t.back() - from) * (2.0 / 3.0);
    }
    double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
    int k = 0;
    std::size_t first = n;
    for (std::size_t i = 0; opt.terminal_phase && i < n; ++i) {
        if (t[i] < ts - 1e-12 || !(c[i] > 0) || i < imax) continue;
        if (first == n) first = i;
        const double y = std::log(c[i]);
        sx += t[i];
        sy += y;
        sxx += t[i] * t[i];
        sxy += t[i] * y;
        syy += y * y;
        ++k;
    }
    m.lambda_z = m.half_life = m.auc_0_inf = kNaN;
    m.terminal_r2 = kNaN;
    m.terminal_start = first < n ? t[first] : kNaN;
    if (k >= 3) {
        const double vx = sxx - sx * sx / k, vy = syy - sy * sy / k, cxy = sxy - sx * sy / k;
        if (vx > 0) {
            const double slope = cxy / vx;
            if (slope < 0) {
                m.lambda_z = -slope;
                m.half_life = std::log(2.0) / m.lambda_z;
                m.auc_0_inf = m.auc_0_t + c[n - 1] / m.lambda_z;
                m.terminal_r2 = vy > 0 ? (cxy * cxy) / (vx * vy) : 1.0;
            }
        }
    }
    for (double x : opt.at_times) m.c_at.push_back(interpolate(t, c, x));
    m.time_above = m.time_to_threshold = m.time_below_after_peak = kNaN;
    if (!std::isnan(opt.threshold)) {
        const double thr = opt.threshold;
        m.time_above = 0;
        if (c[0] > thr) m.time_to_threshold = t[0];
        for (std::size_t i = 1; i < n; ++i) {
            const double a = c[i - 1] - thr, b = c[i] - thr, dt = t[i] - t[i - 1];
            if (a > 0 && b > 0) {
                m.time_above += dt;
            } else if (a > 0 || b > 0) {
                const double tc = t[i - 1] + dt * a / (a - b);   // linear crossing
                if (b > 0) {
                    m.time_above += t[i] - tc;
                    if (std::isnan(m.time_to_threshold)) m.time_to_threshold = tc;
                } else {
                    m.time_above += tc - t[i - 1];
                }
            }
        }
        for (std::size_t i = std::max<std::size_t>(imax, 1); i < n; ++i) {
            if (c[i] <= thr) {
                const double a = c[i - 1] - thr, b = c[i] - thr;
                m.time_below_after_peak = (a > 0) ? t[i - 1] + (t[i] - t[i - 1]) * a / (a - b) : t[i];
                break;
            }
        }
    }
    return m;
}

Metrics compute_metrics(const Trajectory& tr, const std::string& output, const MetricOptions& opt) {
    const int i = tr.index(output);
    if (!std::isnan(opt.last_dose_time)) return compute_metrics(tr.time, tr.values.row(i).data(), opt);
    MetricOptions own = opt;
    own.last_dose_time = tr.last_dose_time;
    return compute_metrics(tr.time, tr.values.row(i).data(), own);
}

}   // namespace ketasim
