#include "ketasim/simulate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "inputs.hpp"
#include "core/text.hpp"
#include "ketasim/errors.hpp"
#include "ketasim/units.hpp"

namespace ketasim {

namespace {
using detail::fmt;
}   // namespace

const char* to_string(SolverKind s) { return s == SolverKind::exact ? "exact" : "ode"; }
const char* to_string(OdeMethod m) { return m == OdeMethod::dopri5 ? "dopri5" : "rosenbrock4"; }

SolverKind solver_from_string(const std::string& s) {
    if (s == "exact") return SolverKind::exact;
    if (s == "ode") return SolverKind::ode;
    throw InputError("solver: '" + s + "' is not a solver (accepted: exact, ode)");
}

OdeMethod ode_method_from_string(const std::string& s) {
    if (s == "dopri5") return OdeMethod::dopri5;
    if (s == "rosenbrock4") return OdeMethod::rosenbrock4;
    throw InputError("method: '" + s + "' is not an ODE method (accepted: dopri5, rosenbrock4)");
}

void SimOptions::validate() const {
    // Bounds (see the SimOptions comment in simulate.hpp): looser tolerances let the error
    // controller accept steps whose error is as large as the solution itself (rtol 0.5 gave
    // Ce = -191,820 ng/mL, issue 9), tighter ones than 1e-14 ask for less than double rounding.
    if (!(std::isfinite(rtol) && rtol >= kMinRtol && rtol <= kMaxRtol))
        throw InputError("SimOptions.rtol: " + fmt(rtol) + " must be in [" + fmt(kMinRtol) + ", " + fmt(kMaxRtol) +
                         "]");
    if (!(std::isfinite(atol) && atol > 0 && atol <= kMaxAtol))
        throw InputError("SimOptions.atol: " + fmt(atol) + " must be in (0, " + fmt(kMaxAtol) +
                         "] (mg for amounts, ng/mL for effect-site states)");
    if (max_steps < 1) throw InputError("SimOptions.max_steps: " + std::to_string(max_steps) + " must be >= 1");
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        if (outputs[i].empty()) throw InputError("SimOptions.outputs[" + std::to_string(i) + "]: empty output name");
        for (std::size_t j = 0; j < i; ++j)
            if (outputs[j] == outputs[i])
                throw InputError("SimOptions.outputs[" + std::to_string(i) + "]: '" + outputs[i] + "' is listed twice");
    }
}

