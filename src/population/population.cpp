// Virtual populations: covariate distributions, subject tables, the population point source and
// population PK runs through parallel_for and a sink.
#include "ketasim/population.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "core/text.hpp"
#include "io/toml_util.hpp"
#include "ketasim/errors.hpp"
#include "ketasim/pd.hpp"
#include "solve/inputs.hpp"

namespace ketasim {

namespace {
using detail::fmt;
using detail::trim;

// Redraws allowed for a truncated normal/log-normal before the bounds are called impossible.
constexpr int kMaxTruncationDraws = 1000;

// "80 kg" -> 80 for weight; "45 years" -> 45 for age; a flag or probability is a bare number.
double covariate_quantity(const std::string& covariate, const std::string& field, const std::string& text,
                          const std::string& where) {
    const std::string t = trim(text);
    std::istringstream is(t);
    double v = 0;
    is >> v;
    if (!is) throw InputError(where + "." + field + ": '" + text + "' is not a number");
    std::string unit, extra;
    is >> unit >> extra;
    if (!extra.empty()) throw InputError(where + "." + field + ": '" + text + "': unexpected text after the unit");
    if (!std::isfinite(v)) throw InputError(where + "." + field + ": " + fmt(v) + " must be finite");
    if (covariate == "weight") {
        if (unit != "kg")
            throw InputError(where + "." + field + ": '" + text + "': body weight needs its unit, kg (e.g. '80 kg')");
    } else if (covariate == "age") {
        if (unit != "years" && unit != "year" && unit != "y")
            throw InputError(where + "." + field + ": '" + text + "': age needs its unit, years (e.g. '45 years')");
    } else if (!unit.empty()) {
        throw InputError(where + "." + field + ": '" + text + "': flag covariate '" + covariate +
                         "' takes a bare number (0/1 or a probability), not '" + unit + "'");
    }
    return v;
}

bool is_builtin(const std::string& n) { return n == "weight" || n == "age"; }

}   // namespace

void require_covariates_used(const Model& model, bool regimen_per_kg, const std::vector<std::string>& names,
                             const std::string& where) {
    const std::vector<std::string> used = model.covariate_names();
    for (const auto& n : names) {
        if (n == "weight" && regimen_per_kg) continue;
        if (std::find(used.begin(), used.end(), n) != used.end()) continue;
        std::string list;
        for (const auto& c : used) list += (list.empty() ? "" : ", ") + c;
        throw InputError(where + ": model '" + model.name + "' does not use covariate '" + n +
                         "' (it uses: " + (list.empty() ? "none" : list) + ")" +
                         (n == "weight" ? "; weight matters only with per-kg parameters or a dose in mg/kg" : ""));
    }
}

// ---- covariate distributions -------------------------------------------------------------------

void CovariateDistribution::validate() const {
    const std::string w = where.empty() ? "covariates['" + name + "']" : where;
    if (name.empty()) throw InputError(w + ": empty covariate name");
    const bool flag = !is_builtin(name);
    if (flag && kind != CovariateDistributionKind::bernoulli && kind != CovariateDistributionKind::fixed)
        throw InputError(w + ": '" + name + "' is a 0/1 flag: its distribution is bernoulli (p) or fixed (value)");
    if (!flag && kind == CovariateDistributionKind::bernoulli)
        throw InputError(w + ": '" + name + "' is continuous: bernoulli is for flags");
    auto finite = [&](double v, const char* f) {
        if (!std::isfinite(v)) throw InputError(w + "." + f + " = " + fmt(v) + ": must be finite");
    };
    if (std::isnan(lower) || std::isnan(upper) || !(lower < upper))
        throw InputError(w + ": lower = " + fmt(lower) + ", upper = " + fmt(upper) + ": need lower < upper");
    switch (kind) {
        case CovariateDistributionKind::fixed:
            finite(value, "value");
            if (flag && value != 0 && value != 1) throw InputError(w + ".value = " + fmt(value) + ": a flag is 0 or 1");
            break;
        case CovariateDistributionKind::normal:
            finite(mean, "mean");
            finite(sd, "sd");
            if (!(sd > 0)) throw InputError(w + ".sd = " + fmt(sd) + ": must be > 0");
            // No mass: the truncation window lies more than 8 SD from the mean.
            if (lower > mean + 8 * sd || upper < mean - 8 * sd)
                throw InputError(w + ": [" + fmt(lower) + ", " + fmt(upper) + "] holds no mass of normal(mean " +
                                 fmt(mean) + ", sd " + fmt(sd) + ")");
            break;
        case CovariateDistributionKind::lognormal:
            finite(median, "median");
            finite(cv, "cv_percent");
            if (!(median > 0)) throw InputError(w + ".median = " + fmt(median) + ": must be > 0");
            if (!(cv > 0 && cv < 10)) throw InputError(w + ".cv_percent = " + fmt(cv * 100) + ": must be in (0, 1000)");
            {
                const double s = std::sqrt(std::log1p(cv * cv));
                if (upper <= median * std::exp(-8 * s) || lower >= median * std::exp(8 * s))
                    throw InputError(w + ": [" + fmt(lower) + ", " + fmt(upper) +
                                     "] holds no mass of lognormal(median " + fmt(median) + ", cv " + fmt(cv * 100) +
                                     " %)");
            }
            break;
        case CovariateDistributionKind::uniform:
            if (!std::isfinite(lower) || !std::isfinite(upper))
                throw InputError(w + ": uniform needs finite lower and upper");
            break;
        case CovariateDistributionKind::bernoulli:
            if (!(p >= 0 && p <= 1)) throw InputError(w + ".p = " + fmt(p) + ": must be a probability in [0, 1]");
            break;
    }
    if (name == "weight" && kind != CovariateDistributionKind::fixed && !(lower > 0))
        throw InputError(w + ": body weight needs a lower bound > 0 kg (got lower = " + fmt(lower) + "), e.g. '40 kg'");
    if (name == "weight" && kind == CovariateDistributionKind::fixed && !(value > 0 && value < 1000))
        throw InputError(w + ".value = " + fmt(value) + " kg: must be in (0, 1000)");
}

double CovariateDistribution::draw(RandomStream& rng) const {
    switch (kind) {
        case CovariateDistributionKind::fixed:
            return value;
        case CovariateDistributionKind::uniform:
            return lower + (upper - lower) * rng.uniform();
        case CovariateDistributionKind::bernoulli:
            return rng.uniform() < p ? 1.0 : 0.0;
        case CovariateDistributionKind::normal:
        case CovariateDistributionKind::lognormal: {
            const double s = std::sqrt(std::log1p(cv * cv));
            for (int k = 0; k < kMaxTruncationDraws; ++k) {
                const double z = rng.normal();
                const double v = kind == CovariateDistributionKind::normal ? mean + sd * z : median * std::exp(s * z);
                if (v >= lower && v <= upper) return v;
            }
            throw InputError((where.empty() ? "covariates['" + name + "']" : where) + ": no draw within [" +
                             fmt(lower) + ", " + fmt(upper) + "] in " + std::to_string(kMaxTruncationDraws) +
                             " tries: the bounds hold almost no mass");
        }
    }
    return value;
}

CovariateDistribution parse_covariate_distribution(const std::string& name,
                                                   const std::map<std::string, std::string>& fields,
                                                   const std::string& where) {
    CovariateDistribution d;
    d.name = name;
    d.where = where;
    auto it = fields.find("distribution");
    if (it == fields.end())
        throw InputError(where + ".distribution: required (fixed, normal, lognormal, uniform, bernoulli)");
    const std::string kind = it->second;
    std::set<std::string> allowed;
    if (kind == "fixed") {
        d.kind = CovariateDistributionKind::fixed;
        allowed = {"value"};
    } else if (kind == "normal") {
        d.kind = CovariateDistributionKind::normal;
        allowed = {"mean", "sd", "lower", "upper"};
    } else if (kind == "lognormal") {
        d.kind = CovariateDistributionKind::lognormal;
        allowed = {"median", "cv_percent", "lower", "upper"};
    } else if (kind == "uniform") {
        d.kind = CovariateDistributionKind::uniform;
        allowed = {"lower", "upper"};
    } else if (kind == "bernoulli") {
        d.kind = CovariateDistributionKind::bernoulli;
        allowed = {"p"};
    } else {
        throw InputError(where + ".distribution = '" + kind +
                         "': not a distribution (accepted: fixed, normal, lognormal, uniform, bernoulli)");
    }
    for (const auto& kv : fields) {
        if (kv.first == "distribution") continue;
        if (!allowed.count(kv.first)) {
            std::string list;
            for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
            throw InputError(where + "." + kv.first + ": not a field of a " + kind + " distribution (fields: " + list +
                             ")");
        }
    }
    for (const auto& a : allowed)
        if (a != "lower" && a != "upper" && !fields.count(a))
            throw InputError(where + "." + a + ": required for a " + kind + " distribution");
    auto num = [&](const std::string& f) { return covariate_quantity(name, f, fields.at(f), where); };
    if (fields.count("value")) d.value = num("value");
    if (fields.count("mean")) d.mean = num("mean");
    if (fields.count("sd")) d.sd = num("sd");
    if (fields.count("median")) d.median = num("median");
    if (fields.count("lower")) d.lower = num("lower");
    if (fields.count("upper")) d.upper = num("upper");
    if (fields.count("cv_percent")) d.cv = covariate_quantity("", "cv_percent", fields.at("cv_percent"), where) / 100.0;
    if (fields.count("p")) d.p = covariate_quantity("", "p", fields.at("p"), where);
    if (kind == "uniform" && (!fields.count("lower") || !fields.count("upper")))
        throw InputError(where + ": uniform needs lower and upper");
    d.validate();
    return d;
}

std::vector<CovariateDistribution> parse_covariate_distributions(const std::string& text, const std::string& file) {
    const toml::table root = detail::parse_toml(text, file);
    std::vector<CovariateDistribution> out;
    for (const auto& kv : root) {
        const std::string name(kv.first.str());
        const toml::table* t = kv.second.as_table();
        const std::string where = detail::at_line(file, kv.second) + ": " + name;
        if (!t) throw InputError(where + ": must be a table ([" + name + "])");
        std::map<std::string, std::string> fields;
        for (const auto& f : *t) {
            const std::string key(f.first.str());
            if (auto s = f.second.value<std::string>()) {
                fields[key] = *s;
            } else if (auto v = f.second.value<double>()) {
                if (key != "p" && key != "cv_percent" && key != "value")
                    throw InputError(detail::at_line(file, f.second) + ": " + name + "." + key + " = " + fmt(*v) +
                                     ": give the unit as text, e.g. \"80 kg\" or \"45 years\"");
                std::ostringstream os;
                os.precision(17);
                os << *v;
                fields[key] = os.str();
            } else {
                throw InputError(detail::at_line(file, f.second) + ": " + name + "." + key +
                                 ": must be text or a number");
            }
        }
        out.push_back(parse_covariate_distribution(name, fields, where));
    }
    if (out.empty()) throw InputError(file + ": no covariate tables ([weight], [age], ...)");
    return out;
}

std::vector<CovariateDistribution> load_covariate_distributions(const std::string& path) {
    return parse_covariate_distributions(detail::read_text_file(path), path);
}

// ---- subject tables ----------------------------------------------------------------------------

namespace {
std::vector<std::string> split_csv_line(const std::string& line) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : line) {
        if (c == ',') {
            out.push_back(trim(cur));
            cur.clear();
        } else {
            cur += c;
        }
    }
    out.push_back(trim(cur));
    return out;
}
}   // namespace

