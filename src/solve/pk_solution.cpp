// PkSolution (ketasim/solver.hpp): the exact PK solution evaluable at any time. The eigenbasis
// form is the exact solver's spectral path (exact.cpp), here kept per dose breakpoint instead of
// per output time; the same checks decide when it is usable (real spectrum, cond(V) < 1e4, the
// residual A V = V L), and the same effect-site scaling keeps the basis well conditioned.
#include <Eigen/Eigenvalues>
#include <Eigen/SVD>
#include <unsupported/Eigen/MatrixFunctions>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "inputs.hpp"
#include "ketasim/errors.hpp"
#include "ketasim/solver.hpp"

namespace ketasim {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kMaxCondition = 1e4;   // as the exact solver (exact.cpp): ~1e-12 relative accuracy
}   // namespace

struct PkSolution::Impl {
    std::vector<int> keep;   // kept (relevant) states of sys
    Eigen::VectorXd scale;   // x_kept = scale .* x_scaled (the effect site as Ce / s, exact.cpp effect_scale)
    Eigen::MatrixXd A;       // scaled, kept
    Eigen::MatrixXd C;       // outputs x kept, scaled
    bool spectral = false;
    // Two near-equal rate constants (no well-conditioned eigenbasis): the last two coordinates
    // span their invariant subspace, where A acts as T = [[lam[p], beta], [0, lam[p + 1]]]
    // (p = pair; -1 without a pair). See build_pair_basis.
    Eigen::Index pair = -1;
    double beta = 0.0;
    Eigen::VectorXd lam;
    Eigen::MatrixXd Vinv, CV;   // CV = C V
    std::vector<double> bp_times;
    // Segment k starts at seg_t[k] with state z0[k] (eigenbasis, or the scaled state without one)
    // and constant input w[k] (eigenbasis, or scaled u).
    std::vector<double> seg_t;
    std::vector<Eigen::VectorXd> z0, w;
    std::vector<char> has_input;