namespace detail {
// Negative values down to this fraction of an output's own maximum are rounding noise around a
// true zero (an emptied depot, an output before its first dose reaches it) and are set to 0.
// It is the exact solver's documented accuracy (tests/cpp/tolerances.hpp kExactRtol: cond(V) <
// 1e4 times eps per step, over up to ~1e3 steps); anything more negative is a wrong number.
// The ODE solver may in addition undershoot by its own error: rtol times the scale, plus atol
// (per state, times the output's coefficients) with a factor 10 for global accumulation.
constexpr double kNegativeNoise = 1e-9;

namespace {
struct RowScan {
    double lowest;    // min(0, lowest value)
    bool nonfinite;   // some value is NaN or infinite
};

RowScan scan_row(const double* p, std::size_t nt) {
    // One branch-free pass in double arithmetic only, four independent lanes, packed where
    // SSE2 is available (Eigen's allFinite() is not vectorized and
    // minCoeff() was one dependent compare chain: 6-9 us of a 45 us simulation, issue 12):
    // the lowest value, and a sum of v * 0, which is 0 for finite v and NaN otherwise.
    // Starting the minima at 0 is enough: only a negative lowest value is looked at.
    double lo[4] = {0.0, 0.0, 0.0, 0.0}, nf[4] = {0.0, 0.0, 0.0, 0.0};
    std::size_t i = 0;
#if defined(__SSE2__)
    // GCC does not vectorize these reductions without -ffast-math; _mm_min_pd(a, b) is
    // a < b ? a : b per lane, the same as the scalar loop below.
    __m128d lo0 = _mm_setzero_pd(), lo1 = _mm_setzero_pd(), nf0 = _mm_setzero_pd(), nf1 = _mm_setzero_pd();
    const __m128d zero = _mm_setzero_pd();
    for (; i + 4 <= nt; i += 4) {
        const __m128d v0 = _mm_loadu_pd(p + i), v1 = _mm_loadu_pd(p + i + 2);
        lo0 = _mm_min_pd(v0, lo0);
        lo1 = _mm_min_pd(v1, lo1);
        nf0 = _mm_add_pd(nf0, _mm_mul_pd(v0, zero));
        nf1 = _mm_add_pd(nf1, _mm_mul_pd(v1, zero));
    }
    _mm_storeu_pd(lo, lo0);
    _mm_storeu_pd(lo + 2, lo1);
    _mm_storeu_pd(nf, nf0);
    _mm_storeu_pd(nf + 2, nf1);
#else
    for (; i + 4 <= nt; i += 4)
        for (int q = 0; q < 4; ++q) {
            const double v = p[i + q];
            lo[q] = v < lo[q] ? v : lo[q];
            nf[q] += v * 0.0;
        }
#endif
    for (; i < nt; ++i) {
        lo[0] = p[i] < lo[0] ? p[i] : lo[0];
        nf[0] += p[i] * 0.0;
    }
    return {std::min(std::min(lo[0], lo[1]), std::min(lo[2], lo[3])), !((nf[0] + nf[1]) + (nf[2] + nf[3]) == 0.0)};
}

[[noreturn]] void not_finite(const std::string& name, double t, double v) {
    throw SolverError("output " + name + " at t = " + fmt(t) + " h is " + fmt(v) +
                      " (not finite: a dose, rate or parameter beyond double precision?)");
}

// The sum of |C| of output k: the scale of rounding per mg of drug in the system (1 for amounts).
double output_coef(const LinearSystem& sys, Eigen::Index k) {
    return k < sys.C.rows() ? sys.C.row(k).cwiseAbs().sum() : 1.0;
}

// The rounding allowance for the negative values of an output whose values span [lowest, highest].
// Rounding in any state is relative to the drug in the whole system, not to that state's own
// peak: a depot that only ever holds 1e-15 mg of a 100 mg dose may read -3e-18 mg. So the scale
// is at least the total dose seen through this output's coefficients (mg for the amounts, ng/mL
// per mg for concentrations). Found by the property tests (A_depot).
double negative_allowance(double lowest, double highest, double dose_total_mg, double coef, const SimOptions& opt) {
    const double scale = std::max({-lowest, highest, dose_total_mg * coef});
    double tol = kNegativeNoise * scale;
    if (opt.solver == SolverKind::ode) tol += opt.rtol * scale + 10.0 * opt.atol * coef;
    return tol;
}

[[noreturn]] void below_allowance(const std::string& name, const std::string& unit, double t, double v, double tol) {
    throw SolverError("output " + name + " at t = " + fmt(t) + " h is " + fmt(v) + " " + unit + ", below -" + fmt(tol) +
                      " (the rounding allowance); the solver lost accuracy");
}
}   // namespace

void check_outputs(Trajectory& tr, const LinearSystem& sys, const SimOptions& opt, const OutputScan* solver_scan) {
    // The solver saw every value finite and >= 0 while writing them: nothing to check or clamp.
    if (solver_scan && solver_scan->clean()) return;
    const Eigen::Index nt = tr.values.cols();
    for (Eigen::Index k = 0; k < tr.values.rows(); ++k) {
        auto row = tr.values.row(k);
        const RowScan scan = scan_row(row.data(), static_cast<std::size_t>(nt));
        if (scan.nonfinite)
            for (Eigen::Index j = 0; j < nt; ++j)
                if (!std::isfinite(row[j]))
                    not_finite(tr.names[static_cast<std::size_t>(k)], tr.time[static_cast<std::size_t>(j)], row[j]);
        if (nt == 0) continue;
        if (scan.lowest >= 0.0) continue;   // the usual case
        const double tol = negative_allowance(scan.lowest, row.maxCoeff(), tr.dose_total_mg, output_coef(sys, k), opt);
        for (Eigen::Index j = 0; j < nt; ++j) {
            const double v = row[j];
            if (v >= 0) continue;
            if (-v <= tol) {
                row[j] = 0.0;
                continue;
            }
            below_allowance(tr.names[static_cast<std::size_t>(k)], tr.units[static_cast<std::size_t>(k)],
                            tr.time[static_cast<std::size_t>(j)], v, tol);
        }
    }
}

namespace {
// Metrics of the exact solver's output blocks as they come (simulate_metrics), with
// check_outputs' rules: a non-finite value is an error at once; negative values are set to 0
// for the metrics and remembered, and checked against the allowance (which needs the output's
// highest value) at the end. The metrics are those of the checked trajectory, bitwise.
class MetricsSink final : public OutputBlockSink {
public:
    MetricsSink(const LinearSystem& sys, const std::vector<double>& times, const MetricOptions& mo,
                double dose_total_mg, const SimOptions& opt)
        : sys_(sys), times_(times), dose_total_mg_(dose_total_mg), opt_(opt) {
        const std::size_t n_out = static_cast<std::size_t>(sys.C.rows());
        acc_.reserve(n_out);
        for (std::size_t k = 0; k < n_out; ++k) {
            acc_.emplace_back(mo, times.back());
            acc_.back().reserve(times.data(), times.size());
        }
        negatives_.resize(n_out);
        lowest_.assign(n_out, 0.0);
    }
    void block(double* values, std::size_t stride, std::size_t begin, std::size_t end) override {
        check_and_add(values, stride, begin, end, false);
    }
    void scanned_block(double* values, std::size_t stride, std::size_t begin, std::size_t end,
                       const OutputScan& scan) override {
        check_and_add(values, stride, begin, end, scan.clean());
    }
    // `clean`: the solver saw every value of the block finite and >= 0 (no row scan needed).
    void check_and_add(double* values, std::size_t stride, std::size_t begin, std::size_t end, bool clean) {
        const std::size_t n = end - begin;
        for (std::size_t k = 0; k < acc_.size(); ++k) {
            double* row = values + k * stride;
            const RowScan scan = clean ? RowScan{0.0, false} : scan_row(row, n);
            if (scan.nonfinite)
                for (std::size_t j = 0; j < n; ++j)
                    if (!std::isfinite(row[j])) not_finite(sys_.output_names[k], times_[begin + j], row[j]);
            if (scan.lowest < 0.0) {
                lowest_[k] = std::min(lowest_[k], scan.lowest);
                for (std::size_t j = 0; j < n; ++j)
                    if (row[j] < 0) {
                        negatives_[k].emplace_back(times_[begin + j], row[j]);
                        row[j] = 0.0;
                    }
            }
            acc_[k].add(times_.data() + begin, row, n);
        }
    }
    std::vector<Metrics> finish() {
        std::vector<Metrics> out;
        out.reserve(acc_.size());
        for (std::size_t k = 0; k < acc_.size(); ++k) {
            out.push_back(acc_[k].finish());
            if (negatives_[k].empty()) continue;
            // The highest value of the checked row is cmax (0 if nothing was positive, which
            // changes no allowance: the scale is at least -lowest > 0).
            const double tol = negative_allowance(lowest_[k], out.back().cmax, dose_total_mg_,
                                                  output_coef(sys_, static_cast<Eigen::Index>(k)), opt_);
            for (const auto& [t, v] : negatives_[k])
                if (-v > tol) below_allowance(sys_.output_names[k], sys_.output_units[k], t, v, tol);
        }
        return out;
    }

private:
    const LinearSystem& sys_;
    const std::vector<double>& times_;
    double dose_total_mg_;
    const SimOptions& opt_;
    std::vector<MetricAccumulator> acc_;
    std::vector<std::vector<std::pair<double, double>>> negatives_;   // (t, value) per output
    std::vector<double> lowest_;
};
}   // namespace

// Keeps only the outputs named in `names` (in that order); InputError names an unknown one.
void select_outputs(LinearSystem& sys, const std::vector<std::string>& names) {
    if (names.empty()) return;
    Eigen::MatrixXd C(static_cast<Eigen::Index>(names.size()), sys.C.cols());
    std::vector<std::string> units;
    for (std::size_t i = 0; i < names.size(); ++i) {
        std::size_t k = 0;
        while (k < sys.output_names.size() && sys.output_names[k] != names[i]) ++k;
        if (k == sys.output_names.size()) {
            std::string all;
            for (const auto& n : sys.output_names) all += (all.empty() ? "" : ", ") + n;
            throw InputError("SimOptions.outputs[" + std::to_string(i) + "]: '" + names[i] +
                             "' is not an output of the model (outputs: " + all + ")");
        }
        C.row(static_cast<Eigen::Index>(i)) = sys.C.row(static_cast<Eigen::Index>(k));
        units.push_back(sys.output_units[k]);
    }
    sys.C = std::move(C);
    sys.output_names = names;
    sys.output_units = std::move(units);
}
}   // namespace detail

