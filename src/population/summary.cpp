// Population summaries: percentiles (NumPy's default, linear between order statistics), bands over
// time, Wilson score intervals for rates, Kaplan-Meier survival with its median.
#include <algorithm>
#include <cmath>

#include "core/text.hpp"
#include "ketasim/errors.hpp"
#include "ketasim/population.hpp"

namespace ketasim {

double percentile(std::vector<double> v, double p) {
    if (!(p >= 0 && p <= 100)) throw InputError("percentile: " + detail::fmt(p) + " must be in [0, 100]");
    v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
    if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
    std::sort(v.begin(), v.end());
    const double h = (static_cast<double>(v.size()) - 1.0) * p / 100.0;
    const auto lo = static_cast<std::size_t>(std::floor(h));
    const std::size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (h - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

std::vector<std::vector<double>> percentile_bands(const std::vector<Trajectory>& trs, const std::string& output,
                                                  const std::vector<double>& ps) {
    if (trs.empty()) throw InputError("percentile bands: no trajectories (keep_trajectories must be set)");
    for (double p : ps)
        if (!(p >= 0 && p <= 100)) throw InputError("percentile bands: " + detail::fmt(p) + " must be in [0, 100]");
    const int row = trs[0].index(output);
    const auto nt = static_cast<std::size_t>(trs[0].values.cols());
    std::vector<std::vector<double>> out(ps.size(), std::vector<double>(nt));
    std::vector<double> col(trs.size());
    for (std::size_t j = 0; j < nt; ++j) {
        for (std::size_t i = 0; i < trs.size(); ++i) {
            if (static_cast<std::size_t>(trs[i].values.cols()) != nt)
                throw InputError("percentile bands: trajectories differ in their time grids");
            col[i] = trs[i].values(row, static_cast<Eigen::Index>(j));
        }
        std::sort(col.begin(), col.end());
        for (std::size_t k = 0; k < ps.size(); ++k) {
            const double h = (static_cast<double>(col.size()) - 1.0) * ps[k] / 100.0;
            const auto lo = static_cast<std::size_t>(std::floor(h));
            const std::size_t hi = std::min(lo + 1, col.size() - 1);
            out[k][j] = col[lo] + (h - static_cast<double>(lo)) * (col[hi] - col[lo]);
        }
    }
    return out;
}

Proportion wilson_interval(std::size_t x, std::size_t n, double z) {
    if (x > n) throw InputError("rate: " + std::to_string(x) + " successes out of " + std::to_string(n));
    if (!(z > 0 && std::isfinite(z))) throw InputError("rate: z = " + detail::fmt(z) + " must be > 0");
    Proportion p;
    p.successes = x;
    p.n = n;
    if (n == 0) return p;
    const double nn = static_cast<double>(n), ph = static_cast<double>(x) / nn, z2 = z * z;
    const double denom = 1.0 + z2 / nn;
    const double centre = (ph + z2 / (2 * nn)) / denom;
    const double half = z * std::sqrt(ph * (1 - ph) / nn + z2 / (4 * nn * nn)) / denom;
    p.estimate = ph;
    p.lower = std::max(0.0, centre - half);
    p.upper = std::min(1.0, centre + half);
    return p;
}

KaplanMeier kaplan_meier(const std::vector<double>& time, const std::vector<bool>& event) {
    if (time.size() != event.size())
        throw InputError("kaplan_meier: " + std::to_string(time.size()) + " times for " + std::to_string(event.size()) +
                         " event flags");
    KaplanMeier km;
    km.n = time.size();
    std::vector<std::size_t> order(time.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
        order[i] = i;
        if (!(std::isfinite(time[i]) && time[i] >= 0))
            throw InputError("kaplan_meier: time[" + std::to_string(i) + "] = " + detail::fmt(time[i]) +
                             " must be finite and >= 0");
    }
    // Events before censorings at equal times (the usual convention).
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        if (time[a] != time[b]) return time[a] < time[b];
        return event[a] && !event[b];
    });
    double s = 1.0;
    std::size_t at_risk = time.size(), k = 0;
    km.time.push_back(0.0);
    km.survival.push_back(1.0);
    while (k < order.size()) {
        const double t = time[order[k]];
        std::size_t d = 0, c = 0;
        while (k < order.size() && time[order[k]] == t) {
            if (event[order[k]])
                ++d;
            else
                ++c;
            ++k;
        }
        if (d > 0) {
            s *= 1.0 - static_cast<double>(d) / static_cast<double>(at_risk);
            km.time.push_back(t);
            km.survival.push_back(s);
            km.events += d;
            if (std::isnan(km.median) && s <= 0.5) km.median = t;
        }
        at_risk -= d + c;
    }
    return km;
}

}   // namespace ketasim
