// Population sections of model and PD files. Every block cites its source (or says `assumed`).
#include "io/population_toml.hpp"

#include <cmath>
#include <set>

#include "core/text.hpp"

namespace ketasim::detail {

namespace {

// Accepted range for a coefficient of variation (issue 8): above 1000 % a log-normal is no longer
// a description of patients but of a typo.
constexpr double kMaxCvPercent = 1000.0;

const toml::array* array_at(const toml::table& root, const std::string& key, const std::string& file) {
    const toml::node* n = root.get(key);
    if (!n) return nullptr;
    const toml::array* a = n->as_array();
    if (!a) throw InputError(at_line(file, *n) + ": '" + key + "' must be an array of tables ([[" + key + "]])");
    return a;
}

const toml::table& table_at(const toml::array& a, std::size_t i, const std::string& file, const std::string& path) {
    const toml::table* t = a[i].as_table();
    if (!t) throw InputError(at_line(file, a[i]) + ": " + path + ": must be a table");
    return *t;
}

std::vector<double> number_list(const toml::node& n, const std::string& file, const std::string& path) {
    std::vector<double> out;
    if (auto v = n.value<double>()) return {*v};
    const toml::array* a = n.as_array();
    if (!a) throw InputError(at_line(file, n) + ": " + path + ": must be a number or a list of numbers");
    for (const auto& e : *a) {
        auto v = e.value<double>();
        if (!v) throw InputError(at_line(file, e) + ": " + path + ": every item must be a number");
        out.push_back(*v);
    }
    return out;
}

EtaDistribution distribution_from(const std::string& s, const std::string& where) {
    if (s == "lognormal") return EtaDistribution::lognormal;
    if (s == "normal") return EtaDistribution::normal;
    if (s == "logit") return EtaDistribution::logit;
    throw InputError(where + ": '" + s + "' is not a distribution (accepted: lognormal, normal, logit)");
}

}   // namespace

std::vector<VariabilityBlock> parse_variability(const toml::table& root, const std::string& file) {
    std::vector<VariabilityBlock> out;
    const toml::array* a = array_at(root, "variability", file);
    if (!a) return out;
    for (std::size_t i = 0; i < a->size(); ++i) {
        const std::string path = "variability[" + std::to_string(i) + "]";
        const toml::table& t = table_at(*a, i, file, path);
        const std::string here = at_line(file, (*a)[i]) + ": " + path;
        check_keys(t,
                   {"parameters", "distribution", "level", "cv_percent", "sd", "variance", "source", "assumed",
                    "calibrated", "description"},
                   file, path);
        VariabilityBlock b;
        b.line = static_cast<int>((*a)[i].source().begin.line);
        const toml::node* pn = t.get("parameters");
        if (!pn) throw InputError(here + ".parameters: required key is missing (a list of parameter names)");
        if (auto s = pn->value<std::string>()) {
            b.parameters = {*s};
        } else if (const toml::array* pa = pn->as_array()) {
            for (const auto& e : *pa) {
                auto s2 = e.value<std::string>();
                if (!s2) throw InputError(at_line(file, e) + ": " + path + ".parameters: every item must be a string");
                b.parameters.push_back(*s2);
            }
        } else {
            throw InputError(at_line(file, *pn) + ": " + path + ".parameters: must be a list of parameter names");
        }
        if (b.parameters.empty()) throw InputError(here + ".parameters: empty list");
        b.distribution =
            distribution_from(get_string(t, "distribution", file, path, false, "lognormal"), here + ".distribution");
        const std::string level = get_string(t, "level", file, path, false, "subject");
        if (level != "subject" && level != "occasion")
            throw InputError(here + ".level: '" + level + "' is not a level (accepted: subject, occasion)");
        b.per_occasion = level == "occasion";
        b.source = get_string(t, "source", file, path, true);
        b.assumed = get_bool(t, "assumed", file, path, false);
        b.calibrated = get_bool(t, "calibrated", file, path, false);
        // Fitted to data by the project (docs/calibration.md): says so, and to which targets.
        if (b.calibrated && (b.assumed || b.source.rfind("calibrated:", 0) != 0))
            throw InputError(
                here + ".source = '" + b.source +
                "': a calibrated block is not `assumed` and its source starts with 'calibrated: <targets>'");
        const std::size_t k = b.parameters.size();
        const int given = (t.get("cv_percent") ? 1 : 0) + (t.get("sd") ? 1 : 0) + (t.get("variance") ? 1 : 0);
        if (given != 1)
            throw InputError(here + ": give exactly one of cv_percent (lognormal), sd or variance (" +
                             std::to_string(given) + " given)");
        b.omega = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(k));
        if (const toml::node* cv = t.get("cv_percent")) {
            if (b.distribution != EtaDistribution::lognormal)
                throw InputError(at_line(file, *cv) + ": " + path +
                                 ".cv_percent: a CV describes a log-normal parameter; for " +
                                 to_string(b.distribution) + " give sd or variance on the eta scale");
            const std::vector<double> v = number_list(*cv, file, path + ".cv_percent");
            if (v.size() != k)
                throw InputError(at_line(file, *cv) + ": " + path + ".cv_percent: " + std::to_string(v.size()) +
                                 " values for " + std::to_string(k) + " parameters (one per parameter)");
            for (std::size_t j = 0; j < k; ++j) {
                if (!(std::isfinite(v[j]) && v[j] > 0 && v[j] < kMaxCvPercent))
                    throw InputError(at_line(file, *cv) + ": " + path + ".cv_percent[" + std::to_string(j) +
                                     "] = " + fmt(v[j]) + ": must be in (0, 1000) %");
                const double c = v[j] / 100.0;
                // Exact log-normal convention: CV^2 = exp(omega^2) - 1.
                b.omega(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(j)) = std::log1p(c * c);
            }
        } else if (const toml::node* sd = t.get("sd")) {
            const std::vector<double> v = number_list(*sd, file, path + ".sd");
            if (v.size() != k)
                throw InputError(at_line(file, *sd) + ": " + path + ".sd: " + std::to_string(v.size()) +
                                 " values for " + std::to_string(k) + " parameters (one per parameter)");
            for (std::size_t j = 0; j < k; ++j) {
                if (!(std::isfinite(v[j]) && v[j] > 0))
                    throw InputError(at_line(file, *sd) + ": " + path + ".sd[" + std::to_string(j) +
                                     "] = " + fmt(v[j]) + ": must be finite and > 0");
                b.omega(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(j)) = v[j] * v[j];
            }
        } else {
            const toml::node& vn = *t.get("variance");
            const toml::array* va = vn.as_array();
            const bool matrix = va && !va->empty() && (*va)[0].as_array();
            if (!matrix) {
                const std::vector<double> v = number_list(vn, file, path + ".variance");
                if (v.size() != k)
                    throw InputError(at_line(file, vn) + ": " + path + ".variance: " + std::to_string(v.size()) +
                                     " values for " + std::to_string(k) +
                                     " parameters (a list of variances, or a full matrix)");
                for (std::size_t j = 0; j < k; ++j)
                    b.omega(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(j)) = v[j];
            } else {
                if (va->size() != k)
                    throw InputError(at_line(file, vn) + ": " + path + ".variance: " + std::to_string(va->size()) +
                                     " rows for " + std::to_string(k) + " parameters");
                for (std::size_t r = 0; r < k; ++r) {
                    const std::vector<double> row =
                        number_list((*va)[r], file, path + ".variance[" + std::to_string(r) + "]");
                    if (row.size() != k)
                        throw InputError(at_line(file, (*va)[r]) + ": " + path + ".variance[" + std::to_string(r) +
                                         "]: " + std::to_string(row.size()) + " columns for " + std::to_string(k) +
                                         " parameters");
                    for (std::size_t c = 0; c < k; ++c)
                        b.omega(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)) = row[c];
                }
            }
            for (Eigen::Index r = 0; r < b.omega.rows(); ++r)
                for (Eigen::Index c = 0; c < b.omega.cols(); ++c)
                    if (!std::isfinite(b.omega(r, c)))
                        throw InputError(here + ".variance[" + std::to_string(r) + "][" + std::to_string(c) +
                                         "] = " + fmt(b.omega(r, c)) + ": must be finite");
        }
        out.push_back(std::move(b));
    }
    return out;
}