SubjectTable subject_table_from_columns(const std::vector<std::string>& headers, const std::vector<double>& values,
                                        const std::string& file) {
    SubjectTable t;
    t.source = file;
    if (headers.empty()) throw InputError(file + ": the subject table has no columns");
    if (values.size() % headers.size() != 0)
        throw InputError(file + ": " + std::to_string(values.size()) + " values do not fill " +
                         std::to_string(headers.size()) + " columns");
    const std::size_t nrow = values.size() / headers.size();
    int id_col = -1;
    for (std::size_t c = 0; c < headers.size(); ++c) {
        std::string h = trim(headers[c]), unit;
        const auto lb = h.find('[');
        if (lb != std::string::npos) {
            if (h.back() != ']')
                throw InputError(file + ": column '" + headers[c] +
                                 "': a unit goes in brackets at the end, e.g. WT[kg]");
            unit = trim(h.substr(lb + 1, h.size() - lb - 2));
            h = trim(h.substr(0, lb));
        }
        if (h.empty()) throw InputError(file + ": column " + std::to_string(c + 1) + " has no name");
        if (h == "ID") {
            id_col = static_cast<int>(c);
            continue;
        }
        const std::string name = h == "WT" ? "weight" : h == "AGE" ? "age" : h == "SEX" ? "sex" : h;
        if (name == "weight" && unit != "kg")
            throw InputError(file + ": column '" + headers[c] + "': body weight needs its unit in the header, " + h +
                             "[kg]");
        if (name == "age" && unit != "years")
            throw InputError(file + ": column '" + headers[c] + "': age needs its unit in the header, " + h +
                             "[years]");
        for (const auto& existing : t.columns)
            if (existing == name)
                throw InputError(file + ": column '" + headers[c] + "' given twice (as '" + name + "')");
        t.columns.push_back(name);
        t.units.push_back(unit);
        t.header_index.push_back(static_cast<int>(c));
    }
    if (t.columns.empty()) throw InputError(file + ": the header names no subject column");
    if (nrow == 0) throw InputError(file + ": the subject table has a header but no rows");
    for (std::size_t r = 0; r < nrow; ++r) {
        for (std::size_t k = 0; k < t.columns.size(); ++k) {
            const double v = values[r * headers.size() + static_cast<std::size_t>(t.header_index[k])];
            if (!std::isfinite(v))
                throw InputError(file + ": row " + std::to_string(r + 1) + ", column " + t.columns[k] + ": " + fmt(v) +
                                 " is not a finite number");
            t.values.push_back(v);
        }
        if (id_col >= 0) {
            const double v = values[r * headers.size() + static_cast<std::size_t>(id_col)];
            if (!(std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9e15))
                throw InputError(file + ": row " + std::to_string(r + 1) + ": ID " + fmt(v) + " is not an integer");
            t.ids.push_back(static_cast<long>(v));
        }
    }
    return t;
}

