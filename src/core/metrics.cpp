#include "ketasim/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

MetricAccumulator::MetricAccumulator(const MetricOptions& options, double end_time)
    : opt_(options),
      end_time_(end_time),
      has_threshold_(!std::isnan(options.threshold)),
      time_to_threshold_(kNaN),
      below_after_peak_(kNaN) {
    opt_.validate();
    // The terminal window starts at terminal_start, or at from + (end - from) * 2/3 with from =
    // max(tmax, last dose), which grows with `from` and with the end: its lowest value is at
    // from = the last dose (0 without one) and end = end_time. The margin covers the rounding
    // of that expression; the fit applies the exact window test to the kept points.
    const double inf = std::numeric_limits<double>::infinity();
    if (!opt_.terminal_phase) {
        tail_from_ = inf;
    } else if (!std::isnan(opt_.terminal_start)) {
        tail_from_ = opt_.terminal_start - 1e-12;
    } else if (std::isfinite(end_time)) {
        const double from = std::isnan(opt_.last_dose_time) ? 0.0 : opt_.last_dose_time;
        const double ts = from + (end_time - from) * (2.0 / 3.0);
        tail_from_ = ts - 1e-12 - 1e-9 * (std::fabs(from) + std::fabs(end_time) + 1.0);
    } else {
        tail_from_ = -inf;
    }
    tail_from_ = std::nextafter(tail_from_, -inf);
    at_order_.resize(opt_.at_times.size());
    for (std::size_t i = 0; i < at_order_.size(); ++i) at_order_[i] = i;
    std::stable_sort(at_order_.begin(), at_order_.end(),
                     [&](std::size_t x, std::size_t y) { return opt_.at_times[x] < opt_.at_times[y]; });
    c_at_.assign(opt_.at_times.size(), kNaN);
}

void MetricAccumulator::reserve(const double* t, std::size_t n) {
    const std::size_t kept =
        static_cast<std::size_t>(t + n - std::partition_point(t, t + n, [this](double x) { return x < tail_from_; }));
    tail_t_.reserve(tail_t_.size() + kept);
    tail_c_.reserve(tail_c_.size() + kept);
}

