// Symptom model (MADRS), calibrated, not published: see pd.hpp, docs/symptom_model.md and
// docs/calibration.md. (P, C, E) integrated with Boost.Odeint dopri5 between grid points, Ce linear
// in between, so each step sees a smooth right-hand side.
#include <algorithm>
#include <array>
#include <boost/numeric/odeint.hpp>
#include <cmath>

#include "ketasim/errors.hpp"
#include "ketasim/pd.hpp"
#include "pd/pd_check.hpp"
#include "ketasim/solver.hpp"

namespace ketasim {

namespace {
using detail::pd_num;
using detail::pd_require;

double checked(const PdParameterSet& p, const std::string& name, double lo, double hi, bool lo_open,
               const std::string& rule) {
    const double v = p.value(name);
    const bool ok = std::isfinite(v) && (lo_open ? v > lo : v >= lo) && v <= hi;
    if (!ok) throw InputError(p.where(name) + ".value = " + pd_num(v) + ": " + rule);
    return v;
}

}   // namespace

const char* to_string(SymptomStructure s) {
    switch (s) {
        case SymptomStructure::madrs_v1:
            return "madrs_v1";
        case SymptomStructure::madrs_v2:
            return "madrs_v2";
        case SymptomStructure::madrs_v3:
            return "madrs_v3";
    }
    return "madrs_v1";   // unreachable: every enumerator is handled above
}

SymptomStructure symptom_structure_from_string(const std::string& s) {
    if (s == "madrs_v1") return SymptomStructure::madrs_v1;
    if (s == "madrs_v2") return SymptomStructure::madrs_v2;
    if (s == "madrs_v3") return SymptomStructure::madrs_v3;
    throw InputError("structure = '" + s + "': not a symptom-model structure (accepted: madrs_v1, madrs_v2, madrs_v3)");
}

void SymptomModel::validate() const {
    pd_require(std::isfinite(baseline) && baseline >= 0 && baseline <= 60, "baseline", baseline,
               "must be in [0, 60] (MADRS)");
    pd_require(std::isfinite(ec50) && ec50 > 0, "ec50", ec50, "must be finite and > 0");
    pd_require(std::isfinite(hill) && hill > 0, "hill", hill, "must be finite and > 0");
    pd_require(std::isfinite(k_on) && k_on >= 0, "k_on", k_on, "must be finite and >= 0");
    pd_require(std::isfinite(k_off) && k_off >= 0, "k_off", k_off, "must be finite and >= 0");
    pd_require(std::isfinite(k_tr) && k_tr > 0, "k_tr", k_tr, "must be finite and > 0");
    pd_require(emax_p >= 0 && emax_p <= 1, "emax_p", emax_p, "must be in [0, 1]");
    pd_require(placebo_max >= 0 && placebo_max < 1, "placebo_max", placebo_max, "must be in [0, 1)");
    pd_require(std::isfinite(k_placebo) && k_placebo >= 0, "k_placebo", k_placebo, "must be finite and >= 0");
    if (structure == SymptomStructure::madrs_v1) {
        pd_require(k_cons == 0, "k_cons", k_cons,
                   "must be 0 for structure madrs_v1 (a parameter of madrs_v2 and madrs_v3)");
        pd_require(k_off_c == 0, "k_off_c", k_off_c,
                   "must be 0 for structure madrs_v1 (a parameter of madrs_v2 and madrs_v3)");
    } else {
        pd_require(std::isfinite(k_cons) && k_cons >= 0, "k_cons", k_cons, "must be finite and >= 0");
        pd_require(std::isfinite(k_off_c) && k_off_c >= 0, "k_off_c", k_off_c, "must be finite and >= 0");
    }
    if (structure == SymptomStructure::madrs_v3)
        pd_require(std::isfinite(n_cons) && n_cons >= 1 && n_cons <= 10, "n_cons", n_cons,
                   "must be in [1, 10] for structure madrs_v3");
    else
        pd_require(n_cons == 1, "n_cons", n_cons,
                   "must be 1 for structures madrs_v1 and madrs_v2 (a parameter of madrs_v3)");
}

SymptomModel SymptomModel::from_parameters(const PdParameterSet& file) {
    // The parameters each structure reads and the unit each is read in (converted to canonical).
    static const std::vector<PdParameterSpec> kV1 = {
        {"baseline", PdUnit::madrs_points},
        {"ec50", PdUnit::concentration},
        {"hill", PdUnit::fraction},
        {"emax_p", PdUnit::fraction},
        {"placebo_max", PdUnit::fraction},
        {"k_placebo", PdUnit::rate},
        {"k_on", PdUnit::rate},
        {"k_off", PdUnit::rate},
        {"k_tr", PdUnit::rate},
    };
    static const std::vector<PdParameterSpec> kV2 = [] {
        std::vector<PdParameterSpec> v = kV1;
        v.push_back({"k_cons", PdUnit::rate});
        v.push_back({"k_off_c", PdUnit::rate});
        return v;
    }();
    static const std::vector<PdParameterSpec> kV3 = [] {
        std::vector<PdParameterSpec> v = kV2;
        v.push_back({"n_cons", PdUnit::fraction});   // dimensionless exponent ("1")
        return v;
    }();
    const std::string where =
        file.source_path + (file.structure_line > 0 ? ":" + std::to_string(file.structure_line) : "");
    if (file.structure.empty())
        throw InputError(where +
                         ": structure: required key is missing for a symptom model (accepted: madrs_v1, madrs_v2, "
                         "madrs_v3)");
    SymptomStructure st;
    try {
        st = symptom_structure_from_string(file.structure);
    } catch (const InputError& e) {
        throw InputError(where + ": " + e.what());
    }
    const PdParameterSet p = conform_pd_parameters(file, st == SymptomStructure::madrs_v3   ? kV3
                                                         : st == SymptomStructure::madrs_v2 ? kV2
                                                                                            : kV1);
    const double inf = 1e300;
    SymptomModel m;
    m.structure = st;
    m.baseline = checked(p, "baseline", 0, 60, false, "must be in [0, 60] (MADRS)");
    m.ec50 = checked(p, "ec50", 0, inf, true, "must be > 0");
    m.hill = checked(p, "hill", 0, inf, true, "must be > 0");
    m.k_on = checked(p, "k_on", 0, inf, false, "must be >= 0");
    m.k_off = checked(p, "k_off", 0, inf, false, "must be >= 0");
    m.k_tr = checked(p, "k_tr", 0, inf, true, "must be > 0");
    m.emax_p = checked(p, "emax_p", 0, 1, false, "must be in [0, 1]");
    m.placebo_max = checked(p, "placebo_max", 0, 0.999999, false, "must be in [0, 1)");
    m.k_placebo = checked(p, "k_placebo", 0, inf, false, "must be >= 0");
    if (st != SymptomStructure::madrs_v1) {
        m.k_cons = checked(p, "k_cons", 0, inf, false, "must be >= 0");
        m.k_off_c = checked(p, "k_off_c", 0, inf, false, "must be >= 0");
    }
    if (st == SymptomStructure::madrs_v3) m.n_cons = checked(p, "n_cons", 1, 10, false, "must be in [1, 10]");
    return m;
}

void SymptomOptions::validate() const {
    pd_require(rtol > 0 && rtol < 1, "rtol", rtol, "must be in (0, 1)");
    pd_require(atol > 0 && std::isfinite(atol), "atol", atol, "must be finite and > 0");
    if (max_steps < 1) throw InputError("max_steps = " + std::to_string(max_steps) + ": must be >= 1");
}

namespace {

// S(Ce) = Ce^h / (ec50^h + Ce^h), 0 for Ce <= 0.
inline double stimulus(const SymptomModel& m, double c) {
    // pow(x, 1) is x exactly (IEEE 754), so the shortcut for hill = 1 changes no value, only the time.
    return c > 0 ? 1.0 / (1.0 + (m.hill == 1.0 ? m.ec50 / c : std::pow(m.ec50 / c, m.hill))) : 0.0;
}

// d(P, C, E)/dt at stimulus `stim` (every structure: C stays 0 when k_cons = 0, i.e. madrs_v1; the
// production of C is k_cons P^n_cons with n_cons = 1 for madrs_v2). P^1 is taken as P itself so
// that v1 and v2 are bit-identical to before; the base is clamped at 0 because the integrator's
// trial stages can dip a few ulps below it (a negative base to a non-integer power is NaN).
inline void symptom_rhs(const SymptomModel& m, double stim, double P, double C, double E, double* d) {
    d[0] = m.k_on * stim * (1.0 - P) - m.k_off * P;
    const double drive = m.n_cons == 1.0 ? P : std::pow(std::max(0.0, P), m.n_cons);
    d[1] = m.k_cons * drive * (1.0 - C) - m.k_off_c * C;
    d[2] = m.k_tr * (P + C - P * C - E);
}

inline double unit_clamp(double v) { return std::min(1.0, std::max(0.0, v)); }

inline double placebo_fraction(const SymptomModel& m, double dt) {
    return dt > 0 ? m.placebo_max * (1.0 - std::exp(-m.k_placebo * dt)) : 0.0;
}

// Placebo, MADRS and the placebo-only control from (P, C, E) on s.time.
void finish_curve(SymptomCurve& s, const SymptomModel& m, double first_session_h) {
    const std::size_t n = s.time.size();
    s.placebo.resize(n);
    s.madrs.resize(n);
    s.madrs_control.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        s.placebo[i] = placebo_fraction(m, s.time[i] - first_session_h);
        s.madrs_control[i] = m.baseline * (1.0 - s.placebo[i]);
        s.madrs[i] = m.baseline * (1.0 - m.emax_p * s.E[i]) * (1.0 - s.placebo[i]);
    }
}

void check_common(const SymptomModel& m, const SymptomOptions& o, double first_session_h, double ce_scale) {
    m.validate();
    o.validate();
    pd_require(ce_scale > 0 && std::isfinite(ce_scale), "ce_scale", ce_scale, "must be finite and > 0");
    pd_require(std::isfinite(first_session_h), "first_session_h", first_session_h, "must be finite");
}

}   // namespace