SubjectTable parse_subject_table(const std::string& text, const std::string& file) {
    std::istringstream in(text);
    std::string line;
    int lineno = 0;
    std::vector<std::string> header;
    std::vector<double> values;
    while (std::getline(in, line)) {
        ++lineno;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (trim(line).empty() || trim(line)[0] == '#') continue;
        const std::vector<std::string> cells = split_csv_line(line);
        if (header.empty()) {
            header = cells;
            continue;
        }
        if (cells.size() != header.size())
            throw InputError(file + ":" + std::to_string(lineno) + ": " + std::to_string(cells.size()) + " cells for " +
                             std::to_string(header.size()) + " columns");
        for (std::size_t c = 0; c < cells.size(); ++c) {
            char* end = nullptr;
            const double v = std::strtod(cells[c].c_str(), &end);
            if (cells[c].empty() || end == cells[c].c_str() || *end != '\0' || !std::isfinite(v))
                throw InputError(file + ":" + std::to_string(lineno) + ": column " + header[c] + ": '" + cells[c] +
                                 "' is not a finite number");
            values.push_back(v);
        }
    }
    if (header.empty()) throw InputError(file + ": empty subject table (no header)");
    return subject_table_from_columns(header, values, file);
}

SubjectTable load_subject_table(const std::string& path) {
    return parse_subject_table(detail::read_text_file(path), path);
}

