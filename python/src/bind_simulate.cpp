// SimOptions, OutputGrid, Trajectory (NumPy views without copies) and simulate().
#include "bindings.hpp"

void bind_simulate(py::module_& m) {
    using namespace ketasim;
    py::class_<SimOptions>(m, "SimOptions")
        .def(py::init<>())
        .def_property("solver", [](const SimOptions& o) { return std::string(to_string(o.solver)); },
                      [](SimOptions& o, const std::string& s) { o.solver = solver_from_string(s); })
        .def_property("method", [](const SimOptions& o) { return std::string(to_string(o.method)); },
                      [](SimOptions& o, const std::string& s) { o.method = ode_method_from_string(s); })
        .def_readwrite("rtol", &SimOptions::rtol)
        .def_readwrite("atol", &SimOptions::atol)
        .def_readwrite("max_steps", &SimOptions::max_steps)
        .def_readwrite("include_event_times", &SimOptions::include_event_times)
        .def_readwrite("output_amounts", &SimOptions::output_amounts)
        .def_readwrite("outputs", &SimOptions::outputs)
        .def("validate", &SimOptions::validate);

    py::class_<OutputGrid>(m, "OutputGrid")
        .def(py::init<>())
        .def_readonly("times", &OutputGrid::times)
        .def_static("uniform", &OutputGrid::uniform, py::arg("t_start"), py::arg("t_end"), py::arg("dt"))
        .def_static("at", &OutputGrid::at, py::arg("times"))
        .def("validate", &OutputGrid::validate);

    py::class_<Trajectory>(m, "Trajectory")
        .def_readonly("dose_times", &Trajectory::dose_times)
        .def_readonly("last_dose_time", &Trajectory::last_dose_time)
        .def_property_readonly("time", [](py::object self) {
            const auto& t = self.cast<const Trajectory&>();
            return readonly_view(t.time.data(), {static_cast<py::ssize_t>(t.time.size())}, self);
        })
        .def_property_readonly("values", [](py::object self) {
            const auto& t = self.cast<const Trajectory&>();
            return readonly_view(t.values.data(), {static_cast<py::ssize_t>(t.values.rows()), static_cast<py::ssize_t>(t.values.cols())},
                        self);
        })
        .def("row", [](py::object self, const std::string& name) {
            const auto& t = self.cast<const Trajectory&>();
            const int i = t.index(name);
            return readonly_view(t.values.row(i).data(), {static_cast<py::ssize_t>(t.values.cols())}, self);
        }, py::arg("name"))
        .def_readonly("names", &Trajectory::names)
        .def_readonly("units", &Trajectory::units)
        .def_readonly("dose_total_mg", &Trajectory::dose_total_mg)
        .def("index", &Trajectory::index, py::arg("name"))
        .def("has", &Trajectory::has, py::arg("name"));

    m.def("simulate",
          py::overload_cast<const Model&, const Regimen&, const OutputGrid&, const SimOptions&, const Subject&>(&simulate),
          py::arg("model"), py::arg("regimen"), py::arg("grid"), py::arg_v("options", SimOptions{}, "SimOptions()"),
          py::arg_v("subject", Subject{}, "Subject()"), py::call_guard<py::gil_scoped_release>());
}
