// Exact solver: between breakpoints the system dx/dt = A x + u (u constant) is advanced with
// x(t+h) = E(h) x + G(h) u, E = exp(A h), G = int_0^h exp(A s) ds, both read from the exponential
// of the augmented matrix [[A, I], [0, 0]] h (Van Loan). One propagator per distinct step size.
#include <cmath>
#include <Eigen/Eigenvalues>
#include <unsupported/Eigen/MatrixFunctions>
#include <deque>
#include <vector>

#include "inputs.hpp"
#include "ketasim/errors.hpp"

namespace ketasim::detail {

namespace {

// Step sizes are quantized to this grid so that steps equal up to float noise share one
// propagator and the propagator does not depend on which step filled the cache (determinism).
// The time error this introduces is below 5e-13 h.
constexpr double kStepQuantum = 1e-12;   // h

// Row-major copies: for the small systems here (n <= ~16) a plain loop beats Eigen's generic
// dynamic-size matrix-vector product by a wide margin (see BENCHMARKS.md).
using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct Propagator {
    long long key;
    RowMat E, G;
};

// y = M x (+ y when accumulate), M row-major n x n.
inline void small_gemv(const RowMat& M, const double* x, double* y, bool accumulate) {
    const Eigen::Index n = M.rows();
    const double* m = M.data();
    for (Eigen::Index i = 0; i < n; ++i) {
        double acc = accumulate ? y[i] : 0.0;
        const double* row = m + i * n;
        for (Eigen::Index j = 0; j < n; ++j) acc += row[j] * x[j];
        y[i] = acc;
    }
}

// Propagators for one subject. When A is diagonalizable with real, well-separated eigenvalues
// (the usual case for mammillary and catenary models), E(h) = V exp(L h) V^-1 and
// G(h) = V diag((exp(l h) - 1) / l) V^-1: one eigendecomposition, then O(n^3) per step size.
// Otherwise (near-equal rate constants such as ka == k10, or an ill-conditioned basis) every step
// size uses the Pade exponential of the augmented matrix, which needs no special case.
class PropagatorCache {
public:
    explicit PropagatorCache(const Eigen::MatrixXd& A) : A_(A) {
        const Eigen::Index n = A.rows();
        if (n == 0) return;
        Eigen::EigenSolver<Eigen::MatrixXd> es(A);
        if (es.info() != Eigen::Success) return;
        const double scale = std::max(1.0, A.cwiseAbs().maxCoeff());
        if ((es.eigenvalues().imag().cwiseAbs().array() > 1e-12 * scale).any()) return;
        Eigen::MatrixXd V = es.eigenvectors().real();
        Eigen::PartialPivLU<Eigen::MatrixXd> lu(V);
        Eigen::MatrixXd Vinv = lu.inverse();
        // Condition of the eigenbasis bounds the relative error of the result (~ cond * eps).
        const double cond = V.cwiseAbs().rowwise().sum().maxCoeff() * Vinv.cwiseAbs().rowwise().sum().maxCoeff();
        if (!(cond < kMaxCondition)) return;
        lam_ = es.eigenvalues().real();
        const Eigen::MatrixXd back = V * lam_.asDiagonal() * Vinv;
        if (!((back - A).cwiseAbs().maxCoeff() <= 1e-12 * scale)) return;
        V_ = V;
        Vinv_ = Vinv;
        spectral_ = true;
    }
    bool spectral() const { return spectral_; }
    const Propagator& get(long long key) {
        for (const auto& p : cache_)
            if (p.key == key) return p;
        const Eigen::Index n = A_.rows();
        const double h = static_cast<double>(key) * kStepQuantum;
        if (spectral_) {
            Eigen::VectorXd e(n), g(n);
            for (Eigen::Index i = 0; i < n; ++i) {
                const double x = lam_[i] * h;
                e[i] = std::exp(x);
                g[i] = (x == 0.0) ? h : std::expm1(x) / lam_[i];
            }
            cache_.push_back({key, V_ * e.asDiagonal() * Vinv_, V_ * g.asDiagonal() * Vinv_});
            return cache_.back();
        }
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
    // cond(V) above this would cost more than ~1e-11 relative accuracy: use Pade instead.
    static constexpr double kMaxCondition = 1e4;
    Eigen::MatrixXd A_;
    bool spectral_ = false;
    Eigen::MatrixXd V_, Vinv_;
    Eigen::VectorXd lam_;
    std::deque<Propagator> cache_;   // few distinct steps: a linear scan beats hashing; deque keeps references valid
};

}  // namespace

Trajectory simulate_exact(const LinearSystem& sys, const InputSchedule& in, const std::vector<double>& times,
                          const SimOptions& opt) {
    Trajectory tr = make_trajectory(sys, times, opt);
    // The sinks (eliminated, unabsorbed) never feed back into the other states, so unless their
    // amounts are requested they are left out of the propagated system: same values, fewer flops.
    const int n_all = sys.size();
    std::vector<int> to_reduced(n_all, -1), keep;
    for (int s = 0; s < n_all; ++s)
        if (opt.output_amounts || sys.state_kinds[s] != StateKind::sink) {
            to_reduced[s] = static_cast<int>(keep.size());
            keep.push_back(s);
        }
    const int n = static_cast<int>(keep.size());
    Eigen::MatrixXd A(n, n);
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) A(i, j) = sys.A(keep[i], keep[j]);
    OutputMap omap(sys);
    for (auto& t : omap.terms) t.state = to_reduced[t.state];   // C never reads a sink
    Eigen::VectorXd x = Eigen::VectorXd::Zero(n), u = Eigen::VectorXd::Zero(n), tmp(n), x_all;
    bool has_input = false;
    PropagatorCache cache(A);
    const Propagator* last = nullptr;
    long long last_key = -1;
    double t = 0.0;
    auto advance_to = [&](double tp) {
        const double h = tp - t;
        if (h > 1e6)   // the key below would overflow past ~9e6 h
            throw SolverError("exact solver: one step of " + std::to_string(h) +
                              " h between output times is longer than 1e6 h; add output times");
        // Round to the step quantum (h >= 0): steps equal up to float noise share one key.
        const long long key = static_cast<long long>(h / kStepQuantum + 0.5);
        if (key != last_key) {
            last = key > 0 ? &cache.get(key) : nullptr;
            last_key = key;
        }
        if (last) {
            small_gemv(last->E, x.data(), tmp.data(), false);
            if (has_input) small_gemv(last->G, u.data(), tmp.data(), true);
            x.swap(tmp);
        }
        t = tp;
    };
    auto apply = [&](const Breakpoint& bp) {
        for (const auto& bo : bp.boluses)
            if (to_reduced[bo.state] >= 0) x[to_reduced[bo.state]] += bo.amount;
        for (const auto& r : bp.rates)
            if (to_reduced[r.state] >= 0) u[to_reduced[r.state]] += r.delta;
        has_input = false;
        for (int i = 0; i < n; ++i) {
            if (std::fabs(u[i]) < 1e-300) u[i] = 0.0;
            if (u[i] != 0.0) has_input = true;
        }
    };
    // The same merge of output times and breakpoints as build_timeline(), without materializing it.
    const std::size_t nb = in.breakpoints.size();
    std::size_t b = 0;
    for (std::size_t o = 0; o < times.size(); ++o) {
        const double to = times[o];
        while (b < nb && in.breakpoints[b].time < to - kTimeSnap) {
            advance_to(in.breakpoints[b].time);
            apply(in.breakpoints[b]);
            ++b;
        }
        if (b < nb && std::fabs(in.breakpoints[b].time - to) <= kTimeSnap) {
            advance_to(in.breakpoints[b].time);
            apply(in.breakpoints[b]);
            ++b;
        } else {
            advance_to(to);
        }
        const int col = static_cast<int>(o);
        if (opt.output_amounts) {
            record(tr, sys, omap, x, col, opt);   // n == n_all here
        } else {
            for (Eigen::Index k = 0; k < sys.C.rows(); ++k) tr.values(k, col) = 0.0;
            for (const auto& term : omap.terms) tr.values(term.row, col) += term.coef * x[term.state];
        }
    }
    return tr;
}

}  // namespace ketasim::detail