// ---- population source -------------------------------------------------------------------------

void PopulationSpec::validate() const {
    if (seed > kMaxSeed) throw InputError("seed: " + std::to_string(seed) + " must be in [0, 2^63 - 1]");
    if (replicate > kMaxSeed) throw InputError("replicate: " + std::to_string(replicate) + " must be in [0, 2^63 - 1]");
    const std::size_t rows = table.rows();
    if (rows == 0 && n == 0) throw InputError("n: 0 subjects: a population needs n >= 1 (or a subject table)");
    if (rows > 0 && n != 0 && n != rows)
        throw InputError("n: " + std::to_string(n) + " differs from the " + std::to_string(rows) +
                         " rows of the subject table (" + table.source + "); leave n out or make them equal");
    if (n > (std::size_t{1} << 40)) throw InputError("n: " + std::to_string(n) + " subjects is more than 2^40");
    for (std::size_t i = 0; i < covariates.size(); ++i) {
        covariates[i].validate();
        for (std::size_t j = 0; j < i; ++j)
            if (covariates[j].name == covariates[i].name)
                throw InputError("covariates: '" + covariates[i].name + "' is given twice");
    }
}

PopulationSource::PopulationSource(const Model& model, const PopulationSpec& spec, bool regimen_uses_weight)
    : model_(&model), spec_(spec), layout_(model) {
    spec_.validate();
    n_ = spec_.table.rows() > 0 ? spec_.table.rows() : spec_.n;
    const std::vector<std::string> used = model.covariate_names();
    auto uses = [&](const std::string& c) {
        if (c == "weight" && regimen_uses_weight) return true;
        return std::find(used.begin(), used.end(), c) != used.end();
    };
    auto used_list = [&]() {
        std::string s;
        for (const auto& c : used) s += (s.empty() ? "" : ", ") + c;
        return s.empty() ? std::string("none") : s;
    };
    for (const auto& d : spec_.covariates)
        require_covariates_used(model, regimen_uses_weight, {d.name},
                                d.where.empty() ? "covariates['" + d.name + "']" : d.where);
    for (const auto& c : model.covariates)
        if (!is_builtin(c.name)) flag_names_.push_back(c.name);
    // Table columns: covariates the model uses, or parameters (their file unit).
    for (std::size_t k = 0; k < spec_.table.columns.size(); ++k) {
        const std::string& col = spec_.table.columns[k];
        const std::string& unit = k < spec_.table.units.size() ? spec_.table.units[k] : std::string();
        const std::string w = spec_.table.source + ": column '" + col + "'";
        const int pi = layout_.index(col);
        if (pi >= 0) {
            const Parameter& p = model.parameters[static_cast<std::size_t>(pi)];
            if (unit != p.unit)
                throw InputError(w + ": parameter '" + col + "' is in " + p.unit + " in model '" + model.name +
                                 "'; write the header as " + col + "[" + p.unit + "]" +
                                 (unit.empty() ? "" : " (not [" + unit + "])"));
            table_param_col_.push_back(pi);
            table_covariate_.push_back("");
        } else if (uses(col)) {
            table_param_col_.push_back(-1);
            table_covariate_.push_back(col);
        } else if (col == "weight" || col == "age" || col == "sex" ||
                   std::find(used.begin(), used.end(), col) == used.end()) {
            std::string params;
            for (const auto& p : layout_.names()) params += (params.empty() ? "" : ", ") + p;
            throw InputError(w + ": not a covariate model '" + model.name + "' uses (covariates: " + used_list() +
                             ") nor one of its parameters (" + params + ")");
        }
    }
    for (std::size_t r = 0; r < spec_.table.rows(); ++r)
        for (std::size_t k = 0; k < spec_.table.columns.size(); ++k) {
            const double v = spec_.table.values[r * spec_.table.columns.size() + k];
            const std::string& cov = table_covariate_[k];
            const std::string w =
                spec_.table.source + ": row " + std::to_string(r + 1) + ", column " + spec_.table.columns[k];
            if (cov == "weight" && !(v > 0 && v < 1000))
                throw InputError(w + ": " + fmt(v) + " kg must be in (0, 1000)");
            if (cov == "age" && !(v >= 0 && v < 150))
                throw InputError(w + ": " + fmt(v) + " years must be in [0, 150)");
            if (!cov.empty() && !is_builtin(cov) && v != 0 && v != 1)
                throw InputError(w + ": " + fmt(v) + ": a flag covariate is 0 or 1");
        }
    int e = 0;
    for (const auto& b : model.variability) {
        Block blk;
        for (std::size_t j = 0; j < b.parameters.size(); ++j) blk.eta.push_back(e++);
        Eigen::LLT<Eigen::MatrixXd> llt(b.omega);
        if (llt.info() != Eigen::Success)
            throw InputError("model '" + model.name + "': a variability block is not positive definite");
        blk.L = llt.matrixL();
        blk.per_occasion = b.per_occasion;
        has_iov_ = has_iov_ || b.per_occasion;
        blocks_.push_back(std::move(blk));
    }
    // Description columns: the covariates the model uses, then every parameter that varies.
    for (const auto& c : used) {
        describe_names_.push_back(c);
        describe_units_.push_back(c == "weight" ? "kg" : c == "age" ? "years" : "1");
    }
    if (regimen_uses_weight && std::find(used.begin(), used.end(), "weight") == used.end()) {
        describe_names_.push_back("weight");
        describe_units_.push_back("kg");
    }
    std::vector<bool> varies(layout_.size(), false);
    if (spec_.variability)
        for (const auto& b : model.variability)
            for (const auto& p : b.parameters) varies[static_cast<std::size_t>(layout_.index(p))] = true;
    for (int pi : table_param_col_)
        if (pi >= 0) varies[static_cast<std::size_t>(pi)] = true;
    // Parameters moved by a covariate that differs between subjects (drawn or tabulated).
    std::set<std::string> varying_cov(table_covariate_.begin(), table_covariate_.end());
    for (const auto& d : spec_.covariates) varying_cov.insert(d.name);
    for (std::size_t i = 0; i < varies.size(); ++i) {
        const Parameter& p = model.parameters[i];
        if (varying_cov.count("weight") && (p.unit_info.per_kg || p.allometric_exponent != 0.0)) varies[i] = true;
        if (varying_cov.count("age") && p.age_slope != 0.0) varies[i] = true;
    }
    for (const auto& e : model.covariate_effects)
        if (varying_cov.count(e.covariate)) varies[static_cast<std::size_t>(layout_.index(e.parameter))] = true;
    for (std::size_t i = 0; i < varies.size(); ++i)
        if (varies[i]) {
            describe_params_.push_back(static_cast<int>(i));
            describe_names_.push_back(layout_.names()[i]);
            const Dimension d = model.parameters[i].unit_info.dimension;
            describe_units_.push_back(d == Dimension::time            ? "h"
                                      : d == Dimension::amount        ? "mg"
                                      : d == Dimension::volume        ? "L"
                                      : d == Dimension::flow          ? "L/h"
                                      : d == Dimension::rate          ? "1/h"
                                      : d == Dimension::concentration ? "ng/mL"
                                                                      : "1");
        }
}