    std::size_t segment(double t) const {
        const auto it = std::upper_bound(seg_t.begin(), seg_t.end(), t + detail::kTimeSnap);
        return it == seg_t.begin() ? 0 : static_cast<std::size_t>(it - seg_t.begin()) - 1;
    }
    // e_i = exp(l_i h), and with an input g_i = (exp(l_i h) - 1) / l_i (g untouched without one:
    // it multiplies w = 0). With a pair, e and g have one more entry: e[n] = phi(h), the (0, 1)
    // entry of exp(T h) / beta, and g[n] = psi(h) = int_0^h phi (see pair_terms).
    void diag(double h, bool input, Eigen::VectorXd& e, Eigen::VectorXd& g) const {
        const Eigen::Index n = lam.size(), m = n + (pair >= 0 ? 1 : 0);
        e.resize(m);
        g.resize(m);
        if (!input) g.setZero();
        for (Eigen::Index i = 0; i < n; ++i) {
            const double x = lam[i] * h;
            e[i] = std::exp(x);
            if (input) g[i] = x == 0.0 ? h : std::expm1(x) / lam[i];
        }
        if (pair >= 0) pair_terms(h, input, e[pair], e[n], g[n]);
    }
    // For T = [[a, beta], [0, b]] (a = lam[p], b = lam[p + 1]):
    //   exp(T h)_01 = beta phi,  phi = (e^{b h} - e^{a h}) / (b - a) = E[a, b],
    //   (int_0^h exp(T s) ds)_01 = beta psi,  psi = int_0^h phi = E[a, b, 0],
    // divided differences of E(x) = e^{x h}, written without cancellation as a -> b:
    // phi = e^{a h} expm1((b - a) h) / (b - a) (h e^{a h} at a == b); psi by its Taylor series
    // sum_k h^{k+2} h_k(a, b) / (k + 2)! (h_k the complete homogeneous polynomial) when
    // max(|a|, |b|) h < 0.5 (20 terms: the remainder is below 1e-17 relative), otherwise as
    // (phi - E[b, 0]) / a with |a| >= |b| (the difference then cancels at most one digit).
    void pair_terms(double h, bool input, double ea, double& phi, double& psi) const {
        const double a = lam[pair], b = lam[pair + 1], d = b - a;
        phi = d * h == 0.0 ? h * ea : ea * std::expm1(d * h) / d;
        psi = 0.0;
        if (!input) return;
        const double ah = a * h, bh = b * h;
        if (std::max(std::fabs(ah), std::fabs(bh)) < 0.5) {
            double hk = 1.0, bk = 1.0, fact = 2.0, sum = 0.5;   // k = 0: h_0 = 1, 1 / 2!
            for (int k = 1; k <= 20; ++k) {
                bk *= bh;
                hk = ah * hk + bk;
                fact *= static_cast<double>(k + 2);
                sum += hk / fact;
            }
            psi = h * h * sum;
        } else if (std::fabs(a) >= std::fabs(b)) {
            const double gb = bh == 0.0 ? h : std::expm1(bh) / b;
            psi = (phi - gb) / a;
        } else {
            const double ga = ah == 0.0 ? h : std::expm1(ah) / a;
            psi = (phi - ga) / b;
        }
    }
    // z <- exp(T h) z + int exp(T s) ds w in the basis, from diag's e and g (w null without input).
    void apply(const double* e, const double* g, const double* w, double* z) const {
        const Eigen::Index n = lam.size();
        double extra = 0.0;
        if (pair >= 0) {
            extra = beta * e[n] * z[pair + 1];
            if (w) extra += beta * g[n] * w[pair + 1];
        }
        if (w) {
            for (Eigen::Index i = 0; i < n; ++i) z[i] = e[i] * z[i] + g[i] * w[i];
        } else {
            for (Eigen::Index i = 0; i < n; ++i) z[i] *= e[i];
        }
        if (pair >= 0) z[pair] += extra;
    }
    // E = exp(A h), G = int_0^h exp(A s) ds from the Pade exponential of [[A h, I h], [0, 0]].
    void propagator(double h, Eigen::MatrixXd& E, Eigen::MatrixXd& G) const {
        const Eigen::Index n = A.rows();
        Eigen::MatrixXd M = Eigen::MatrixXd::Zero(2 * n, 2 * n);
        M.topLeftCorner(n, n) = A * h;
        M.topRightCorner(n, n) = Eigen::MatrixXd::Identity(n, n) * h;
        const Eigen::MatrixXd X = M.exp();
        if (!X.allFinite()) throw SolverError("PkSolution: the matrix exponential is not finite");
        E = X.topLeftCorner(n, n);
        G = X.topRightCorner(n, n);
    }
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> CVr;   // CV, rows contiguous
    // Without an eigenbasis: a mass bound (see bound_from_state), when A is compartmental.
    bool compartmental = false;
    Eigen::Index effect = -1;   // kept index of the effect site, or -1
    double drive_max = 0;       // max_i A(e, i) / -A(e, e) over mass states i

