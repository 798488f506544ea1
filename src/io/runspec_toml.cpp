// Run spec TOML (docs/hpc.md): the one parser behind `ketasim run SPEC.toml` and `ks.run(spec)`.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/toml_util.hpp"
#include "ketasim/errors.hpp"
#include "ketasim/runspec.hpp"
#include "ketasim/units.hpp"

namespace ketasim {

namespace fs = std::filesystem;

namespace {

// Unknown keys name the closest accepted one: a misspelt `trajectory = true` would otherwise
// silently give a metrics-only run.
void check_known(const toml::table& t, const std::vector<std::string>& allowed, const std::string& file,
                 const std::string& path) {
    for (const auto& kv : t) {
        const std::string k(kv.first.str());
        if (std::find(allowed.begin(), allowed.end(), k) != allowed.end()) continue;
        const std::string near = closest_name(k, allowed);
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        throw InputError(detail::at_line(file, kv.second) + ": " + (path.empty() ? "" : path + ".") + k +
                         ": unknown key" + (near.empty() ? "" : " (did you mean '" + near + "'?)") +
                         "; accepted: " + list);
    }
}

const toml::table* subtable(const toml::table& t, const std::string& key, const std::string& file) {
    const toml::node* n = t.get(key);
    if (!n) return nullptr;
    if (const auto* tt = n->as_table()) return tt;
    throw InputError(detail::at_line(file, *n) + ": " + key + ": must be a table ([" + key + "])");
}

std::string resolve(const std::string& base, const std::string& p) {
    if (p.empty() || fs::path(p).is_absolute() || base.empty()) return p;
    return (fs::path(base) / p).lexically_normal().string();
}

long long get_integer(const toml::table& t, const std::string& key, const std::string& file, const std::string& path,
                      long long lo, long long hi, long long def) {
    const toml::node* n = t.get(key);
    if (!n) return def;
    const auto v = n->value_exact<int64_t>();
    const std::string where = detail::at_line(file, *n) + ": " + (path.empty() ? "" : path + ".") + key;
    if (!v) throw InputError(where + ": must be an integer");
    if (*v < lo || *v > hi)
        throw InputError(where + ": value " + std::to_string(*v) + " must be in [" + std::to_string(lo) + ", " +
                         std::to_string(hi) + "]");
    return *v;
}

// "4 GiB", "512 MB", "1.5e9" (bytes).
double parse_bytes(const std::string& text, const std::string& where) {
    std::istringstream in(text);
    double v = 0;
    std::string unit;
    in >> v;
    if (!in) throw InputError(where + ": '" + text + "' is not a size (e.g. \"4 GiB\", \"512 MB\")");
    in >> unit;
    std::string rest;
    if (in >> rest) throw InputError(where + ": '" + text + "' is not a size (e.g. \"4 GiB\", \"512 MB\")");
    const std::vector<std::pair<std::string, double>> units = {
        {"", 1.0},    {"B", 1.0},      {"kB", 1e3},        {"MB", 1e6},           {"GB", 1e9},
        {"TB", 1e12}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0}};
    for (const auto& u : units)
        if (u.first == unit) {
            const double b = v * u.second;
            if (!(std::isfinite(b) && b > 0))
                throw InputError(where + ": '" + text + "' must be a positive finite size");
            return b;
        }
    std::vector<std::string> names;
    for (const auto& u : units)
        if (!u.first.empty()) names.push_back(u.first);
    std::string near;
    for (const auto& u : names)   // a wrong case (Gib, mb) is the likeliest slip
        if (u.size() == unit.size() && std::equal(u.begin(), u.end(), unit.begin(),
                                                  [](char x, char y) { return std::tolower(x) == std::tolower(y); }))
            near = u;
    if (near.empty()) near = closest_name(unit, names);
    throw InputError(where + ": unknown size unit '" + unit + "'" +
                     (near.empty() ? "" : " (did you mean '" + near + "'?)") +
                     "; accepted: B, kB, MB, GB, TB, KiB, MiB, GiB, TiB");
}

}   // namespace

