// The metrics-only course (pd.hpp run_course_metrics): run_course's session outputs without its
// curves. Where the cost goes in run_course (esketamine induction, 77 days at 1 min: 110,000
// grid points): the exact PK on every point, the acute curves on every point, and one or more
// dopri5 steps of the symptom model per grid interval. Here the acute effects are evaluated only
// on the grid points that can matter, and the symptom model takes the steps its tolerance needs.
#include <algorithm>
#include <array>
#include <boost/numeric/odeint.hpp>
#include <cmath>
#include <limits>

#include "ketasim/errors.hpp"
#include "ketasim/pd.hpp"
#include "ketasim/solver.hpp"
#include "pd/pd_check.hpp"

namespace ketasim {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// run_course's grid (OutputGrid::uniform(0, t_end, dt) with the session starts inserted and
// points closer than 1e-9 h merged), walked point by point without being stored.
struct CourseGrid {
    double dt, t_end_req;
    long n;           // uniform points i * dt, i = 0..n
    double back;      // last grid time
    bool extra_end;   // t_end appended after n * dt
    CourseGrid(double dt_h, double t_end) : dt(dt_h), t_end_req(t_end) {
        n = static_cast<long>(std::floor(t_end / dt + 1e-9));
        extra_end = t_end - static_cast<double>(n) * dt > 1e-9;
        back = extra_end ? t_end : static_cast<double>(n) * dt;
    }
    // The first uniform index whose time is more than 1e-9 h after t (merged otherwise).
    long first_after(double t) const {
        long i = static_cast<long>(std::floor(t / dt));
        while (i > 0 && static_cast<double>(i - 1) * dt > t + 1e-9) --i;
        while (static_cast<double>(i) * dt <= t + 1e-9) ++i;
        return i;
    }
};

}   // namespace

