// Run specs from Python: a path, or a dict converted to TOML text and parsed by the same C++
// parser (no validation here); execute_run / estimate_run with the GIL released; merge.
#include <atomic>
#include <filesystem>
#include <optional>
#include <sstream>

#include <toml++/toml.h>

#include "bindings.hpp"
#include "ketasim/runspec.hpp"

namespace {
using namespace ketasim;

// Python values to TOML nodes: str, bool, int, float, list, dict. Anything else is an InputError
// naming the key (the parser then checks names and values as for a file).
void put(toml::table& t, const std::string& key, py::handle v, const std::string& where);

toml::array to_array(py::handle v, const std::string& where) {
    toml::array a;
    std::size_t i = 0;
    for (py::handle e : v) {
        toml::table tmp;
        put(tmp, "x", e, where + "[" + std::to_string(i++) + "]");
        a.push_back(*tmp.get("x"));
    }
    return a;
}

void put(toml::table& t, const std::string& key, py::handle v, const std::string& where) {
    if (py::isinstance<py::bool_>(v))
        t.insert_or_assign(key, v.cast<bool>());
    else if (py::isinstance<py::int_>(v))
        t.insert_or_assign(key, v.cast<std::int64_t>());
    else if (py::isinstance<py::float_>(v))
        t.insert_or_assign(key, v.cast<double>());
    else if (py::isinstance<py::str>(v))
        t.insert_or_assign(key, v.cast<std::string>());
    else if (py::hasattr(v, "__fspath__"))
        t.insert_or_assign(key, py::str(v.attr("__fspath__")()).cast<std::string>());
    else if (py::isinstance<py::dict>(v)) {
        toml::table sub;
        for (auto kv : v.cast<py::dict>())
            put(sub, py::str(kv.first).cast<std::string>(), kv.second,
                where + "." + py::str(kv.first).cast<std::string>());
        t.insert_or_assign(key, std::move(sub));
    } else if (py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v)) {
        t.insert_or_assign(key, to_array(v, where));
    } else {
        throw InputError(where + ": " + py::str(py::type::of(v).attr("__name__")).cast<std::string>() +
                         " is not a spec value (str, int, float, bool, list or dict)");
    }
}

// A dict's relative paths resolve against `base_dir` (Python passes its working directory, so a
// spec built on a Dask client means the same files on a worker whose directory differs).
RunSpec spec_from(py::handle spec, const std::optional<std::string>& base_dir) {
    if (py::isinstance<py::dict>(spec)) {
        toml::table t;
        for (auto kv : spec.cast<py::dict>()) {
            const std::string k = py::str(kv.first).cast<std::string>();
            put(t, k, kv.second, "spec['" + k + "']");
        }
        std::ostringstream os;
        os << t << "\n";
        return parse_run_spec(os.str(), "spec (dict)", base_dir ? *base_dir : std::filesystem::current_path().string());
    }
    return load_run_spec(py::str(spec.attr("__fspath__")()).cast<std::string>());
}

RunControl control_from(const std::string& models_dir, std::optional<int> threads, std::optional<std::string> shard,
                        bool resume, bool over_budget) {
    RunControl c;
    c.models_dir = models_dir;
    if (threads) c.threads = *threads;
    if (shard) c.shard = parse_shard(*shard, "shard");
    c.resume = resume;
    c.allow_over_budget = over_budget;
    return c;
}

}   // namespace

void bind_run(py::module_& m) {
    m.def(
        "spec_text",
        [](py::handle spec, std::optional<std::string> base_dir) { return spec_from(spec, base_dir).text; },
        py::arg("spec"), py::arg("base_dir") = py::none());
    m.def(
        "estimate_run",
        [](py::handle spec, const std::string& models_dir, std::optional<int> threads, std::optional<std::string> shard,
           bool over_budget, std::optional<std::string> base_dir) {
            const RunSpec s = spec_from(spec, base_dir);
            const RunControl c = control_from(models_dir, threads, shard, false, over_budget);
            RunEstimate e;
            {
                py::gil_scoped_release release;
                e = estimate_run(s, c);
            }
            py::dict d;
            d["points"] = e.points;
            d["total"] = e.total;
            d["begin"] = e.begin;
            d["end"] = e.end;
            d["chunks"] = e.chunks;
            d["path"] = e.path;
            d["output_bytes"] = e.output_bytes;
            d["peak_memory_bytes"] = e.peak_memory_bytes;
            d["memory_budget_bytes"] = e.memory_budget_bytes;
            d["disk_free_bytes"] = e.disk_free_bytes;
            d["over_budget"] = [&] {
                try {
                    check_estimate(e, c);
                    return std::string();
                } catch (const InputError& ex) {
                    return std::string(ex.what());
                }
            }();
            return d;
        },
        py::arg("spec"), py::arg("models_dir"), py::arg("threads") = py::none(), py::arg("shard") = py::none(),
        py::arg("over_budget") = false, py::arg("base_dir") = py::none());
    m.def(
        "execute_run",
        [](py::handle spec, const std::string& models_dir, std::optional<int> threads, std::optional<std::string> shard,
           bool resume, bool over_budget, py::object progress, std::optional<std::string> base_dir) {
            const RunSpec s = spec_from(spec, base_dir);
            RunControl c = control_from(models_dir, threads, shard, resume, over_budget);
            if (!resume) check_estimate(estimate_run(s, c), c);
            // Ctrl-C is seen on the calling (main) thread in the progress callback; the writer
            // reads the flag after each chunk and stops there, leaving the file resumable.
            auto stop = std::make_shared<std::atomic<bool>>(false);
            std::optional<py::error_already_set> pending;
            c.progress = [&](std::size_t done, std::size_t total) {
                py::gil_scoped_acquire gil;
                if (pending) return false;
                if (PyErr_CheckSignals() != 0) {
                    pending.emplace();
                    stop->store(true);
                    return false;
                }
                if (progress.is_none()) return true;
                try {
                    py::object r = progress(done, total);
                    if (!(r.is_none() || r.cast<bool>())) stop->store(true);
                } catch (py::error_already_set& e) {
                    pending.emplace(std::move(e));
                    stop->store(true);
                }
                return !stop->load();
            };
            c.stop = [stop] { return stop->load(); };
            RunReport r;
            {
                py::gil_scoped_release release;
                r = execute_run(s, c);
            }
            if (pending) throw *pending;
            py::dict d;
            d["path"] = r.path;
            d["points"] = r.points;
            d["computed"] = r.computed;
            d["resumed"] = r.resumed;
            d["complete"] = r.complete;
            d["seconds"] = r.seconds;
            return d;
        },
        py::arg("spec"), py::arg("models_dir"), py::arg("threads") = py::none(), py::arg("shard") = py::none(),
        py::arg("resume") = false, py::arg("over_budget") = false, py::arg("progress") = py::none(),
        py::arg("base_dir") = py::none());
    m.def(
        "merge_runs",
        [](const std::string& out, const std::vector<std::string>& shards) {
            py::gil_scoped_release release;
            merge_run_files(out, shards);
        },
        py::arg("out"), py::arg("shards"));
}