namespace {
// The factor's name of a "NAME=KIND(ARGS)" entry, trimmed.
std::string factor_name(const std::string& entry) {
    const auto eq = entry.find('=');
    std::string n = eq == std::string::npos ? entry : entry.substr(0, eq);
    const auto b = n.find_first_not_of(" \t"), e = n.find_last_not_of(" \t");
    return b == std::string::npos ? "" : n.substr(b, e - b + 1);
}
}   // namespace

bool RunSpec::has_schedule_factor() const {
    for (const auto& f : design_factors) {
        const auto b = f.first.find_first_not_of(" \t"), e = f.first.find_last_not_of(" \t");
        if (b != std::string::npos && f.first.substr(b, e - b + 1) == "schedule") return true;
    }
    return false;
}

void RunSpec::validate() const {
    const std::string f = source.empty() ? "spec" : source;
    if (model.empty() && !is_course()) throw InputError(f + ": model: required (a library name or a model .toml file)");
    if (regimen.empty() && !is_course())
        throw InputError(f + ": regimen: required (a regimen TOML file), or schedule = NAME for treatment courses");
    if (has_schedule_factor() && !schedule.empty())
        throw InputError(f + ": schedule: '" + schedule +
                         "' and the design factor schedule=choice(...) both set the schedule; give one (a single "
                         "schedule as schedule = NAME, or the choice as the factor)");
    if (is_course()) {
        for (const auto& fac : design_factors) {
            const auto b = fac.first.find_first_not_of(" \t"), e = fac.first.find_last_not_of(" \t");
            if (b != std::string::npos && fac.first.substr(b, e - b + 1) == "dose")
                throw InputError(f +
                                 ": design.factors: dose: a course's doses come from its schedule (course.weeks, "
                                 "the schedule's mg/kg); a course design varies schedule, weight, age or model "
                                 "parameters");
        }
        if (trajectories)
            throw InputError(f +
                             ": outputs.trajectories: a course run stores each subject's session columns, not "
                             "curves (use ks.course for one patient's curves)");
        if (!(course_follow_up_h >= 24.0) || !std::isfinite(course_follow_up_h))
            throw InputError(f + ": course.follow_up: must be at least 1 d");
        if (!(remission_threshold >= 0.0 && remission_threshold <= 60.0))
            throw InputError(f + ": course.remission_threshold: must be a MADRS score in [0, 60]");
    }
    if (is_design()) {
        if (design_kind != "sobol" && design_kind != "lhs")
            throw InputError(f + ": design.kind: '" + design_kind + "' must be \"sobol\" or \"lhs\"");
        if (design_n == 0) throw InputError(f + ": design.n: must be >= 1");
        if (design_factors.empty()) throw InputError(f + ": design.factors: at least one factor is required");
    } else if (n == 0 && table.empty()) {
        throw InputError(f + ": population.n: must be >= 1 (or give population.table)");
    }
    if (seed > (std::uint64_t{1} << 63) - 1) throw InputError(f + ": population.seed: must be in [0, 2^63 - 1]");
    if (!(dt_h > 0) || !(t_end_h > 0) || !std::isfinite(t_end_h))
        throw InputError(f + ": outputs.t_end and outputs.dt must be > 0");
    if (chunk < 1) throw InputError(f + ": run.chunk: must be >= 1");
    if (threads < 0) throw InputError(f + ": run.threads: must be >= 0");
    if (compression < 0 || compression > 9)
        throw InputError(f + ": run.compression: " + std::to_string(compression) + " must be in [0, 9]");
    if (out.empty()) throw InputError(f + ": run.out: required (the result file, .h5)");
    const auto ends = [&](const std::string& s) {
        return out.size() >= s.size() && out.compare(out.size() - s.size(), s.size(), s) == 0;
    };
    if (!ends(".h5") && !ends(".hdf5") && !ends(".nc"))
        throw InputError(f + ": run.out: '" + out + "' must end in .h5, .hdf5 or .nc (a streamed HDF5 file)");
    sim.validate();
}

