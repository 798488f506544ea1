// Sobol' indices by Saltelli (2010) sampling and estimators, evaluated on the executor; bootstrap
// intervals from seeded streams (so the same seed gives the same intervals for any thread count).
#include "ketasim/sensitivity.hpp"

#include <cmath>

#include "core/text.hpp"
#include "ketasim/errors.hpp"
#include "ketasim/population.hpp"
#include "ketasim/sweep.hpp"
#include "solve/inputs.hpp"

namespace ketasim {

namespace {

// The indices of one (re)sample: rows idx[0..n) (or 0..n when idx is null).
// `centre`: subtracted from f(B) in the S1 numerator (see sobol_estimates).
void estimate(const SobolIndices& r, const std::size_t* idx, double centre, std::vector<double>& s1,
              std::vector<double>& st, double* mean_out, double* var_out) {
    const std::size_t n = r.n, d = r.names.size();
    auto row = [&](std::size_t k) { return idx ? idx[k] : k; };
    double sum = 0.0;
    for (std::size_t k = 0; k < n; ++k) sum += r.yA[row(k)] + r.yB[row(k)];
    const double mean = sum / static_cast<double>(2 * n);
    double ss = 0.0;
    for (std::size_t k = 0; k < n; ++k) {
        const double a = r.yA[row(k)] - mean, b = r.yB[row(k)] - mean;
        ss += a * a + b * b;
    }
    const double var = ss / static_cast<double>(2 * n);
    s1.assign(d, 0.0);
    st.assign(d, 0.0);
    for (std::size_t i = 0; i < d; ++i) {
        double a1 = 0.0, at = 0.0;
        for (std::size_t k = 0; k < n; ++k) {
            const std::size_t q = row(k);
            const double fa = r.yA[q], fb = r.yB[q], fab = r.yAB[q * d + i];
            a1 += (fb - centre) * (fab - fa);
            at += (fa - fab) * (fa - fab);
        }
        s1[i] = a1 / static_cast<double>(n) / var;
        st[i] = 0.5 * at / static_cast<double>(n) / var;
    }
    if (mean_out) *mean_out = mean;
    if (var_out) *var_out = var;
}

// A design that only names the factors (SweepSource reads names; values come per call).
class FactorNames : public DesignSource {
public:
    explicit FactorNames(const std::vector<Factor>& f) {
        for (const auto& x : f) names_.push_back(x.name);
    }
    std::size_t size() const override { return 0; }
    void point(std::size_t i, double*) const override { check_index(i); }
};

}   // namespace

void SensitivityOptions::validate() const {
    if (n < 2) throw InputError("n: " + std::to_string(n) + " must be >= 2 (base sample rows)");
    if (n > (std::size_t{1} << 31)) throw InputError("n: " + std::to_string(n) + " must be <= 2^31");
    if (seed > kMaxSeed) throw InputError("seed: " + std::to_string(seed) + " must be in [0, 2^63 - 1]");
    if (bootstrap == 1 || bootstrap > 1000000)
        throw InputError("bootstrap: " + std::to_string(bootstrap) + " must be 0 (no intervals) or in [2, 1000000]");
    if (!(confidence > 0 && confidence < 1))
        throw InputError("confidence: " + detail::fmt(confidence) + " must be in (0, 1)");
    if (skip > (std::size_t{1} << 31)) throw InputError("skip: " + std::to_string(skip) + " must be <= 2^31");
    parallel.validate();
}

void sobol_estimates(SobolIndices& r, std::size_t bootstrap, double confidence, std::uint64_t seed) {
    const std::size_t n = r.n, d = r.names.size();
    if (n < 2 || r.yA.size() != n || r.yB.size() != n || r.yAB.size() != n * d)
        throw InputError("sobol_estimates: outputs do not match n = " + std::to_string(n) + " and " +
                         std::to_string(d) + " factors");
    // S1's numerator mean(f(B) (f(A_B^i) - f(A))) is taken on outputs centred by their mean over
    // all n (d + 2) evaluations, as SALib does (it standardizes them first). Same expectation,
    // but the estimate no longer depends on adding a constant to f: uncentred, its variance grows
    // with mean^2 / variance (a PK metric of mean 72 and sd 7.6 gave a 95 % half-width of 1.5).
    double total = 0.0;
    for (double y : r.yA) total += y;
    for (double y : r.yB) total += y;
    for (double y : r.yAB) total += y;
    const double centre = total / static_cast<double>(n * (d + 2));
    estimate(r, nullptr, centre, r.S1, r.ST, &r.mean, &r.variance);
    if (!(r.variance > 0))
        throw InputError("sensitivity: the output is constant over the sample (variance " + detail::fmt(r.variance) +
                         "); Sobol' indices are undefined: widen the factors or choose another metric");
    const double nan = std::numeric_limits<double>::quiet_NaN();
    r.S1_conf.assign(d, nan);
    r.ST_conf.assign(d, nan);
    if (bootstrap == 0) return;
    std::vector<double> sum1(d, 0.0), sq1(d, 0.0), sumt(d, 0.0), sqt(d, 0.0);
    std::vector<std::size_t> idx(n);
    std::vector<double> s1, st;
    std::size_t used = 0;
    for (std::size_t b = 0; b < bootstrap; ++b) {
        RandomStream rng(seed, 0, b, 0, StreamKind::bootstrap);
        for (auto& k : idx) k = static_cast<std::size_t>(rng.next_u64() % n);
        double var = 0.0;
        estimate(r, idx.data(), centre, s1, st, nullptr, &var);
        if (!(var > 0)) continue;   // a resample of equal rows has no variance: no estimate from it
        ++used;
        for (std::size_t i = 0; i < d; ++i) {
            sum1[i] += s1[i];
            sq1[i] += s1[i] * s1[i];
            sumt[i] += st[i];
            sqt[i] += st[i] * st[i];
        }
    }
    if (used < 2) return;
    const double z = normal_quantile(0.5 + confidence / 2);
    const double m = static_cast<double>(used);
    for (std::size_t i = 0; i < d; ++i) {
        r.S1_conf[i] = z * std::sqrt(std::max(0.0, (sq1[i] - sum1[i] * sum1[i] / m) / (m - 1)));
        r.ST_conf[i] = z * std::sqrt(std::max(0.0, (sqt[i] - sumt[i] * sumt[i] / m) / (m - 1)));
    }
}

SobolIndices sobol_indices(const std::vector<Factor>& factors, const ScalarFunction& f, const SensitivityOptions& o) {
    o.validate();
    const std::size_t d = factors.size();
    if (d == 0) throw InputError("sensitivity: no factors");
    if (2 * d > kSobolMaxDimensions)
        throw InputError("sensitivity: " + std::to_string(d) + " factors; at most " +
                         std::to_string(kSobolMaxDimensions / 2) + " (the Sobol' base sample has 2 per factor)");
    for (std::size_t i = 0; i < d; ++i) {
        factors[i].distribution.validate("factor " + factors[i].name);
        for (std::size_t j = 0; j < i; ++j)
            if (factors[j].name == factors[i].name)
                throw InputError("sensitivity: factor '" + factors[i].name + "' is given twice");
    }
    SobolIndices r;
    r.n = o.n;
    for (const auto& fa : factors) r.names.push_back(fa.name);
    const std::size_t n = o.n;
    const SobolSequence seq(2 * d, o.scramble, o.seed);
    r.A.resize(n * d);
    r.B.resize(n * d);
    std::vector<double> u(2 * d);
    for (std::size_t k = 0; k < n; ++k) {
        seq.point(k + o.skip, u.data());
        for (std::size_t i = 0; i < d; ++i) {
            try {
                r.A[k * d + i] = factors[i].distribution.quantile(u[i]);
                r.B[k * d + i] = factors[i].distribution.quantile(u[d + i]);
            } catch (const InputError& e) {
                throw InputError("sensitivity: factor " + factors[i].name + ", sample row " + std::to_string(k) + ": " +
                                 e.what());
            }
        }
    }
    r.yA.assign(n, 0.0);
    r.yB.assign(n, 0.0);
    r.yAB.assign(n * d, 0.0);
    const std::size_t per_row = d + 2;
    r.evaluations = n * per_row;
    parallel_for(0, r.evaluations, o.parallel, [&](std::size_t b, std::size_t e) {
        std::vector<double> x(d);
        for (std::size_t j = b; j < e; ++j) {
            const std::size_t k = j / per_row, which = j % per_row;   // 0: A, 1..d: A_B^(which-1), d+1: B
            const double* a = &r.A[k * d];
            double* out;
            if (which == 0) {
                std::copy(a, a + d, x.begin());
                out = &r.yA[k];
            } else if (which == d + 1) {
                std::copy(&r.B[k * d], &r.B[k * d] + d, x.begin());
                out = &r.yB[k];
            } else {
                std::copy(a, a + d, x.begin());
                x[which - 1] = r.B[k * d + which - 1];
                out = &r.yAB[k * d + which - 1];
            }
            auto values = [&] {
                std::string vals;
                for (std::size_t i = 0; i < d; ++i) vals += (i ? ", " : "") + r.names[i] + " = " + detail::fmt(x[i]);
                return vals;
            };
            double y;
            try {
                y = f(x.data());
            } catch (const InputError& ex) {
                throw InputError("sensitivity: sample row " + std::to_string(k) + " (" + values() + "): " + ex.what());
            } catch (const SolverError& ex) {
                throw SolverError("sensitivity: sample row " + std::to_string(k) + " (" + values() + "): " + ex.what());
            }
            if (!std::isfinite(y)) {
                const std::string vals = values();
                throw SolverError("sensitivity: the output is " + detail::fmt(y) + " at sample row " +
                                  std::to_string(k) + " (" + vals + "); every evaluation must be finite");
            }
            *out = y;
        }
    });
    sobol_estimates(r, o.bootstrap, o.confidence, o.seed);
    return r;
}

SobolIndices pk_sensitivity(const Model& model, const Regimen& regimen, const OutputGrid& grid, const SimOptions& sim,
                            const std::vector<Factor>& factors, const PkSensitivitySpec& spec,
                            const SensitivityOptions& options) {
    sim.validate();
    grid.validate();
    regimen.validate();
    options.validate();
    const std::size_t q = metric_index(spec.metric);
    const MetricInfo& info = metric_registry()[q];
    MetricOptions mo = spec.metric_options;
    mo.terminal_phase = info.terminal_fit;
    if (info.threshold && std::isnan(mo.threshold))
        throw InputError("metric " + spec.metric + " needs a threshold (" + info.description + ")");
    mo.validate();
    for (const auto& f : factors)
        if (f.name != "weight" && f.name != "age" && f.name != "dose" && !model.has_parameter(f.name))
            throw InputError("factor '" + f.name + "' is neither a parameter of model '" + model.name +
                             "' nor weight, age or dose");
    // The output: given, or the model's first; checked on the base subject.
    LinearSystem typical = compile(model, spec.base);
    std::vector<std::string> outs;
    if (!spec.output.empty()) outs.push_back(spec.output);
    detail::select_outputs(typical, outs);
    const std::string output = typical.output_names.at(0);
    SimOptions effective = sim;
    effective.outputs = {output};
    const FactorNames names(factors);
    const SweepSource source(spec.base, regimen, names);
    auto f = [&](const double* x) {
        const SweepPoint p = source.point(0, x);
        const Trajectory tr = detail::simulate_prevalidated(model, p.regimen, grid, effective, p.subject);
        return metric_value(compute_metrics(tr, output, mo), q);
    };
    try {
        return sobol_indices(factors, f, options);
    } catch (const SolverError& e) {
        throw SolverError(output + "." + spec.metric + ": " + e.what());
    }
}

}   // namespace ketasim
