#include "inputs.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <unsupported/Eigen/MatrixFunctions>

#include "core/text.hpp"
#include "ketasim/errors.hpp"

namespace ketasim::detail {

namespace {
using detail::fmt;

// The absolute input rate of every state at every infusion start and end. Each state's running
// infusions are the leaves of a sum tree whose inner nodes are recomputed from their children
// (never updated by subtraction), so a stopped infusion leaves no trace and the rate after it
// is the sum of the others to within log2(k) roundings, for any mix of sizes. O(m log m).
template <class Infusion>
std::vector<RateChange> running_rates(const std::vector<Infusion>& inf, int n_states) {
    struct Edge {
        double time;
        std::size_t leaf;   // index into `inf`
        bool start;
    };
    std::vector<std::vector<std::size_t>> by_state(static_cast<std::size_t>(n_states));
    for (std::size_t i = 0; i < inf.size(); ++i) by_state[static_cast<std::size_t>(inf[i].state)].push_back(i);
    std::vector<RateChange> out;
    std::vector<Edge> edges;
    std::vector<double> tree;
    std::vector<std::size_t> slot(inf.size());
    for (int s = 0; s < n_states; ++s) {
        const auto& ids = by_state[static_cast<std::size_t>(s)];
        if (ids.empty()) continue;
        std::size_t p = 1;
        while (p < ids.size()) p *= 2;
        tree.assign(2 * p, 0.0);
        edges.clear();
        for (std::size_t k = 0; k < ids.size(); ++k) {
            slot[ids[k]] = k;
            edges.push_back({inf[ids[k]].start, ids[k], true});
            edges.push_back({inf[ids[k]].end, ids[k], false});
        }
        std::sort(edges.begin(), edges.end(), [](const Edge& a, const Edge& b) { return a.time < b.time; });
        for (std::size_t e = 0; e < edges.size();) {
            const double t = edges[e].time;
            for (; e < edges.size() && edges[e].time == t; ++e) {
                std::size_t node = p + slot[edges[e].leaf];
                tree[node] = edges[e].start ? inf[edges[e].leaf].rate : 0.0;
                for (node /= 2; node >= 1; node /= 2) tree[node] = tree[2 * node] + tree[2 * node + 1];
            }
            out.push_back({t, s, tree[1]});
        }
    }
    return out;
}
}   // namespace

InputSchedule build_inputs(const LinearSystem& sys, const Regimen& regimen, double weight_kg) {
    regimen.validate();
    std::vector<Bolus> boluses;
    struct Infusion {
        double start, end;
        int state;
        double rate;
    };
    std::vector<Infusion> infusions;
    InputSchedule in;
    // Steady state (NONMEM SS=1): the last steady-state time resets the state, so every dose
    // before it is ignored; the steady-state doses at that time are superposed (linearity).
    double t_ss = -std::numeric_limits<double>::infinity();
    for (const auto& e : regimen.events)
        if (e.steady_state) t_ss = std::max(t_ss, e.time);
    Eigen::VectorXd reset;
    for (std::size_t i = 0; i < regimen.events.size(); ++i) {
        const DoseEvent& e = regimen.events[i];
        const std::string f = "dose[" + std::to_string(i) + "]";
        if (e.time < t_ss) continue;
        in.dose_times.push_back(e.time);
        if (e.steady_state) {
            const Eigen::VectorXd x = steady_state_trough(sys, e, weight_kg, f);
            if (reset.size() == 0)
                reset = x;
            else
                reset += x;
        }
        const double amt = e.amount_mg(weight_kg);
        if (!std::isfinite(amt))
            throw InputError(f + ".amount: " + fmt(e.amount) + " mg/kg x " + fmt(weight_kg) +
                             " kg is not a finite amount");
        in.total_mg += amt;
        if (!std::isfinite(in.total_mg))
            throw InputError(f + ".amount: " + fmt(amt) + " mg brings the regimen's total past the double range");
        auto add = [&](int state, double t0, double dur, double a) {
            if (a == 0.0) return;
            // An infusion whose end rounds onto its start (duration below the time resolution at
            // t0, e.g. 1e-20 h) delivers its amount at t0: a bolus, exactly as far as float time
            // can tell; its rate a / dur would overflow or be meaningless.
            // The rate uses the duration as float time represents it, (t0 + dur) - t0, so that the
            // solvers, which integrate between those two times, deliver exactly `a` (with dur
            // itself an infusion of 4e-13 h at t0 = 1 h lost 2.4e-4 of its dose).
            const double t1 = t0 + dur;
            if (dur > 0 && t1 > t0 && std::isfinite(a / (t1 - t0))) {
                infusions.push_back({t0, t1, state, a / (t1 - t0)});
            } else {
                boluses.push_back({t0, state, a});
            }
        };
        if (!e.compartment.empty()) {
            int idx = -1;
            for (int s = 0; s < sys.size(); ++s)
                if (sys.state_names[s] == e.compartment && sys.state_kinds[s] == StateKind::compartment) idx = s;
            if (idx < 0)
                throw InputError(f + ".compartment: '" + e.compartment + "' is not a compartment of the model");
            add(idx, e.time, e.duration, amt);
            continue;
        }
        const ResolvedRoute& r = sys.route(e.route);
        if (e.duration > 0 && r.kind != RouteKind::iv)
            throw InputError(f + ".duration: " + fmt(e.duration) + " h given for route '" + e.route +
                             "', which has its own absorption; only iv doses (or compartment doses) take a duration");
        const std::vector<double> fr = r.fractions(e.device);
        double taken = 0;
        for (std::size_t b = 0; b < r.branches.size(); ++b) {
            const ResolvedBranch& br = r.branches[b];
            const double dur = br.duration > 0 ? br.duration : e.duration;
            add(br.target, e.time + br.lag, dur, amt * fr[b]);
            taken += fr[b];
        }
        const double lost = amt * std::max(0.0, 1.0 - taken);
        if (lost > 0) boluses.push_back({e.time, sys.unabsorbed, lost});
    }
    std::map<double, Breakpoint> by_time;
    for (const auto& b : boluses) {
        auto& bp = by_time[b.time];
        bp.time = b.time;
        bp.boluses.push_back(b);
    }
    for (const auto& r : running_rates(infusions, sys.size())) {
        auto& bp = by_time[r.time];
        bp.time = r.time;
        bp.rates.push_back(r);
    }
    if (reset.size() > 0) {
        auto& bp = by_time[t_ss];
        bp.time = t_ss;
        bp.reset = true;
        bp.reset_state = std::move(reset);
    }
    for (auto& kv : by_time) in.breakpoints.push_back(std::move(kv.second));
    std::sort(in.dose_times.begin(), in.dose_times.end());
    return in;
}

// Periodic steady state of x' = A x + u(t), u the inputs of one dose repeated every tau.
// Over one period from a trough, x(tau) = E x(0) + c with E = exp(A tau) and c the state at tau
// after one dose from x = 0 (boluses, lagged branches and zero-order infusions, all within
// [0, tau]: propagated exactly, segment by segment, by the augmented-matrix exponential of
// propagate_exactly()). The periodic solution is the fixed point x = E x + c, so the trough is
//     x_ss = (I - E)^-1 c  = sum_{m >= 1} (response at m tau of one dose),
// e.g. one compartment, bolus D: x_ss = D e^{-k tau} / (1 - e^{-k tau}); infusion of rate R over
// d: c = (R / k) (1 - e^{-k d}) e^{-k (tau - d)}. I - E is singular where A has a zero
// eigenvalue: the sinks (`eliminated`, `unabsorbed`: no outflow, no feedback) accumulate without
// bound, so the fixed point is solved on the other states only (the sinks do not feed back, so
// their block of c is not needed) and the sinks are set to 0 (they only record mass). Any other
// zero or near-zero eigenvalue (a compartment without elimination) has no steady state: an error.
Eigen::VectorXd steady_state_trough(const LinearSystem& sys, const DoseEvent& e, double weight_kg,
                                    const std::string& field) {
    const double tau = e.interval;
    DoseEvent one = e;
    one.time = 0.0;
    one.steady_state = false;
    one.interval = 0.0;
    Regimen r;
    r.events.push_back(one);
    const InputSchedule in = build_inputs(sys, r, weight_kg);
    const int n = sys.size();
    Eigen::VectorXd x = Eigen::VectorXd::Zero(n), u = Eigen::VectorXd::Zero(n);
    double t = 0.0;
    for (const auto& bp : in.breakpoints) {
        bool starts = !bp.boluses.empty();
        for (const auto& rc : bp.rates) starts = starts || rc.rate > 0;
        if (bp.time > tau || (bp.time == tau && starts))
            throw InputError(field + ".interval: " + fmt(tau) + " h is shorter than the dose's inputs, which reach " +
                             fmt(bp.time) + " h after the dose (route lag and absorption duration included); at " +
                             "steady state a dose's inputs must end within one interval");
        if (bp.time > t) propagate_exactly(sys.A, u, bp.time - t, x);
        t = bp.time;
        for (const auto& b : bp.boluses) x[b.state] += b.amount;
        for (const auto& rc : bp.rates) u[rc.state] = rc.rate;
    }
    if (tau > t) propagate_exactly(sys.A, u, tau - t, x);
    std::vector<int> live;
    for (int s = 0; s < n; ++s)
        if (sys.state_kinds[static_cast<std::size_t>(s)] != StateKind::sink) live.push_back(s);
    const auto m = static_cast<Eigen::Index>(live.size());
    Eigen::MatrixXd A(m, m);
    Eigen::VectorXd c(m);
    for (Eigen::Index i = 0; i < m; ++i) {
        c[i] = x[live[static_cast<std::size_t>(i)]];
        for (Eigen::Index j = 0; j < m; ++j)
            A(i, j) = sys.A(live[static_cast<std::size_t>(i)], live[static_cast<std::size_t>(j)]);
    }
    Eigen::MatrixXd M = Eigen::MatrixXd::Identity(m, m) - (A * tau).exp();
    const Eigen::PartialPivLU<Eigen::MatrixXd> lu(M);
    // rcond ~ (slowest rate x tau) for a stable system; 1e-12 would be a half-life 1e12 times
    // the interval, i.e. no elimination in double precision.
    const double rcond = m > 0 ? lu.rcond() : 1.0;
    if (!(rcond > 1e-12))
        throw SolverError(field + ": no steady state for interval " + fmt(tau) +
                          " h: the model keeps drug without "
                          "elimination (I - exp(A tau) is singular, rcond " +
                          fmt(rcond) + ")");
    const Eigen::VectorXd xs = m > 0 ? Eigen::VectorXd(lu.solve(c)) : Eigen::VectorXd();
    Eigen::VectorXd out = Eigen::VectorXd::Zero(n);
    const double scale = xs.size() > 0 ? xs.cwiseAbs().maxCoeff() : 0.0;
    for (Eigen::Index i = 0; i < m; ++i) {
        double v = xs[i];
        if (!std::isfinite(v) || v < -1e-12 * scale)
            throw SolverError(field + ": steady state of state '" +
                              sys.state_names[static_cast<std::size_t>(live[static_cast<std::size_t>(i)])] + "' is " +
                              fmt(v) + " (not finite or negative: the solver lost accuracy)");
        out[live[static_cast<std::size_t>(i)]] = std::max(0.0, v);   // rounding noise around 0
    }
    return out;
}

std::vector<double> output_times(const OutputGrid& grid, const InputSchedule& in, const SimOptions& opt) {
    // grid.times is validated strictly increasing; breakpoints are sorted: a merge suffices.
    if (!opt.include_event_times) return grid.times;
    std::vector<double> bp;
    bp.reserve(in.breakpoints.size());
    for (const auto& b : in.breakpoints) bp.push_back(b.time);
    std::vector<double> t(grid.times.size() + bp.size());
    std::merge(grid.times.begin(), grid.times.end(), bp.begin(), bp.end(), t.begin());
    std::vector<double> out;
    out.reserve(t.size());
    for (double x : t)
        if (out.empty() || x - out.back() > kTimeSnap) out.push_back(x);
    return out;
}

std::vector<TimelinePoint> build_timeline(const std::vector<double>& outputs, const InputSchedule& in) {
    std::vector<TimelinePoint> pts;
    pts.reserve(outputs.size() + in.breakpoints.size());
    std::size_t b = 0;
    for (std::size_t o = 0; o < outputs.size(); ++o) {
        const double t = outputs[o];
        while (b < in.breakpoints.size() && in.breakpoints[b].time < t - kTimeSnap) {
            pts.push_back({in.breakpoints[b].time, static_cast<int>(b), -1});
            ++b;
        }
        // Every breakpoint within kTimeSnap of the output is given before it; the output is
        // recorded at the last of them (the same rule as the exact solver's walk).
        std::size_t last = b;
        while (last < in.breakpoints.size() && in.breakpoints[last].time <= t + kTimeSnap) ++last;
        if (last == b) {
            pts.push_back({t, -1, static_cast<int>(o)});
            continue;
        }
        for (; b + 1 < last; ++b) pts.push_back({in.breakpoints[b].time, static_cast<int>(b), -1});
        pts.push_back({in.breakpoints[b].time, static_cast<int>(b), static_cast<int>(o)});
        ++b;
    }
    return pts;   // breakpoints after the last output do not affect the outputs
}

Trajectory make_trajectory(const LinearSystem& sys, const std::vector<double>& times, const SimOptions& opt) {
    Trajectory tr;
    tr.time = times;
    tr.names = sys.output_names;
    tr.units = sys.output_units;
    if (opt.output_amounts)
        for (int s = 0; s < sys.size(); ++s)
            if (sys.state_kinds[s] != StateKind::effect) {
                tr.names.push_back("A_" + sys.state_names[s]);
                tr.units.push_back("mg");
            }
    // Sized, not zeroed: the exact solver writes every value (zeroing them was about 2.5 % of a
    // simulation in perf, issue 12); the ODE solver zeroes its own.
    tr.values.resize(static_cast<Eigen::Index>(tr.names.size()), static_cast<Eigen::Index>(times.size()));
    return tr;
}

OutputMap::OutputMap(const LinearSystem& sys) {
    for (Eigen::Index k = 0; k < sys.C.rows(); ++k)
        for (Eigen::Index j = 0; j < sys.C.cols(); ++j)
            if (sys.C(k, j) != 0.0) terms.push_back({k, j, sys.C(k, j)});
}

void record(Trajectory& tr, const LinearSystem& sys, const OutputMap& map, const Eigen::VectorXd& x, int column,
            const SimOptions& opt) {
    const Eigen::Index no = sys.C.rows();
    for (Eigen::Index k = 0; k < no; ++k) tr.values(k, column) = 0.0;
    for (const auto& t : map.terms) tr.values(t.row, column) += t.coef * x[t.state];
    if (opt.output_amounts) {
        Eigen::Index r = no;
        for (int s = 0; s < sys.size(); ++s)
            if (sys.state_kinds[s] != StateKind::effect) tr.values(r++, column) = x[s];
    }
}

}   // namespace ketasim::detail