RunSpec parse_run_spec(const std::string& text, const std::string& file, const std::string& base_dir) {
    const toml::table root = detail::parse_toml(text, file);
    RunSpec s;
    s.source = file;
    s.text = text;
    s.base_dir = base_dir;
    check_known(root, {"model", "regimen", "schedule", "course", "population", "design", "outputs", "solver", "run"},
                file, "");
    s.schedule = detail::get_string(root, "schedule", file, "", false);
    // A course design (a schedule factor) is a course run: known before [design] is read.
    bool schedule_factor = false;
    if (const toml::node* d = root.get("design"); d && d->as_table())
        if (const toml::node* fs = d->as_table()->get("factors"); fs && fs->as_array())
            for (const auto& e : *fs->as_array())
                if (const auto v = e.value<std::string>(); v && factor_name(*v) == "schedule") schedule_factor = true;
    const bool course = !s.schedule.empty() || schedule_factor;
    if (course && root.get("regimen"))
        throw InputError(detail::at_line(file, *root.get("regimen")) +
                         ": regimen and schedule are exclusive: a schedule builds each course's doses");
    if (root.get("course") && !course)
        throw InputError(detail::at_line(file, *root.get("course")) +
                         ": [course]: applies with schedule = NAME (or a design factor schedule=choice(...))");
    s.model = detail::get_string(root, "model", file, "", !course);
    const std::string model_path = resolve(base_dir, s.model);
    // A library name stays a name; a file next to the spec is found relative to it.
    if (s.model.find('/') != std::string::npos || (s.model.size() > 5 && s.model.substr(s.model.size() - 5) == ".toml"))
        s.model = model_path;
    if (!course) s.regimen = resolve(base_dir, detail::get_string(root, "regimen", file, "", true));
    if (const toml::table* c = subtable(root, "course", file)) {
        check_known(*c,
                    {"weeks", "days", "follow_up", "dt", "remission_threshold", "stop_at_remission", "max_sessions",
                     "symptom_model", "metrics_only"},
                    file, "course");
        s.symptom_model = detail::get_string(*c, "symptom_model", file, "course", false, "madrs");
        if (s.symptom_model.find('/') != std::string::npos ||
            (s.symptom_model.size() > 5 && s.symptom_model.substr(s.symptom_model.size() - 5) == ".toml"))
            s.symptom_model = resolve(base_dir, s.symptom_model);
        if (c->get("weeks")) s.course_weeks = static_cast<int>(get_integer(*c, "weeks", file, "course", 1, 520, 1));
        if (const toml::node* d = c->get("days")) {
            const auto* arr = d->as_array();
            if (!arr || arr->empty())
                throw InputError(detail::at_line(file, *d) + ": course.days: must be a non-empty array of day numbers");
            for (const auto& e : *arr) {
                const auto v = e.value<double>();
                if (!v || !std::isfinite(*v))
                    throw InputError(detail::at_line(file, e) + ": course.days: every entry must be a finite number");
                s.course_days.push_back(*v);
            }
        }
        s.course_follow_up_h = parse_quantity(detail::get_string(*c, "follow_up", file, "course", false, "28 d"),
                                              Dimension::time, file + ": course.follow_up");
        s.course_dt_h = parse_quantity(detail::get_string(*c, "dt", file, "course", false, "1 min"), Dimension::time,
                                       file + ": course.dt");
        s.remission_threshold = detail::get_number(*c, "remission_threshold", file, "course", false, 10.0);
        s.stop_at_remission = detail::get_bool(*c, "stop_at_remission", file, "course", false);
        s.max_sessions = static_cast<int>(get_integer(*c, "max_sessions", file, "course", 0, 10'000, 0));
        s.metrics_only = detail::get_bool(*c, "metrics_only", file, "course", false);
    }

    if (const toml::table* p = subtable(root, "population", file)) {
        check_known(*p, {"n", "seed", "covariates", "table", "variability"}, file, "population");
        s.n = static_cast<std::size_t>(get_integer(*p, "n", file, "population", 1, 1'000'000'000'000LL, 0));
        s.seed = static_cast<std::uint64_t>(get_integer(*p, "seed", file, "population", 0, INT64_MAX, 0));
        s.covariates = resolve(base_dir, detail::get_string(*p, "covariates", file, "population", false));
        s.table = resolve(base_dir, detail::get_string(*p, "table", file, "population", false));
        s.variability = detail::get_bool(*p, "variability", file, "population", true);
        if (!p->get("n") && s.table.empty())
            throw InputError(file +
                             ": population.n: required (the number of subjects), unless population.table is given");
        if (root.get("design"))
            throw InputError(detail::at_line(file, *root.get("design")) +
                             ": design: a run has [population] or [design], not both");
    } else if (const toml::table* d = subtable(root, "design", file)) {
        check_known(*d, {"kind", "n", "seed", "shift", "factors"}, file, "design");
        s.design_kind = detail::get_string(*d, "kind", file, "design", true);
        if (s.design_kind != "sobol" && s.design_kind != "lhs")
            throw InputError(detail::at_line(file, *d->get("kind")) + ": design.kind: '" + s.design_kind +
                             "' must be \"sobol\" or \"lhs\"");
        s.design_n = static_cast<std::size_t>(get_integer(*d, "n", file, "design", 1, 1'000'000'000'000LL, 0));
        if (!d->get("n")) throw InputError(file + ": design.n: required (the number of design points)");
        s.design_seed = static_cast<std::uint64_t>(get_integer(*d, "seed", file, "design", 0, INT64_MAX, 0));
        s.design_shift = detail::get_bool(*d, "shift", file, "design", false);
        if (s.design_shift && s.design_kind != "sobol")
            throw InputError(file + ": design.shift: applies to kind = \"sobol\" only");
        // An array, not a table: the factors' order is the design's dimension order (a TOML
        // table has none), and each entry reads as `ketasim sensitivity --factor` does.
        const toml::node* fn = d->get("factors");
        const toml::array* fa = fn ? fn->as_array() : nullptr;
        if (!fa || fa->empty())
            throw InputError((fn ? detail::at_line(file, *fn) : file) +
                             ": design.factors: required, an array of \"NAME=KIND(ARGS)\" strings in design order, "
                             "e.g. [\"weight=uniform(50 kg, 110 kg)\", \"CL=lognormal(80 L/h, 0.3)\"]");
        for (const auto& e : *fa) {
            const auto v = e.value<std::string>();
            const auto eq = v ? v->find('=') : std::string::npos;
            if (!v || eq == std::string::npos || eq == 0)
                throw InputError(detail::at_line(file, e) +
                                 ": design.factors: every entry must be a \"NAME=KIND(ARGS)\" string (e.g. "
                                 "\"weight=uniform(50 kg, 110 kg)\")");
            s.design_factors.emplace_back(v->substr(0, eq), v->substr(eq + 1));
        }
    } else {
        throw InputError(file + ": [population] or [design]: required (n = number of subjects or points, ...)");
    }

    if (s.is_course() && root.get("outputs"))
        throw InputError(detail::at_line(file, *root.get("outputs")) +
                         ": [outputs]: a course run's columns are the session table's (docs/hpc.md); remove [outputs]");
    if (const toml::table* o = subtable(root, "outputs", file)) {
        check_known(*o, {"names", "trajectories", "t_end", "dt"}, file, "outputs");
        if (const toml::node* n = o->get("names")) {
            const auto* arr = n->as_array();
            if (!arr) throw InputError(detail::at_line(file, *n) + ": outputs.names: must be an array of output names");
            for (const auto& e : *arr) {
                auto v = e.value<std::string>();
                if (!v || v->empty())
                    throw InputError(detail::at_line(file, e) +
                                     ": outputs.names: every entry must be a non-empty string");
                s.outputs.push_back(*v);
            }
        }
        s.trajectories = detail::get_bool(*o, "trajectories", file, "outputs", false);
        s.t_end_h = parse_quantity(detail::get_string(*o, "t_end", file, "outputs", false, "24 h"), Dimension::time,
                                   file + ": outputs.t_end");
        s.dt_h = parse_quantity(detail::get_string(*o, "dt", file, "outputs", false, "1 h"), Dimension::time,
                                file + ": outputs.dt");
    }

    if (s.is_course() && root.get("solver"))
        throw InputError(detail::at_line(file, *root.get("solver")) +
                         ": [solver]: a course run uses the exact PK solution and the semi-analytic PD solver");
    if (const toml::table* o = subtable(root, "solver", file)) {
        check_known(*o, {"kind", "method", "rtol", "atol", "max_steps"}, file, "solver");
        const std::string kind = detail::get_string(*o, "kind", file, "solver", false, "exact");
        try {
            s.sim.solver = solver_from_string(kind);
            if (o->get("method"))
                s.sim.method = ode_method_from_string(detail::get_string(*o, "method", file, "solver", false));
        } catch (const InputError& e) {
            throw InputError(file + ": solver: " + e.what());
        }
        s.sim.rtol = detail::get_number(*o, "rtol", file, "solver", false, s.sim.rtol);
        s.sim.atol = detail::get_number(*o, "atol", file, "solver", false, s.sim.atol);
        s.sim.max_steps =
            static_cast<long>(get_integer(*o, "max_steps", file, "solver", 1, INT64_MAX, s.sim.max_steps));
        if (s.sim.solver != SolverKind::ode && (o->get("rtol") || o->get("atol") || o->get("method")))
            throw InputError(file +
                             ": solver: rtol, atol and method apply to kind = \"ode\" (the exact solver has none)");
    }

    if (const toml::table* r = subtable(root, "run", file)) {
        check_known(*r, {"out", "chunk", "threads", "memory_budget", "compression"}, file, "run");
        s.out = resolve(base_dir, detail::get_string(*r, "out", file, "run", true));
        s.chunk = static_cast<std::size_t>(get_integer(*r, "chunk", file, "run", 1, 1'000'000, 256));
        s.threads = static_cast<int>(get_integer(*r, "threads", file, "run", 0, 4096, 0));
        if (const toml::node* n = r->get("memory_budget")) {
            const auto v = n->value<std::string>();
            if (!v)
                throw InputError(detail::at_line(file, *n) + ": run.memory_budget: must be a string such as \"4 GiB\"");
            s.memory_budget_bytes = parse_bytes(*v, detail::at_line(file, *n) + ": run.memory_budget");
        }
        s.compression = static_cast<int>(get_integer(*r, "compression", file, "run", 0, 9, 1));
    } else {
        throw InputError(file + ": [run]: required (out = \"result.h5\")");
    }
    s.validate();
    return s;
}

RunSpec load_run_spec(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path + ": cannot open run spec");
    std::ostringstream ss;
    ss << in.rdbuf();
    const std::string base = fs::path(path).parent_path().string();
    return parse_run_spec(ss.str(), path, base.empty() ? "." : base);
}

Shard parse_shard(const std::string& text, const std::string& where) {
    const auto slash = text.find('/');
    auto bad = [&]() {
        return InputError(where + ": '" + text + "' must be i/N with 0 <= i < N (e.g. 0/3, 1/3, 2/3)");
    };
    if (slash == std::string::npos || slash == 0 || slash + 1 >= text.size()) throw bad();
    for (std::size_t k = 0; k < text.size(); ++k)
        if (k != slash && !std::isdigit(static_cast<unsigned char>(text[k]))) throw bad();
    if (slash > 9 || text.size() - slash - 1 > 9) throw bad();
    Shard s;
    s.index = std::stoul(text.substr(0, slash));
    s.count = std::stoul(text.substr(slash + 1));
    if (s.count < 1 || s.index >= s.count) throw bad();
    return s;
}

void shard_range(std::size_t n, const Shard& s, std::size_t& begin, std::size_t& end, std::size_t chunk) {
    chunk = std::max<std::size_t>(chunk, 1);
    const std::size_t chunks = (n + chunk - 1) / chunk;
    const std::size_t c0 = chunks / s.count * s.index + std::min(s.index, chunks % s.count);
    const std::size_t c1 = c0 + chunks / s.count + (s.index < chunks % s.count ? 1 : 0);
    begin = std::min(n, c0 * chunk);
    end = std::min(n, c1 * chunk);
}

std::string shard_path(const std::string& out, const Shard& s) {
    if (s.count == 1) return out;
    const fs::path p(out);
    return (p.parent_path() / (p.stem().string() + ".shard-" + std::to_string(s.index) + "-of-" +
                               std::to_string(s.count) + p.extension().string()))
        .string();
}

}   // namespace ketasim