OutputGrid OutputGrid::uniform(double t0, double t1, double dt) {
    if (!(std::isfinite(t0) && std::isfinite(t1) && t0 >= 0 && t1 >= t0))
        throw InputError("output grid: start " + fmt(t0) + " h and end " + fmt(t1) +
                         " h must satisfy 0 <= start <= end");
    if (!(std::isfinite(dt) && dt > 0)) throw InputError("output grid: step " + fmt(dt) + " h must be > 0");
    const double n = std::floor((t1 - t0) / dt + 1e-9);
    if (n > 5e7) throw InputError("output grid: " + fmt(n) + " points is more than 5e7; use a larger step");
    OutputGrid g;
    const long count = static_cast<long>(n);
    g.times.reserve(static_cast<std::size_t>(count + 2));
    for (long i = 0; i <= count; ++i) g.times.push_back(t0 + static_cast<double>(i) * dt);
    if (t1 - g.times.back() > 1e-9) g.times.push_back(t1);
    return g;
}

OutputGrid OutputGrid::at(std::vector<double> times) {
    OutputGrid g;
    g.times = std::move(times);
    g.validate();
    return g;
}

void OutputGrid::validate() const {
    if (times.empty()) throw InputError("output grid: no output times");
    // Fast pass, branch-free so it vectorizes (simulate() runs it on every call; the loop with
    // its per-element branches took 4 us for 4,033 times, issue 12). Strictly increasing times
    // from a first time >= 0 up to a finite last time are all finite and >= 0, and a NaN fails
    // a comparison, so this accepts exactly the grids the loop below accepts; the loop only
    // runs to name the first offending time.
    const double* t = times.data();
    const std::size_t n = times.size();
    unsigned bad = !(t[0] >= 0) | !std::isfinite(t[n - 1]);
    std::size_t i = 1;
#if defined(__SSE2__)
    // Two comparisons per instruction (GCC did not vectorize the scalar loop, still 2.4 us of a
    // 27 us simulate() call, issue 12); cmpgt is false for NaN, as the scalar test.
    __m128d ok0 = _mm_castsi128_pd(_mm_set1_epi32(-1)), ok1 = ok0;
    for (; i + 4 <= n; i += 4) {
        ok0 = _mm_and_pd(ok0, _mm_cmpgt_pd(_mm_loadu_pd(t + i), _mm_loadu_pd(t + i - 1)));
        ok1 = _mm_and_pd(ok1, _mm_cmpgt_pd(_mm_loadu_pd(t + i + 2), _mm_loadu_pd(t + i + 1)));
    }
    bad |= static_cast<unsigned>(_mm_movemask_pd(_mm_and_pd(ok0, ok1)) != 3);
#endif
    for (; i < n; ++i) bad |= !(t[i] > t[i - 1]);
    if (!bad) return;
    for (std::size_t i = 0; i < times.size(); ++i) {
        if (!(std::isfinite(times[i]) && times[i] >= 0))
            throw InputError("output grid: time[" + std::to_string(i) + "] = " + fmt(times[i]) +
                             " h must be finite and >= 0");
        if (i > 0 && !(times[i] > times[i - 1]))
            throw InputError("output grid: times must increase strictly; time[" + std::to_string(i) +
                             "] = " + fmt(times[i]) + " h follows " + fmt(times[i - 1]) + " h");
    }
}

