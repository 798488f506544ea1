// General solver: Boost.Odeint with error control, restarted at every breakpoint so no step
// spans a discontinuity (dose, infusion start or stop). Dense output gives the values at the
// output times without shortening steps.
#include <boost/numeric/odeint.hpp>
#include <algorithm>
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

// The power of two S by which the stepper's state is divided: y = x / S (and atol / S), so that the
// state it integrates is of order 1 whatever the doses. The system is linear, so outputs are S y.
// Why: rosenbrock4's error norm (boost/numeric/odeint/stepper/rosenbrock4_controller.hpp) sums
// xerr_i^2 / sk^2, and xerr_i^2 overflows to inf for states above ~1e154 mg: every step was then
// rejected until max_steps (a 1e200 mg bolus failed after 1e4 steps per output interval, more than
// 20 s per input under ASan: the simulate fuzzer's timeouts). A power of two scales exactly, so in
// the ordinary range the steps and results are bitwise those of the unscaled system.
// The size of the state is that of the amounts given (the total dose, a steady-state trough), not
// of the infusion rates: 20 mg over 1e-300 h is a rate of 2e301 mg/h but never more than 20 mg.
double state_scale(const InputSchedule& in) {
    double big = std::fabs(in.total_mg);
    for (const auto& bp : in.breakpoints) {
        for (const auto& b : bp.boluses) big = std::max(big, std::fabs(b.amount));
        if (bp.reset) big = std::max(big, bp.reset_state.cwiseAbs().maxCoeff());
    }
    if (!(big > 0.0) || !std::isfinite(big)) return 1.0;
    // Only far outside the physical range: mg-sized inputs keep S = 1 (no change at all).
    if (big < 1e100 && big > 1e-100) return 1.0;
    return std::ldexp(1.0, std::ilogb(big));
}

// The system the stepper integrates: the states that feed the recorded outputs (`keep`, all of
// them when amounts are recorded), as the exact solver does. The eliminated-drug sink grows to the
// whole dose and never feeds back: integrating it only made it part of the error norm.
struct Reduced {
    std::vector<int> keep;     // reduced index -> system state
    std::vector<int> to_red;   // system state -> reduced index, or -1
    Eigen::MatrixXd A;
    explicit Reduced(const LinearSystem& sys, bool all) : keep(states_feeding_outputs(sys, all)) {
        to_red.assign(static_cast<std::size_t>(sys.size()), -1);
        const auto n = static_cast<Eigen::Index>(keep.size());
        A.resize(n, n);
        for (Eigen::Index i = 0; i < n; ++i) {
            to_red[static_cast<std::size_t>(keep[static_cast<std::size_t>(i)])] = static_cast<int>(i);
            for (Eigen::Index j = 0; j < n; ++j)
                A(i, j) = sys.A(keep[static_cast<std::size_t>(i)], keep[static_cast<std::size_t>(j)]);
        }
    }
};

