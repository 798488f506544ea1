// Symptom model (MADRS), calibrated to single-dose targets, not published: see pd.hpp and
// docs/calibration.md. (P, E) integrated with Boost.Odeint dopri5 between grid points, Ce linear
// in between, so each step sees a smooth right-hand side.
#include <algorithm>
#include <array>
#include <boost/numeric/odeint.hpp>
#include <cmath>
#include <sstream>

#include "ketasim/errors.hpp"
#include "ketasim/pd.hpp"

namespace ketasim {

namespace {

std::string num(double v) {
    std::ostringstream os;
    os << v;
    return os.str();
}

void require(bool ok, const std::string& field, double v, const std::string& rule) {
    if (!ok) throw InputError(field + " = " + num(v) + ": " + rule);
}

double checked(const PdParameterSet& p, const std::string& name, double lo, double hi, bool lo_open,
               const std::string& rule) {
    const double v = p.value(name);
    const bool ok = std::isfinite(v) && (lo_open ? v > lo : v >= lo) && v <= hi;
    if (!ok) throw InputError(p.where(name) + ".value = " + num(v) + ": " + rule);
    return v;
}

}  // namespace

void SymptomModel::validate() const {
    require(std::isfinite(baseline) && baseline >= 0 && baseline <= 60, "baseline", baseline, "must be in [0, 60] (MADRS)");
    require(std::isfinite(ec50) && ec50 > 0, "ec50", ec50, "must be finite and > 0");
    require(std::isfinite(hill) && hill > 0, "hill", hill, "must be finite and > 0");
    require(std::isfinite(k_on) && k_on >= 0, "k_on", k_on, "must be finite and >= 0");
    require(std::isfinite(k_off) && k_off >= 0, "k_off", k_off, "must be finite and >= 0");
    require(std::isfinite(k_tr) && k_tr > 0, "k_tr", k_tr, "must be finite and > 0");
    require(emax_p >= 0 && emax_p <= 1, "emax_p", emax_p, "must be in [0, 1]");
    require(placebo_max >= 0 && placebo_max < 1, "placebo_max", placebo_max, "must be in [0, 1)");
    require(std::isfinite(k_placebo) && k_placebo >= 0, "k_placebo", k_placebo, "must be finite and >= 0");
}

SymptomModel SymptomModel::from_parameters(const PdParameterSet& p) {
    const double inf = 1e300;
    SymptomModel m;
    m.baseline = checked(p, "baseline", 0, 60, false, "must be in [0, 60] (MADRS)");
    m.ec50 = checked(p, "ec50", 0, inf, true, "must be > 0");
    m.hill = checked(p, "hill", 0, inf, true, "must be > 0");
    m.k_on = checked(p, "k_on", 0, inf, false, "must be >= 0");
    m.k_off = checked(p, "k_off", 0, inf, false, "must be >= 0");
    m.k_tr = checked(p, "k_tr", 0, inf, true, "must be > 0");
    m.emax_p = checked(p, "emax_p", 0, 1, false, "must be in [0, 1]");
    m.placebo_max = checked(p, "placebo_max", 0, 0.999999, false, "must be in [0, 1)");
    m.k_placebo = checked(p, "k_placebo", 0, inf, false, "must be >= 0");
    return m;
}

void SymptomOptions::validate() const {
    require(rtol > 0 && rtol < 1, "rtol", rtol, "must be in (0, 1)");
    require(atol > 0 && std::isfinite(atol), "atol", atol, "must be finite and > 0");
}

SymptomCurve simulate_symptoms(const Trajectory& tr, const SymptomModel& m, double first_session_h, double ce_scale,
                               const SymptomOptions& o, const std::string& ce_name) {
    namespace odeint = boost::numeric::odeint;
    m.validate();
    o.validate();
    require(ce_scale > 0 && std::isfinite(ce_scale), "ce_scale", ce_scale, "must be finite and > 0");
    require(std::isfinite(first_session_h), "first_session_h", first_session_h, "must be finite");
    const auto ce_row = tr[ce_name];
    const std::size_t n = tr.time.size();
    SymptomCurve s;
    s.time = tr.time;
    s.ce.resize(n);
    for (std::size_t i = 0; i < n; ++i) s.ce[i] = std::max(0.0, ce_scale * ce_row[static_cast<Eigen::Index>(i)]);
    s.P.assign(n, 0.0);
    s.E.assign(n, 0.0);

    using State = std::array<double, 2>;
    auto stepper = odeint::make_controlled(o.atol, o.rtol, odeint::runge_kutta_dopri5<State>());
    State x = {0.0, 0.0};
    for (std::size_t i = 0; i + 1 < n; ++i) {
        const double t0 = tr.time[i], t1 = tr.time[i + 1];
        const double c0 = s.ce[i], c1 = s.ce[i + 1];
        if (t1 > t0) {
            const double h = t1 - t0;
            auto rhs = [&](const State& y, State& dy, double t) {
                const double c = c0 + (c1 - c0) * (t - t0) / h;
                const double stim = c > 0 ? 1.0 / (1.0 + std::pow(m.ec50 / c, m.hill)) : 0.0;
                dy[0] = m.k_on * stim * (1.0 - y[0]) - m.k_off * y[0];
                dy[1] = m.k_tr * (y[0] - y[1]);
            };
            odeint::integrate_adaptive(stepper, rhs, x, t0, t1, h);
            // P and E stay in [0, 1] exactly; clamp only the roundoff of the integrator.
            x[0] = std::min(1.0, std::max(0.0, x[0]));
            x[1] = std::min(1.0, std::max(0.0, x[1]));
        }
        s.P[i + 1] = x[0];
        s.E[i + 1] = x[1];
    }
    s.placebo.resize(n);
    s.madrs.resize(n);
    s.madrs_control.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double dt = tr.time[i] - first_session_h;
        s.placebo[i] = dt > 0 ? m.placebo_max * (1.0 - std::exp(-m.k_placebo * dt)) : 0.0;
        s.madrs_control[i] = m.baseline * (1.0 - s.placebo[i]);
        s.madrs[i] = m.baseline * (1.0 - m.emax_p * s.E[i]) * (1.0 - s.placebo[i]);
    }
    return s;
}

