// Exact solver: between breakpoints the system dx/dt = A x + u (u constant) is advanced with
// x(t+h) = E(h) x + G(h) u, E = exp(A h), G = int_0^h exp(A s) ds, both read from the exponential
// of the augmented matrix [[A, I], [0, 0]] h (Van Loan). One propagator per distinct step size.
#include <cmath>
#include <unsupported/Eigen/MatrixFunctions>
#include <vector>

#include "inputs.hpp"
#include "ketasim/errors.hpp"

namespace ketasim::detail {

namespace {

// Step sizes are quantized to this grid so that steps equal up to float noise share one
// propagator and the propagator does not depend on which step filled the cache (determinism).
// The time error this introduces is below 5e-13 h.
constexpr double kStepQuantum = 1e-12;   // h

struct Propagator {
    long long key;
    Eigen::MatrixXd E, G;
};

class PropagatorCache {
public:
    explicit PropagatorCache(const Eigen::MatrixXd& A) : A_(A) {}
    const Propagator& get(long long key) {
        for (const auto& p : cache_)
            if (p.key == key) return p;
        const Eigen::Index n = A_.rows();
        const double h = static_cast<double>(key) * kStepQuantum;
        Eigen::MatrixXd M = Eigen::MatrixXd::Zero(2 * n, 2 * n);
        M.topLeftCorner(n, n) = A_ * h;
        M.topRightCorner(n, n) = Eigen::MatrixXd::Identity(n, n) * h;
        const Eigen::MatrixXd X = M.exp();
        if (!X.allFinite())
            throw SolverError("exact solver: matrix exponential is not finite for step " + std::to_string(h) +
                              " h (rate constants too large?)");
        cache_.push_back({key, X.topLeftCorner(n, n), X.topRightCorner(n, n)});
        return cache_.back();
    }

private:
    Eigen::MatrixXd A_;
    std::vector<Propagator> cache_;   // few distinct steps: a linear scan beats hashing
};

}  // namespace

Trajectory simulate_exact(const LinearSystem& sys, const InputSchedule& in, const std::vector<double>& times,
                          const SimOptions& opt) {
    Trajectory tr = make_trajectory(sys, times, opt);
    const auto timeline = build_timeline(times, in);
    const int n = sys.size();
    Eigen::VectorXd x = Eigen::VectorXd::Zero(n), u = Eigen::VectorXd::Zero(n), tmp(n);
    bool has_input = false;
    PropagatorCache cache(sys.A);
    double t = 0.0;
    if (!timeline.empty() && timeline.front().time < 0) t = timeline.front().time;
    for (const auto& p : timeline) {
        const long long key = std::llround((p.time - t) / kStepQuantum);
        if (key > 0) {
            const Propagator& P = cache.get(key);
            tmp.noalias() = P.E * x;
            if (has_input) tmp.noalias() += P.G * u;
            x.swap(tmp);
        }
        t = p.time;
        if (p.breakpoint >= 0) {
            const Breakpoint& bp = in.breakpoints[p.breakpoint];
            for (const auto& b : bp.boluses) x[b.state] += b.amount;
            for (const auto& r : bp.rates) u[r.state] += r.delta;
            has_input = false;
            for (int i = 0; i < n; ++i) {
                if (std::fabs(u[i]) < 1e-300) u[i] = 0.0;
                if (u[i] != 0.0) has_input = true;
            }
        }
        if (p.output >= 0) record(tr, sys, x, p.output, opt);
    }
    return tr;
}

}  // namespace ketasim::detail