Subject PopulationSource::subject(std::size_t i, std::vector<double>& overrides) const {
    if (i >= n_)
        throw InputError("subject index " + std::to_string(i) +
                         " is outside the population (n = " + std::to_string(n_) + ")");
    Subject s;
    overrides.assign(layout_.size(), std::numeric_limits<double>::quiet_NaN());
    // Reference covariates first, then draws, then the table (a table row wins).
    for (const auto& c : model_->covariates) {
        if (c.name == "weight")
            s.weight_kg = c.reference;
        else if (c.name == "age")
            s.age_years = c.reference;
        else
            s.covariates[c.name] = c.reference;
    }
    if (!spec_.covariates.empty()) {
        RandomStream rng(spec_.seed, spec_.replicate, i, 0, StreamKind::covariates);
        for (const auto& d : spec_.covariates) {
            const double v = d.draw(rng);
            if (d.name == "weight")
                s.weight_kg = v;
            else if (d.name == "age")
                s.age_years = v;
            else
                s.covariates[d.name] = v;
        }
    }
    if (spec_.table.rows() > 0) {
        const std::size_t nc = spec_.table.columns.size();
        for (std::size_t k = 0; k < nc; ++k) {
            const double v = spec_.table.values[i * nc + k];
            if (table_param_col_[k] >= 0)
                overrides[static_cast<std::size_t>(table_param_col_[k])] = v;
            else if (table_covariate_[k] == "weight")
                s.weight_kg = v;
            else if (table_covariate_[k] == "age")
                s.age_years = v;
            else if (!table_covariate_[k].empty())
                s.covariates[table_covariate_[k]] = v;
        }
    }
    const int ne = layout_.eta_count();
    if (ne > 0) {
        s.eta.assign(static_cast<std::size_t>(ne), 0.0);
        if (spec_.variability) {
            RandomStream rng(spec_.seed, spec_.replicate, i, 0, StreamKind::iiv);
            for (const auto& b : blocks_) {
                if (b.per_occasion) continue;
                Eigen::VectorXd z(b.L.rows());
                for (Eigen::Index k = 0; k < z.size(); ++k) z(k) = rng.normal();
                const Eigen::VectorXd eta = b.L * z;
                for (std::size_t k = 0; k < b.eta.size(); ++k)
                    s.eta[static_cast<std::size_t>(b.eta[k])] = eta(static_cast<Eigen::Index>(k));
            }
        }
    }
    return s;
}