void check_variability(const std::vector<VariabilityBlock>& blocks, const std::string& file,
                       const std::function<double(const std::string&, const std::string&)>& value_of) {
    std::set<std::string> seen_subject, seen_occasion;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        const VariabilityBlock& b = blocks[i];
        const std::string here =
            file + (b.line > 0 ? ":" + std::to_string(b.line) : "") + ": variability[" + std::to_string(i) + "]";
        for (const auto& p : b.parameters) {
            const double v = value_of(p, here + ".parameters");
            auto& seen = b.per_occasion ? seen_occasion : seen_subject;
            if (!seen.insert(p).second)
                throw InputError(here + ".parameters: '" + p + "' has a random effect at the " +
                                 (b.per_occasion ? "occasion" : "subject") +
                                 " level already (one block per parameter and level)");
            if (b.distribution == EtaDistribution::logit && !(v > 0 && v < 1))
                throw InputError(here + ": logit random effect on '" + p + "' needs a value in (0, 1), not " + fmt(v));
            if (b.distribution == EtaDistribution::lognormal && !(v > 0))
                throw InputError(here + ": log-normal random effect on '" + p + "' needs a value > 0, not " + fmt(v) +
                                 " (use normal)");
        }
        const Eigen::MatrixXd& om = b.omega;
        if ((om - om.transpose()).cwiseAbs().maxCoeff() > 1e-12 * std::max(1.0, om.cwiseAbs().maxCoeff()))
            throw InputError(here + ".variance: the covariance matrix is not symmetric");
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(om);
        const double lmin = es.eigenvalues().minCoeff();
        if (!(lmin > 0))
            throw InputError(here + ": the covariance matrix is not positive definite (smallest eigenvalue " +
                             fmt(lmin) + "); a correlation must lie in (-1, 1)");
    }
}