void symptom_derivative(const SymptomModel& m, double ce, const double* y, double* dy) {
    symptom_rhs(m, stimulus(m, ce), y[0], y[1], y[2], dy);
}

double symptom_madrs(const SymptomModel& m, const double* y, double t_since_first_h) {
    return m.baseline * (1.0 - m.emax_p * unit_clamp(y[2])) * (1.0 - placebo_fraction(m, t_since_first_h));
}

SymptomCurve simulate_symptoms(const Trajectory& tr, const SymptomModel& m, double first_session_h, double ce_scale,
                               const SymptomOptions& o, const std::string& ce_name, double ke0_per_h,
                               const std::string& driver_name) {
    namespace odeint = boost::numeric::odeint;
    check_common(m, o, first_session_h, ce_scale);
    const bool hermite = !std::isnan(ke0_per_h);
    if (hermite)
        pd_require(std::isfinite(ke0_per_h) && ke0_per_h > 0, "ke0_per_h", ke0_per_h, "must be finite and > 0");
    const auto ce_row = tr[ce_name];
    const std::size_t n = tr.time.size();
    SymptomCurve s;
    s.time = tr.time;
    s.ce.resize(n);
    for (std::size_t i = 0; i < n; ++i) s.ce[i] = std::max(0.0, ce_scale * ce_row[static_cast<Eigen::Index>(i)]);
    // Exact slopes dCe/dt = ke0 (C_driver - Ce) at the grid points (racemic-equivalent ng/mL/h).
    std::vector<double> slope(n, 0.0);
    if (hermite) {
        const auto drv = tr[driver_name];
        for (std::size_t i = 0; i < n; ++i) {
            const auto k = static_cast<Eigen::Index>(i);
            slope[i] = ce_scale * ke0_per_h * (drv[k] - ce_row[k]);
        }
    }
    s.P.assign(n, 0.0);
    s.C.assign(n, 0.0);
    s.E.assign(n, 0.0);

    using State = std::array<double, 3>;
    auto stepper = odeint::make_controlled(o.atol, o.rtol, odeint::runge_kutta_dopri5<State>());
    State x = {0.0, 0.0, 0.0};
    for (std::size_t i = 0; i + 1 < n; ++i) {
        const double t0 = tr.time[i], t1 = tr.time[i + 1];
        const double c0 = s.ce[i], c1 = s.ce[i + 1];
        const double m0 = slope[i], m1 = slope[i + 1];
        if (t1 > t0) {
            const double h = t1 - t0;
            auto rhs = [&](const State& y, State& dy, double t) {
                const double u = (t - t0) / h;
                double c;
                if (hermite) {
                    const double u2 = u * u, u3 = u2 * u;
                    c = (2 * u3 - 3 * u2 + 1) * c0 + (u3 - 2 * u2 + u) * h * m0 + (-2 * u3 + 3 * u2) * c1 +
                        (u3 - u2) * h * m1;
                } else {
                    c = c0 + (c1 - c0) * u;
                }
                symptom_rhs(m, stimulus(m, c), y[0], y[1], y[2], dy.data());
            };
            odeint::integrate_adaptive(stepper, rhs, x, t0, t1, h);
            // P, C and E stay in [0, 1] exactly; clamp only the roundoff of the integrator.
            for (double& v : x) v = unit_clamp(v);
        }
        s.P[i + 1] = x[0];
        s.C[i + 1] = x[1];
        s.E[i + 1] = x[2];
    }
    finish_curve(s, m, first_session_h);
    return s;
}