    // Upper bound of output j from state v (eigenbasis coordinates, or the scaled state) on a
    // segment without input, until the next breakpoint.
    //  - eigenbasis: the positive modes (solver.hpp);
    //  - otherwise, for a compartmental A (amounts >= 0, flows >= 0, no mass created), the total
    //    amount M = sum of the mass states cannot grow, so a mass output sum c_i x_i <= max c_i M,
    //    and the effect site, which relaxes toward its driver (<= drive_max M), stays below
    //    max(its value, drive_max M).
    double bound_from_state(std::size_t j, const Eigen::VectorXd& v) const {
        const auto jj = static_cast<Eigen::Index>(j);
        if (spectral) {
            if (pair < 0) {
                const double f = falling_value(jj, v);
                if (!std::isnan(f)) return f;
            }
            double b = 0.0;
            for (Eigen::Index i = 0; i < lam.size(); ++i) {
                const double a = CV(jj, i) * v[i];
                if (a == 0.0) continue;
                if (lam[i] > 0.0) return kInf;
                if (a > 0.0) b += a;
            }
            // The pair adds CV(j, p) beta v[p + 1] phi(s) with 0 <= phi(s) = s e^{xi s} (xi
            // between the two rates, mean value theorem) <= 1 / (e |max rate|) for rates < 0.
            if (pair >= 0) {
                const double a = CV(jj, pair) * beta * v[pair + 1];
                const double top = std::max(lam[pair], lam[pair + 1]);
                if (a > 0.0) {
                    if (!(top < 0.0)) return kInf;
                    b += a / (std::exp(1.0) * -top);
                }
            }
            return b;
        }
        if (!compartmental) return kInf;
        double mass = 0.0, cmax = 0.0;
        for (Eigen::Index i = 0; i < v.size(); ++i) {
            if (i == effect) continue;
            mass += std::max(0.0, v[i]);
            if (C(jj, i) < 0.0) return kInf;
            cmax = std::max(cmax, C(jj, i));
        }
        double b = cmax * mass;
        if (effect >= 0 && C(jj, effect) != 0.0) {
            if (C(jj, effect) < 0.0) return kInf;
            b += C(jj, effect) * std::max(std::max(0.0, v[effect]), drive_max * mass);
        }
        return b;
    }
    // Without a pair: when output j = f(s) = sum_i a_i e^{l_i s} (a_i = CV(j, i) v_i) cannot rise
    // any more, its value now bounds every later one, a far tighter bound than the sum of the
    // positive terms while modes of opposite signs cancel (just after a peak). f' = sum_i a_i l_i
    // e^{l_i s} has at most as many real zeros as its coefficients, ordered by rate, have sign
    // changes (Descartes' rule of signs for exponential sums; Polya & Szego, Problems and Theorems
    // in Analysis II, part V, problem 75). With at most one sign change, f'(0) <= 0 and the slowest
    // mode's coefficient < 0, f' stays <= 0 on [0, inf) (a zero would need a second one to return).
    // Coefficients below 1e-13 of the largest are left out of the sign count and their |a_i| added
    // to the value. A second sufficient test (dominance, below) covers more sign patterns.
    // Returns NaN when neither applies.
    double falling_value(Eigen::Index jj, const Eigen::VectorXd& v) const {
        const Eigen::Index n = lam.size();
        double cmax = 0.0;
        for (Eigen::Index i = 0; i < n; ++i) cmax = std::max(cmax, std::fabs(CV(jj, i) * v[i] * lam[i]));
        if (!(cmax > 0.0)) return std::numeric_limits<double>::quiet_NaN();
        double value = 0.0, slack = 0.0, slope = 0.0;
        int changes = 0, last_sign = 0;
        for (const Eigen::Index i : order) {   // slowest (largest rate) first
            const double a = CV(jj, i) * v[i], c = a * lam[i];
            value += a;
            if (std::fabs(c) <= 1e-13 * cmax) {
                slack += std::fabs(a);
                continue;
            }
            if (lam[i] > 0.0) return std::numeric_limits<double>::quiet_NaN();
            slope += c;
            const int sign = c > 0 ? 1 : -1;
            if (last_sign == 0 && sign > 0) return std::numeric_limits<double>::quiet_NaN();   // slowest rises
            if (last_sign != 0 && sign != last_sign) ++changes;
            last_sign = sign;
        }
        if (changes > 1 || slope > 0.0) {
            // Otherwise, dominance: with P the sum of the positive coefficients and r the largest
            // rate among them, f' <= P e^{r s} - N e^{r s} <= 0 when the negative coefficients of
            // rates >= r (which decay no faster) sum to N >= P.
            double pos = 0.0, r = -kInf;
            for (Eigen::Index i = 0; i < n; ++i) {
                const double c = CV(jj, i) * v[i] * lam[i];
                if (std::fabs(c) > 1e-13 * cmax && c > 0) {
                    pos += c;
                    r = std::max(r, lam[i]);
                }
            }
            double neg = 0.0;
            for (Eigen::Index i = 0; i < n; ++i) {
                const double c = CV(jj, i) * v[i] * lam[i];
                if (std::fabs(c) > 1e-13 * cmax && c < 0 && lam[i] >= r) neg -= c;
            }
            if (!(pos <= neg)) return std::numeric_limits<double>::quiet_NaN();
        }
        return std::max(0.0, value) + slack;
    }
    std::vector<Eigen::Index> order;   // modes by decreasing rate (slowest first)
    void out(const Eigen::VectorXd& z, double* y) const {
        const Eigen::Index n = z.size();
        for (Eigen::Index j = 0; j < CVr.rows(); ++j) {
            const double* c = CVr.data() + j * n;
            double acc = 0.0;
            for (Eigen::Index i = 0; i < n; ++i) acc += c[i] * z[i];
            y[j] = acc;
        }
    }
    void values(double t, double* y) const {
        const std::size_t k = segment(t);
        const double h = std::max(0.0, t - seg_t[k]);
        if (spectral) {
            Eigen::VectorXd e, g;
            const bool input = has_input[k] != 0;
            diag(h, input, e, g);
            Eigen::VectorXd z = z0[k];
            apply(e.data(), g.data(), input ? w[k].data() : nullptr, z.data());
            out(z, y);
        } else {
            Eigen::VectorXd x = z0[k];
            if (h > 0) detail::propagate_exactly(A, w[k], h, x);
            for (Eigen::Index j = 0; j < C.rows(); ++j) y[j] = C.row(j).dot(x);
        }
    }
};

