// General solver: Boost.Odeint with error control, restarted at every breakpoint so no step
// spans a discontinuity (dose, infusion start or stop). Dense output gives the values at the
// output times without shortening steps.
#include <boost/numeric/odeint.hpp>
#include <cmath>
#include <vector>

#include "inputs.hpp"
#include "core/text.hpp"
#include "ketasim/errors.hpp"

namespace ketasim::detail {

namespace odeint = boost::numeric::odeint;

namespace {

using StdState = std::vector<double>;
using UblasState = boost::numeric::ublas::vector<double>;
using UblasMatrix = boost::numeric::ublas::matrix<double>;

struct Rhs {
    const Eigen::MatrixXd* A;
    const Eigen::VectorXd* u;
    template <class S>
    void operator()(const S& x, S& dxdt, double /*t*/) const {
        const Eigen::Index n = A->rows();
        Eigen::Map<const Eigen::VectorXd> xm(&x[0], n);
        Eigen::Map<Eigen::VectorXd> dm(&dxdt[0], n);
        dm.noalias() = (*A) * xm + *u;
    }
};

struct Jac {
    const Eigen::MatrixXd* A;
    void operator()(const UblasState& /*x*/, UblasMatrix& J, double /*t*/, UblasState& dfdt) const {
        for (Eigen::Index i = 0; i < A->rows(); ++i) {
            for (Eigen::Index j = 0; j < A->cols(); ++j) J(i, j) = (*A)(i, j);
            dfdt[i] = 0.0;
        }
    }
};

template <class State, class Stepper, class System>
void run(const LinearSystem& sys, const InputSchedule& in, const std::vector<double>& times,
         const SimOptions& opt, Trajectory& tr, Stepper stepper, System system_factory) {
    const int n = sys.size();
    const auto timeline = build_timeline(times, in);
    Eigen::VectorXd u = Eigen::VectorXd::Zero(n);
    State x(n);
    for (int i = 0; i < n; ++i) x[i] = 0.0;
    Eigen::VectorXd xe(n);
    const OutputMap omap(sys);
    auto system = system_factory(&u);
    double t = timeline.empty() ? 0.0 : std::min(0.0, timeline.front().time);
    std::size_t i = 0;
    std::vector<double> seg_times;
    std::vector<int> seg_cols;
    while (i < timeline.size()) {
        // A segment: output-only points up to (and including) the next breakpoint.
        seg_times.assign(1, t);
        seg_cols.assign(1, -1);
        std::size_t j = i;
        for (; j < timeline.size(); ++j) {
            seg_times.push_back(timeline[j].time);
            seg_cols.push_back(timeline[j].breakpoint >= 0 ? -2 : timeline[j].output);
            if (timeline[j].breakpoint >= 0) break;
        }
        const bool ends_at_breakpoint = j < timeline.size();
        // Outputs at or just after the segment's start are propagated to exactly, not by the
        // stepper (see min_ode_segment(); regression tests
        // ClosedForm.OdeDopri5OutputAtTimeZeroWithoutDoseThere and Dopri5TinySegment.*).
        while (seg_times.size() > 2 && seg_cols[1] >= 0 && seg_times[1] - t <= min_ode_segment(seg_times[1])) {
            for (int s = 0; s < n; ++s) xe[s] = x[s];
            if (seg_times[1] > t) propagate_exactly(sys.A, u, seg_times[1] - t, xe);
            for (int s = 0; s < n; ++s) x[s] = xe[s];
            record(tr, sys, omap, xe, seg_cols[1], opt);
            t = seg_times[1];
            seg_times.erase(seg_times.begin());
            seg_times[0] = t;
            seg_cols.erase(seg_cols.begin());
            seg_cols[0] = -1;
        }
        const double t_end = seg_times.back();
        if (t_end - t > 0 && t_end - t <= min_ode_segment(t_end)) {
            // Too short for the stepper (issue 9: a segment of 1e-20 h, or one ulp, segfaulted
            // dopri5 inside Boost's integrate_times): propagate it exactly, output by output.
            for (int s = 0; s < n; ++s) xe[s] = x[s];
            for (std::size_t k = 1; k < seg_times.size(); ++k) {
                if (seg_times[k] > seg_times[k - 1]) propagate_exactly(sys.A, u, seg_times[k] - seg_times[k - 1], xe);
                if (seg_cols[k] >= 0) record(tr, sys, omap, xe, seg_cols[k], opt);
            }
            for (int s = 0; s < n; ++s) x[s] = xe[s];
        } else if (t_end - t > 0) {
            std::size_t idx = 0;
            auto obs = [&](const State& xs, double /*tt*/) {
                const int col = seg_cols[idx++];
                if (col >= 0) {
                    for (int s = 0; s < n; ++s) xe[s] = xs[s];
                    record(tr, sys, omap, xe, col, opt);
                }
            };
            const double dt0 = std::min(t_end - t, 1e-3);
            try {
                odeint::integrate_times(stepper, system, x, seg_times.begin(), seg_times.end(), dt0, obs,
                                        odeint::max_step_checker(static_cast<int>(std::min<long>(opt.max_steps, 2147483647L))));
            } catch (const odeint::step_adjustment_error& e) {
                throw SolverError(std::string("ode solver: step size adjustment failed near t = ") + fmt(t) +
                                  " h (" + e.what() + "); try method = rosenbrock4 or looser tolerances");
            } catch (const odeint::no_progress_error& e) {
                throw SolverError(std::string("ode solver: more than max_steps = ") + std::to_string(opt.max_steps) +
                                  " steps between two output times near t = " + fmt(t) +
                                  " h; raise max_steps or use method = rosenbrock4 (stiff)");
            } catch (const SolverError&) {
                throw;
            } catch (const InputError&) {
                throw;
            } catch (const std::exception& e) {
                // Boost.uBLAS (rosenbrock4's LU) throws its own internal_logic/bad_argument on
                // singular or non-finite Jacobian steps: a numerical failure, named as one
                // (fuzz finding ublas_internal_logic_escapes_rosenbrock4).
                throw SolverError(std::string("ode solver (") + to_string(opt.method) + "): failed near t = " + fmt(t) +
                                  " h (" + e.what() + "); the system is too badly scaled for this method");
            }
        }
        else {
            for (int col : seg_cols)
                if (col >= 0) {
                    for (int s = 0; s < n; ++s) xe[s] = x[s];
                    record(tr, sys, omap, xe, col, opt);
                }
        }
        t = t_end;
        if (ends_at_breakpoint) {
            const TimelinePoint& p = timeline[j];
            const Breakpoint& bp = in.breakpoints[p.breakpoint];
            // Steady state: the exact trough (inputs.cpp) is the initial condition; the stepper's
            // job is the dynamics after it.
            if (bp.reset)
                for (int s = 0; s < n; ++s) x[s] = bp.reset_state[s];
            for (const auto& b : bp.boluses) x[b.state] += b.amount;
            for (const auto& r : bp.rates) u[r.state] = r.rate;
            if (p.output >= 0) {
                for (int s = 0; s < n; ++s) xe[s] = x[s];
                record(tr, sys, omap, xe, p.output, opt);
            }
            i = j + 1;
        } else {
            i = j;
        }
        // integrate_times() re-initializes the stepper, so no step state crosses a discontinuity.
    }
}

}  // namespace

Trajectory simulate_ode(const LinearSystem& sys, const InputSchedule& in, const std::vector<double>& times,
                        const SimOptions& opt) {
    Trajectory tr = make_trajectory(sys, times, opt);
    tr.values.setZero();
    if (opt.method == OdeMethod::dopri5) {
        auto stepper = odeint::make_dense_output(opt.atol, opt.rtol, odeint::runge_kutta_dopri5<StdState>());
        run<StdState>(sys, in, times, opt, tr, stepper, [&](const Eigen::VectorXd* u) { return Rhs{&sys.A, u}; });
    } else {
        auto stepper = odeint::make_dense_output(opt.atol, opt.rtol, odeint::rosenbrock4<double>());
        run<UblasState>(sys, in, times, opt, tr, stepper, [&](const Eigen::VectorXd* u) {
            return std::make_pair(
                [rhs = Rhs{&sys.A, u}](const UblasState& x, UblasState& d, double t) { rhs(x, d, t); },
                Jac{&sys.A});
        });
    }
    return tr;
}

}  // namespace ketasim::detail
