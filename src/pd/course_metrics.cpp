// The metrics-only course (pd.hpp run_course_metrics): run_course's session outputs without its
// curves. Where the cost goes in run_course (esketamine induction, 77 days at 1 min: 110,000
// grid points): the exact PK on every point, the acute curves on every point, and one or more
// dopri5 steps of the symptom model per grid interval. Here the acute effects are evaluated only
// on the grid points that can matter, and the symptom model takes the steps its tolerance needs.
#include <algorithm>
#include <array>
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
            // (taken once the scan ends) and it is above its threshold exactly when Ce >=
            // diss_c_threshold (no pow per point).
            if (c > s.peak_ce) {
                s.peak_ce = c;
                s.t_peak_ce_h = rel;
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
            // (The dissociation bound is below its peak exactly when bc <= peak_ce: monotone.)
            if (!(bc <= s.peak_ce)) return false;
            const double dmax = sigmoid_emax(bc, emax, am.diss_ec50, am.diss_hill);
            const double smax = am.sbp_emax * sigmoid_emax(bp, 1.0, am.sbp_ec50, am.sbp_hill);
            return smax <= s.peak_sbp && dmax < am.diss_discharge_threshold && smax < am.sbp_discharge_threshold;
        };
        // Past the peaks, once Ce and Cp provably only fall until the window's end (their bounds
        // equal their values: PkSolution::bound's falling test) and the BP bound stays below its
        // threshold and peak, the only thing left is the last grid point with Ce at or above the
        // dissociation threshold: found by bisection on the grid (Ce falls), not point by point.
        // (X, the BP tolerance, is then carried geometrically: it no longer reaches any metric.)
        long i_last = -1;   // the last uniform index in the window
        auto jump = [&](double t, long i) {
            if (pending && !(ce_scale * y[0] >= diss_c_threshold)) return false;
            if (pk.next_breakpoint(t) < end - 1e-12) return false;
            const double c = ce_scale * y[0], cp = ce_scale * y[1];
            const double bc = ce_scale * cur.bound(0), bp = ce_scale * cur.bound(1);
            if (!(bc <= c * (1 + 1e-12)) || !(bp <= cp * (1 + 1e-12)) || !(c <= s.peak_ce)) return false;
            const double smax = am.sbp_emax * sigmoid_emax(bp, 1.0, am.sbp_ec50, am.sbp_hill);
            if (!(smax <= s.peak_sbp && smax < am.sbp_discharge_threshold)) return false;
            if (!(c >= diss_c_threshold)) return !pending;
            if (i_last < 0) {
                i_last = std::min(grid.n, static_cast<long>(std::ceil((end - 1e-12) / grid.dt)) + 1);
                while (i_last > i && !(static_cast<double>(i_last) * grid.dt < end - 1e-12)) --i_last;
            }
            double yy[2];
            auto above = [&](long j) {
                pk.values(static_cast<double>(j) * grid.dt, yy);
                return ce_scale * yy[0] >= diss_c_threshold;
            };
            if (i_last <= i || above(i_last)) return false;   // still above at the window's end: walk
            long lo = i, hi = i_last;                         // above(lo), !above(hi)
            while (hi - lo > 1) {
                const long mid = lo + (hi - lo) / 2;
                (above(mid) ? lo : hi) = mid;
            }
            any_above = true;
            pending = false;
            last_above_next = static_cast<double>(hi) * grid.dt - s.start_h;
            return true;
        };
        visit(s.start_h);
        bool done = false;
        long i = i_start;
        for (; i <= grid.n && !done; ++i) {
            const double t = static_cast<double>(i) * grid.dt;
            if (!(t < end - 1e-12)) break;
            visit(t);
            // The bound costs as much as a point: test it every 8th point.
            if ((i - i_start) % 8 == 7) done = settled(t) || jump(t, i);
        }
        if (!done && i > grid.n && grid.extra_end && grid.back < end - 1e-12) visit(grid.back);
        s.peak_diss = sigmoid_emax(s.peak_ce, emax, am.diss_ec50, am.diss_hill);
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
    // Dormand-Prince 5(4) (Hairer, Norsett & Wanner, Solving ODEs I, table II.5.2), the method and
    // step control of odeint's controlled dopri5 (error per state relative to atol + rtol (|x| +
    // h |x'|), max norm; on failure h *= max(0.9 err^(-1/3), 0.2); after err < 0.5, h *= 0.9
    // err^(-1/5), at most 5x), written out so that the Ce of a step's stages comes from the PK
    // cursor's per-step-size tables (PkSolution::Cursor::stages) and nothing is allocated.
    static constexpr double c_st[6] = {1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1.0, 1.0};
    static constexpr double a21 = 1.0 / 5;
    static constexpr double a31 = 3.0 / 40, a32 = 9.0 / 40;
    static constexpr double a41 = 44.0 / 45, a42 = -56.0 / 15, a43 = 32.0 / 9;
    static constexpr double a51 = 19372.0 / 6561, a52 = -25360.0 / 2187, a53 = 64448.0 / 6561, a54 = -212.0 / 729;
    static constexpr double a61 = 9017.0 / 3168, a62 = -355.0 / 33, a63 = 46732.0 / 5247, a64 = 49.0 / 176,
                            a65 = -5103.0 / 18656;
    static constexpr double b1 = 35.0 / 384, b3 = 500.0 / 1113, b4 = 125.0 / 192, b5 = -2187.0 / 6784, b6 = 11.0 / 84;
    static constexpr double e1 = 71.0 / 57600, e3 = -71.0 / 16695, e4 = 71.0 / 1920, e5 = -17253.0 / 339200,
                            e6 = 22.0 / 525, e7 = -1.0 / 40;
    auto f = [&](double ce, const State& x, State& dx) {
        symptom_derivative(sm, std::max(0.0, ce_scale * ce), x.data(), dx.data());
    };
    State k1{};
    bool k1_valid = false;
    // Ce at t for the first stage (the cursor positioned at t).
    auto sync = [&](double tt) {
        if (pd_cur.time() != tt || !k1_valid) {
            pd_cur.values(tt, yc);
        }
    };
    // One trial step of size h from (t0, x); on success x, k1 hold the new state and its slope.
    auto try_step = [&](double t0, State& x, double h, double& err) {
        sync(t0);
        if (!k1_valid) {
            pd_cur.values(t0, yc);
            f(yc[0], x, k1);
            k1_valid = true;
        }
        double ce[5];
        pd_cur.stages(h, c_st, 5, 0, ce);   // Ce at t0 + c h, c = 1/5, 3/10, 4/5, 8/9, 1
        State k2, k3, k4, k5, k6, k7, y;
        for (int i = 0; i < kSymptomStates; ++i) y[i] = x[i] + h * a21 * k1[i];
        f(ce[0], y, k2);
        for (int i = 0; i < kSymptomStates; ++i) y[i] = x[i] + h * (a31 * k1[i] + a32 * k2[i]);
        f(ce[1], y, k3);
        for (int i = 0; i < kSymptomStates; ++i) y[i] = x[i] + h * (a41 * k1[i] + a42 * k2[i] + a43 * k3[i]);
        f(ce[2], y, k4);
        for (int i = 0; i < kSymptomStates; ++i)
            y[i] = x[i] + h * (a51 * k1[i] + a52 * k2[i] + a53 * k3[i] + a54 * k4[i]);
        f(ce[3], y, k5);
        for (int i = 0; i < kSymptomStates; ++i)
            y[i] = x[i] + h * (a61 * k1[i] + a62 * k2[i] + a63 * k3[i] + a64 * k4[i] + a65 * k5[i]);
        f(ce[4], y, k6);
        State xn;
        for (int i = 0; i < kSymptomStates; ++i)
            xn[i] = x[i] + h * (b1 * k1[i] + b3 * k3[i] + b4 * k4[i] + b5 * k5[i] + b6 * k6[i]);
        f(ce[4], xn, k7);
        err = 0.0;
        for (int i = 0; i < kSymptomStates; ++i) {
            const double xe = h * (e1 * k1[i] + e3 * k3[i] + e4 * k4[i] + e5 * k5[i] + e6 * k6[i] + e7 * k7[i]);
            const double sc = o.symptom.atol + o.symptom.rtol * (std::fabs(x[i]) + h * std::fabs(k1[i]));
            err = std::max(err, std::fabs(xe) / sc);
        }
        if (!(err <= 1.0)) return false;
        pd_cur.advance(h);
        bool clamped = false;
        for (int i = 0; i < kSymptomStates; ++i) {
            const double v = std::min(1.0, std::max(0.0, xn[i]));
            clamped |= v != xn[i];
            x[i] = v;
        }
        if (clamped)
            f(ce[4], x, k1);
        else
            k1 = k7;
        return true;
    };
    const double level = sm.baseline * (1.0 - o.clinical.response_fraction);
    auto madrs = [&](const State& x, double t) { return symptom_madrs(sm, x.data(), t - t_first); };
    double t = std::min(0.0, stops.front().t);
    double dt = 0.01;
    long steps = 0;
    bool searching = false;   // looking for the relapse (a responder after last start + 24 h)
    // Step sizes on a ladder of four per octave (at most 16 % below the controller's proposal):
    // steps of one size repeat exactly, and the PK cursor serves their stages from its tables
    // with a few multiplies instead of exponentials.
    auto ladder = [](double h) {
        int ex = 0;
        const double fr = std::frexp(h, &ex);   // h = fr 2^ex, fr in [0.5, 1)
        const double q = fr >= 0.8408964152537145   ? 0.8408964152537145
                         : fr >= 0.7071067811865476 ? 0.7071067811865476
                         : fr >= 0.5946035575013605 ? 0.5946035575013605
                                                    : 0.5;
        return std::ldexp(q, ex);
    };
    auto too_many = [&] {
        throw SolverError(
            "symptom model (metrics-only course): more than max_steps = " + std::to_string(o.symptom.max_steps) +
            " dopri5 steps near t = " + detail::pd_num(t) + " h; raise max_steps");
    };
    // Integrates (tt, x) to t1 exactly (the last step clipped to land on t1), with the step
    // proposal h_prop; calls on_step(t0, x0) after every accepted step (returns true to stop).
    auto integrate = [&](double& tt, State& x, double t1, double& h_prop, auto&& on_step) {
        while (tt < t1) {
            const double h = std::min(ladder(h_prop), t1 - tt);
            const bool last = h >= t1 - tt;
            const State x0 = x;
            const double t0 = tt;
            double err = 0.0;
            const bool ok = try_step(tt, x, h, err);
            if (++steps > o.symptom.max_steps) too_many();
            if (!ok) {
                h_prop = h * std::max(0.9 * std::pow(err, -1.0 / 3.0), 0.2);
                if (!std::isfinite(err)) h_prop = 0.2 * h;
                continue;
            }
            tt = last ? t1 : tt + h;
            // The controller's proposal (a clipped step keeps the old one unless it was smaller).
            double hn = h;
            if (err < 0.5) hn = h * std::min(0.9 * std::pow(std::max(err, 3.2e-4), -0.2), 5.0);
            if (!last || hn > h_prop) h_prop = hn;
            if (on_step(t0, x0)) return;
        }
    };
    auto advance = [&](double t1, bool watch) {
        integrate(t, st, t1, dt, [&](double t0, const State& s0) {
            if (!watch || !(madrs(st, t) > level)) return false;
            // The first crossing lies in (t0, t]: regula falsi (Illinois) on re-integrations
            // from (t0, s0), to 1e-6 h.
            double a = t0, b = t, fa = madrs(s0, t0) - level, fb = madrs(st, t) - level;
            int side = 0;
            for (int it = 0; it < 60 && b - a > 1e-6; ++it) {
                double m = (fa * b - fb * a) / (fa - fb);
                if (!(m > a && m < b)) m = 0.5 * (a + b);
                State sm_state = s0;
                double tm = t0, hm = std::min(m - t0, dt);
                k1_valid = false;
                integrate(tm, sm_state, m, hm, [](double, const State&) { return false; });
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
            k1_valid = false;   // the cursor and the slope belong to the search, not to (t, st)
            r.relapse_h = b - t_last;
            r.relapse_observed = true;
            searching = false;
            return true;
        });
    };
    for (const Stop& s : stops) {
        if (s.t > t) advance(s.t, searching);
        if (t < s.t) advance(s.t, false);   // the crossing was found: finish this leg plainly
        if (s.kind == -1) {
            dt = std::min(dt, 0.1);   // a dose: Ce starts to change again
            k1_valid = false;         // the slope after the breakpoint (a reset can move Ce)
        }
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