namespace {
// Two near-equal rate constants a ~ b (e.g. a nasal absorption rate drawn next to a disposition
// rate: ~4 % of esketamine patients) leave no well-conditioned eigenbasis (cond(V) ~ 1 / |a - b|),
// but their two-dimensional invariant subspace is well conditioned. It is the null space of
// (A - a I)(A - b I), taken from its SVD (the two smallest singular vectors, orthonormal W); a
// rotation of W makes T = W' A W upper triangular, [[a', beta], [0, b']], whose exponential is
// exact and cheap (pair_terms). The other modes keep their eigenvectors. Accepted under the same
// checks as the plain eigenbasis (residual of A B = B D, cond(B) < 1e4); otherwise (a cluster of
// three, two pairs, complex rates) the Pade exponential stays. The pair is the closest two rates.
bool build_pair_basis(PkSolution::Impl& m, const Eigen::VectorXd& lam, const Eigen::MatrixXd& V, double amax) {
    const Eigen::Index n = lam.size();
    if (n < 2) return false;
    Eigen::Index ia = -1, ib = -1;
    double best = kInf;
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = i + 1; j < n; ++j) {
            const double gap = std::fabs(lam[i] - lam[j]) / std::max({std::fabs(lam[i]), std::fabs(lam[j]), 1e-300});
            if (gap < best) {
                best = gap;
                ia = i;
                ib = j;
            }
        }
    const Eigen::MatrixXd I = Eigen::MatrixXd::Identity(n, n);
    const Eigen::MatrixXd M = (m.A - lam[ia] * I) * (m.A - lam[ib] * I);
    Eigen::JacobiSVD<Eigen::MatrixXd> svd(M, Eigen::ComputeFullV);
    Eigen::MatrixXd W = svd.matrixV().rightCols(2);
    Eigen::Matrix2d T = W.transpose() * m.A * W;
    // An eigenvector u of T for its eigenvalue r; the rotation [u, u_perp] triangularizes T.
    const double half = 0.5 * (T(0, 0) + T(1, 1));
    const double disc = 0.25 * (T(0, 0) - T(1, 1)) * (T(0, 0) - T(1, 1)) + T(0, 1) * T(1, 0);
    if (disc < -1e-12 * amax * amax) return false;   // complex pair
    const double r = half + std::sqrt(std::max(0.0, disc));
    Eigen::Vector2d u1(T(0, 1), r - T(0, 0)), u2(r - T(1, 1), T(1, 0));
    Eigen::Vector2d u = u1.norm() >= u2.norm() ? u1 : u2;
    if (!(u.norm() > 0)) u = Eigen::Vector2d(1.0, 0.0);   // T is a multiple of I: any basis
    u.normalize();
    Eigen::Matrix2d Q;
    Q << u[0], -u[1], u[1], u[0];
    W = W * Q;
    T = Q.transpose() * T * Q;
    // Basis: the other eigenvectors, then the pair (positions n - 2, n - 1).
    Eigen::MatrixXd B(n, n);
    Eigen::VectorXd l(n);
    Eigen::Index c = 0;
    for (Eigen::Index i = 0; i < n; ++i)
        if (i != ia && i != ib) {
            B.col(c) = V.col(i);
            l[c++] = lam[i];
        }
    B.col(n - 2) = W.col(0);
    B.col(n - 1) = W.col(1);
    l[n - 2] = T(0, 0);
    l[n - 1] = T(1, 1);
    Eigen::MatrixXd D = l.asDiagonal();
    D(n - 2, n - 1) = T(0, 1);
    const Eigen::MatrixXd Binv = Eigen::PartialPivLU<Eigen::MatrixXd>(B).inverse();
    const double cond = B.cwiseAbs().rowwise().sum().maxCoeff() * Binv.cwiseAbs().rowwise().sum().maxCoeff();
    const double resid = (m.A * B - B * D).cwiseAbs().maxCoeff();
    if (!(cond < kMaxCondition) || !(resid <= 1e-12 * amax * std::max(1.0, B.cwiseAbs().maxCoeff()))) return false;
    m.spectral = true;
    m.pair = n - 2;
    m.beta = T(0, 1);
    m.lam = l;
    m.Vinv = Binv;
    m.CV = m.C * B;
    m.CVr = m.CV;
    return true;
}
}   // namespace

