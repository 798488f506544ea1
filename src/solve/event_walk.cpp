// walk_events (ketasim/solver.hpp): the breakpoint/output walk of a time-stepping solver, for
// solvers outside src/solve (the coupled PD solver). Its conventions are ode.cpp's.
#include <boost/numeric/odeint.hpp>

#include "core/text.hpp"
#include "inputs.hpp"
#include "ketasim/errors.hpp"
#include "ketasim/solver.hpp"

namespace ketasim {

void propagate_linear_exactly(const Eigen::MatrixXd& A, const Eigen::VectorXd& u, double h, Eigen::VectorXd& x) {
    detail::propagate_exactly(A, u, h, x);
}

void walk_events(const LinearSystem& sys, const Regimen& regimen, const std::vector<double>& times, EventVisitor& v,
                 const std::string& solver, long max_steps) {
    namespace odeint = boost::numeric::odeint;
    OutputGrid::at(times);   // validates: finite, >= 0, increasing
    if (max_steps < 1) throw InputError("max_steps = " + std::to_string(max_steps) + ": must be >= 1");
    const detail::InputSchedule in = detail::build_inputs(sys, regimen, sys.weight_kg);
    Eigen::VectorXd u = Eigen::VectorXd::Zero(sys.size());
    double t = 0.0;
    auto integrate_to = [&](double t1) {
        if (!(t1 > t)) return;
        if (t1 - t <= detail::min_ode_segment(t1)) {
            v.advance_exactly(t, t1, u);
        } else {
            try {
                v.integrate(t, t1, u, max_steps);
            } catch (const odeint::step_adjustment_error& e) {
                throw SolverError(solver + ": step size adjustment failed near t = " + detail::fmt(t) + " h (" +
                                  e.what() + "); try looser tolerances");
            } catch (const odeint::no_progress_error&) {
                throw SolverError(solver + ": more than max_steps = " + std::to_string(max_steps) +
                                  " steps between t = " + detail::fmt(t) + " h and " + detail::fmt(t1) +
                                  " h; raise max_steps");
            }
        }
        t = t1;
    };
    std::size_t b = 0;
    const std::size_t nb = in.breakpoints.size();
    auto apply = [&](const detail::Breakpoint& bp) {
        if (bp.reset) v.reset(bp.reset_state);
        for (const auto& bo : bp.boluses) v.bolus(bo.state, bo.amount);
        for (const auto& r : bp.rates) u[r.state] = r.rate;   // absolute rates (inputs.hpp)
    };
    for (std::size_t i = 0; i < times.size(); ++i) {
        while (b < nb && in.breakpoints[b].time <= times[i] + detail::kTimeSnap) {
            integrate_to(std::max(t, in.breakpoints[b].time));
            apply(in.breakpoints[b]);
            ++b;
        }
        integrate_to(times[i]);
        v.output(i, times[i]);
    }
}

}   // namespace ketasim
