// PD parameter files (models/pd/*.toml): value, unit, description and source side by side, with
// the same file:line, key, value, rule error style as the PK model loader.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/population_toml.hpp"
#include "io/toml_util.hpp"
#include "ketasim/io.hpp"
#include "ketasim/pd.hpp"
#include "ketasim/units.hpp"
#include "pd/pd_check.hpp"

namespace ketasim {

namespace {
using detail::pd_num;
using detail::pd_require;

std::vector<double> uncertainty_numbers(const toml::node& n, const std::string& file, const std::string& path) {
    using detail::at_line;
    const toml::array* a = n.as_array();
    if (!a) throw InputError(at_line(file, n) + ": " + path + ": must be a list of numbers");
    std::vector<double> out;
    for (const auto& e : *a) {
        const auto v = e.value<double>();
        if (!v) throw InputError(at_line(file, e) + ": " + path + ": every item must be a number");
        out.push_back(*v);
    }
    return out;
}

// Relative agreement required between an [uncertainty] estimate and the file's value: the
// estimates are written from the same fit, so anything larger means the table is stale.
constexpr double kUncertaintyEstimateRelTol = 1e-6;

PdUncertainty parse_uncertainty(const toml::table& root, const PdParameterSet& s, const std::string& file) {
    using namespace detail;
    PdUncertainty u;
    const toml::node* un = root.get("uncertainty");
    if (!un) return u;
    const std::string where = at_line(file, *un) + ": uncertainty";
    if (!un->is_table()) throw InputError(where + ": must be a table");
    const toml::table& t = *un->as_table();
    check_keys(t, {"method", "scale", "parameters", "estimate", "se", "correlation", "source"}, file, "uncertainty");
    u.line = static_cast<int>(un->source().begin.line);
    u.method = get_string(t, "method", file, "uncertainty", true);
    u.scale = get_string(t, "scale", file, "uncertainty", true);
    u.source = get_string(t, "source", file, "uncertainty", true);
    if (u.method != "laplace") throw InputError(where + ".method = '" + u.method + "': the only method is \"laplace\"");
    if (u.scale != "log")
        throw InputError(where + ".scale = '" + u.scale + "': the only scale is \"log\" (estimates are positive)");
    if (u.source.empty()) throw InputError(where + ".source: must not be empty");
    const toml::node* names = t.get("parameters");
    if (!names || !names->is_array()) throw InputError(where + ".parameters: required list of names");
    for (const auto& e : *names->as_array()) {
        const auto v = e.value<std::string>();
        if (!v) throw InputError(at_line(file, e) + ": uncertainty.parameters: every item must be a name");
        if (std::find(u.names.begin(), u.names.end(), *v) != u.names.end())
            throw InputError(at_line(file, e) + ": uncertainty.parameters: '" + *v + "' is listed twice");
        u.names.push_back(*v);
    }
    const std::size_t k = u.names.size();
    if (k == 0) throw InputError(where + ".parameters: must not be empty");
    // Two names of one block's spread (its .sd and .cv_percent) would draw it twice.
    for (std::size_t i = 0; i < k; ++i)
        for (std::size_t j = i + 1; j < k; ++j) {
            const std::string& a = u.names[i];
            const std::string& b = u.names[j];
            if (a.rfind("variability.", 0) == 0 && b.rfind("variability.", 0) == 0 &&
                a.substr(0, a.rfind('.')) == b.substr(0, b.rfind('.')))
                throw InputError(at_line(file, *names) + ": uncertainty.parameters: '" + a + "' and '" + b +
                                 "' name the same variability block (name its spread once)");
        }
    for (const char* key : {"estimate", "se", "correlation"})
        if (!t.get(key)) throw InputError(where + "." + key + ": required");
    u.estimate = uncertainty_numbers(*t.get("estimate"), file, "uncertainty.estimate");
    u.se = uncertainty_numbers(*t.get("se"), file, "uncertainty.se");
    for (const auto& [key, v] :
         {std::pair<const char*, const std::vector<double>*>{"estimate", &u.estimate}, {"se", &u.se}})
        if (v->size() != k)
            throw InputError(at_line(file, *t.get(key)) + ": uncertainty." + key + ": " + std::to_string(v->size()) +
                             " values for " + std::to_string(k) + " parameters (one per parameter)");
    // The file's current value of each name: the estimate must be it (a stale table is an error).
    for (std::size_t j = 0; j < k; ++j) {
        const std::string& n = u.names[j];
        const std::string w =
            at_line(file, *t.get("estimate")) + ": uncertainty.estimate[" + std::to_string(j) + "] (" + n + ")";
        if (!(std::isfinite(u.estimate[j]) && u.estimate[j] > 0))
            throw InputError(w + " = " + pd_num(u.estimate[j]) + ": must be finite and > 0 (log scale)");
        if (!(std::isfinite(u.se[j]) && u.se[j] >= 0))
            throw InputError(at_line(file, *t.get("se")) + ": uncertainty.se[" + std::to_string(j) + "] (" + n +
                             ") = " + pd_num(u.se[j]) + ": must be finite and >= 0");
        const double current = uncertainty_value(s, n, file, at_line(file, *names));
        if (std::abs(current - u.estimate[j]) > kUncertaintyEstimateRelTol * std::abs(current))
            throw InputError(w + " = " + pd_num(u.estimate[j]) + ": differs from the file's value " + pd_num(current) +
                             " (the table is stale: rerun the fit that wrote it)");
    }
    const toml::node* cn = t.get("correlation");
    const std::string cw = at_line(file, *cn) + ": uncertainty.correlation";
    if (!cn->is_array() || cn->as_array()->size() != k)
        throw InputError(cw + ": must be a " + std::to_string(k) + " x " + std::to_string(k) +
                         " matrix (list of rows)");
    u.correlation = Eigen::MatrixXd(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(k));
    for (std::size_t i = 0; i < k; ++i) {
        const std::vector<double> row = uncertainty_numbers(*cn->as_array()->get(i), file, "uncertainty.correlation");
        if (row.size() != k)
            throw InputError(cw + "[" + std::to_string(i) + "]: " + std::to_string(row.size()) + " values; expected " +
                             std::to_string(k));
        for (std::size_t j = 0; j < k; ++j)
            u.correlation(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = row[j];
    }
    for (Eigen::Index i = 0; i < u.correlation.rows(); ++i)
        for (Eigen::Index j = 0; j < u.correlation.cols(); ++j) {
            const double r = u.correlation(i, j);
            const std::string e = cw + "[" + std::to_string(i) + "][" + std::to_string(j) + "] = " + pd_num(r);
            if (!std::isfinite(r)) throw InputError(e + ": must be finite");
            if (i == j && r != 1.0) throw InputError(e + ": a correlation matrix has 1 on the diagonal");
            if (r != u.correlation(j, i))
                throw InputError(e + ": must equal [" + std::to_string(j) + "][" + std::to_string(i) + "] (symmetric)");
            if (i != j && !(std::abs(r) < 1.0)) throw InputError(e + ": must be in (-1, 1)");
        }
    Eigen::LLT<Eigen::MatrixXd> llt(u.correlation);
    if (llt.info() != Eigen::Success) throw InputError(cw + ": not positive definite");
    return u;
}

}   // namespace

namespace {

// Relative agreement required of a multi-parameter block's diagonal variances for one spread to
// name them: the files write the common variance once per diagonal entry (the same literal), so
// anything but rounding means the block has no common SD.
constexpr double kCommonVarianceRelTol = 1e-12;

// The variability block an [uncertainty] name "variability.<p>.<field>" addresses, and its field
// ("cv_percent" or "sd"). <p> is the block's first parameter; a multi-parameter block is named
// only when its diagonal variances are equal (the name is then their common SD or CV, and setting
// it scales the whole covariance, keeping the correlations). InputError naming the rule otherwise.
std::pair<std::size_t, std::string> spread_block(const PdParameterSet& s, const std::string& n,
                                                 const std::string& where) {
    const std::string pre = "variability.";
    const std::size_t dot = n.rfind('.');
    const std::string p = n.substr(pre.size(), dot > pre.size() ? dot - pre.size() : 0);
    const std::string field = dot > pre.size() ? n.substr(dot + 1) : "";
    const std::string w = where + ": uncertainty.parameters: '" + n + "'";
    if (field != "cv_percent" && field != "sd")
        throw InputError(w + ": a variability spread is named variability.<parameter>.cv_percent or " +
                         "variability.<parameter>.sd");
    for (std::size_t i = 0; i < s.variability.size(); ++i) {
        const VariabilityBlock& b = s.variability[i];
        if (std::find(b.parameters.begin(), b.parameters.end(), p) == b.parameters.end()) continue;
        std::string list;
        for (const auto& q : b.parameters) list += (list.empty() ? "" : ", ") + q;
        if (b.parameters[0] != p)
            throw InputError(w + ": the block [" + list + "] is named by its first parameter: variability." +
                             b.parameters[0] + "." + field);
        const double w0 = b.omega(0, 0);
        for (Eigen::Index j = 1; j < b.omega.rows(); ++j)
            if (std::abs(b.omega(j, j) - w0) > kCommonVarianceRelTol * std::abs(w0))
                throw InputError(w + ": the block [" + list + "] has unequal variances (" + pd_num(w0) + ", " +
                                 pd_num(b.omega(j, j)) + "): a spread names a multi-parameter block only " +
                                 "when its diagonal variances are equal (one common SD)");
        if (field == "cv_percent" && b.distribution != EtaDistribution::lognormal)
            throw InputError(w + ": cv_percent names a log-normal block");
        return {i, field};
    }
    throw InputError(w + ": no variability block of '" + p + "'");
}

}   // namespace

// The current value of an [uncertainty] name in `s`: a parameter's value, or the spread of a
// variability block ("variability.<p>.cv_percent" of a log-normal block, or "variability.<p>.sd",
// the SD of its eta; for a multi-parameter block with equal variances, <p> its first parameter,
// the common spread). InputError naming the rule otherwise.
double uncertainty_value(const PdParameterSet& s, const std::string& n, const std::string& file,
                         const std::string& where) {
    (void)file;
    if (n.rfind("variability.", 0) != 0) {
        if (!s.has(n))
            throw InputError(where + ": uncertainty.parameters: '" + n +
                             "' is not a parameter of this file (names: a parameter, or " +
                             "variability.<parameter>.cv_percent / .sd of a block, by its first parameter)");
        return s.value(n);
    }
    const auto [i, field] = spread_block(s, n, where);
    const double w = s.variability[i].omega(0, 0);
    return field == "sd" ? std::sqrt(w) : 100.0 * std::sqrt(std::expm1(w));
}

void set_uncertainty_value(PdParameterSet& s, const std::string& n, double value) {
    if (!(std::isfinite(value) && value > 0))
        throw InputError(s.source_path + ": uncertainty: drawn " + n + " = " + pd_num(value) +
                         ": must be finite and > 0");
    if (n.rfind("variability.", 0) != 0) {
        (void)uncertainty_value(s, n, s.source_path, s.source_path);   // the name's rule, once
        for (auto& p : s.parameters)
            if (p.name == n) p.value = value;
        return;
    }
    const auto [i, field] = spread_block(s, n, s.source_path);
    Eigen::MatrixXd& omega = s.variability[i].omega;
    const double c = value / 100.0;
    const double w = field == "sd" ? value * value : std::log1p(c * c);
    // Every variance and covariance scales by the same factor: the correlations are kept.
    omega *= w / omega(0, 0);
    if (omega.rows() > 1)
        for (Eigen::Index j = 1; j < omega.rows(); ++j) omega(j, j) = w;   // exactly equal, as read
}

const PdParameter& PdParameterSet::parameter(const std::string& n) const {
    for (const auto& p : parameters)
        if (p.name == n) return p;
    throw InputError(source_path + ": parameters." + n + ": required parameter is missing");
}

bool PdParameterSet::has(const std::string& n) const {
    for (const auto& p : parameters)
        if (p.name == n) return true;
    return false;
}

std::string PdParameterSet::where(const std::string& n) const {
    for (const auto& p : parameters)
        if (p.name == n) return source_path + (p.line > 0 ? ":" + std::to_string(p.line) : "") + ": parameters." + n;
    return source_path + ": parameters." + n;
}

PdParameterSet parse_pd_parameters(const std::string& text, const std::string& file) {
    using namespace detail;
    const toml::table root = parse_toml(text, file);
    check_keys(root, {"name", "title", "description", "notes", "structure", "parameters", "variability", "uncertainty"},
               file, "");
    PdParameterSet s;
    s.source_path = file;
    s.name = get_string(root, "name", file, "", true);
    s.title = get_string(root, "title", file, "", false);
    s.description = get_string(root, "description", file, "", false);
    s.structure = get_string(root, "structure", file, "", false);
    if (const toml::node* sn = root.get("structure")) {
        s.structure_line = static_cast<int>(sn->source().begin.line);
        if (s.structure.empty()) throw InputError(at_line(file, *sn) + ": structure: must not be empty");
    }
    const toml::node* pn = root.get("parameters");
    if (!pn || !pn->is_table()) throw InputError(file + ": parameters: required table is missing");
    for (const auto& kv : *pn->as_table()) {
        const std::string name(kv.first.str());
        const std::string path = "parameters." + name;
        if (!kv.second.is_table()) throw InputError(at_line(file, kv.second) + ": " + path + ": must be a table");
        const toml::table& t = *kv.second.as_table();
        check_keys(t, {"value", "unit", "description", "source", "calibrated"}, file, path);
        PdParameter p;
        p.name = name;
        p.line = static_cast<int>(kv.second.source().begin.line);
        p.value = get_number(t, "value", file, path, true);
        p.unit = get_string(t, "unit", file, path, true);
        p.description = get_string(t, "description", file, path, true);
        p.source = get_string(t, "source", file, path, true);
        p.calibrated = get_bool(t, "calibrated", file, path, false);
        const std::string w = at_line(file, *t.get("value")) + ": " + path + ".value = " + pd_num(p.value);
        if (!std::isfinite(p.value)) throw InputError(w + ": must be finite");
        if (p.source.empty()) throw InputError(at_line(file, kv.second) + ": " + path + ".source: must not be empty");
        if (p.calibrated && p.source.rfind("calibrated:", 0) != 0)
            throw InputError(at_line(file, *t.get("source")) + ": " + path + ".source = '" + p.source +
                             "': a calibrated parameter's source must start with 'calibrated: <targets>'");
        s.parameters.push_back(std::move(p));
    }
    s.variability = parse_variability(root, file);
    s.uncertainty = parse_uncertainty(root, s, file);
    // The names are checked against the file when a PD model takes the set
    // (conform_pd_parameters): a misspelt parameter table is reported there first, with the
    // closest valid name, rather than as a variability block naming a "missing" parameter.
    for (const auto& b : s.variability)
        if (b.per_occasion)
            throw InputError(file + ":" + std::to_string(b.line) +
                             ": variability: level = \"occasion\" is not supported "
                             "for PD parameters (only \"subject\")");
    return s;
}

namespace {

const char* describe(PdUnit u) {
    switch (u) {
        case PdUnit::concentration:
            return "a concentration (ng/mL, ug/mL, mg/L, ug/L)";
        case PdUnit::rate:
            return "a rate (1/h, 1/min, 1/d)";
        case PdUnit::fraction:
            return "a fraction (1, fraction or %)";
        case PdUnit::percent_effect:
            return "'% of maximal effect'";
        case PdUnit::mmhg:
            return "'mmHg'";
        case PdUnit::madrs_points:
            return "'MADRS points'";
    }
    return "?";
}

// Factor from `unit` to the canonical unit of `u`; throws the rule when the unit does not fit.
double pd_factor(const std::string& unit, PdUnit u) {
    const auto fixed = [&](const char* name) {
        if (unit != name) throw InputError(std::string("must be ") + describe(u));
        return 1.0;
    };
    switch (u) {
        case PdUnit::percent_effect:
            return fixed("% of maximal effect");
        case PdUnit::mmhg:
            return fixed("mmHg");
        case PdUnit::madrs_points:
            return fixed("MADRS points");
        default:
            break;
    }
    UnitInfo info;
    try {
        info = parse_unit(unit);
    } catch (const InputError&) {
        throw InputError(std::string("is not a known unit; expected ") + describe(u));
    }
    const Dimension want = u == PdUnit::concentration ? Dimension::concentration
                           : u == PdUnit::rate        ? Dimension::rate
                                                      : Dimension::fraction;
    if (info.dimension != want || info.per_kg)
        throw InputError(std::string("is of dimension ") + to_string(info.dimension) + "; expected " + describe(u));
    return info.factor;
}

}   // namespace

PdParameterSet conform_pd_parameters(const PdParameterSet& p, const std::vector<PdParameterSpec>& spec) {
    std::vector<std::string> names;
    for (const auto& s : spec) names.emplace_back(s.name);
    PdParameterSet out = p;
    for (auto& q : out.parameters) {
        const auto it =
            std::find_if(spec.begin(), spec.end(), [&](const PdParameterSpec& s) { return q.name == s.name; });
        ErrorContext c;
        c.file = p.source_path;
        c.line = q.line;
        c.key = "parameters." + q.name;
        if (it == spec.end()) {
            const std::string near = closest_name(q.name, names);
            std::string list;
            for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
            c.rule = "is not a parameter of this PD model" +
                     (near.empty() ? std::string() : " (did you mean " + near + "?)") + "; parameters: " + list;
            throw InputError(p.where(q.name) + ": " + c.rule, c);
        }
        double factor = 1.0;
        try {
            factor = pd_factor(q.unit, it->unit);
        } catch (const InputError& e) {
            c.key += ".unit";
            c.value = q.unit;
            c.rule = e.what();
            throw InputError(p.where(q.name) + ".unit = '" + q.unit + "': " + e.what(), c);
        }
        if (factor != 1.0) {
            q.value = UnitInfo{Dimension::dimensionless, factor, false}.to_canonical(q.value);
            q.unit = it->unit == PdUnit::concentration ? "ng/mL" : it->unit == PdUnit::rate ? "1/h" : "1";
        }
    }
    // Variability blocks name parameters of this set (their covariance and domain rules are
    // checked where they are drawn: run_course_population).
    for (std::size_t i = 0; i < out.variability.size(); ++i)
        for (const auto& n : out.variability[i].parameters)
            if (!out.has(n))
                throw InputError(p.source_path + ":" + std::to_string(out.variability[i].line) + ": variability[" +
                                 std::to_string(i) + "].parameters: '" + n + "' is not a parameter of this PD model");
    for (const auto& s : spec)
        if (!p.has(s.name)) {
            ErrorContext c;
            c.file = p.source_path;
            c.key = std::string("parameters.") + s.name;
            c.rule = "required parameter is missing";
            throw InputError(
                p.source_path + ": parameters." + s.name + ": required parameter is missing (" + describe(s.unit) + ")",
                c);
        }
    return out;
}

PdParameterSet load_pd_parameters(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw InputError(path + ": cannot open PD parameter file");
    std::ostringstream ss;
    ss << in.rdbuf();
    return parse_pd_parameters(ss.str(), path);
}

PdParameterSet load_library_pd(const std::string& name, const std::string& models_dir) {
    namespace fs = std::filesystem;
    if (fs::path(name).extension() == ".toml") return load_pd_parameters(name);
    const std::string dir = models_dir.empty() ? default_models_dir() : models_dir;
    return load_pd_parameters((fs::path(dir) / "pd" / (name + ".toml")).string());
}

}   // namespace ketasim