SymptomCurve simulate_symptoms_coupled(const Model& model, const Regimen& regimen, const Subject& subject,
                                       const std::vector<double>& times, const SymptomModel& m, double first_session_h,
                                       double ce_scale, const SymptomOptions& o) {
    namespace odeint = boost::numeric::odeint;
    check_common(m, o, first_session_h, ce_scale);
    if (!model.effect_site) throw InputError("model '" + model.name + "' has no [effect_site]: PD needs Ce");
    const LinearSystem sys = compile(model, subject);
    for (std::size_t i = 0; i < regimen.events.size(); ++i)
        if (regimen.events[i].steady_state)   // P and E would need their own periodic steady state
            throw InputError("dose[" + std::to_string(i) +
                             "].steady_state: steady-state doses are not supported by "
                             "the coupled symptom model");
    const Eigen::Index ce_row = [&] {
        for (std::size_t k = 0; k < sys.output_names.size(); ++k)
            if (sys.output_names[k] == model.effect_site->name) return static_cast<Eigen::Index>(k);
        throw InputError("model '" + model.name + "': no output '" + model.effect_site->name + "'");
    }();
    const Eigen::RowVectorXd c_ce = sys.C.row(ce_row);

    // State: the n PK states (mg; the effect site in ng/mL), then P, C and E. The walk over doses
    // and output times is the PK solvers' (walk_events); this visitor integrates between them.
    using State = std::vector<double>;
    SymptomCurve s;
    s.time = times;
    s.ce.assign(times.size(), 0.0);
    s.P.assign(times.size(), 0.0);
    s.C.assign(times.size(), 0.0);
    s.E.assign(times.size(), 0.0);
    struct Coupled : EventVisitor {
        const LinearSystem& sys;
        const SymptomModel& m;
        const Eigen::RowVectorXd& c_ce;
        double ce_scale;
        int n;
        std::size_t un;
        SymptomCurve& s;
        State x;
        Eigen::VectorXd u;   // zero-order inputs, mg/h
        odeint::controlled_runge_kutta<odeint::runge_kutta_dopri5<State>> stepper;
        Coupled(const LinearSystem& sys_, const SymptomModel& m_, const Eigen::RowVectorXd& c, double scale,
                SymptomCurve& s_, const SymptomOptions& o)
            : sys(sys_),
              m(m_),
              c_ce(c),
              ce_scale(scale),
              n(sys_.size()),
              un(static_cast<std::size_t>(sys_.size())),
              s(s_),
              x(un + 3, 0.0),
              u(Eigen::VectorXd::Zero(sys_.size())),
              stepper(odeint::make_controlled(o.atol, o.rtol, odeint::runge_kutta_dopri5<State>())) {}
        void integrate(double t0, double t1, const Eigen::VectorXd& u_in, long max_steps) override {
            u = u_in;
            auto rhs = [this](const State& y, State& dy, double) {
                const Eigen::Map<const Eigen::VectorXd> xs(y.data(), n);
                Eigen::Map<Eigen::VectorXd> dxs(dy.data(), n);
                dxs.noalias() = sys.A * xs;
                dxs += u;
                const double c = ce_scale * c_ce.dot(xs);
                symptom_rhs(m, stimulus(m, c), y[un], y[un + 1], y[un + 2], &dy[un]);
            };
            const double ts[2] = {t0, t1};
            odeint::integrate_times(
                stepper, rhs, x, ts, ts + 2, std::min(t1 - t0, 0.1), [](const State&, double) {},
                odeint::max_step_checker(static_cast<int>(std::min<long>(max_steps, 2147483647L))));
        }
        void advance_exactly(double t0, double t1, const Eigen::VectorXd& u_in) override {
            // Too short for the stepper: the PK part exactly; P, C and E move by at most their
            // rate (<= k_on, k_cons, k_tr) times 1e-9 h.
            Eigen::VectorXd xs = Eigen::Map<const Eigen::VectorXd>(x.data(), n);
            propagate_linear_exactly(sys.A, u_in, t1 - t0, xs);
            Eigen::Map<Eigen::VectorXd>(x.data(), n) = xs;
        }
        void bolus(int state, double amount) override { x[static_cast<std::size_t>(state)] += amount; }
        void reset(const Eigen::VectorXd&) override {
            throw std::logic_error("coupled symptom model: steady-state doses are refused before the walk");
        }
        void output(std::size_t i, double) override {
            const Eigen::Map<const Eigen::VectorXd> xs(x.data(), n);
            s.ce[i] = std::max(0.0, ce_scale * c_ce.dot(xs));
            s.P[i] = unit_clamp(x[un]);
            s.C[i] = unit_clamp(x[un + 1]);
            s.E[i] = unit_clamp(x[un + 2]);
        }
    } walker(sys, m, c_ce, ce_scale, s, o);
    walk_events(sys, regimen, times, walker, "coupled symptom model (dopri5)", o.max_steps);
    finish_curve(s, m, first_session_h);
    return s;
}

void ClinicalOptions::validate() const {
    pd_require(onset_fraction > 0 && onset_fraction < 1, "onset_fraction", onset_fraction, "must be in (0, 1)");
    pd_require(response_fraction > 0 && response_fraction < 1, "response_fraction", response_fraction,
               "must be in (0, 1)");
    pd_require(remission_threshold >= 0 && remission_threshold <= 60, "remission_threshold", remission_threshold,
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
        if (std::isnan(c.min_madrs) || y < c.min_madrs) {
            c.min_madrs = y;
            c.t_min_madrs_h = t - t_first;
        }
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

}   // namespace ketasim
