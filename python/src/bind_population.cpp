// Populations: specs from Python values (covariate fields as text with units, a table as headers
// plus a 2-D array), run_population with the GIL released, columns as NumPy arrays.
#include <optional>

#include "bindings.hpp"

namespace {
using namespace ketasim;

py::dict columns_dict(const MemorySink& sink) {
    py::dict out, cols;
    for (std::size_t c = 0; c < sink.names.size(); ++c) {
        py::array_t<double> a(static_cast<py::ssize_t>(sink.columns[c].size()));
        std::copy(sink.columns[c].begin(), sink.columns[c].end(), a.mutable_data());
        cols[py::str(sink.names[c])] = a;
    }
    out["columns"] = cols;
    out["names"] = sink.names;
    out["units"] = sink.units;
    return out;
}

py::dict km_dict(const KaplanMeier& km) {
    py::dict d;
    d["time"] = km.time;
    d["survival"] = km.survival;
    d["median"] = km.median;
    d["n"] = km.n;
    d["events"] = km.events;
    return d;
}

py::tuple prop(const Proportion& p) { return py::make_tuple(p.successes, p.n, p.estimate, p.lower, p.upper); }

py::dict population_with_gil_released(const Model& model, const Regimen& regimen, const OutputGrid& grid,
                                      const PopulationSpec& spec, std::size_t begin, std::optional<std::size_t> end,
                                      const SimOptions& options, std::vector<std::string> outputs,
                                      const MetricOptions& metric_options, bool keep_trajectories, bool residual_error,
                                      int threads, std::size_t chunk, py::object progress) {
    const PopulationSource source(model, spec, regimen.per_kg());
    PopulationRunOptions ro;
    ro.outputs = std::move(outputs);
    ro.metric_options = metric_options;
    ro.keep_trajectories = keep_trajectories;
    ro.residual_error = residual_error;
    ro.parallel.threads = threads;
    ro.parallel.chunk = chunk;
    PyProgress hook(std::move(progress));   // Ctrl-C and `progress`, serviced on this thread
    ro.parallel.progress = hook.hook();
    MemorySink sink(keep_trajectories);
    hook.run(
        [&] { run_population(model, regimen, grid, source, begin, end.value_or(source.size()), options, ro, sink); });
    py::dict out = columns_dict(sink);
    if (keep_trajectories && !sink.trajectories.empty()) {
        const Trajectory& t0 = sink.trajectories[0];
        const auto n = static_cast<py::ssize_t>(sink.trajectories.size()),
                   k = static_cast<py::ssize_t>(t0.values.rows()), t = static_cast<py::ssize_t>(t0.values.cols());
        py::array_t<double> a({n, k, t});
        double* p = a.mutable_data();
        for (const auto& tr : sink.trajectories) {
            std::copy(tr.values.data(), tr.values.data() + k * t, p);
            p += k * t;
        }
        out["trajectories"] = a;
        out["time"] = t0.time;
        out["output_names"] = t0.names;
        out["output_units"] = t0.units;
    }
    return out;
}
// A dataset (one subject per ID): per-ID columns and the long-format observations table.
py::dict dataset_population_with_gil_released(const Model& model, const Dataset& data, const OutputGrid& grid,
                                              std::uint64_t seed, bool variability, const SimOptions& options,
                                              std::vector<std::string> outputs, const MetricOptions& metric_options,
                                              int threads, std::size_t chunk, py::object progress) {
    const PopulationSource source(model, dataset_population_spec(data, seed, variability), dataset_uses_weight(data));
    PopulationRunOptions ro;
    ro.outputs = std::move(outputs);
    ro.metric_options = metric_options;
    ro.keep_trajectories = true;
    ro.parallel.threads = threads;
    ro.parallel.chunk = chunk;
    std::optional<py::error_already_set> pending;   // Ctrl-C or an error in `progress`
    ro.parallel.progress = [&](std::size_t done, std::size_t total) {
        py::gil_scoped_acquire gil;
        if (pending) return false;
        if (PyErr_CheckSignals() != 0) {
            pending.emplace();
            return false;
        }
        if (progress.is_none()) return true;
        try {
            py::object r = progress(done, total);
            return r.is_none() || r.cast<bool>();
        } catch (py::error_already_set& e) {
            pending.emplace(std::move(e));
            return false;
        }
    };
    MemorySink sink(true);
    try {
        py::gil_scoped_release release;
        run_dataset_population(model, data, grid, source, 0, source.size(), options, ro, sink);
    } catch (const RunCancelled&) {
        if (pending) throw *pending;
        throw;
    }
    if (pending) throw *pending;
    py::dict out = columns_dict(sink);
    std::vector<long> ids;
    for (const auto& s : data.subjects) ids.push_back(s.id);
    const LongTable t = long_format(sink.trajectories, ids);
    MemorySink obs;
    obs.names = t.names;
    obs.units = t.units;
    obs.columns = t.columns;
    out["observations"] = columns_dict(obs);
    if (!sink.trajectories.empty()) {
        out["output_names"] = sink.trajectories.front().names;
        out["output_units"] = sink.trajectories.front().units;
    }
    return out;
}

py::dict course_population_with_gil_released(const CourseSpec& spec, const PdParameterSet& acute,
                                             const PdParameterSet& symptoms, const PopulationSpec& pop,
                                             const CoursePopulationOptions& options, py::object progress) {
    const PopulationSource source(spec.model, pop, spec.regimen.per_kg());
    CoursePopulationOptions o = options;
    PyProgress hook(std::move(progress));
    o.parallel.progress = hook.hook();
    MemorySink sink;
    hook.run([&] { run_course_population(spec, acute, symptoms, source, 0, source.size(), o, sink); });
    // The parameter-uncertainty replicates report no progress (Ctrl-C still stops them).
    PyProgress quiet{py::none()};
    o.parallel.progress = quiet.hook();
    const CourseRateBands bands = quiet.run([&] { return course_rate_bands(spec, acute, symptoms, source, o); });
    const std::size_t n_sessions = course_population_sessions(spec, options);
    const CoursePopulationSummary s = summarize_course_population(sink, n_sessions);
    py::dict out = columns_dict(sink);
    py::list resp, rem, ever;
    for (const auto& p : s.response) resp.append(prop(p));
    for (const auto& p : s.remission) rem.append(prop(p));
    for (const auto& p : s.ever_remitted) ever.append(prop(p));
    py::dict summary;
    summary["response"] = resp;
    summary["remission"] = rem;
    summary["ever_remitted"] = ever;
    summary["sessions_to_response"] = km_dict(s.sessions_to_response);
    summary["sessions_to_remission"] = km_dict(s.sessions_to_remission);
    summary["relapse_h"] = km_dict(s.relapse_h);
    summary["responders_at_last"] = prop(s.responders_at_last);
    summary["session_days"] = std::vector<double>(
        spec.session_starts_h.begin(), spec.session_starts_h.begin() + static_cast<std::ptrdiff_t>(n_sessions));
    summary["replicates"] = bands.replicates;
    if (bands.replicates > 0) {
        summary["response_plo"] = bands.response_plo;
        summary["response_phi"] = bands.response_phi;
        summary["remission_plo"] = bands.remission_plo;
        summary["remission_phi"] = bands.remission_phi;
    }
    out["summary"] = summary;
    return out;
}
}   // namespace

