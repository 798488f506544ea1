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
}  // namespace

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
    check_keys(root, {"name", "title", "description", "notes", "structure", "parameters", "variability"}, file, "");
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
    // The names are checked against the file when a PD model takes the set
    // (conform_pd_parameters): a misspelt parameter table is reported there first, with the
    // closest valid name, rather than as a variability block naming a "missing" parameter.
    for (const auto& b : s.variability)
        if (b.per_occasion)
            throw InputError(file + ":" + std::to_string(b.line) + ": variability: level = \"occasion\" is not supported "
                             "for PD parameters (only \"subject\")");
    return s;
}

namespace {

const char* describe(PdUnit u) {
    switch (u) {
        case PdUnit::concentration: return "a concentration (ng/mL, ug/mL, mg/L, ug/L)";
        case PdUnit::rate: return "a rate (1/h, 1/min, 1/d)";
        case PdUnit::fraction: return "a fraction (1, fraction or %)";
        case PdUnit::percent_effect: return "'% of maximal effect'";
        case PdUnit::mmhg: return "'mmHg'";
        case PdUnit::madrs_points: return "'MADRS points'";
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
        case PdUnit::percent_effect: return fixed("% of maximal effect");
        case PdUnit::mmhg: return fixed("mmHg");
        case PdUnit::madrs_points: return fixed("MADRS points");
        default: break;
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

}  // namespace

PdParameterSet conform_pd_parameters(const PdParameterSet& p, const std::vector<PdParameterSpec>& spec) {
    std::vector<std::string> names;
    for (const auto& s : spec) names.emplace_back(s.name);
    PdParameterSet out = p;
    for (auto& q : out.parameters) {
        const auto it = std::find_if(spec.begin(), spec.end(), [&](const PdParameterSpec& s) { return q.name == s.name; });
        ErrorContext c;
        c.file = p.source_path;
        c.line = q.line;
        c.key = "parameters." + q.name;
        if (it == spec.end()) {
            const std::string near = closest_name(q.name, names);
            std::string list;
            for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
            c.rule = "is not a parameter of this PD model" + (near.empty() ? std::string() : " (did you mean " + near + "?)") +
                     "; parameters: " + list;
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
            throw InputError(p.source_path + ": parameters." + s.name + ": required parameter is missing (" +
                                 describe(s.unit) + ")",
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

}  // namespace ketasim