std::vector<CovariateSpec> parse_covariates(const toml::table& root, const std::string& file) {
    std::vector<CovariateSpec> out;
    const toml::node* n = root.get("covariates");
    if (!n) return out;
    const toml::table* t = n->as_table();
    if (!t) throw InputError(at_line(file, *n) + ": covariates: must be a table of [covariates.NAME] entries");
    for (const auto& kv : *t) {
        const std::string name(kv.first.str());
        const std::string path = "covariates." + name;
        const toml::table* ct = kv.second.as_table();
        if (!ct) throw InputError(at_line(file, kv.second) + ": " + path + ": must be a table");
        check_keys(*ct, {"unit", "description", "reference", "source"}, file, path);
        CovariateSpec c;
        c.name = name;
        c.line = static_cast<int>(kv.second.source().begin.line);
        c.unit = get_string(*ct, "unit", file, path, true);
        c.description = get_string(*ct, "description", file, path, false);
        const std::string expected = name == "weight" ? "kg" : name == "age" ? "years" : "flag";
        if (c.unit != expected)
            throw InputError(at_line(file, kv.second) + ": " + path + ".unit = '" + c.unit + "': must be '" + expected +
                             "' (weight in kg, age in years, every other covariate a 0/1 flag)");
        c.reference = get_number(*ct, "reference", file, path, false,
                                 name == "weight" ? 70.0
                                 : name == "age"  ? 40.0
                                                  : 0.0);
        if (!std::isfinite(c.reference))
            throw InputError(at_line(file, kv.second) + ": " + path + ".reference = " + fmt(c.reference) +
                             ": must be finite");
        out.push_back(c);
    }
    return out;
}

std::vector<CovariateEffect> parse_covariate_effects(const toml::table& root, const std::string& file) {
    std::vector<CovariateEffect> out;
    const toml::array* a = array_at(root, "covariate_effects", file);
    if (!a) return out;
    for (std::size_t i = 0; i < a->size(); ++i) {
        const std::string path = "covariate_effects[" + std::to_string(i) + "]";
        const toml::table& t = table_at(*a, i, file, path);
        check_keys(t, {"parameter", "covariate", "factor", "source", "description"}, file, path);
        CovariateEffect e;
        e.line = static_cast<int>((*a)[i].source().begin.line);
        e.parameter = get_string(t, "parameter", file, path, true);
        e.covariate = get_string(t, "covariate", file, path, true);
        e.factor = get_number(t, "factor", file, path, true);
        e.source = get_string(t, "source", file, path, true);
        if (!(std::isfinite(e.factor) && e.factor > 0))
            throw InputError(at_line(file, (*a)[i]) + ": " + path + ".factor = " + fmt(e.factor) +
                             ": must be finite and > 0");
        out.push_back(e);
    }
    return out;
}

std::vector<ResidualError> parse_residual_error(const toml::table& root, const std::string& file) {
    std::vector<ResidualError> out;
    const toml::array* a = array_at(root, "residual_error", file);
    if (!a) return out;
    for (std::size_t i = 0; i < a->size(); ++i) {
        const std::string path = "residual_error[" + std::to_string(i) + "]";
        const toml::table& t = table_at(*a, i, file, path);
        check_keys(t, {"output", "proportional_percent", "additive", "exponential_sd", "source", "description"}, file,
                   path);
        ResidualError r;
        r.line = static_cast<int>((*a)[i].source().begin.line);
        r.output = get_string(t, "output", file, path, true);
        r.source = get_string(t, "source", file, path, true);
        r.proportional = get_number(t, "proportional_percent", file, path, false, 0.0) / 100.0;
        r.exponential = get_number(t, "exponential_sd", file, path, false, 0.0);
        const std::string add = get_string(t, "additive", file, path, false, "0 ng/mL");
        r.additive = parse_quantity(add, Dimension::concentration, file + ": " + path + ".additive");
        const std::string here = at_line(file, (*a)[i]) + ": " + path;
        if (!(std::isfinite(r.proportional) && r.proportional >= 0 && r.proportional < 10))
            throw InputError(here + ".proportional_percent = " + fmt(r.proportional * 100) +
                             ": must be in [0, 1000) %");
        if (!(std::isfinite(r.exponential) && r.exponential >= 0 && r.exponential < 10))
            throw InputError(here + ".exponential_sd = " + fmt(r.exponential) + ": must be in [0, 10) (log scale)");
        if (!(std::isfinite(r.additive) && r.additive >= 0))
            throw InputError(here + ".additive = '" + add + "': must be finite and >= 0");
        if (r.proportional == 0 && r.additive == 0 && r.exponential == 0)
            throw InputError(here + ": no error given (proportional_percent, additive or exponential_sd)");
        out.push_back(r);
    }
    return out;
}

}   // namespace ketasim::detail