void bind_population(py::module_& m) {
    py::class_<CoursePopulationOptions>(m, "CoursePopulationOptions")
        .def(py::init<>())
        .def_readwrite("course", &CoursePopulationOptions::course)
        .def_readwrite("stop_at_remission", &CoursePopulationOptions::stop_at_remission)
        .def_readwrite("max_sessions", &CoursePopulationOptions::max_sessions)
        .def_readwrite("metrics_only", &CoursePopulationOptions::metrics_only)
        .def_readwrite("madrs_times_h", &CoursePopulationOptions::madrs_times_h)
        .def_readwrite("uncertainty", &CoursePopulationOptions::uncertainty)
        .def_property(
            "threads", [](const CoursePopulationOptions& o) { return o.parallel.threads; },
            [](CoursePopulationOptions& o, int t) { o.parallel.threads = t; })
        .def_property(
            "chunk", [](const CoursePopulationOptions& o) { return o.parallel.chunk; },
            [](CoursePopulationOptions& o, std::size_t c) { o.parallel.chunk = c; })
        .def("validate", &CoursePopulationOptions::validate);

    py::class_<CovariateDistribution>(m, "CovariateDistribution")
        .def_readonly("name", &CovariateDistribution::name)
        .def("__repr__", [](const CovariateDistribution& d) { return "<CovariateDistribution " + d.name + ">"; });
    m.def("covariate_distribution", &parse_covariate_distribution, py::arg("name"), py::arg("fields"),
          py::arg("where"));
    m.def("load_covariate_distributions", &load_covariate_distributions, py::arg("path"));

    py::class_<SubjectTable>(m, "SubjectTable")
        .def_readonly("columns", &SubjectTable::columns)
        .def_property_readonly("rows", &SubjectTable::rows);
    m.def("load_subject_table", &load_subject_table, py::arg("path"));
    m.def(
        "subject_table",
        [](const std::vector<std::string>& headers,
           const py::array_t<double, py::array::c_style | py::array::forcecast>& values, const std::string& source) {
            if (values.ndim() != 2 || values.shape(1) != static_cast<py::ssize_t>(headers.size()))
                throw InputError(source + ": values must have shape (rows, " + std::to_string(headers.size()) + ")");
            std::vector<double> v(values.data(), values.data() + values.size());
            return subject_table_from_columns(headers, v, source);
        },
        py::arg("headers"), py::arg("values"), py::arg("source"));

    py::class_<PopulationSpec>(m, "PopulationSpec")
        .def(py::init<>())
        .def_readwrite("n", &PopulationSpec::n)
        .def_readwrite("seed", &PopulationSpec::seed)
        .def_readwrite("replicate", &PopulationSpec::replicate)
        .def_readwrite("covariates", &PopulationSpec::covariates)
        .def_readwrite("table", &PopulationSpec::table)
        .def_readwrite("variability", &PopulationSpec::variability);
    // After PopulationSpec, so its signature (and the generated stub) names the Python type.
    m.def("run_course_population", &course_population_with_gil_released, py::arg("spec"), py::arg("acute"),
          py::arg("symptoms"), py::arg("population"), py::arg("options"), py::arg("progress") = py::none());

    py::class_<Dataset>(m, "Dataset")
        .def_property_readonly("ids",
                               [](const Dataset& d) {
                                   std::vector<long> ids;
                                   for (const auto& s : d.subjects) ids.push_back(s.id);
                                   return ids;
                               })
        .def_readonly("covariate_headers", &Dataset::covariate_headers)
        .def("__len__", [](const Dataset& d) { return d.subjects.size(); });
    m.def("load_dataset", &load_dataset, py::arg("path"), py::arg("model"));
    m.def("parse_dataset", &parse_dataset, py::arg("csv_text"), py::arg("source_name"), py::arg("model"));
    m.def("run_dataset_population", &dataset_population_with_gil_released, py::arg("model"), py::arg("data"),
          py::arg("grid"), py::arg("seed") = 0, py::arg("variability") = true,
          py::arg_v("options", SimOptions{}, "SimOptions()"), py::arg("outputs") = std::vector<std::string>{},
          py::arg_v("metric_options", MetricOptions{}, "MetricOptions()"), py::arg("threads") = 0,
          py::arg("chunk") = 16, py::arg("progress") = py::none());
    m.def("run_population", &population_with_gil_released, py::arg("model"), py::arg("regimen"), py::arg("grid"),
          py::arg("spec"), py::arg("begin") = 0, py::arg("end") = py::none(),
          py::arg_v("options", SimOptions{}, "SimOptions()"), py::arg("outputs") = std::vector<std::string>{},
          py::arg_v("metric_options", MetricOptions{}, "MetricOptions()"), py::arg("keep_trajectories") = false,
          py::arg("residual_error") = false, py::arg("threads") = 0, py::arg("chunk") = 16,
          py::arg("progress") = py::none());

    m.def("percentile_bands", &percentile_bands, py::arg("trajectories"), py::arg("output"), py::arg("percentiles"));
    m.def(
        "wilson_interval",
        [](std::size_t x, std::size_t n) {
            const Proportion p = wilson_interval(x, n);
            return py::make_tuple(p.estimate, p.lower, p.upper);
        },
        py::arg("successes"), py::arg("n"));
    m.def(
        "kaplan_meier",
        [](const std::vector<double>& t, const std::vector<bool>& e) { return km_dict(kaplan_meier(t, e)); },
        py::arg("time"), py::arg("event"));
    m.def("require_covariates_used", &require_covariates_used, py::arg("model"), py::arg("regimen_per_kg"),
          py::arg("names"), py::arg("where"));
    m.def("resolve_thread_count", &resolve_thread_count, py::arg("requested"));
}