CourseMetrics run_course_metrics(const CourseSpec& spec, const AcuteEffectModel& am, const SymptomModel& sm,
                                 const CourseOptions& o, const LinearSystem& sys,
                                 const std::vector<double>& madrs_times_h) {
    namespace odeint = boost::numeric::odeint;
    o.validate();
    am.validate();
    sm.validate();
    const Model& model = spec.model;
    const double ce_scale = racemic_equivalent_scale(model);
    if (spec.session_starts_h.empty()) throw InputError("course '" + spec.name + "': no sessions");
    std::vector<double> starts = spec.session_starts_h;
    std::sort(starts.begin(), starts.end());
    const std::size_t ns = starts.size();
    const double t_first = starts.front(), t_last = starts.back();
    const CourseGrid grid(o.dt_h, t_last + o.follow_up_h);
    const PkSolution pk(sys, spec.regimen, {model.effect_site->name, model.effect_site->driver});

    CourseMetrics r;
    r.t_end_h = grid.back;
    r.sessions.resize(ns);

    // ---- acute effects, session by session (acute.cpp: acute_effects + session_acute_metrics) ----
    PkSolution::Cursor cur(pk);
    double y[2];
    // The BP tolerance state X is continuous across sessions: (t, S(Cp), X) at the last point seen.
    double t_prev = 0.0, s_prev = 0.0, x_tol = 0.0;
    bool have_prev = false;
    auto s_of = [&](double t) {
        pk.values(t, y);
        return sigmoid_emax(ce_scale * y[1], 1.0, am.sbp_ec50, am.sbp_hill);
    };
    // X carried from t_prev to t over points of the grid that no metric reads: geometric steps
    // (dt, 2 dt, 4 dt, ...). X is then S(Cp) of a concentration far below the thresholds (it
    // only matters at the 1e-8 level for the library's models); the same exact update as the grid's.
    auto carry_to = [&](double t) {
        if (!have_prev) {
            t_prev = std::min(0.0, t);
            s_prev = s_of(t_prev);
            have_prev = true;
        }
        double h = grid.dt;
        while (t - t_prev > h + 1e-9) {
            const double tn = t_prev + h;
            const double sn = s_of(tn);
            x_tol = detail::sbp_tolerance_step(am.sbp_k_tol, tn - t_prev, x_tol, s_prev, sn);
            t_prev = tn;
            s_prev = sn;
            h *= 2.0;
        }
        if (t > t_prev) {
            const double sn = s_of(t);
            x_tol = detail::sbp_tolerance_step(am.sbp_k_tol, t - t_prev, x_tol, s_prev, sn);
            t_prev = t;
            s_prev = sn;
        }
    };
    for (std::size_t k = 0; k < ns; ++k) {
        SessionAcute& s = r.sessions[k].acute;
        s.start_h = starts[k];
        const double end = k + 1 < ns ? starts[k + 1] : grid.back + 1.0;
        const double emax = am.diss_emax * std::pow(am.diss_tolerance_per_session, static_cast<double>(k));
        // The last point before the session's start on the grid (the previous uniform point):
        // run_course updates X from there, so carry to it first, then step like the grid.
        const long i_start = grid.first_after(s.start_h);
        {
            long ib = i_start - 1;
            while (ib >= 0 && static_cast<double>(ib) * grid.dt >= s.start_h - 1e-9) --ib;
            if (ib >= 0 && (!have_prev || static_cast<double>(ib) * grid.dt > t_prev))
                carry_to(static_cast<double>(ib) * grid.dt);
        }
        // Ce at which the dissociation reaches its discharge threshold (+inf if it never can).
        const double thr = am.diss_discharge_threshold;
        const double diss_c_threshold =
            thr < emax ? am.diss_ec50 * std::pow(thr / (emax - thr), 1.0 / am.diss_hill) : kInf;
        double last_above_next = kNaN;   // time of the point after the last point above a threshold
        bool any_above = false, pending = false;
        auto visit = [&](double t) {
            cur.values(t, y);
            const double c = ce_scale * y[0];
            const double sp = sigmoid_emax(ce_scale * y[1], 1.0, am.sbp_ec50, am.sbp_hill);
            if (have_prev && t > t_prev)
                x_tol = detail::sbp_tolerance_step(am.sbp_k_tol, t - t_prev, x_tol, s_prev, sp);
            have_prev = true;
            t_prev = t;
            s_prev = sp;
            const double sbp = am.sbp_emax * sp * (1.0 - x_tol);
            if (!std::isfinite(c) || !std::isfinite(sbp))
                throw SolverError("acute effects: non-finite effect at t = " + detail::pd_num(t) + " h");
            const double rel = t - s.start_h;
            if (pending) {
                last_above_next = rel;
                pending = false;
            }
            // Dissociation increases with Ce (one Emax per session): its peak is at the peak of Ce
            // and it is above its threshold exactly when Ce >= diss_c_threshold (no pow per point).
            if (c > s.peak_ce) {
                s.peak_ce = c;
                s.t_peak_ce_h = rel;
                s.peak_diss = sigmoid_emax(c, emax, am.diss_ec50, am.diss_hill);
                s.t_peak_diss_h = rel;
            }
            if (sbp > s.peak_sbp) {
                s.peak_sbp = sbp;
                s.t_peak_sbp_h = rel;
            }
            if (c >= diss_c_threshold || sbp >= am.sbp_discharge_threshold) {
                any_above = true;
                pending = true;
            }
        };
        // Nothing later in the window can matter once, with no dose left before its end, the
        // bound of Ce and Cp from here on cannot reach the peaks or the thresholds (the effects
        // increase with the concentrations; the BP rise is at most sbp_emax S(Cp)).
        auto settled = [&](double t) {
            if (pending || pk.next_breakpoint(t) < end - 1e-12) return false;
            const double bc = ce_scale * cur.bound(0), bp = ce_scale * cur.bound(1);   // at t
            if (!std::isfinite(bc) || !std::isfinite(bp)) return false;
            const double dmax = sigmoid_emax(bc, emax, am.diss_ec50, am.diss_hill);
            const double smax = am.sbp_emax * sigmoid_emax(bp, 1.0, am.sbp_ec50, am.sbp_hill);
            return bc <= s.peak_ce && dmax <= s.peak_diss && smax <= s.peak_sbp && dmax < am.diss_discharge_threshold &&
                   smax < am.sbp_discharge_threshold;
        };
        visit(s.start_h);
        bool done = false;
        long i = i_start;
        for (; i <= grid.n && !done; ++i) {
            const double t = static_cast<double>(i) * grid.dt;
            if (!(t < end - 1e-12)) break;
            visit(t);
            // The bound costs as much as a point: test it every 8th point.
            if ((i - i_start) % 8 == 7) done = settled(t);
        }
        if (!done && i > grid.n && grid.extra_end && grid.back < end - 1e-12) visit(grid.back);
        if (!any_above)
            s.discharge_h = 0.0;
        else if (!std::isnan(last_above_next))
            s.discharge_h = last_above_next;
        s.side_effects = side_effect_risk(am, s.peak_ce);
    }

    // ---- symptom model: (P, C, E) by dopri5 on the exact Ce ----
    // Stops: every dose breakpoint (Ce's derivative jumps there; no step spans one), the output
    // times, and the end. Before the first dose Ce = 0 and the state stays 0.
    enum Kind { before, after24, at, finish };
    struct Stop {
        double t;
        int kind;
        std::size_t idx;
    };
    std::vector<Stop> stops;
    for (std::size_t k = 0; k < ns; ++k) {
        stops.push_back({starts[k], before, k});
        stops.push_back({starts[k] + 24.0, after24, k});
    }
    r.madrs_at.assign(madrs_times_h.size(), kNaN);
    for (std::size_t j = 0; j < madrs_times_h.size(); ++j)
        if (t_first + madrs_times_h[j] <= grid.back + 1e-12) stops.push_back({t_first + madrs_times_h[j], at, j});
    stops.push_back({grid.back, finish, 0});
    for (double b : pk.breakpoints())
        if (b < grid.back) stops.push_back({b, -1, 0});
    std::stable_sort(stops.begin(), stops.end(), [](const Stop& a, const Stop& b) { return a.t < b.t; });

    using State = std::array<double, kSymptomStates>;
    State st{};
    PkSolution::Cursor pd_cur(pk);
    double yc[2];
    auto rhs = [&](const State& x, State& dx, double t) {
        pd_cur.values(t, yc);
        symptom_derivative(sm, std::max(0.0, ce_scale * yc[0]), x.data(), dx.data());
    };
    auto stepper = odeint::make_controlled(o.symptom.atol, o.symptom.rtol, odeint::runge_kutta_dopri5<State>());
    const double level = sm.baseline * (1.0 - o.clinical.response_fraction);
    auto madrs = [&](const State& x, double t) { return symptom_madrs(sm, x.data(), t - t_first); };
    double t = std::min(0.0, stops.front().t);
    double dt = 0.01;
    long steps = 0;
    bool searching = false;   // looking for the relapse (a responder after last start + 24 h)
    // Step sizes on a ladder of four per octave (at most 16 % below the controller's proposal):
    // steps of one size repeat, and so do their stage offsets, which the PK cursor then serves
    // from its cache with a few multiplies instead of exponentials.
    auto ladder = [](double h) {
        int ex = 0;
        const double f = std::frexp(h, &ex);   // h = f 2^ex, f in [0.5, 1)
        const double q = f >= 0.8408964152537145   ? 0.8408964152537145
                         : f >= 0.7071067811865476 ? 0.7071067811865476
                         : f >= 0.5946035575013605 ? 0.5946035575013605
                                                   : 0.5;
        return std::ldexp(q, ex);
    };
    auto too_many = [&] {
        throw SolverError(
            "symptom model (metrics-only course): more than max_steps = " + std::to_string(o.symptom.max_steps) +
            " dopri5 steps near t = " + detail::pd_num(t) + " h; raise max_steps");
    };
    // Integrates from (t, st) to t1 exactly (the last step clipped to land on t1).
    auto advance = [&](double t1, bool watch) {
        while (t < t1) {
            double h = std::min(ladder(dt), t1 - t);
            const bool last = h >= t1 - t;
            const State s0 = st;
            const double t0 = t;
            double tt = t;
            if (stepper.try_step(rhs, st, tt, h) == odeint::fail) {
                dt = h;
                if (++steps > o.symptom.max_steps) too_many();
                continue;
            }
            for (double& v : st) v = std::min(1.0, std::max(0.0, v));
            t = last ? t1 : tt;
            if (!last || h > dt) dt = h;   // the controller's proposal (a clipped step keeps the old one)
            if (++steps > o.symptom.max_steps) too_many();
            if (watch && madrs(st, t) > level) {
                // The first crossing lies in (t0, t]: regula falsi (Illinois) on re-integrations
                // from (t0, s0), to 1e-6 h.
                double a = t0, b = t, fa = madrs(s0, t0) - level, fb = madrs(st, t) - level;
                int side = 0;
                for (int it = 0; it < 60 && b - a > 1e-6; ++it) {
                    double m = (fa * b - fb * a) / (fa - fb);
                    if (!(m > a && m < b)) m = 0.5 * (a + b);
                    State sm_state = s0;
                    odeint::integrate_adaptive(stepper, rhs, sm_state, t0, m, std::min(m - t0, dt));
                    const double fm = madrs(sm_state, m) - level;
                    if (fm > 0) {
                        b = m;
                        fb = fm;
                        if (side == -1) fa *= 0.5;
                        side = -1;
                    } else {
                        a = m;
                        fa = fm;
                        if (side == 1) fb *= 0.5;
                        side = 1;
                    }
                }
                r.relapse_h = b - t_last;
                r.relapse_observed = true;
                searching = false;
                return;
            }
        }
    };
    for (const Stop& s : stops) {
        if (s.t > t) advance(s.t, searching);
        if (t < s.t) advance(s.t, false);           // the crossing was found: finish this leg plainly
        if (s.kind == -1) dt = std::min(dt, 0.1);   // a dose: Ce starts to change again
        const double v = madrs(st, s.t);
        switch (s.kind) {
            case before:
                r.sessions[s.idx].madrs_before = v;
                break;
            case after24: {
                SessionReport& sr = r.sessions[s.idx];
                sr.madrs_after_24h = v;
                sr.response = v <= level;
                sr.remission = v <= o.clinical.remission_threshold;
                if (s.idx + 1 == ns && sr.response) {
                    searching = true;
                    r.relapse_observed = false;
                    r.relapse_h = grid.back - t_last;
                }
                break;
            }
            case at:
                r.madrs_at[s.idx] = v;
                break;
            case finish:
                r.madrs_end = v;
                break;
            default:
                break;
        }
    }
    std::vector<SideEffectRisk> per_session;
    for (std::size_t k = 0; k < ns; ++k) {
        SessionReport& sr = r.sessions[k];
        sr.index = static_cast<int>(k + 1);
        sr.day = starts[k] / 24.0;
        per_session.push_back(sr.acute.side_effects);
        for (double v : {sr.madrs_before, sr.madrs_after_24h, sr.acute.peak_ce, sr.acute.peak_diss, sr.acute.peak_sbp})
            if (!std::isfinite(v)) throw SolverError("session " + std::to_string(k + 1) + ": a metric is not finite");
    }
    if (!std::isfinite(r.madrs_end)) throw SolverError("course: MADRS at the end is not finite");
    r.side_effects_course = course_incidence(per_session);
    return r;
}

}   // namespace ketasim
