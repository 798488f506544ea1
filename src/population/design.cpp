// Designs as point sources addressed by index: distributions (inverse CDFs), factor parsing,
// Sobol' sequences (Joe & Kuo 2008 direction numbers), Latin hypercubes and full grids.
#include "ketasim/design.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>

#include "core/text.hpp"
#include "ketasim/errors.hpp"
#include "ketasim/model.hpp"
#include "ketasim/population.hpp"
#include "population/joe_kuo.hpp"

namespace ketasim {

namespace {

using detail::fmt;
using detail::trim;
constexpr double kInf = std::numeric_limits<double>::infinity();

std::string lower_case(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// SplitMix64 finalizer: the round function of the Feistel permutation.
std::uint64_t mix64(std::uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// A pseudo-random permutation of [0, 2^(2h)) (4-round balanced Feistel network keyed by `key`),
// restricted to [0, n) by cycle walking (Black & Rogaway 2002): a bijection of [0, n) evaluated
// per index in O(1) memory. 2^(2h) < 4n, so fewer than 4 walks are expected.
std::uint64_t permute(std::uint64_t x, std::uint64_t n, int h, std::uint64_t key) {
    const std::uint64_t mask = (std::uint64_t{1} << h) - 1;
    do {
        std::uint64_t l = x >> h, r = x & mask;
        for (std::uint64_t round = 0; round < 4; ++round) {
            const std::uint64_t f = mix64(key ^ mix64(r ^ (round << 56))) & mask;
            const std::uint64_t nl = r;
            r = l ^ f;
            l = nl;
        }
        x = (l << h) | r;
    } while (x >= n);
    return x;
}

}   // namespace

const char* to_string(DistributionKind k) {
    switch (k) {
        case DistributionKind::uniform:
            return "uniform";
        case DistributionKind::log_uniform:
            return "loguniform";
        case DistributionKind::normal:
            return "normal";
        case DistributionKind::lognormal:
            return "lognormal";
        case DistributionKind::choice:
            return "choice";
    }
    return "?";
}

// ---- distributions ----------------------------------------------------------------------------

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

double normal_quantile(double p) {
    if (!(p > 0.0 && p < 1.0)) {
        if (p == 0.0) return -kInf;
        if (p == 1.0) return kInf;
        throw InputError("normal_quantile: p = " + fmt(p) + " must be in [0, 1]");
    }
    // P. J. Acklam, "An algorithm for computing the inverse normal cumulative distribution
    // function" (2003): relative error 1.15e-9, then one Halley step on erfc.
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                               1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01, -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    constexpr double p_low = 0.02425;
    double x;
    if (p < p_low) {
        const double q = std::sqrt(-2 * std::log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p <= 1 - p_low) {
        const double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    } else {
        const double q = std::sqrt(-2 * std::log1p(-p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    // Halley refinement; in the upper tail on the complement, which keeps its precision.
    // e = Phi(x) - p either way.
    const double e = p < 0.5 ? 0.5 * std::erfc(-x / std::sqrt(2.0)) - p : (1 - p) - 0.5 * std::erfc(x / std::sqrt(2.0));
    const double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
    return x - u / (1 + x * u / 2);
}

void Distribution::validate(const std::string& where) const {
    auto bad = [&](const std::string& field, double v, const std::string& rule) {
        throw InputError(where + ": " + to_string(kind) + " " + field + " = " + fmt(v) + " " + rule);
    };
    if (!std::isfinite(a))
        bad(kind == DistributionKind::normal      ? "mean"
            : kind == DistributionKind::lognormal ? "median"
                                                  : "lower",
            a, "must be finite");
    if (!std::isfinite(b))
        bad(kind == DistributionKind::normal      ? "sd"
            : kind == DistributionKind::lognormal ? "cv"
                                                  : "upper",
            b, "must be finite");
    if (kind == DistributionKind::choice) {
        if (choices.empty()) throw InputError(where + ": choice() needs at least one name");
        for (std::size_t i = 0; i < choices.size(); ++i)
            for (std::size_t j = 0; j < i; ++j)
                if (choices[i] == choices[j])
                    throw InputError(where + ": choice: '" + choices[i] + "' is given twice (each name once)");
        return;
    }
    if (std::isnan(lower)) bad("lower", lower, "must be a number");
    if (std::isnan(upper)) bad("upper", upper, "must be a number");
    switch (kind) {
        case DistributionKind::uniform:
        case DistributionKind::log_uniform:
            if (!(b > a)) bad("upper", b, "must be > lower (" + fmt(a) + ")");
            if (kind == DistributionKind::log_uniform && !(a > 0)) bad("lower", a, "must be > 0 (log scale)");
            if (lower != -kInf || upper != kInf)
                throw InputError(where + ": " + to_string(kind) +
                                 " takes its range as its two arguments; lower=/upper= "
                                 "truncate only normal and lognormal");
            return;
        case DistributionKind::normal:
            if (!(b > 0)) bad("sd", b, "must be > 0");
            break;
        case DistributionKind::choice:   // returned above
            break;
        case DistributionKind::lognormal:
            if (!(a > 0)) bad("median", a, "must be > 0");
            if (!(b > 0 && b < 10)) bad("cv", b, "must be in (0, 10) (a fraction: 0.3 = 30 %)");
            if (lower < 0 && std::isfinite(lower)) bad("lower", lower, "must be >= 0 (a log-normal value is positive)");
            break;
    }
    if (!(upper > lower)) bad("upper", upper, "must be > lower (" + fmt(lower) + ")");
    // The truncated range must hold probability mass that double precision can resolve.
    const double pl = normal_cdf(kind == DistributionKind::normal ? (lower - a) / b
                                 : lower > 0 ? (std::log(lower) - std::log(a)) / std::sqrt(std::log1p(b * b))
                                             : -kInf);
    const double pu =
        normal_cdf(kind == DistributionKind::normal ? (upper - a) / b
                                                    : (std::log(upper) - std::log(a)) / std::sqrt(std::log1p(b * b)));
    if (!(pu - pl > 1e-12))
        throw InputError(where + ": " + to_string(kind) + " truncated to [" + fmt(lower) + ", " + fmt(upper) +
                         "] has no probability mass (" + fmt(pu - pl) +
                         "); the range must hold some of the distribution");
}

double Distribution::quantile(double u) const {
    if (!(u >= 0.0 && u <= 1.0)) throw InputError("distribution quantile: u = " + fmt(u) + " must be in [0, 1]");
    double x = 0;
    switch (kind) {
        case DistributionKind::choice: {
            // k equal strata of [0, 1); u = 1 (the closed end) belongs to the last.
            const std::size_t k = choices.size();
            if (k == 0) throw InputError("choice quantile: no choices");
            return static_cast<double>(std::min(static_cast<std::size_t>(u * static_cast<double>(k)), k - 1));
        }
        case DistributionKind::uniform:
            x = a + u * (b - a);
            return std::min(std::max(x, a), b);
        case DistributionKind::log_uniform:
            x = std::exp(std::log(a) + u * (std::log(b) - std::log(a)));
            return std::min(std::max(x, a), b);
        case DistributionKind::normal:
        case DistributionKind::lognormal: {
            const bool ln = kind == DistributionKind::lognormal;
            const double mu = ln ? std::log(a) : a, sd = ln ? std::sqrt(std::log1p(b * b)) : b;
            const double lo = ln ? (lower > 0 ? std::log(lower) : -kInf) : lower, hi = ln ? std::log(upper) : upper;
            const double pl = normal_cdf((lo - mu) / sd), pu = normal_cdf((hi - mu) / sd);
            const double z = normal_quantile(pl + u * (pu - pl));
            x = std::min(std::max(mu + sd * z, lo), hi);
            if (!std::isfinite(x))
                throw InputError(std::string(to_string(kind)) + " quantile at u = " + fmt(u) +
                                 " is infinite (an unbounded side): use a Sobol design with skip >= 1 or truncate");
            return ln ? std::exp(x) : x;
        }
    }
    return x;
}

// ---- factor parsing ---------------------------------------------------------------------------

std::string factor_unit(const std::string& name, const Model* model) {
    if (name == "weight") return "kg";
    if (name == "age") return "years";
    if (name == "dose") return "mg";
    if (name == "schedule") return "1";   // the index into the factor's choices
    if (model && model->has_parameter(name)) return model->parameter(name).unit;
    return "";
}

namespace {

// A value "5", "151 L/h", "30%" in the factor's unit.
double factor_value(const std::string& text, const std::string& name, const std::string& field, bool fraction,
                    const std::string& where, const Model* model) {
    const std::string t = trim(text);
    char* end = nullptr;
    const double v = std::strtod(t.c_str(), &end);
    if (t.empty() || end == t.c_str())
        throw InputError(ErrorContext{"", 0, where + " " + field, t, "is not a number (with an optional unit)"});
    if (!std::isfinite(v)) throw InputError(ErrorContext{"", 0, where + " " + field, t, "must be finite"});
    const std::string unit = trim(std::string(end));
    if (unit.empty()) return v;
    if (fraction) {
        if (unit == "%") return v / 100.0;
        throw InputError(ErrorContext{"", 0, where + " " + field, t, "is a fraction: give 0.3 or 30%"});
    }
    auto refuse = [&](const std::string& expected) {
        throw InputError(
            ErrorContext{"", 0, where + " " + field, t, "has unit '" + unit + "'; '" + name + "' takes " + expected});
    };
    if (name == "weight") {
        if (unit != "kg") refuse("kg");
        return v;
    }
    if (name == "age") {
        if (unit != "years" && unit != "year" && unit != "y" && unit != "yr") refuse("years");
        return v;
    }
    if (name == "dose") {
        const Dose d = parse_dose(t, where + " " + field, false);
        return d.amount;
    }
    if (!model || !model->has_parameter(name)) refuse("a bare number (no model to convert units for '" + name + "')");
    const Parameter& p = model->parameter(name);
    UnitInfo u;
    try {
        u = parse_unit(unit);
    } catch (const InputError& e) {
        throw InputError(where + " " + field + ": " + e.what());
    }
    if (u.dimension != p.unit_info.dimension || u.per_kg != p.unit_info.per_kg)
        refuse("a " + std::string(to_string(p.unit_info.dimension)) + (p.unit_info.per_kg ? " per kg" : "") +
               " (its file unit is " + p.unit + ")");
    return u.to_canonical(v) / p.unit_info.to_canonical(1.0);
}

}   // namespace

Factor parse_factor(const std::string& name_in, const std::string& text_in, const std::string& where,
                    const Model* model) {
    const std::string name = trim(name_in), text = trim(text_in);
    if (name.empty()) throw InputError(ErrorContext{"", 0, where, text_in, "needs a factor name: NAME=KIND(ARGS)"});
    {
        const auto open = text.find('(');
        const bool is_choice = open != std::string::npos && lower_case(trim(text.substr(0, open))) == "choice";
        if (is_choice && name != "schedule")
            throw InputError(ErrorContext{"", 0, where + " " + name, text,
                                          "choice(...) is for the schedule factor only (schedule=choice(NAME, ...)); "
                                          "'" +
                                              name + "' takes uniform, loguniform, normal or lognormal"});
        if (name == "schedule") {
            if (!is_choice || text.back() != ')')
                throw InputError(ErrorContext{"", 0, where + " schedule", text,
                                              "must look like choice(NAME, NAME, ...): schedules of the library "
                                              "(ketasim schedules), each equally likely"});
            Factor f;
            f.name = name;
            f.distribution.kind = DistributionKind::choice;
            const std::string inner = text.substr(open + 1, text.size() - open - 2);
            std::string cur;
            for (std::size_t i = 0; i <= inner.size(); ++i) {
                if (i == inner.size() || inner[i] == ',') {
                    const std::string c = trim(cur);
                    if (c.empty() && !(i == inner.size() && f.distribution.choices.empty() && trim(inner).empty()))
                        throw InputError(
                            ErrorContext{"", 0, where + " schedule", text, "has an empty name in its list"});
                    if (!c.empty()) f.distribution.choices.push_back(c);
                    cur.clear();
                } else {
                    cur += inner[i];
                }
            }
            if (f.distribution.choices.empty())
                throw InputError(ErrorContext{"", 0, where + " schedule", text,
                                              "lists no schedule: give at least one name, choice(NAME, ...)"});
            f.distribution.validate(where + " schedule");
            return f;
        }
    }
    if (model && name != "weight" && name != "age" && name != "dose" && !model->has_parameter(name)) {
        std::vector<std::string> names = {"weight", "age", "dose"};
        for (const auto& p : model->parameters) names.push_back(p.name);
        const std::string near = closest_name(name, names);
        throw InputError(ErrorContext{"", 0, where, name,
                                      "is neither a parameter of model '" + model->name + "' nor weight, age or dose" +
                                          (near.empty() ? "" : " (did you mean " + near + "?)")});
    }
    const auto open = text.find('(');
    if (open == std::string::npos || text.back() != ')')
        throw InputError(ErrorContext{"", 0, where + " " + name, text,
                                      "must look like KIND(ARGS): uniform(lower, upper), loguniform(lower, upper), "
                                      "normal(mean, sd), lognormal(median, cv); normal/lognormal also lower=, upper="});
    const std::string kind = lower_case(trim(text.substr(0, open)));
    Factor f;
    f.name = name;
    Distribution& d = f.distribution;
    std::vector<std::string> positional;
    if (kind == "uniform") {
        d.kind = DistributionKind::uniform;
        positional = {"lower", "upper"};
    } else if (kind == "loguniform" || kind == "log-uniform" || kind == "log_uniform") {
        d.kind = DistributionKind::log_uniform;
        positional = {"lower", "upper"};
    } else if (kind == "normal") {
        d.kind = DistributionKind::normal;
        positional = {"mean", "sd"};
    } else if (kind == "lognormal" || kind == "log-normal" || kind == "log_normal") {
        d.kind = DistributionKind::lognormal;
        positional = {"median", "cv"};
    } else {
        throw InputError(ErrorContext{"", 0, where + " " + name, kind,
                                      "is not a distribution (accepted: uniform, loguniform, normal, lognormal)"});
    }
    const bool bounded = d.kind == DistributionKind::uniform || d.kind == DistributionKind::log_uniform;
    const std::string inner = text.substr(open + 1, text.size() - open - 2);
    std::vector<std::string> args;
    std::string cur;
    for (char c : inner) {
        if (c == ',') {
            args.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    args.push_back(cur);
    std::map<std::string, std::string> given;
    std::size_t pos = 0;
    for (const auto& raw : args) {
        const std::string arg = trim(raw);
        if (arg.empty()) throw InputError(ErrorContext{"", 0, where + " " + name, text, "has an empty argument"});
        const auto eq = arg.find('=');
        std::string key, value;
        if (eq == std::string::npos) {
            if (!given.empty() && pos == 0)
                throw InputError(
                    ErrorContext{"", 0, where + " " + name, text, "gives an argument by position after one by name"});
            if (pos >= positional.size())
                throw InputError(ErrorContext{"", 0, where + " " + name, text,
                                              std::string(to_string(d.kind)) + " takes " +
                                                  std::to_string(positional.size()) + " arguments by position (" +
                                                  positional[0] + ", " + positional[1] + ")"});
            key = positional[pos++];
            value = arg;
        } else {
            key = lower_case(trim(arg.substr(0, eq)));
            value = arg.substr(eq + 1);
            pos = positional.size();   // no positional argument after a named one
            const bool known = std::find(positional.begin(), positional.end(), key) != positional.end() ||
                               (!bounded && (key == "lower" || key == "upper"));
            if (!known) {
                std::string accepted = positional[0] + ", " + positional[1] + (bounded ? "" : ", lower, upper");
                throw InputError(ErrorContext{
                    "", 0, where + " " + name, key,
                    "is not an argument of " + std::string(to_string(d.kind)) + " (accepted: " + accepted + ")"});
            }
        }
        if (!given.emplace(key, value).second)
            throw InputError(ErrorContext{"", 0, where + " " + name, text, "gives '" + key + "' twice"});
    }
    for (const auto& p : positional)
        if (!given.count(p))
            throw InputError(
                ErrorContext{"", 0, where + " " + name, text, std::string(to_string(d.kind)) + " needs " + p});
    const std::string w = where + " " + name;
    d.a = factor_value(given.at(positional[0]), name, positional[0], false, w, model);
    d.b = factor_value(given.at(positional[1]), name, positional[1], positional[1] == "cv", w, model);
    if (!bounded) {   // (for uniform/loguniform, lower and upper are the two arguments read above)
        if (given.count("lower")) d.lower = factor_value(given.at("lower"), name, "lower", false, w, model);
        if (given.count("upper")) d.upper = factor_value(given.at("upper"), name, "upper", false, w, model);
    }
    d.validate(w);
    return f;
}

Factor parse_factor(const std::string& text, const std::string& where, const Model* model) {
    const auto eq = text.find('=');
    const auto open = text.find('(');
    if (eq == std::string::npos || (open != std::string::npos && eq > open))
        throw InputError(ErrorContext{"", 0, where, text, "must look like NAME=KIND(ARGS), e.g. ka_n=uniform(1, 5)"});
    return parse_factor(text.substr(0, eq), text.substr(eq + 1), where, model);
}

// ---- Sobol' -------------------------------------------------------------------------------------

SobolSequence::SobolSequence(std::size_t dimensions, bool shift, std::uint64_t seed) : d_(dimensions) {
    if (d_ < 1 || d_ > kSobolMaxDimensions)
        throw InputError("Sobol sequence: " + std::to_string(d_) + " dimensions; must be in [1, " +
                         std::to_string(kSobolMaxDimensions) + "] (direction numbers embedded for 64)");
    v_.assign(d_ * 32, 0);
    // Dimension 1: v_k = 2^(32-k) (all m = 1).
    for (int k = 0; k < 32; ++k) v_[k] = std::uint32_t{1} << (31 - k);
    // Dimension j >= 2 (Bratley & Fox 1988, algorithm 659; Joe & Kuo's recurrence):
    // v_k = a_1 v_{k-1} ^ ... ^ a_{s-1} v_{k-s+1} ^ v_{k-s} ^ (v_{k-s} >> s).
    for (std::size_t j = 1; j < d_; ++j) {
        const detail::JoeKuoRow& row = detail::kJoeKuo[j - 1];
        const std::uint32_t s = row.s, a = row.a;
        std::uint32_t* v = &v_[j * 32];
        for (std::uint32_t k = 0; k < 32; ++k) {
            if (k < s) {
                v[k] = row.m[k] << (31 - k);
            } else {
                std::uint32_t x = v[k - s] ^ (v[k - s] >> s);
                for (std::uint32_t l = 1; l < s; ++l)
                    if ((a >> (s - 1 - l)) & 1u) x ^= v[k - l];
                v[k] = x;
            }
        }
    }
    shift_.assign(d_, 0);
    if (shift) {
        RandomStream rng(seed, 0, 0, 0, StreamKind::design);
        for (auto& s : shift_) s = static_cast<std::uint32_t>(rng.next_u64() >> 32);
    }
}

void SobolSequence::point(std::uint64_t i, double* out) const {
    if (i >= (std::uint64_t{1} << 32))
        throw InputError("Sobol sequence: point " + std::to_string(i) +
                         " is beyond the 2^32 points of 32-bit direction numbers");
    const std::uint64_t g = i ^ (i >> 1);
    for (std::size_t j = 0; j < d_; ++j) {
        std::uint32_t x = shift_[j];
        const std::uint32_t* v = &v_[j * 32];
        for (int k = 0; k < 32; ++k)
            if ((g >> k) & 1u) x ^= v[k];
        out[j] = static_cast<double>(x) * (1.0 / 4294967296.0);
    }
}

// ---- design sources ------------------------------------------------------------------------------

void DesignSource::check_index(std::size_t i) const {
    if (i >= size())
        throw InputError("design point " + std::to_string(i) + " is beyond the design's " + std::to_string(size()) +
                         " points");
}

GridDesign::GridDesign(std::vector<std::string> names, std::vector<std::vector<double>> levels)
    : levels_(std::move(levels)) {
    names_ = std::move(names);
    if (names_.size() != levels_.size())
        throw InputError("grid: " + std::to_string(names_.size()) + " names but " + std::to_string(levels_.size()) +
                         " level lists");
    constexpr std::size_t kMaxPoints = std::size_t{1} << 63;
    for (std::size_t j = 0; j < names_.size(); ++j) {
        if (levels_[j].empty()) throw InputError("grid: values of '" + names_[j] + "' must be a non-empty list");
        for (double v : levels_[j])
            if (!std::isfinite(v))
                throw InputError("grid: values of '" + names_[j] + "': " + fmt(v) + " must be finite");
        if (size_ > kMaxPoints / levels_[j].size())
            throw InputError("grid: more than 2^63 points (the product of the level counts); split the design");
        size_ *= levels_[j].size();
    }
}

void GridDesign::point(std::size_t i, double* values) const {
    check_index(i);
    for (std::size_t j = names_.size(); j-- > 0;) {
        const std::size_t n = levels_[j].size();
        values[j] = levels_[j][i % n];
        i /= n;
    }
}

LatinHypercubeDesign::LatinHypercubeDesign(std::vector<Factor> factors, std::size_t n, std::uint64_t seed)
    : factors_(std::move(factors)), n_(n), seed_(seed) {
    if (n_ < 1) throw InputError("Latin hypercube: n = " + std::to_string(n_) + " must be >= 1");
    if (n_ > (std::size_t{1} << 52))
        throw InputError("Latin hypercube: n = " + std::to_string(n_) +
                         " must be <= 2^52 (strata in double precision)");
    if (seed_ > kMaxSeed)
        throw InputError("Latin hypercube: seed " + std::to_string(seed_) + " must be in [0, 2^63 - 1]");
    if (factors_.empty()) throw InputError("Latin hypercube: no factors");
    for (const auto& f : factors_) {
        f.distribution.validate("factor " + f.name);
        names_.push_back(f.name);
    }
    half_bits_ = 1;
    while ((std::uint64_t{1} << (2 * half_bits_)) < n_) ++half_bits_;
}

void LatinHypercubeDesign::unit_point(std::size_t i, double* u) const {
    check_index(i);
    for (std::size_t j = 0; j < factors_.size(); ++j) {
        const std::uint64_t key = mix64(mix64(seed_ ^ 0x6c6873ULL) ^ j);   // "lhs"
        const std::uint64_t stratum = permute(i, n_, half_bits_, key);
        RandomStream rng(seed_, 0, i, j, StreamKind::design);
        // Jitter in [2^-33, 1 - 2^-33]: 32 bits and half a step, so stratum + jitter never rounds
        // onto a stratum boundary (for n < 2^20 the sum is exact).
        const double jitter = (static_cast<double>(rng.next_u64() >> 32) + 0.5) * (1.0 / 4294967296.0);
        u[j] = (static_cast<double>(stratum) + jitter) / static_cast<double>(n_);
    }
}

void LatinHypercubeDesign::point(std::size_t i, double* values) const {
    unit_point(i, values);
    for (std::size_t j = 0; j < factors_.size(); ++j) values[j] = factors_[j].distribution.quantile(values[j]);
}

SobolDesign::SobolDesign(std::vector<Factor> factors, std::size_t n, std::size_t skip, bool shift, std::uint64_t seed)
    : factors_(std::move(factors)), seq_(factors_.empty() ? 1 : factors_.size(), shift, seed), n_(n), skip_(skip) {
    if (factors_.empty()) throw InputError("Sobol design: no factors");
    if (n_ < 1) throw InputError("Sobol design: n = " + std::to_string(n_) + " must be >= 1");
    if (n_ + skip_ > (std::size_t{1} << 32) || skip_ > (std::size_t{1} << 32))
        throw InputError("Sobol design: n + skip = " + std::to_string(n_ + skip_) + " must be <= 2^32");
    for (const auto& f : factors_) {
        f.distribution.validate("factor " + f.name);
        names_.push_back(f.name);
    }
}

void SobolDesign::point(std::size_t i, double* values) const {
    check_index(i);
    seq_.point(i + skip_, values);
    for (std::size_t j = 0; j < factors_.size(); ++j) values[j] = factors_[j].distribution.quantile(values[j]);
}

}   // namespace ketasim