namespace ketasim::detail {

void complete_population_layer(Model& m, const std::string& file) {
    // Built-in covariates are used through the parameters themselves.
    bool uses_weight = false, uses_age = false;
    for (const auto& p : m.parameters) {
        uses_weight = uses_weight || p.unit_info.per_kg || p.allometric_exponent != 0.0;
        uses_age = uses_age || p.age_slope != 0.0;
    }
    std::set<std::string> flags_used;
    for (const auto& e : m.covariate_effects) flags_used.insert(e.covariate);
    auto declared = [&](const std::string& n) { return m.uses_covariate(n); };
    for (const auto& c : m.covariates) {
        const std::string here = file + (c.line > 0 ? ":" + std::to_string(c.line) : "") + ": covariates." + c.name;
        const bool used = c.name == "weight" ? uses_weight : c.name == "age" ? uses_age : flags_used.count(c.name) > 0;
        if (!used)
            throw InputError(here + ": declared but not used by any parameter" +
                             std::string(c.name == "weight" ? " (no per-kg unit or allometric_exponent)"
                                         : c.name == "age"  ? " (no age_slope)"
                                                            : " (no [[covariate_effects]] entry names it)"));
    }
    // Weight and age need no declaration: they are declared implicitly by the parameters using them.
    if (uses_weight && !declared("weight"))
        m.covariates.push_back({"weight", "kg", "body weight (per-kg and allometric parameters)", 70.0, 0});
    if (uses_age && !declared("age")) m.covariates.push_back({"age", "years", "age (age slopes)", 40.0, 0});
    for (std::size_t i = 0; i < m.covariate_effects.size(); ++i) {
        const CovariateEffect& e = m.covariate_effects[i];
        const std::string here =
            file + (e.line > 0 ? ":" + std::to_string(e.line) : "") + ": covariate_effects[" + std::to_string(i) + "]";
        if (!m.has_parameter(e.parameter))
            throw InputError(here + ".parameter = '" + e.parameter + "': not a parameter of the model");
        if (e.covariate == "weight" || e.covariate == "age")
            throw InputError(here + ".covariate = '" + e.covariate +
                             "': weight and age act through per-kg units, allometric_exponent and age_slope");
        if (!declared(e.covariate))
            throw InputError(here + ".covariate = '" + e.covariate + "': not declared (add [covariates." + e.covariate +
                             "] with unit = \"flag\")");
    }
    check_variability(m.variability, file, [&](const std::string& name, const std::string& where) {
        const int k = m.parameter_index(name);
        if (k < 0) throw InputError(where + ": '" + name + "' is not a parameter of model '" + m.name + "'");
        return m.parameters[static_cast<std::size_t>(k)].value;
    });
    for (std::size_t i = 0; i < m.variability.size(); ++i) {
        const VariabilityBlock& b = m.variability[i];
        for (const auto& name : b.parameters) {
            const Parameter& p = m.parameter(name);
            if (b.distribution == EtaDistribution::lognormal && p.unit_info.dimension == Dimension::fraction)
                throw InputError(file + (b.line > 0 ? ":" + std::to_string(b.line) : "") + ": variability[" +
                                 std::to_string(i) + "]: '" + name +
                                 "' is a fraction: a log-normal effect can push it above 1; use distribution = "
                                 "\"logit\"");
        }
    }
    std::set<std::string> outputs;
    for (const auto& o : m.outputs) outputs.insert(o.name);
    if (m.effect_site) outputs.insert(m.effect_site->name);
    std::set<std::string> seen;
    for (std::size_t i = 0; i < m.residual_error.size(); ++i) {
        const ResidualError& r = m.residual_error[i];
        const std::string here =
            file + (r.line > 0 ? ":" + std::to_string(r.line) : "") + ": residual_error[" + std::to_string(i) + "]";
        if (!outputs.count(r.output)) {
            std::string all;
            for (const auto& o : outputs) all += (all.empty() ? "" : ", ") + o;
            throw InputError(here + ".output = '" + r.output + "': not an output (outputs: " + all + ")");
        }
        if (!seen.insert(r.output).second) throw InputError(here + ".output = '" + r.output + "': given twice");
    }
}

}   // namespace ketasim::detail