void MetricAccumulator::add(const double* t, const double* c, std::size_t count) {
    if (count == 0) return;
    const double thr = opt_.threshold;
    std::size_t i = 0;
    if (n_ == 0) {
        t_first_ = t_prev_ = tmax_ = t[0];
        c_prev_ = cmax_ = c[0];
        if (has_threshold_ && c[0] > thr) time_to_threshold_ = t[0];
        if (!(t[0] < tail_from_)) {
            tail_t_.push_back(t[0]);
            tail_c_.push_back(c[0]);
        }
        while (at_next_ < at_order_.size() && opt_.at_times[at_order_[at_next_]] <= t[0])
            c_at_[at_order_[at_next_++]] = c[0];
        n_ = i = 1;
    }
    // Chunks of the curve with the previous point in front, in local arrays (nothing the loops
    // write can alias them, and the first loop vectorizes). Point j of a chunk (1-based) is
    // point n_ + j - 1 of the curve; the step j is from point j - 1 to j.
    constexpr std::size_t kChunk = 256;
    double tb[kChunk + 1], cb[kChunk + 1], seg[kChunk + 1];
    while (i < count) {
        const std::size_t m = std::min(kChunk, count - i);
        tb[0] = t_prev_;
        cb[0] = c_prev_;
        std::copy(t + i, t + i + m, tb + 1);
        std::copy(c + i, c + i + m, cb + 1);
        // Linear-up / log-down trapezoids (exact for mono-exponential decline): the linear
        // trapezoid, or on the way down the logarithmic mean, by its series where a/b < 1.02 and
        // by the logarithm otherwise (rare on output grids). The areas are summed in four lanes
        // by the point's index modulo 4, each in order, and the lanes added at the end: four
        // independent chains instead of one, and the same sum however the curve is split into
        // add() calls (so on-the-fly and two-pass metrics agree bitwise). The maximum likewise.
        double lane[4] = {auc_lane_[0], auc_lane_[1], auc_lane_[2], auc_lane_[3]};
        double mx[4] = {cmax_, cmax_, cmax_, cmax_};
        const std::size_t base = n_ - 1;   // index of chunk point j is base + j
        // First pass branch free, two steps at a time where SSE2 is available (GCC does not
        // vectorize the loop: the division is most of its cost). The packed operations are the
        // scalar loop's, in the same order, and the select takes 1 where `down` is false (series
        // is NaN for a = b = 0).
        std::size_t j = 1;
#if defined(__SSE2__)
        {
            const __m128d zero = _mm_setzero_pd(), one = _mm_set1_pd(1.0), half = _mm_set1_pd(0.5);
            const __m128d k1 = _mm_set1_pd(1.0 / 3.0), k2 = _mm_set1_pd(4.0 / 45.0), k3 = _mm_set1_pd(44.0 / 945.0);
            for (; j + 1 <= m; j += 2) {
                const __m128d a = _mm_loadu_pd(cb + j - 1), b = _mm_loadu_pd(cb + j);
                const __m128d dt = _mm_sub_pd(_mm_loadu_pd(tb + j), _mm_loadu_pd(tb + j - 1));
                const __m128d s = _mm_add_pd(a, b), x = _mm_div_pd(_mm_sub_pd(a, b), s), x2 = _mm_mul_pd(x, x);
                const __m128d series =
                    _mm_sub_pd(one, _mm_mul_pd(x2, _mm_add_pd(k1, _mm_mul_pd(x2, _mm_add_pd(k2, _mm_mul_pd(x2, k3))))));
                const __m128d down = _mm_and_pd(_mm_cmplt_pd(b, a), _mm_cmpgt_pd(b, zero));
                const __m128d factor = _mm_or_pd(_mm_and_pd(down, series), _mm_andnot_pd(down, one));
                _mm_storeu_pd(seg + j, _mm_mul_pd(_mm_mul_pd(_mm_mul_pd(dt, half), s), factor));
            }
        }
#endif
        for (; j <= m; ++j) {
            const double dt = tb[j] - tb[j - 1], a = cb[j - 1], b = cb[j];
            const double s = a + b, x = (a - b) / s, x2 = x * x;
            const double series = 1.0 - x2 * (1.0 / 3.0 + x2 * (4.0 / 45.0 + x2 * (44.0 / 945.0)));
            const bool down = b < a && b > 0;   // b > 0 and b < a imply a > 0
            seg[j] = dt * 0.5 * s * (down ? series : 1.0);
        }
        for (std::size_t j = 1; j <= m; ++j) {
            const double a = cb[j - 1], b = cb[j];
            if (b < a && b > 0 && !((a - b) < kLogMeanSeriesMax * (a + b)))
                seg[j] = (tb[j] - tb[j - 1]) * log_mean(a, b);
        }
        // Lane q takes the steps ending at points of index q modulo 4: a head up to the first
        // index divisible by 4, whole groups of four in registers, then the rest.
        std::size_t jj = 1;
        for (; jj <= m && ((base + jj) & 3) != 0; ++jj) {
            lane[(base + jj) & 3] += seg[jj];
            mx[0] = cb[jj] > mx[0] ? cb[jj] : mx[0];
        }
        {
            double l0 = lane[0], l1 = lane[1], l2 = lane[2], l3 = lane[3];
            double m0 = mx[0], m1 = mx[1], m2 = mx[2], m3 = mx[3];
            for (; jj + 3 <= m; jj += 4) {
                l0 += seg[jj];
                l1 += seg[jj + 1];
                l2 += seg[jj + 2];
                l3 += seg[jj + 3];
                m0 = cb[jj] > m0 ? cb[jj] : m0;
                m1 = cb[jj + 1] > m1 ? cb[jj + 1] : m1;
                m2 = cb[jj + 2] > m2 ? cb[jj + 2] : m2;
                m3 = cb[jj + 3] > m3 ? cb[jj + 3] : m3;
            }
            lane[0] = l0, lane[1] = l1, lane[2] = l2, lane[3] = l3;
            mx[0] = m0, mx[1] = m1, mx[2] = m2, mx[3] = m3;
        }
        for (; jj <= m; ++jj) {
            lane[(base + jj) & 3] += seg[jj];
            mx[0] = cb[jj] > mx[0] ? cb[jj] : mx[0];
        }
        for (int q = 0; q < 4; ++q) auc_lane_[q] = lane[q];
        const double chunk_max = std::max(std::max(mx[0], mx[1]), std::max(mx[2], mx[3]));
        if (!has_threshold_) {
            if (chunk_max > cmax_) {   // first occurrence of the maximum
                std::size_t j = 1;
                while (!(cb[j] == chunk_max)) ++j;
                cmax_ = chunk_max;
                tmax_ = tb[j];
                imax_ = base + j;
            }
        } else {
            for (std::size_t j = 1; j <= m; ++j) {
                const double tp = tb[j - 1], ti = tb[j], a = cb[j - 1], b = cb[j], dt = ti - tp;
                if (b > cmax_) {
                    cmax_ = b;
                    tmax_ = ti;
                    imax_ = n_ + j - 1;
                    below_after_peak_ = kNaN;   // the peak moved: look again from here
                }
                const double da = a - thr, db = b - thr;
                if (da > 0 && db > 0) {
                    time_above_ += dt;
                } else if (da > 0 || db > 0) {
                    const double tc = tp + dt * da / (da - db);   // linear crossing
                    if (db > 0) {
                        time_above_ += ti - tc;
                        if (std::isnan(time_to_threshold_)) time_to_threshold_ = tc;
                    } else {
                        time_above_ += tc - tp;
                    }
                }
                // The first point at or below the threshold from the maximum on (not the first point).
                if (b <= thr && std::isnan(below_after_peak_))
                    below_after_peak_ = (da > 0) ? tp + dt * da / (da - db) : ti;
            }
        }
        // The tail: times increase, so the kept points are a suffix of the curve.
        if (!(tb[m] < tail_from_)) {
            std::size_t j0 = 1;
            while (tb[j0] < tail_from_) ++j0;
            if (tail_t_.empty()) tail_first_ = n_ + j0 - 1;
            tail_t_.insert(tail_t_.end(), tb + j0, tb + m + 1);
            tail_c_.insert(tail_c_.end(), cb + j0, cb + m + 1);
        }
        // C at the requested times: linear between the neighbours (interpolate()'s rule).
        if (at_next_ < at_order_.size() && opt_.at_times[at_order_[at_next_]] <= tb[m])
            for (std::size_t j = 1; j <= m; ++j)
                while (at_next_ < at_order_.size() && opt_.at_times[at_order_[at_next_]] <= tb[j]) {
                    const double x = opt_.at_times[at_order_[at_next_]];
                    const double w = (x - tb[j - 1]) / (tb[j] - tb[j - 1]);
                    c_at_[at_order_[at_next_++]] = tb[j] == x ? cb[j] : cb[j - 1] + w * (cb[j] - cb[j - 1]);
                }
        t_prev_ = tb[m];
        c_prev_ = cb[m];
        n_ += m;
        i += m;
    }
}

