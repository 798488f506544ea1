// PD parameter files (models/pd/*.toml): value, unit, description and source side by side, with
// the same file:line, key, value, rule error style as the PK model loader.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/population_toml.hpp"
#include "io/toml_util.hpp"
#include "ketasim/io.hpp"
#include "ketasim/pd.hpp"
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
    check_keys(root, {"name", "title", "description", "notes", "parameters", "variability"}, file, "");
    PdParameterSet s;
    s.source_path = file;
    s.name = get_string(root, "name", file, "", true);
    s.title = get_string(root, "title", file, "", false);
    s.description = get_string(root, "description", file, "", false);
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
    check_variability(s.variability, file, [&](const std::string& n, const std::string& where) {
        if (!s.has(n)) throw InputError(where + ": '" + n + "' is not a parameter of " + file);
        return s.value(n);
    });
    for (const auto& b : s.variability)
        if (b.per_occasion)
            throw InputError(file + ":" + std::to_string(b.line) + ": variability: level = \"occasion\" is not supported "
                             "for PD parameters (only \"subject\")");
    return s;
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