int Trajectory::index(const std::string& name) const {
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == name) return static_cast<int>(i);
    std::string all;
    for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
    throw InputError("trajectory: no output '" + name + "' (outputs: " + all + ")");
}

bool Trajectory::has(const std::string& name) const {
    for (const auto& n : names)
        if (n == name) return true;
    return false;
}

Eigen::Map<const Eigen::VectorXd> Trajectory::operator[](const std::string& name) const {
    const int i = index(name);
    return Eigen::Map<const Eigen::VectorXd>(values.row(i).data(), values.cols());
}

namespace {
Trajectory simulate_selected(const LinearSystem& sys, const Regimen& regimen, const OutputGrid& grid,
                             const SimOptions& opt, double weight_kg) {
    const detail::InputSchedule in = detail::build_inputs(sys, regimen, weight_kg);
    // The grid's own times unless event times are merged in (no copy in the common case).
    std::vector<double> merged;
    if (opt.include_event_times) merged = detail::output_times(grid, in, opt);
    const std::vector<double>& times = opt.include_event_times ? merged : grid.times;
    detail::OutputScan scan;   // the exact solver's, made while it writes the outputs
    bool scanned = false;
    Trajectory tr = opt.solver == SolverKind::exact ? detail::simulate_exact(sys, in, times, opt, scan, scanned)
                                                    : detail::simulate_ode(sys, in, times, opt);
    tr.dose_total_mg = in.total_mg;
    tr.dose_times = in.dose_times;
    tr.last_dose_time = regimen.last_time();
    detail::check_outputs(tr, sys, opt, scanned ? &scan : nullptr);
    return tr;
}
}   // namespace

