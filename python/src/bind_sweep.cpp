// run_sweep with the GIL released; Ctrl-C and the Python progress callback are serviced from the
// SweepOptions.progress hook, which C++ calls on this (the calling) thread about every 50 ms.
#include "bindings.hpp"

namespace {
using namespace ketasim;

// {output: {metric: array (points,)}}; c_at as "c_at" (points, n_at_times).
py::dict metric_arrays(const SweepResult& r) {
    py::dict out;
    if (r.metrics.empty()) return out;
    const auto n = static_cast<py::ssize_t>(r.metrics.size());
    for (const auto& kv : r.metrics[0]) {
        py::dict d;
        // One array per entry of the metric registry (include/ketasim/metrics.hpp).
        const auto& reg = metric_registry();
        for (std::size_t q = 0; q < reg.size(); ++q) {
            py::array_t<double> a(n);
            auto w = a.mutable_unchecked<1>();
            for (py::ssize_t i = 0; i < n; ++i)
                w(i) = metric_value(r.metrics[static_cast<std::size_t>(i)].at(kv.first), q);
            d[reg[q].name] = a;
        }
        const auto k = static_cast<py::ssize_t>(kv.second.c_at.size());
        py::array_t<double> c({n, k});
        auto w = c.mutable_unchecked<2>();
        for (py::ssize_t i = 0; i < n; ++i)
            for (py::ssize_t j = 0; j < k; ++j)
                w(i, j) = r.metrics[static_cast<std::size_t>(i)].at(kv.first).c_at[static_cast<std::size_t>(j)];
        d["c_at"] = c;
        out[py::str(kv.first)] = d;
    }
    return out;
}

// All kept trajectories as one new (points, outputs, time) array, filled in place.
py::array_t<double> trajectory_array(const SweepResult& r) {
    if (r.trajectories.empty()) throw InputError("sweep: trajectories were not kept (keep_trajectories=False)");
    const auto& t0 = r.trajectories[0];
    const auto n = static_cast<py::ssize_t>(r.trajectories.size()), k = static_cast<py::ssize_t>(t0.values.rows()),
               t = static_cast<py::ssize_t>(t0.values.cols());
    py::array_t<double> a({n, k, t});
    double* p = a.mutable_data();
    for (const auto& tr : r.trajectories) {
        if (tr.values.rows() != k || tr.values.cols() != t)
            throw SolverError("sweep: trajectories differ in shape (outputs or times)");
        std::copy(tr.values.data(), tr.values.data() + k * t, p);
        p += k * t;
    }
    return a;
}
// run_sweep over a list of points with the GIL released; Ctrl-C and `progress` are serviced on
// this thread (PyProgress).
SweepResult sweep_with_gil_released(const Model& model, const std::vector<SweepPoint>& points, const OutputGrid& grid,
                                    const SimOptions& options, int threads, std::vector<std::string> outputs,
                                    bool keep_trajectories, const MetricOptions& metric_options, py::object progress) {
    SweepOptions so;
    so.threads = threads;
    so.outputs = std::move(outputs);
    so.keep_trajectories = keep_trajectories;
    so.metric_options = metric_options;
    PyProgress hook(std::move(progress));
    so.progress = hook.hook();
    return hook.run([&] { return run_sweep(model, points, grid, options, so); });
}

// The columns of a sink as NumPy arrays (filled in place), and the trajectories as one new
// (points, outputs, time) array when kept.
py::dict sink_dict(MemorySink& sink) {
    py::dict out, cols;
    for (std::size_t c = 0; c < sink.names.size(); ++c) {
        py::array_t<double> a(static_cast<py::ssize_t>(sink.columns[c].size()));
        std::copy(sink.columns[c].begin(), sink.columns[c].end(), a.mutable_data());
        cols[py::str(sink.names[c])] = a;
        std::vector<double>().swap(sink.columns[c]);   // free as we go: peak is one column, not all
    }
    out["columns"] = cols;
    out["names"] = sink.names;
    out["units"] = sink.units;
    if (!sink.trajectories.empty()) {
        const Trajectory& t0 = sink.trajectories[0];
        const auto n = static_cast<py::ssize_t>(sink.trajectories.size()),
                   k = static_cast<py::ssize_t>(t0.values.rows()), t = static_cast<py::ssize_t>(t0.values.cols());
        py::array_t<double> a({n, k, t});
        double* p = a.mutable_data();
        for (const auto& tr : sink.trajectories) {
            if (tr.values.rows() != k || tr.values.cols() != t)
                throw SolverError("sweep: trajectories differ in shape (outputs or times)");
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
}   // namespace

void bind_sweep(py::module_& m) {
    py::class_<SweepPoint>(m, "SweepPoint")
        .def(py::init<>())
        .def(py::init([](Subject s, Regimen r) {
                 return SweepPoint{std::move(s), std::move(r)};
             }),
             py::arg("subject"), py::arg("regimen"))
        .def_readwrite("subject", &SweepPoint::subject)
        .def_readwrite("regimen", &SweepPoint::regimen);

    py::class_<SweepResult>(m, "SweepResult")
        .def_property_readonly("n_points", [](const SweepResult& r) { return r.metrics.size(); })
        .def("metric_arrays", &metric_arrays)
        .def("trajectory_array", &trajectory_array)
        .def(
            "trajectory", [](const SweepResult& r, std::size_t i) { return r.trajectories.at(i); }, py::arg("i"))
        .def_property_readonly("time",
                               [](const SweepResult& r) {
                                   return r.trajectories.empty() ? std::vector<double>{} : r.trajectories[0].time;
                               })
        .def_property_readonly("output_names",
                               [](const SweepResult& r) {
                                   return r.trajectories.empty() ? std::vector<std::string>{} : r.trajectories[0].names;
                               })
        .def_property_readonly("output_units", [](const SweepResult& r) {
            return r.trajectories.empty() ? std::vector<std::string>{} : r.trajectories[0].units;
        });

    m.def("run_sweep", &sweep_with_gil_released, py::arg("model"), py::arg("points"), py::arg("grid"),
          py::arg_v("options", SimOptions{}, "SimOptions()"), py::arg("threads") = 1,
          py::arg("outputs") = std::vector<std::string>{}, py::arg("keep_trajectories") = false,
          py::arg_v("metric_options", MetricOptions{}, "MetricOptions()"), py::arg("progress") = py::none());

    // A full grid given by its levels: points are decoded from their index in C++ (GridDesign),
    // never materialized; the result is the sink's columns (factors, then <output>.<metric>).
    m.def(
        "run_sweep_grid",
        [](const Model& model, const Subject& base, const Regimen& regimen, const std::vector<std::string>& names,
           std::vector<std::vector<double>> levels, const OutputGrid& grid, const SimOptions& options, int threads,
           std::vector<std::string> outputs, bool keep_trajectories, const MetricOptions& metric_options,
           py::object progress) {
            const GridDesign design(names, std::move(levels));
            const SweepSource source(base, regimen, design);
            SweepOptions so;
            so.threads = threads;
            so.outputs = std::move(outputs);
            so.keep_trajectories = keep_trajectories;
            so.metric_options = metric_options;
            PyProgress hook(std::move(progress));
            so.progress = hook.hook();
            MemorySink sink(keep_trajectories);
            hook.run([&] { run_sweep(model, source, 0, source.size(), grid, options, so, sink); });
            return sink_dict(sink);
        },
        py::arg("model"), py::arg("base"), py::arg("regimen"), py::arg("names"), py::arg("levels"), py::arg("grid"),
        py::arg_v("options", SimOptions{}, "SimOptions()"), py::arg("threads") = 1,
        py::arg("outputs") = std::vector<std::string>{}, py::arg("keep_trajectories") = false,
        py::arg_v("metric_options", MetricOptions{}, "MetricOptions()"), py::arg("progress") = py::none());

    // The number of points of a full grid (a dry count): checks the levels, allocates nothing per point.
    m.def(
        "grid_size",
        [](const std::vector<std::string>& names, std::vector<std::vector<double>> levels) {
            return GridDesign(names, std::move(levels)).size();
        },
        py::arg("names"), py::arg("levels"));
}