Metrics MetricAccumulator::finish() const {
    if (n_ == 0) throw InputError("metrics: empty curve");
    const double t_last = t_prev_;
    if (t_last < end_time_)
        throw InputError("metrics: the curve ends at " + fmt(t_last) + " h, before its announced end " +
                         fmt(end_time_) + " h");
    Metrics m;
    m.cmax = cmax_;
    m.tmax = tmax_;
    m.auc_0_t = (auc_lane_[0] + auc_lane_[1]) + (auc_lane_[2] + auc_lane_[3]);
    // Terminal phase: log-linear least squares over the window.
    double ts = opt_.terminal_start;
    if (std::isnan(ts)) {
        const double from = std::max(m.tmax, std::isnan(opt_.last_dose_time) ? 0.0 : opt_.last_dose_time);
        ts = from + (t_last - from) * (2.0 / 3.0);
    }
    double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
    int k = 0;
    double first_t = kNaN;
    // y = ln c of consecutive points: ln c_q = ln c_{q-1} - 2 atanh(x), x = (c_{q-1} - c_q) /
    // (c_{q-1} + c_q), by its series where |x| < kLogMeanSeriesMax (the first omitted term, x^11/11,
    // is < 1e-21 of x): a division instead of a libm log per point (the logs were a third of what
    // metrics cost on top of a simulation, issue 12). A log every kLogAnchor points bounds the
    // rounding the running sum gathers to a few ulps of y.
    constexpr int kLogAnchor = 16;
    double y_prev = 0.0, c_last = 0.0;
    std::size_t q_last = 0;
    int chained = kLogAnchor;   // points since the last log (none yet)
    for (std::size_t q = 0; q < tail_t_.size(); ++q) {
        const double tq = tail_t_[q], cq = tail_c_[q];
        if (tq < ts - 1e-12 || !(cq > 0) || tail_first_ + q < imax_) continue;
        if (k == 0) first_t = tq;
        double y;
        const double x = (c_last - cq) / (c_last + cq);
        if (chained < kLogAnchor && q_last + 1 == q && std::fabs(x) < kLogMeanSeriesMax) {
            const double x2 = x * x;
            y = y_prev - 2.0 * x * (1.0 + x2 * (1.0 / 3.0 + x2 * (1.0 / 5.0 + x2 * (1.0 / 7.0 + x2 * (1.0 / 9.0)))));
            ++chained;
        } else {
            y = std::log(cq);
            chained = 0;
        }
        y_prev = y;
        c_last = cq;
        q_last = q;
        sx += tq;
        sy += y;
        sxx += tq * tq;
        sxy += tq * y;
        syy += y * y;
        ++k;
    }
    m.lambda_z = m.half_life = m.auc_0_inf = kNaN;
    m.terminal_r2 = kNaN;
    m.terminal_start = first_t;
    if (k >= 3) {
        const double vx = sxx - sx * sx / k, vy = syy - sy * sy / k, cxy = sxy - sx * sy / k;
        if (vx > 0) {
            const double slope = cxy / vx;
            if (slope < 0) {
                m.lambda_z = -slope;
                m.half_life = std::log(2.0) / m.lambda_z;
                m.auc_0_inf = m.auc_0_t + c_prev_ / m.lambda_z;
                m.terminal_r2 = vy > 0 ? (cxy * cxy) / (vx * vy) : 1.0;
            }
        }
    }
    // interpolate()'s range rule, in at_times order; times past the last point (within 1e-12 h)
    // take its value.
    for (double x : opt_.at_times)
        if (x < t_first_ - 1e-12 || x > t_last + 1e-12)
            throw InputError("time " + fmt(x) + " h is outside the simulated range [" + fmt(t_first_) + ", " +
                             fmt(t_last) + "] h");
    m.c_at = c_at_;
    for (std::size_t q = at_next_; q < at_order_.size(); ++q) m.c_at[at_order_[q]] = c_prev_;
    m.time_above = m.time_to_threshold = m.time_below_after_peak = kNaN;
    if (has_threshold_) {
        m.time_above = time_above_;
        m.time_to_threshold = time_to_threshold_;
        m.time_below_after_peak = below_after_peak_;
    }
    return m;
}

Metrics compute_metrics(const std::vector<double>& t, const double* c, const MetricOptions& opt) {
    opt.validate();
    if (t.empty()) throw InputError("metrics: empty curve");
    MetricAccumulator acc(opt, t.back());
    acc.reserve(t.data(), t.size());
    acc.add(t.data(), c, t.size());
    return acc.finish();
}

Metrics compute_metrics(const Trajectory& tr, const std::string& output, const MetricOptions& opt) {
    const int i = tr.index(output);
    if (!std::isnan(opt.last_dose_time)) return compute_metrics(tr.time, tr.values.row(i).data(), opt);
    MetricOptions own = opt;
    own.last_dose_time = tr.last_dose_time;
    return compute_metrics(tr.time, tr.values.row(i).data(), own);
}

}   // namespace ketasim