PkSolution::PkSolution(const LinearSystem& sys, const Regimen& regimen, const std::vector<std::string>& names)
    : impl_(std::make_unique<Impl>()) {
    Impl& m = *impl_;
    const int n = sys.size();
    std::vector<int> rows;
    for (const auto& name : names) {
        const auto it = std::find(sys.output_names.begin(), sys.output_names.end(), name);
        if (it == sys.output_names.end()) throw InputError("PkSolution: no output '" + name + "'");
        rows.push_back(static_cast<int>(it - sys.output_names.begin()));
    }
    // The states the outputs read, closed over the flows into them (A(i, j) != 0: j flows into i).
    std::vector<char> mark(static_cast<std::size_t>(n), 0);
    for (int r : rows)
        for (int j = 0; j < n; ++j)
            if (sys.C(r, j) != 0.0) mark[static_cast<std::size_t>(j)] = 1;
    for (bool grew = true; grew;) {
        grew = false;
        for (int i = 0; i < n; ++i)
            if (mark[static_cast<std::size_t>(i)])
                for (int j = 0; j < n; ++j)
                    if (j != i && !mark[static_cast<std::size_t>(j)] && sys.A(i, j) != 0.0) {
                        mark[static_cast<std::size_t>(j)] = 1;
                        grew = true;
                    }
    }
    std::vector<int> red(static_cast<std::size_t>(n), -1);
    for (int i = 0; i < n; ++i)
        if (mark[static_cast<std::size_t>(i)]) {
            red[static_cast<std::size_t>(i)] = static_cast<int>(m.keep.size());
            m.keep.push_back(i);
        }
    const auto k = static_cast<Eigen::Index>(m.keep.size());
    m.scale = Eigen::VectorXd::Ones(k);
    if (sys.effect >= 0 && red[static_cast<std::size_t>(sys.effect)] >= 0) {
        const int e = sys.effect;
        const double ke0 = -sys.A(e, e);
        double off = 0.0;
        for (int j = 0; j < n; ++j)
            if (j != e) off += std::fabs(sys.A(e, j));
        const double s = off / ke0;
        if (ke0 > 0 && std::isfinite(s) && s > 0) m.scale[red[static_cast<std::size_t>(e)]] = s;
    }
    m.A.resize(k, k);
    for (Eigen::Index i = 0; i < k; ++i)
        for (Eigen::Index j = 0; j < k; ++j)
            m.A(i, j) = sys.A(m.keep[static_cast<std::size_t>(i)], m.keep[static_cast<std::size_t>(j)]) * m.scale[j] /
                        m.scale[i];
    m.C.resize(static_cast<Eigen::Index>(rows.size()), k);
    for (std::size_t r = 0; r < rows.size(); ++r)
        for (Eigen::Index j = 0; j < k; ++j)
            m.C(static_cast<Eigen::Index>(r), j) = sys.C(rows[r], m.keep[static_cast<std::size_t>(j)]) * m.scale[j];

    if (k > 0) {
        const double amax = std::max(1.0, m.A.cwiseAbs().maxCoeff());
        Eigen::EigenSolver<Eigen::MatrixXd> es(m.A);
        if (es.info() == Eigen::Success && (es.eigenvalues().imag().cwiseAbs().array() <= 1e-12 * amax).all()) {
            const Eigen::VectorXd lam = es.eigenvalues().real();
            const Eigen::MatrixXd V = es.pseudoEigenvectors();
            const Eigen::MatrixXd Vinv = Eigen::PartialPivLU<Eigen::MatrixXd>(V).inverse();
            const double cond = V.cwiseAbs().rowwise().sum().maxCoeff() * Vinv.cwiseAbs().rowwise().sum().maxCoeff();
            const double resid = (m.A * V - V * lam.asDiagonal()).cwiseAbs().maxCoeff();
            if (cond < kMaxCondition && resid <= 1e-12 * amax * std::max(1.0, V.cwiseAbs().maxCoeff())) {
                m.spectral = true;
                m.lam = lam;
                m.Vinv = Vinv;
                m.CV = m.C * V;
                m.CVr = m.CV;
            } else {
                build_pair_basis(m, lam, V, amax);
            }
        }
    }

    if (sys.effect >= 0 && red[static_cast<std::size_t>(sys.effect)] >= 0)
        m.effect = red[static_cast<std::size_t>(sys.effect)];
    {
        bool ok = k > 0;
        const double tol = 1e-12 * std::max(1.0, m.A.cwiseAbs().maxCoeff());
        for (Eigen::Index j = 0; j < k && ok; ++j) {
            if (j == m.effect) continue;
            double col = 0.0;
            for (Eigen::Index i = 0; i < k; ++i) {
                if (i == m.effect) {
                    if (m.A(i, j) < 0.0) ok = false;
                    continue;
                }
                if (i != j && m.A(i, j) < 0.0) ok = false;
                col += m.A(i, j);
            }
            if (col > tol) ok = false;                                  // mass created
            if (m.effect >= 0 && m.A(j, m.effect) != 0.0) ok = false;   // the site feeds back
        }
        if (m.effect >= 0) {
            const double ke0 = -m.A(m.effect, m.effect);
            if (!(ke0 > 0)) ok = false;
            for (Eigen::Index i = 0; i < k && ok; ++i)
                if (i != m.effect) m.drive_max = std::max(m.drive_max, m.A(m.effect, i) / ke0);
        }
        m.compartmental = ok;
    }
    if (m.spectral) {
        m.order.resize(static_cast<std::size_t>(m.lam.size()));
        for (Eigen::Index i = 0; i < m.lam.size(); ++i) m.order[static_cast<std::size_t>(i)] = i;
        std::sort(m.order.begin(), m.order.end(), [&](Eigen::Index a, Eigen::Index b) { return m.lam[a] > m.lam[b]; });
    }
    const detail::InputSchedule in = detail::build_inputs(sys, regimen, sys.weight_kg);
    Eigen::VectorXd x = Eigen::VectorXd::Zero(k), u = Eigen::VectorXd::Zero(k);   // scaled, kept
    auto to_basis = [&](const Eigen::VectorXd& v) { return m.spectral ? Eigen::VectorXd(m.Vinv * v) : v; };
    double t = in.breakpoints.empty() ? 0.0 : std::min(0.0, in.breakpoints.front().time);
    m.seg_t.push_back(t);
    m.z0.push_back(to_basis(x));
    m.w.push_back(to_basis(u));
    m.has_input.push_back(0);
    Eigen::VectorXd e, g;
    for (const auto& bp : in.breakpoints) {
        m.bp_times.push_back(bp.time);
        Eigen::VectorXd z = m.z0.back();
        const double h = bp.time - t;
        if (h > 0) {
            if (m.spectral) {
                m.diag(h, true, e, g);
                m.apply(e.data(), g.data(), m.w.back().data(), z.data());
            } else {
                detail::propagate_exactly(m.A, m.w.back(), h, z);
            }
        }
        // The jumps, applied in the basis (V^-1 is linear): a bolus adds amount x column r.
        auto add = [&](Eigen::Index r, double v) {
            if (m.spectral)
                z += m.Vinv.col(r) * v;
            else
                z[r] += v;
        };
        if (bp.reset) {
            for (Eigen::Index r = 0; r < k; ++r)
                x[r] = bp.reset_state[m.keep[static_cast<std::size_t>(r)]] / m.scale[r];
            z = to_basis(x);
        }
        for (const auto& b : bp.boluses) {
            const int r = red[static_cast<std::size_t>(b.state)];
            if (r >= 0) add(r, b.amount / m.scale[r]);
        }
        for (const auto& rc : bp.rates) {
            const int r = red[static_cast<std::size_t>(rc.state)];
            if (r >= 0) u[r] = rc.rate / m.scale[r];
        }
        t = bp.time;
        m.seg_t.push_back(t);
        m.z0.push_back(z);
        m.w.push_back(to_basis(u));
        m.has_input.push_back(u.cwiseAbs().maxCoeff() > 0.0 ? 1 : 0);
    }
    for (const auto& z : m.z0)
        if (!z.allFinite()) throw SolverError("PkSolution: the state after a dose is not finite");
}

