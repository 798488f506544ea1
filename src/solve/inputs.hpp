#pragma once
// Private: dose events turned into state-space inputs (boluses and zero-order rate changes).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ketasim/metrics.hpp"
#include "ketasim/model.hpp"
#include "ketasim/regimen.hpp"
#include "ketasim/simulate.hpp"

namespace ketasim::detail {

struct Bolus {
    double time;
    int state;
    double amount;   // mg
};
// From `time` on, the zero-order input into `state` is `rate` (the sum of the infusions running
// then). Absolute, not a change: adding and subtracting rates of very different size (a 1 s
// infusion over a 24 h one) would leave rounding garbage of the large rate's size, even a
// negative input, once the short one ends (issue 9: C_plasma -18,420 ng/mL).
struct RateChange {
    double time;
    int state;
    double rate;   // mg/h, >= 0
};

// Everything that happens at one breakpoint, in time order: first the steady-state reset (the
// whole state, all sys.size() states, replaces x), then the boluses and rates.
struct Breakpoint {
    double time = 0;
    std::vector<Bolus> boluses;
    std::vector<RateChange> rates;
    bool reset = false;
    Eigen::VectorXd reset_state;   // mg (ng/mL for the effect site), when reset
};

struct InputSchedule {
    std::vector<Breakpoint> breakpoints;   // sorted, distinct times
    double total_mg = 0;
    std::vector<double> dose_times;   // h, sorted: the doses given (not those a steady state drops)
};

// Steady-state doses (DoseEvent::steady_state): every dose before the last steady-state time T
// is dropped, and the breakpoint at T resets the state to the sum of the steady-state troughs of
// the steady-state doses at T (steady_state_trough()).
InputSchedule build_inputs(const LinearSystem& sys, const Regimen& regimen, double weight_kg);

// The periodic steady state just before a dose of `e` (given at time 0, repeated every
// e.interval h), all sys.size() states; sinks are 0. `field` names the dose in errors.
Eigen::VectorXd steady_state_trough(const LinearSystem& sys, const DoseEvent& e, double weight_kg,
                                    const std::string& field);

// One point of the simulation timeline: a breakpoint (index into breakpoints) and/or an output.
struct TimelinePoint {
    double time;
    int breakpoint = -1;   // index, or -1
    int output = -1;       // output column, or -1
};
// Output times within this distance of a breakpoint are treated as the breakpoint time
// (recorded just after the dose), so float noise in a grid never flips pre/post-dose values.
constexpr double kTimeSnap = 1e-9;   // h (3.6 microseconds)

std::vector<double> output_times(const OutputGrid& grid, const InputSchedule& in, const SimOptions& opt);
std::vector<TimelinePoint> build_timeline(const std::vector<double>& outputs, const InputSchedule& in);

// Fills the trajectory's names/units/time and sizes its matrix.
Trajectory make_trajectory(const LinearSystem& sys, const std::vector<double>& times, const SimOptions& opt);
// The nonzero terms of the output matrix C (usually one per output), for cheap recording.
struct OutputMap {
    struct Term {
        Eigen::Index row, state;
        double coef;
    };
    std::vector<Term> terms;
    explicit OutputMap(const LinearSystem& sys);
};
void record(Trajectory& tr, const LinearSystem& sys, const OutputMap& map, const Eigen::VectorXd& x, int column,
            const SimOptions& opt);

// Keeps only the outputs named (in that order; empty = all); InputError names an unknown one.
void select_outputs(LinearSystem& sys, const std::vector<std::string>& names);

// simulate(LinearSystem, ...) without re-validating `grid` and `opt` and without selecting outputs
// (the caller selected them on `sys`): the population runner's per-subject entry.
Trajectory simulate_system(const LinearSystem& sys, const Regimen& regimen, const OutputGrid& grid,
                           const SimOptions& opt);

// simulate() without re-validating `grid` and `opt` (run_sweep validates them once for all points).
Trajectory simulate_prevalidated(const Model& model, const Regimen& regimen, const OutputGrid& grid,
                                 const SimOptions& opt, const Subject& subject);

// Segments up to this long (ending at t_end) are propagated exactly instead of by an ODE
// stepper: at least kTimeSnap (outputs that close to a breakpoint are snapped to it anyway), and
// at least 64 ulps of t_end. Boost.Odeint 1.74 treats times within an absolute 2.2e-16 as equal
// (less_with_sign / less_eq_with_sign): integrate_times() then interpolates from a step it never
// took (segfault) and integrate_adaptive() skips the segment (an infusion of 1e-20 h was lost).
inline double min_ode_segment(double t_end) {
    return std::max(kTimeSnap, 64.0 * std::numeric_limits<double>::epsilon() * std::fabs(t_end));
}

// The states the recorded outputs depend on (all of them with `all`): those C reads and
// everything that flows into them. The others (the eliminated-drug sink, a metabolite chain
// whose outputs are not read) never feed back, so both solvers leave them out.
std::vector<int> states_feeding_outputs(const LinearSystem& sys, bool all);

// x <- x(t + h) for dx/dt = A x + u, exactly (Pade exponential of the augmented matrix
// [[A h, u h], [0, 0]]). For intervals too short for an ODE stepper (see ode.cpp).
void propagate_exactly(const Eigen::MatrixXd& A, const Eigen::VectorXd& u, double h, Eigen::VectorXd& x);

// check_outputs' scan, done by the exact solver in its propagation loop while the values are in
// registers (a second pass over the trajectory was 9 % of a simulation, issue 12): over every
// value of every output, min(0, lowest value) and the plain sum. `clean()` (nothing negative and
// a finite sum) proves every value finite and >= 0, so nothing needs reading again; otherwise
// (also when a sum of large finite values overflows) check_outputs scans the rows itself, which
// names the first offending output and time. One pair for all outputs: a pair per output cost
// the propagation loop registers it needs (the state spilled to the stack).
struct OutputScan {
    double lowest = 0.0;
    double sum = 0.0;
    bool clean() const { return lowest >= 0.0 && std::isfinite(sum); }
    void add(double v) {
        lowest = v < lowest ? v : lowest;
        sum += v;
    }
};
// Checks every value of `tr` (issue 9: no silent wrong numbers): a non-finite value, or a value
// below -tolerance, is a SolverError naming the output, the time and the value; negatives within
// the tolerance (rounding noise around a true zero) are set to 0. See simulate.cpp for the
// tolerance.
// With the exact solver's `scan` of the output rows (not the amount rows), nothing is read again
// when it is clean().
void check_outputs(Trajectory& tr, const LinearSystem& sys, const SimOptions& opt, const OutputScan* scan = nullptr);

Trajectory simulate_exact(const LinearSystem& sys, const InputSchedule& in, const std::vector<double>& times,
                          const SimOptions& opt);

// simulate_exact with the scan of the output rows (`scan` set to true when made: not with
// opt.output_amounts, whose amount rows are not scanned).
Trajectory simulate_exact(const LinearSystem& sys, const InputSchedule& in, const std::vector<double>& times,
                          const SimOptions& opt, OutputScan& scan, bool& scanned);

// Receives the exact solver's outputs in blocks of consecutive output times: output k at
// times[begin + j] is values[k * stride + j], j < end - begin. The buffer is the solver's scratch
// (the receiver may change it) and is overwritten by the next block.
class OutputBlockSink {
public:
    virtual ~OutputBlockSink() = default;
    virtual void block(double* values, std::size_t stride, std::size_t begin, std::size_t end) = 0;
    // The same block with the solver's scan of its values (OutputScan). By default the scan is
    // ignored.
    virtual void scanned_block(double* values, std::size_t stride, std::size_t begin, std::size_t end,
                               const OutputScan& /*scan*/) {
        block(values, stride, begin, end);
    }
};
// simulate_exact without a trajectory (the same values, bitwise): the outputs go to `sink` in
// blocks of up to `block_size` times. Not with opt.output_amounts (std::logic_error).
void simulate_exact_blocks(const LinearSystem& sys, const InputSchedule& in, const std::vector<double>& times,
                           const SimOptions& opt, OutputBlockSink& sink, std::size_t block_size = 256);

// The metrics of every output of `sys` (C's rows, in order) on `regimen` and `grid`, as
// compute_metrics on simulate_system's trajectory gives them (bitwise), for runs that keep only
// metrics. The exact solver (without output_amounts) computes them while it propagates
// (MetricAccumulator; no trajectory is stored, check_outputs' rules are applied block by block);
// otherwise the trajectory is simulated and the metrics computed on it. `mo.last_dose_time` NaN
// means the regimen's last_time(), as for a trajectory.
std::vector<Metrics> simulate_metrics(const LinearSystem& sys, const Regimen& regimen, const OutputGrid& grid,
                                      const SimOptions& opt, const MetricOptions& mo);
Trajectory simulate_ode(const LinearSystem& sys, const InputSchedule& in, const std::vector<double>& times,
                        const SimOptions& opt);

}   // namespace ketasim::detail
