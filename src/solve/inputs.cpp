#include "inputs.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

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
}  // namespace

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
    for (std::size_t i = 0; i < regimen.events.size(); ++i) {
        const DoseEvent& e = regimen.events[i];
        const std::string f = "dose[" + std::to_string(i) + "]";
        const double amt = e.amount_mg(weight_kg);
        if (!std::isfinite(amt))
            throw InputError(f + ".amount: " + fmt(e.amount) + " mg/kg x " + fmt(weight_kg) + " kg is not a finite amount");
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
            if (idx < 0) throw InputError(f + ".compartment: '" + e.compartment + "' is not a compartment of the model");
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
    for (auto& kv : by_time) in.breakpoints.push_back(std::move(kv.second));
    return in;
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
        if (b < in.breakpoints.size() && std::fabs(in.breakpoints[b].time - t) <= kTimeSnap) {
            pts.push_back({in.breakpoints[b].time, static_cast<int>(b), static_cast<int>(o)});
            ++b;
        } else {
            pts.push_back({t, -1, static_cast<int>(o)});
        }
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

}  // namespace ketasim::detail