PkSolution::~PkSolution() = default;
PkSolution::PkSolution(PkSolution&&) noexcept = default;
PkSolution& PkSolution::operator=(PkSolution&&) noexcept = default;

std::size_t PkSolution::outputs() const { return static_cast<std::size_t>(impl_->C.rows()); }
bool PkSolution::spectral() const { return impl_->spectral; }
bool PkSolution::paired() const { return impl_->pair >= 0; }
const std::vector<double>& PkSolution::breakpoints() const { return impl_->bp_times; }
void PkSolution::values(double t, double* y) const { impl_->values(t, y); }

double PkSolution::next_breakpoint(double t) const {
    const auto it = std::upper_bound(impl_->bp_times.begin(), impl_->bp_times.end(), t + detail::kTimeSnap);
    return it == impl_->bp_times.end() ? kInf : *it;
}

double PkSolution::bound(std::size_t j, double t) const {
    const Impl& m = *impl_;
    const std::size_t k = m.segment(t);
    if (m.has_input[k]) return kInf;
    const double h = std::max(0.0, t - m.seg_t[k]);
    Eigen::VectorXd v = m.z0[k];
    if (m.spectral) {
        Eigen::VectorXd e, g;
        m.diag(h, false, e, g);
        m.apply(e.data(), g.data(), nullptr, v.data());
    } else {
        if (!m.compartmental) return kInf;
        if (h > 0) detail::propagate_exactly(m.A, m.w[k], h, v);
    }
    return m.bound_from_state(j, v);
}

