// Model files: see docs/formats.md and the annotated models/*.toml.
#include <cmath>
#include <fstream>
#include <sstream>

#include "io/population_toml.hpp"
#include "io/toml_util.hpp"
#include "core/text.hpp"
#include "ketasim/io.hpp"

namespace ketasim {

namespace {

std::vector<std::string> string_list(const toml::table& t, const std::string& key, const std::string& file,
                                     const std::string& path) {
    std::vector<std::string> out;
    const toml::node* n = t.get(key);
    if (!n) return out;
    if (auto s = n->value<std::string>()) return {*s};
    const toml::array* a = n->as_array();
    if (!a)
        throw InputError(detail::at_line(file, *n) + ": " + path + "." + key +
                         ": must be a string or a list of strings");
    for (const auto& e : *a) {
        auto s = e.value<std::string>();
        if (!s) throw InputError(detail::at_line(file, e) + ": " + path + "." + key + ": every item must be a string");
        out.push_back(*s);
    }
    return out;
}

const toml::table& as_table(const toml::node& n, const std::string& file, const std::string& path) {
    const toml::table* t = n.as_table();
    if (!t) throw InputError(detail::at_line(file, n) + ": " + path + ": must be a table");
    return *t;
}

const toml::array& as_array_of_tables(const toml::table& root, const std::string& key, const std::string& file) {
    const toml::node* n = root.get(key);
    if (!n) throw InputError(file + ": '" + key + "' is missing (write [[" + key + "]] entries)");
    const toml::array* a = n->as_array();
    if (!a)
        throw InputError(detail::at_line(file, *n) + ": '" + key + "' must be an array of tables ([[" + key + "]])");
    return *a;
}

}   // namespace

Model parse_model(const std::string& text, const std::string& file) {
    using namespace detail;
    const toml::table root = parse_toml(text, file);
    check_keys(
        root,
        {"name", "title", "description", "analyte", "parameters", "compartments", "flows", "routes", "outputs",
         "effect_site", "notes", "references", "covariates", "covariate_effects", "variability", "residual_error"},
        file, "");
    Model m;
    m.source_path = file;
    m.source_text = text;
    m.name = get_string(root, "name", file, "model", true);
    m.title = get_string(root, "title", file, "model", false);
    m.description = get_string(root, "description", file, "model", false);
    m.analyte = get_string(root, "analyte", file, "model", false);

    const toml::node* pn = root.get("parameters");
    if (!pn) throw InputError(file + ": [parameters] is missing");
    for (const auto& kv : as_table(*pn, file, "parameters")) {
        const std::string pname(kv.first.str());
        const std::string path = "parameters." + pname;
        const toml::table& t = as_table(kv.second, file, path);
        check_keys(t,
                   {"value", "unit", "description", "source", "calibrated", "allometric_exponent", "reference_weight",
                    "lower", "upper", "age_slope", "age_reference", "note", "range"},
                   file, path);
        Parameter p;
        p.name = pname;
        p.value = get_number(t, "value", file, path, true);
        p.unit = get_string(t, "unit", file, path, true);
        p.description = get_string(t, "description", file, path, false);
        p.source = get_string(t, "source", file, path, false);
        p.calibrated = get_bool(t, "calibrated", file, path, false);
        p.allometric_exponent = get_number(t, "allometric_exponent", file, path, false, 0.0);
        p.reference_weight_kg = get_number(t, "reference_weight", file, path, false, 70.0);
        p.lower = get_number(t, "lower", file, path, false, -1e300);
        p.upper = get_number(t, "upper", file, path, false, 1e300);
        p.age_slope = get_number(t, "age_slope", file, path, false, 0.0);
        p.age_reference = get_number(t, "age_reference", file, path, false, 60.0);
        try {
            p.unit_info = parse_unit(p.unit);
        } catch (const InputError& e) {
            throw InputError(at_line(file, *t.get("unit")) + ": " + path + ".unit: " + e.what());
        }
        if (!(p.reference_weight_kg > 0))
            throw InputError(at_line(file, *t.get("reference_weight")) + ": " + path +
                             ".reference_weight must be > 0 kg");
        m.parameters.push_back(p);
    }

    const toml::array& comps = as_array_of_tables(root, "compartments", file);
    for (std::size_t i = 0; i < comps.size(); ++i) {
        const std::string path = "compartments[" + std::to_string(i) + "]";
        const toml::table& t = as_table(comps[i], file, path);
        check_keys(t, {"name", "volume", "description"}, file, path);
        m.compartments.push_back({get_string(t, "name", file, path, true), get_string(t, "volume", file, path, false),
                                  get_string(t, "description", file, path, false)});
    }
    if (const toml::node* fn = root.get("flows")) {
        const toml::array* fa = fn->as_array();
        if (!fa) throw InputError(at_line(file, *fn) + ": 'flows' must be an array of tables ([[flows]])");
        for (std::size_t i = 0; i < fa->size(); ++i) {
            const std::string path = "flows[" + std::to_string(i) + "]";
            const toml::table& t = as_table((*fa)[i], file, path);
            check_keys(t, {"from", "to", "rate", "bidirectional", "description"}, file, path);
            Flow f;
            f.from = get_string(t, "from", file, path, true);
            f.to = get_string(t, "to", file, path, false);
            f.rate = get_string(t, "rate", file, path, true);
            f.bidirectional = get_bool(t, "bidirectional", file, path, false);
            m.flows.push_back(f);
        }
    }
    const toml::node* rn = root.get("routes");
    if (!rn) throw InputError(file + ": [routes] is missing; a model needs at least one dosing route");
    for (const auto& kv : as_table(*rn, file, "routes")) {
        const std::string rname(kv.first.str());
        const std::string path = "routes." + rname;
        const toml::table& t = as_table(kv.second, file, path);
        check_keys(t, {"kind", "description", "branches"}, file, path);
        Route r;
        r.name = rname;
        r.kind = route_kind_from_string(get_string(t, "kind", file, path, false, rname),
                                        at_line(file, kv.second) + ": " + path + ".kind");
        r.description = get_string(t, "description", file, path, false);
        const toml::node* bn = t.get("branches");
        if (!bn || !bn->as_array())
            throw InputError(at_line(file, kv.second) + ": " + path + ".branches: required array of tables ([[" + path +
                             ".branches]])");
        const toml::array& ba = *bn->as_array();
        for (std::size_t i = 0; i < ba.size(); ++i) {
            const std::string bpath = path + ".branches[" + std::to_string(i) + "]";
            const toml::table& bt = as_table(ba[i], file, bpath);
            check_keys(bt, {"target", "fraction", "remainder", "device_factor", "duration", "lag", "description"}, file,
                       bpath);
            RouteBranch b;
            b.target = get_string(bt, "target", file, bpath, true);
            b.fraction = string_list(bt, "fraction", file, bpath);
            b.remainder = get_bool(bt, "remainder", file, bpath, false);
            b.device_factor = get_string(bt, "device_factor", file, bpath, false);
            b.duration = get_string(bt, "duration", file, bpath, false);
            b.lag = get_string(bt, "lag", file, bpath, false);
            r.branches.push_back(b);
        }
        m.routes.push_back(r);
    }
    const toml::array& outs = as_array_of_tables(root, "outputs", file);
    for (std::size_t i = 0; i < outs.size(); ++i) {
        const std::string path = "outputs[" + std::to_string(i) + "]";
        const toml::table& t = as_table(outs[i], file, path);
        check_keys(t, {"name", "compartment", "analyte", "description"}, file, path);
        m.outputs.push_back({get_string(t, "name", file, path, true), get_string(t, "compartment", file, path, true),
                             get_string(t, "analyte", file, path, false, m.analyte),
                             get_string(t, "description", file, path, false)});
    }
    if (const toml::node* en = root.get("effect_site")) {
        const toml::table& t = as_table(*en, file, "effect_site");
        check_keys(t, {"name", "driver", "ke0", "racemic_equivalent", "description"}, file, "effect_site");
        EffectSite es;
        es.name = get_string(t, "name", file, "effect_site", false, "Ce");
        es.driver = get_string(t, "driver", file, "effect_site", false, "C_plasma");
        es.ke0 = get_string(t, "ke0", file, "effect_site", true);
        es.racemic_equivalent = get_string(t, "racemic_equivalent", file, "effect_site", false);
        m.effect_site = es;
    }
    m.covariates = parse_covariates(root, file);
    m.covariate_effects = parse_covariate_effects(root, file);
    m.variability = parse_variability(root, file);
    m.residual_error = parse_residual_error(root, file);
    m.validate();
    if (m.effect_site && !m.effect_site->racemic_equivalent.empty()) {
        const std::string& pn = m.effect_site->racemic_equivalent;
        if (!m.has_parameter(pn))
            throw InputError(file + ": effect_site.racemic_equivalent names parameter '" + pn +
                             "', which is not defined");
        const Parameter& p = m.parameter(pn);
        if (p.unit_info.dimension != Dimension::dimensionless || !(p.value > 0) || !std::isfinite(p.value))
            throw InputError(file + ": parameters." + pn + " (effect_site.racemic_equivalent): value " +
                             detail::fmt(p.value) + " " + p.unit +
                             ": must be a finite number > 0 with unit 'dimensionless'");
    }
    complete_population_layer(m, file);
    return m;
}

Model load_model(const std::string& path) { return parse_model(detail::read_text_file(path), path); }

}   // namespace ketasim
