// run_sweep with the GIL released; Ctrl-C and the Python progress callback are serviced from the
// SweepOptions.progress hook, which C++ calls on this (the calling) thread about every 50 ms.
#include <optional>

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
// run_sweep with the GIL released; Ctrl-C and `progress` are serviced on this thread.
SweepResult sweep_with_gil_released(const Model& model, const std::vector<SweepPoint>& points, const OutputGrid& grid,
                                    const SimOptions& options, int threads, std::vector<std::string> outputs,
                                    bool keep_trajectories, const MetricOptions& metric_options, py::object progress) {
    SweepOptions so;
    so.threads = threads;
    so.outputs = std::move(outputs);
    so.keep_trajectories = keep_trajectories;
    so.metric_options = metric_options;
    std::optional<py::error_already_set> pending;   // Ctrl-C or an error in `progress`
    so.progress = [&](std::size_t done, std::size_t total) {
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
    SweepResult result;
    try {
        py::gil_scoped_release release;
        result = run_sweep(model, points, grid, options, so);
    } catch (const SweepCancelled&) {
        if (pending) throw *pending;
        throw;
    }
    if (pending) throw *pending;   // Ctrl-C during the final report
    return result;
}
}  // namespace

void bind_sweep(py::module_& m) {
    py::class_<SweepPoint>(m, "SweepPoint")
        .def(py::init<>())
        .def(py::init([](Subject s, Regimen r) { return SweepPoint{std::move(s), std::move(r)}; }), py::arg("subject"),
             py::arg("regimen"))
        .def_readwrite("subject", &SweepPoint::subject)
        .def_readwrite("regimen", &SweepPoint::regimen);

    py::class_<SweepResult>(m, "SweepResult")
        .def_property_readonly("n_points", [](const SweepResult& r) { return r.metrics.size(); })
        .def("metric_arrays", &metric_arrays)
        .def("trajectory_array", &trajectory_array)
        .def("trajectory", [](const SweepResult& r, std::size_t i) { return r.trajectories.at(i); }, py::arg("i"))
        .def_property_readonly("time", [](const SweepResult& r) {
            return r.trajectories.empty() ? std::vector<double>{} : r.trajectories[0].time;
        })
        .def_property_readonly("output_names", [](const SweepResult& r) {
            return r.trajectories.empty() ? std::vector<std::string>{} : r.trajectories[0].names;
        })
        .def_property_readonly("output_units", [](const SweepResult& r) {
            return r.trajectories.empty() ? std::vector<std::string>{} : r.trajectories[0].units;
        });

    m.def("run_sweep", &sweep_with_gil_released, py::arg("model"), py::arg("points"), py::arg("grid"),
          py::arg_v("options", SimOptions{}, "SimOptions()"), py::arg("threads") = 1,
          py::arg("outputs") = std::vector<std::string>{}, py::arg("keep_trajectories") = false,
          py::arg_v("metric_options", MetricOptions{}, "MetricOptions()"), py::arg("progress") = py::none());

    // A grid given as a (points, names) array: the points are built in C++ (grid_points), which
    // for large sweeps saves a Python object per point.
    m.def("run_sweep_grid",
          [](const Model& model, const Subject& base, const Regimen& regimen, const std::vector<std::string>& names,
             const py::array_t<double, py::array::c_style | py::array::forcecast>& values, const OutputGrid& grid,
             const SimOptions& options, int threads, std::vector<std::string> outputs, bool keep_trajectories,
             const MetricOptions& metric_options, py::object progress) {
              if (values.ndim() != 2 || values.shape(1) != static_cast<py::ssize_t>(names.size()))
                  throw InputError("sweep: values must have shape (points, " + std::to_string(names.size()) + ")");
              std::vector<SweepPoint> points =
                  grid_points(base, regimen, names, values.data(), static_cast<std::size_t>(values.shape(0)));
              return sweep_with_gil_released(model, points, grid, options, threads, std::move(outputs),
                                             keep_trajectories, metric_options, std::move(progress));
          },
          py::arg("model"), py::arg("base"), py::arg("regimen"), py::arg("names"), py::arg("values"), py::arg("grid"),
          py::arg_v("options", SimOptions{}, "SimOptions()"), py::arg("threads") = 1,
          py::arg("outputs") = std::vector<std::string>{}, py::arg("keep_trajectories") = false,
          py::arg_v("metric_options", MetricOptions{}, "MetricOptions()"), py::arg("progress") = py::none());
}