PkSolution::Cursor::Cursor(const PkSolution& s) : s_(&s), stage_cache_(128), cache_(64) {}

// The table of step size h (m stages c, then the full step), in a 128-slot table probed 4 slots
// from h's hash; m < 0 accepts any table of h (advance: only the full step is read).
PkSolution::Cursor::StageEntry& PkSolution::Cursor::stage_entry(double h, const double* c, int m) {
    const Impl& im = *s_->impl_;
    const bool input = im.has_input[seg_] != 0;
    std::uint64_t bits = 0;
    std::memcpy(&bits, &h, sizeof bits);
    const std::size_t base = static_cast<std::size_t>((bits * 0x9E3779B97F4A7C15ULL) >> 57);
    const std::size_t want = m < 0 ? 0 : static_cast<std::size_t>(m) + 1;
    StageEntry* victim = nullptr;
    for (std::size_t p = 0; p < 4; ++p) {
        StageEntry& se = stage_cache_[(base + p) & 127];
        const std::size_t have = im.spectral ? se.e.size() : se.E.size();
        if (se.h == h && (!input || se.with_input) && have > 0 && (m < 0 || have == want)) return se;
        if (!victim && se.h == 0) victim = &se;
    }
    StageEntry& se = victim ? *victim : stage_cache_[base];
    const std::size_t count = m < 0 ? 1 : want;
    if (im.spectral) {
        se.e.resize(count);
        se.g.resize(count);
    } else {
        se.E.resize(count);
        se.G.resize(count);
    }
    for (std::size_t i = 0; i < count; ++i) {
        const double s = i + 1 < count ? c[i] * h : h;
        if (im.spectral)
            im.diag(s, input, se.e[i], se.g[i]);
        else
            im.propagator(s, se.E[i], se.G[i]);
    }
    se.h = h;
    se.with_input = input || !im.spectral;   // the propagator always gives G
    return se;
}