template <class State, class Stepper, class System>
void run(const LinearSystem& sys, const Reduced& red, const InputSchedule& in, const std::vector<double>& times,
         const SimOptions& opt, Trajectory& tr, Stepper stepper, System system_factory, double scale) {
    const int n = static_cast<int>(red.keep.size());
    const double inv_scale = 1.0 / scale;   // exact: scale is a power of two

    const auto timeline = build_timeline(times, in);
    Eigen::VectorXd u = Eigen::VectorXd::Zero(n);
    State x(n);
    for (int i = 0; i < n; ++i) x[i] = 0.0;
    Eigen::VectorXd xe(n);
    Eigen::VectorXd full = Eigen::VectorXd::Zero(sys.size());   // states left out stay 0: no output reads them
    const OutputMap omap(sys);
    // Outputs of the scaled reduced state y = x / scale (xe is scratch: callers copy the state in first).
    auto record_scaled = [&](Eigen::VectorXd& y, int col) {
        for (int i = 0; i < n; ++i) full[red.keep[static_cast<std::size_t>(i)]] = y[i] * scale;
        record(tr, sys, omap, full, col, opt);
    };
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
            if (seg_times[1] > t) propagate_exactly(red.A, u, seg_times[1] - t, xe);
            for (int s = 0; s < n; ++s) x[s] = xe[s];
            record_scaled(xe, seg_cols[1]);
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
                if (seg_times[k] > seg_times[k - 1]) propagate_exactly(red.A, u, seg_times[k] - seg_times[k - 1], xe);
                if (seg_cols[k] >= 0) {
                    Eigen::VectorXd y = xe;
                    record_scaled(y, seg_cols[k]);
                }
            }
            for (int s = 0; s < n; ++s) x[s] = xe[s];
        } else if (t_end - t > 0) {
            std::size_t idx = 0;
            auto obs = [&](const State& xs, double /*tt*/) {
                const int col = seg_cols[idx++];
                if (col >= 0) {
                    for (int s = 0; s < n; ++s) xe[s] = xs[s];
                    record_scaled(xe, col);
                }
            };
            const double dt0 = std::min(t_end - t, 1e-3);
            try {
                odeint::integrate_times(
                    stepper, system, x, seg_times.begin(), seg_times.end(), dt0, obs,
                    odeint::max_step_checker(static_cast<int>(std::min<long>(opt.max_steps, 2147483647L))));
            } catch (const odeint::step_adjustment_error& e) {
                throw SolverError(std::string("ode solver: step size adjustment failed near t = ") + fmt(t) + " h (" +
                                  e.what() + "); try method = rosenbrock4 or looser tolerances");
            } catch (const odeint::no_progress_error& e) {
                throw SolverError(std::string("ode solver (") + to_string(opt.method) +
                                  "): more than max_steps = " + std::to_string(opt.max_steps) +
                                  " steps between two output times near t = " + fmt(t) + " h; raise max_steps" +
                                  (opt.method == OdeMethod::dopri5 ? " or use method = rosenbrock4 (stiff)" : ""));
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
        } else {
            for (int col : seg_cols)
                if (col >= 0) {
                    for (int s = 0; s < n; ++s) xe[s] = x[s];
                    record_scaled(xe, col);
                }
        }
        t = t_end;
        if (ends_at_breakpoint) {
            const TimelinePoint& p = timeline[j];
            const Breakpoint& bp = in.breakpoints[p.breakpoint];
            // Steady state: the exact trough (inputs.cpp) is the initial condition; the stepper's
            // job is the dynamics after it.
            if (bp.reset)
                for (int s = 0; s < n; ++s) x[s] = bp.reset_state[red.keep[static_cast<std::size_t>(s)]] * inv_scale;
            for (const auto& b : bp.boluses)
                if (const int s = red.to_red[static_cast<std::size_t>(b.state)]; s >= 0) x[s] += b.amount * inv_scale;
            for (const auto& r : bp.rates)
                if (const int s = red.to_red[static_cast<std::size_t>(r.state)]; s >= 0) u[s] = r.rate * inv_scale;
            if (p.output >= 0) {
                for (int s = 0; s < n; ++s) xe[s] = x[s];
                record_scaled(xe, p.output);
            }
            i = j + 1;
        } else {
            i = j;
        }
        // integrate_times() re-initializes the stepper, so no step state crosses a discontinuity.
    }
}

}   // namespace

Trajectory simulate_ode(const LinearSystem& sys, const InputSchedule& in, const std::vector<double>& times,
                        const SimOptions& opt) {
    Trajectory tr = make_trajectory(sys, times, opt);
    tr.values.setZero();
    const double scale = state_scale(in);
    const double atol = opt.atol / scale;
    const Reduced red(sys, opt.output_amounts);
    if (red.keep.empty()) return tr;   // no output reads a state: all zero
    if (opt.method == OdeMethod::dopri5) {
        auto stepper = odeint::make_dense_output(atol, opt.rtol, odeint::runge_kutta_dopri5<StdState>());
        run<StdState>(
            sys, red, in, times, opt, tr, stepper,
            [&](const Eigen::VectorXd* u) {
                return Rhs{&red.A, u};
            },
            scale);
    } else {
        auto stepper = odeint::make_dense_output(atol, opt.rtol, odeint::rosenbrock4<double>());
        run<UblasState>(
            sys, red, in, times, opt, tr, stepper,
            [&](const Eigen::VectorXd* u) {
                return std::make_pair(
                    [rhs = Rhs{&red.A, u}](const UblasState& x, UblasState& d, double t) { rhs(x, d, t); },
                    Jac{&red.A});
            },
            scale);
    }
    return tr;
}

}   // namespace ketasim::detail