Trajectory simulate(const LinearSystem& sys, const Regimen& regimen, const OutputGrid& grid, const SimOptions& opt) {
    opt.validate();
    grid.validate();
    if (opt.outputs.empty()) return simulate_selected(sys, regimen, grid, opt, sys.weight_kg);
    LinearSystem selected = sys;
    detail::select_outputs(selected, opt.outputs);
    return simulate_selected(selected, regimen, grid, opt, sys.weight_kg);
}

namespace detail {
Trajectory simulate_system(const LinearSystem& sys, const Regimen& regimen, const OutputGrid& grid,
                           const SimOptions& opt) {
    return simulate_selected(sys, regimen, grid, opt, sys.weight_kg);
}

std::vector<Metrics> simulate_metrics(const LinearSystem& sys, const Regimen& regimen, const OutputGrid& grid,
                                      const SimOptions& opt, const MetricOptions& options) {
    MetricOptions mo = options;
    if (std::isnan(mo.last_dose_time)) mo.last_dose_time = regimen.last_time();
    std::vector<Metrics> out;
    if (opt.solver != SolverKind::exact || opt.output_amounts) {
        const Trajectory tr = simulate_selected(sys, regimen, grid, opt, sys.weight_kg);
        for (Eigen::Index k = 0; k < tr.values.rows(); ++k)
            out.push_back(compute_metrics(tr.time, tr.values.row(k).data(), mo));
        return out;
    }
    const InputSchedule in = build_inputs(sys, regimen, sys.weight_kg);
    std::vector<double> merged;
    if (opt.include_event_times) merged = output_times(grid, in, opt);
    const std::vector<double>& times = opt.include_event_times ? merged : grid.times;
    MetricsSink sink(sys, times, mo, in.total_mg, opt);
    simulate_exact_blocks(sys, in, times, opt, sink);
    return sink.finish();
}

Trajectory simulate_prevalidated(const Model& model, const Regimen& regimen, const OutputGrid& grid,
                                 const SimOptions& opt, const Subject& subject) {
    LinearSystem sys = compile(model, subject);
    select_outputs(sys, opt.outputs);
    return simulate_selected(sys, regimen, grid, opt, subject.weight_kg);
}
}   // namespace detail