void PkSolution::Cursor::stages(double h, const double* c, int m, std::size_t j, double* y) {
    const Impl& im = *s_->impl_;
    if (!valid_) {
        for (int i = 0; i < m; ++i) {
            std::vector<double> out(static_cast<std::size_t>(im.C.rows()));
            im.values(t_ + c[i] * h, out.data());
            y[i] = out[j];
        }
        return;
    }
    if (!im.spectral) {
        // Without an eigenbasis: exp(A s) and its integral per stage (Pade), kept per step size.
        const StageEntry& se = stage_entry(h, c, m);
        const auto jj = static_cast<Eigen::Index>(j);
        for (int i = 0; i < m; ++i) {
            const auto k = static_cast<std::size_t>(i);
            y[i] = im.C.row(jj).dot(se.E[k] * z_ + se.G[k] * im.w[seg_]);
        }
        return;
    }
    const StageEntry& se = stage_entry(h, c, m);
    const bool input = im.has_input[seg_] != 0;
    const Eigen::Index n = z_.size();
    const double* cv = im.CVr.data() + static_cast<Eigen::Index>(j) * n;
    const double* z = z_.data();
    const double* w = im.w[seg_].data();
    for (int i = 0; i < m; ++i) {
        const double* e = se.e[static_cast<std::size_t>(i)].data();
        const double* g = se.g[static_cast<std::size_t>(i)].data();
        double acc = 0.0;
        if (input) {
            for (Eigen::Index k = 0; k < n; ++k) acc += cv[k] * (e[k] * z[k] + g[k] * w[k]);
        } else {
            for (Eigen::Index k = 0; k < n; ++k) acc += cv[k] * e[k] * z[k];
        }
        if (im.pair >= 0) {
            double extra = im.beta * e[n] * z[im.pair + 1];
            if (input) extra += im.beta * g[n] * w[im.pair + 1];
            acc += cv[im.pair] * extra;
        }
        y[i] = acc;
    }
}

void PkSolution::Cursor::advance(double h) {
    const Impl& im = *s_->impl_;
    if (!valid_) {
        std::vector<double> out(static_cast<std::size_t>(im.C.rows()));
        values(t_ + h, out.data());
        return;
    }
    const StageEntry* se = &stage_entry(h, nullptr, -1);
    const bool input = im.has_input[seg_] != 0;
    if (im.spectral) {
        const std::size_t last = se->e.size() - 1;
        im.apply(se->e[last].data(), se->g[last].data(), input ? im.w[seg_].data() : nullptr, z_.data());
    } else {
        const std::size_t last = se->E.size() - 1;
        z_ = se->E[last] * z_ + se->G[last] * im.w[seg_];
    }
    t_ += h;
}

void PkSolution::Cursor::values(double t, double* y) {
    const Impl& m = *s_->impl_;
    std::size_t seg = seg_;
    while (seg + 1 < m.seg_t.size() && m.seg_t[seg + 1] <= t + detail::kTimeSnap) ++seg;
    if (!valid_ || seg != seg_ || t < t_) {
        seg = m.segment(t);
        const double h = std::max(0.0, t - m.seg_t[seg]);
        if (m.spectral) {
            Eigen::VectorXd e, g;
            const bool input = m.has_input[seg] != 0;
            m.diag(h, input, e, g);
            z_ = m.z0[seg];
            m.apply(e.data(), g.data(), input ? m.w[seg].data() : nullptr, z_.data());
        } else {
            z_ = m.z0[seg];
            if (h > 0) detail::propagate_exactly(m.A, m.w[seg], h, z_);
        }
        seg_ = seg;
        valid_ = true;
    } else if (t > t_) {
        // The step rounded to 1e-12 h (the exact solver's quantum): repeated steps share their
        // propagator. The cursor's time advances by the rounded step, so the rounding never
        // accumulates: every value is that at a time within 5e-13 h of the one asked.
        const double quantum = 1e-12;
        const long long key = static_cast<long long>((t - t_) / quantum + 0.5);
        const bool input = m.has_input[seg] != 0;
        const auto mix = static_cast<unsigned long long>(key) * 0x9E3779B97F4A7C15ULL;
        Entry& c = cache_[static_cast<std::size_t>(mix >> 58)];   // 64 slots
        const double hq = static_cast<double>(key) * quantum;
        t = t_ + hq;
        if (!m.spectral) {
            if (c.key != key) {
                m.propagator(hq, c.E, c.G);
                c.key = key;
            }
            z_ = c.E * z_ + c.G * m.w[seg];
        } else {
            if (c.key != key || (input && !c.with_input)) {
                m.diag(hq, input, c.e, c.g);
                c.key = key;
                c.with_input = input;
            }
            m.apply(c.e.data(), c.g.data(), input ? m.w[seg].data() : nullptr, z_.data());
        }
    }
    t_ = t;
    if (!m.spectral) {
        for (Eigen::Index j = 0; j < m.C.rows(); ++j) y[j] = m.C.row(j).dot(z_);
        return;
    }
    m.out(z_, y);
}

double PkSolution::Cursor::bound(std::size_t j) const {
    const Impl& m = *s_->impl_;
    if (!valid_ || m.has_input[seg_]) return kInf;
    return m.bound_from_state(j, z_);
}

}   // namespace ketasim