void PopulationSource::occasion_effects(std::size_t i, std::uint64_t occasion, Subject& s) const {
    if (!has_iov_ || !spec_.variability) return;
    RandomStream rng(spec_.seed, spec_.replicate, i, occasion, StreamKind::iov);
    for (const auto& b : blocks_) {
        if (!b.per_occasion) continue;
        Eigen::VectorXd z(b.L.rows());
        for (Eigen::Index k = 0; k < z.size(); ++k) z(k) = rng.normal();
        const Eigen::VectorXd eta = b.L * z;
        for (std::size_t k = 0; k < b.eta.size(); ++k)
            s.eta[static_cast<std::size_t>(b.eta[k])] = eta(static_cast<Eigen::Index>(k));
    }
}

void PopulationSource::describe(const Subject& s, const LinearSystem& sys, double* out) const {
    std::size_t k = 0;
    for (const auto& name : describe_names_) {
        if (k >= describe_names_.size() - describe_params_.size()) break;
        if (name == "weight")
            out[k] = s.weight_kg;
        else if (name == "age")
            out[k] = s.age_years;
        else {
            auto it = s.covariates.find(name);
            out[k] = it == s.covariates.end() ? 0.0 : it->second;
        }
        ++k;
    }
    for (int pi : describe_params_) out[k++] = sys.parameter_values[static_cast<std::size_t>(pi)];
}

}   // namespace ketasim