Trajectory simulate(const Model& model, const Regimen& regimen, const OutputGrid& grid, const SimOptions& opt,
                    const Subject& subject) {
    opt.validate();
    grid.validate();
    return detail::simulate_prevalidated(model, regimen, grid, opt, subject);
}

namespace {
std::string trim_ws(const std::string& s) {
    const auto a = s.find_first_not_of(" \t");
    if (a == std::string::npos) return "";
    return s.substr(a, s.find_last_not_of(" \t") - a + 1);
}
}   // namespace

namespace {
void require_parameter(const Model& model, const std::string& name, const std::string& where,
                       const std::string& shown) {
    if (!model.has_parameter(name)) {
        std::vector<std::string> names;
        for (const auto& p : model.parameters) names.push_back(p.name);
        const std::string near = closest_name(name, names);
        throw InputError(ErrorContext{"", 0, where, shown,
                                      "names no parameter of model '" + model.name + "'" +
                                          (near.empty() ? std::string() : " (did you mean " + near + "?)") +
                                          "; see ketasim show-model " + model.name});
    }
}
}   // namespace

double parse_parameter_override_value(const Model& model, const std::string& name, const std::string& value,
                                      const std::string& where) {
    require_parameter(model, name, where, name);
    const Parameter& p = model.parameter(name);
    const std::string key = where + " " + name;
    const std::string v = trim_ws(value);
    // A plain number: the file unit.
    {
        char* end = nullptr;
        const double x = std::strtod(v.c_str(), &end);
        if (end != v.c_str() && *end == '\0') {
            if (!std::isfinite(x)) throw InputError(ErrorContext{"", 0, key, value, "is not a finite number"});
            return x;
        }
    }
    // A number with a unit: converted into the file unit (same dimension, same per-kg-ness).
    UnitInfo file_unit;
    try {
        file_unit = parse_unit(p.unit);
    } catch (const InputError&) {
        throw InputError(ErrorContext{"", 0, key, value,
                                      "has a unit, but parameter '" + name + "' is in '" + p.unit +
                                          "', which takes a plain number in that unit"});
    }
    const std::string sp = v.substr(0, v.find_first_of(" \t"));
    const std::string unit = v.size() > sp.size() ? trim_ws(v.substr(sp.size())) : std::string();
    char* end = nullptr;
    const double x = std::strtod(sp.c_str(), &end);
    if (sp.empty() || end == sp.c_str() || *end != '\0' || unit.empty())
        throw InputError(ErrorContext{"", 0, key, value,
                                      "must be a number in the parameter's unit (" + p.unit +
                                          ") or a number and a unit, "
                                          "e.g. '" +
                                          name + "=2 " + p.unit + "'"});
    if (!std::isfinite(x)) throw InputError(ErrorContext{"", 0, key, value, "is not a finite number"});
    UnitInfo given;
    try {
        given = parse_unit(unit);
    } catch (const InputError&) {
        throw InputError(ErrorContext{
            "", 0, key, value, "has an unknown unit '" + unit + "' (parameter '" + name + "' is in " + p.unit + ")"});
    }
    if (given.dimension != file_unit.dimension || given.per_kg != file_unit.per_kg)
        throw InputError(ErrorContext{"", 0, key, value,
                                      "has unit '" + unit + "' of dimension " + to_string(given.dimension) +
                                          (given.per_kg ? " per kg" : "") + "; parameter '" + name + "' is in " +
                                          p.unit + " (" + to_string(file_unit.dimension) +
                                          (file_unit.per_kg ? " per kg" : "") + ")"});
    if (unit == p.unit) return x;
    return given.to_canonical(x) / file_unit.to_canonical(1.0);
}

std::pair<std::string, double> parse_parameter_override(const Model& model, const std::string& text,
                                                        const std::string& where) {
    const auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0)
        throw InputError(ErrorContext{"", 0, where, text,
                                      "must look like NAME=VALUE (in the parameter's file unit) or NAME=VALUE UNIT"});
    const std::string name = trim_ws(text.substr(0, eq));
    require_parameter(model, name, where, text);
    return {name, parse_parameter_override_value(model, name, text.substr(eq + 1), where)};
}

}   // namespace ketasim