void ClinicalOptions::validate() const {
    require(onset_fraction > 0 && onset_fraction < 1, "onset_fraction", onset_fraction, "must be in (0, 1)");
    require(response_fraction > 0 && response_fraction < 1, "response_fraction", response_fraction, "must be in (0, 1)");
    require(remission_threshold >= 0 && remission_threshold <= 60, "remission_threshold", remission_threshold,
            "must be in [0, 60]");
}

ClinicalMetrics clinical_metrics(const SymptomCurve& s, const SymptomModel& m, const std::vector<double>& starts_in,
                                 const ClinicalOptions& o) {
    o.validate();
    if (starts_in.empty()) throw InputError("clinical_metrics: session_starts_h is empty: need at least one session");
    std::vector<double> starts = starts_in;
    std::sort(starts.begin(), starts.end());
    ClinicalMetrics c;
    c.baseline = m.baseline;
    const double t_first = starts.front(), t_last = starts.back();
    const double onset_level = m.baseline * (1.0 - o.onset_fraction);
    const double response_level = m.baseline * (1.0 - o.response_fraction);
    double t_response_abs = ClinicalMetrics::nan;
    for (std::size_t i = 0; i < s.time.size(); ++i) {
        const double t = s.time[i], y = s.madrs[i];
        if (t < t_first) continue;
        if (std::isnan(c.min_madrs) || y < c.min_madrs) { c.min_madrs = y; c.t_min_madrs_h = t - t_first; }
        if (std::isnan(c.onset_h) && y <= onset_level) c.onset_h = t - t_first;
        if (std::isnan(c.remission_h) && y <= o.remission_threshold) c.remission_h = t - t_first;
        if (std::isnan(t_response_abs) && y <= response_level) {
            t_response_abs = t;
            c.response_h = t - t_first;
        }
        if (!std::isnan(t_response_abs) && !c.response_lost && y > response_level) {
            c.response_lost = true;
            c.response_duration_h = t - t_response_abs;
        }
        // Relapse: response held at some time after the last session start, then lost.
        if (!std::isnan(t_response_abs) && t >= t_last && std::isnan(c.relapse_after_last_h) && y > response_level &&
            i > 0 && s.madrs[i - 1] <= response_level)
            c.relapse_after_last_h = t - t_last;
    }
    if (!std::isnan(t_response_abs))
        c.sessions_to_response =
            static_cast<int>(std::upper_bound(starts.begin(), starts.end(), t_response_abs) - starts.begin());
    return c;
}

}  // namespace ketasim
