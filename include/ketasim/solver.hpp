#pragma once
// Public solver entry points for code built on the PK core (pharmacodynamics, metrics-only
// courses): the exact PK solution as a function of time, and the one walk over dose breakpoints
// and output times that ODE solvers share. Callers need nothing from src/solve.
#include <Eigen/Dense>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ketasim/model.hpp"
#include "ketasim/regimen.hpp"
#include "ketasim/simulate.hpp"

namespace ketasim {

namespace detail {
struct InputSchedule;
}

// The exact solution of a compiled system under a regimen, for a few outputs, evaluable at any
// time (not on a grid): the state is stored just after every dose breakpoint and carried in the
// eigenbasis of A (x(t0 + s) = V (exp(L s) z0 + (exp(L s) - 1) / L w), w the inputs), so one value
// costs O(n) exponentials, or O(n) multiplies for the next point of a uniform walk (Cursor).
// Conventions are the PK solvers': a time within 1e-9 h of a breakpoint reads the value just
// after it. Only the states the outputs depend on are kept. When A has no real, well-conditioned
// eigenbasis, two near-equal rate constants are carried as one 2x2 triangular block (paired());
// otherwise (more near-equal rates, complex spectra) spectral() is false and values come from
// the Pade exponential (exact, slower) and bound() is a looser mass bound.
class PkSolution {
public:
    // `outputs`: names of sys.output_names (InputError naming an unknown one). mg/kg doses use the
    // weight the system was compiled for.
    PkSolution(const LinearSystem& sys, const Regimen& regimen, const std::vector<std::string>& outputs);
    ~PkSolution();
    PkSolution(PkSolution&&) noexcept;
    PkSolution& operator=(PkSolution&&) noexcept;

    std::size_t outputs() const;
    bool spectral() const;
    // True when two near-equal rate constants are carried as a 2x2 triangular block of the
    // (otherwise eigen-) basis instead of two ill-conditioned eigenvectors (spectral() is then
    // true as well; pk_solution.cpp build_pair_basis).
    bool paired() const;
    // Breakpoint times (h, sorted): doses, infusion starts and stops.
    const std::vector<double>& breakpoints() const;

    // Values of every output at time t (y has outputs() entries).
    void values(double t, double* y) const;

    // An upper bound of output j on [t, next breakpoint): +inf while a zero-order input runs (or
    // without an eigenbasis). With no input the output is sum_i a_i exp(l_i s), l_i <= 0: the
    // terms with a_i > 0 can only fall and the others are negative, so the sum of the positive
    // terms at t bounds every later value until the next dose. Without an eigenbasis, a mass bound
    // for a compartmental A (the total amount cannot grow; see pk_solution.cpp), else +inf.
    double bound(std::size_t j, double t) const;
    // Time of the first breakpoint after t (+inf when none).
    double next_breakpoint(double t) const;

    // Sequential evaluation at increasing times: steps the eigenbasis state from the previous
    // time (or, without an eigenbasis, the state by exp(A h)), with exp(L h) of each step size h kept in a small cache
    // (keyed by h rounded to 1e-12 h, the exact solver's step quantum), so the repeated steps of a grid or of an ODE
    // stepper's stages cost a few multiplies per state instead of exponentials.
    class Cursor {
    public:
        explicit Cursor(const PkSolution& s);
        void values(double t, double* y);   // any t; increasing t is the fast case
        // bound() of output j at the time of the last values() call, from the cursor's state.
        double bound(std::size_t j) const;
        // The time of the last values() or advance() call.
        double time() const { return t_; }
        // For a Runge-Kutta step (time(), time() + h] that crosses no breakpoint (the caller stops
        // at every one): output j at time() + c[i] h, i < m, without moving the cursor, and then
        // advance(h) to move it to time() + h once the step is accepted. The exponentials of a
        // step size are kept per exact (bitwise) h, so the repeated step sizes of a stepper on a
        // ladder of sizes cost a few multiplies per stage; c must stay the same array for a cursor.
        void stages(double h, const double* c, int m, std::size_t j, double* y);
        void advance(double h);

    private:
        struct Entry {
            long long key = -1;
            bool with_input = false;
            Eigen::VectorXd e, g;   // eigenbasis: exp(L h), (exp(L h) - 1) / L
            Eigen::MatrixXd E, G;   // no eigenbasis: exp(A h), int_0^h exp(A s) ds (Pade, Van Loan)
        };
        struct StageEntry {
            double h = 0;   // 0: empty
            bool with_input = false;
            std::vector<Eigen::VectorXd> e, g;   // per stage c[i], then the full step (c = 1)
            std::vector<Eigen::MatrixXd> E, G;   // the same without an eigenbasis (Pade)
        };
        StageEntry& stage_entry(double h, const double* c, int m);
        const PkSolution* s_;
        std::vector<StageEntry> stage_cache_;
        std::size_t seg_ = 0;
        double t_ = 0;
        bool valid_ = false;
        Eigen::VectorXd z_;
        std::vector<Entry> cache_;
    };

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

// The walk over a regimen's dose breakpoints and the output times that a time-stepping solver
// makes, with the PK solvers' conventions: no step spans a breakpoint; a breakpoint within 1e-9 h
// before (or at) an output time is applied first (an output at a dose time is the value just
// after the dose); a segment too short for an ODE stepper (<= 1e-9 h, or 64 ulps of its end:
// Boost.Odeint treats such times as equal and mis-steps) goes to advance_exactly() instead.
// Used by the coupled PD solver (simulate_symptoms_coupled); the state is the visitor's.
class EventVisitor {
public:
    virtual ~EventVisitor() = default;
    // Integrates from t0 to t1 (> t0) with constant zero-order inputs u (mg/h, one per PK state),
    // in at most max_steps steps. May throw Boost.Odeint's errors: walk_events maps them.
    virtual void integrate(double t0, double t1, const Eigen::VectorXd& u, long max_steps) = 0;
    // The same over a segment too short for a stepper (the PK part exactly).
    virtual void advance_exactly(double t0, double t1, const Eigen::VectorXd& u) = 0;
    virtual void bolus(int state, double amount_mg) = 0;
    // A steady-state dose replaces the whole PK state (sys.size() values).
    virtual void reset(const Eigen::VectorXd& pk_state) = 0;
    virtual void output(std::size_t index, double t) = 0;
};

// x <- x(t + h) for dx/dt = A x + u, exactly (Pade exponential of [[A h, u h], [0, 0]]): for
// EventVisitor::advance_exactly.
void propagate_linear_exactly(const Eigen::MatrixXd& A, const Eigen::VectorXd& u, double h, Eigen::VectorXd& x);

// Walks `regimen` on `sys` (mg/kg doses at sys.weight_kg) and `times` (increasing; validated as an
// OutputGrid). Errors of the ODE library inside integrate() become SolverError naming `solver`,
// the time and the remedy, as in the PK ODE solver: step-size adjustment failure, or more than
// max_steps steps between two breakpoints or outputs.
void walk_events(const LinearSystem& sys, const Regimen& regimen, const std::vector<double>& times,
                 EventVisitor& visitor, const std::string& solver, long max_steps);

}   // namespace ketasim
