// MetricOptions, Metrics and compute_metrics on a trajectory output or on (t, c) arrays.
#include "bindings.hpp"

void bind_metrics(py::module_& m) {
    using namespace ketasim;
    py::class_<MetricOptions>(m, "MetricOptions")
        .def(py::init<>())
        .def_readwrite("at_times", &MetricOptions::at_times)
        .def_readwrite("threshold", &MetricOptions::threshold)
        .def_readwrite("terminal_start", &MetricOptions::terminal_start)
        .def_readwrite("last_dose_time", &MetricOptions::last_dose_time)
        .def_readwrite("terminal_phase", &MetricOptions::terminal_phase)
        .def("validate", &MetricOptions::validate);
    py::class_<Metrics>(m, "Metrics")
        .def(py::init<>())
        .def_readonly("cmax", &Metrics::cmax)
        .def_readonly("tmax", &Metrics::tmax)
        .def_readonly("auc_0_t", &Metrics::auc_0_t)
        .def_readonly("auc_0_inf", &Metrics::auc_0_inf)
        .def_readonly("lambda_z", &Metrics::lambda_z)
        .def_readonly("half_life", &Metrics::half_life)
        .def_readonly("terminal_r2", &Metrics::terminal_r2)
        .def_readonly("terminal_start", &Metrics::terminal_start)
        .def_readonly("c_at", &Metrics::c_at)
        .def_readonly("time_above", &Metrics::time_above)
        .def_readonly("time_to_threshold", &Metrics::time_to_threshold)
        .def_readonly("time_below_after_peak", &Metrics::time_below_after_peak);
    py::enum_<MetricUnit>(m, "MetricUnit")
        .value("output", MetricUnit::output)
        .value("output_times_h", MetricUnit::output_times_h)
        .value("hour", MetricUnit::hour)
        .value("per_hour", MetricUnit::per_hour)
        .value("one", MetricUnit::one);
    py::class_<MetricInfo>(m, "MetricInfo")
        .def_property_readonly("name", [](const MetricInfo& i) { return std::string(i.name); })
        .def_readonly("unit", &MetricInfo::unit)
        .def_property_readonly("unit_rule", [](const MetricInfo& i) { return std::string(to_string(i.unit)); })
        .def_readonly("terminal_fit", &MetricInfo::terminal_fit)
        .def_readonly("threshold", &MetricInfo::threshold)
        .def_property_readonly("description", [](const MetricInfo& i) { return std::string(i.description); })
        .def(
            "unit_for", [](const MetricInfo& i, const std::string& u) { return metric_unit(i, u); },
            py::arg("output_unit"));
    m.def("metric_registry", &metric_registry, py::return_value_policy::reference);
    m.def("metric_index", &metric_index, py::arg("name"));
    m.def("metric_value", &metric_value, py::arg("metrics"), py::arg("index"));
    m.def("compute_metrics",
          py::overload_cast<const Trajectory&, const std::string&, const MetricOptions&>(&compute_metrics),
          py::arg("trajectory"), py::arg("output"), py::arg_v("options", MetricOptions{}, "MetricOptions()"));
    m.def(
        "compute_metrics_array",
        [](const std::vector<double>& t, py::array_t<double, py::array::c_style | py::array::forcecast> c,
           const MetricOptions& o) {
            if (c.ndim() != 1 || static_cast<std::size_t>(c.shape(0)) != t.size())
                throw InputError("metrics: concentration array has " + std::to_string(c.size()) + " values for " +
                                 std::to_string(t.size()) + " times");
            return compute_metrics(t, c.data(), o);
        },
        py::arg("t"), py::arg("c"), py::arg_v("options", MetricOptions{}, "MetricOptions()"));
}
