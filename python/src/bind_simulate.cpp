// SimOptions, OutputGrid, Trajectory (NumPy views without copies) and simulate().
#include <cmath>

#include "bindings.hpp"

void bind_simulate(py::module_& m) {
    using namespace ketasim;
    py::class_<SimOptions>(m, "SimOptions")
        .def(py::init<>())
        .def_property(
            "solver", [](const SimOptions& o) { return std::string(to_string(o.solver)); },
            [](SimOptions& o, const std::string& s) { o.solver = solver_from_string(s); })
        .def_property(
            "method", [](const SimOptions& o) { return std::string(to_string(o.method)); },
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
        .def_property_readonly("time",
                               [](py::object self) {
                                   const auto& t = self.cast<const Trajectory&>();
                                   return readonly_view(t.time.data(), {static_cast<py::ssize_t>(t.time.size())}, self);
                               })
        .def_property_readonly(
            "values",
            [](py::object self) {
                const auto& t = self.cast<const Trajectory&>();
                return readonly_view(
                    t.values.data(),
                    {static_cast<py::ssize_t>(t.values.rows()), static_cast<py::ssize_t>(t.values.cols())}, self);
            })
        .def(
            "row",
            [](py::object self, const std::string& name) {
                const auto& t = self.cast<const Trajectory&>();
                const int i = t.index(name);
                return readonly_view(t.values.row(i).data(), {static_cast<py::ssize_t>(t.values.cols())}, self);
            },
            py::arg("name"))
        .def_readonly("names", &Trajectory::names)
        .def_readonly("units", &Trajectory::units)
        .def_readonly("dose_total_mg", &Trajectory::dose_total_mg)
        .def("index", &Trajectory::index, py::arg("name"))
        .def("has", &Trajectory::has, py::arg("name"));

    // Numbers with one explicit unit (ks.Q(values, unit) in Python): converted by the one unit
    // table (units.hpp), value by value as parse_quantity() converts "<value> <unit>", so
    // ks.Q([23], "min") is the same double as "23 min". Each value must be finite.
    m.def(
        "quantities",
        [](const std::vector<double>& values, const std::string& unit, const std::string& dimension,
           const std::string& what) {
            const Dimension dim = dimension_from_string(dimension);
            const std::string accepted = std::string(to_string(dim)) + " (" + accepted_units(dim) + ")";
            UnitInfo info;
            try {
                info = parse_unit(unit);
            } catch (const InputError&) {
                throw InputError(
                    ErrorContext{"", 0, what, unit, "has an unknown unit '" + unit + "', expected " + accepted});
            }
            if (info.dimension != dim || info.per_kg)
                throw InputError(ErrorContext{"", 0, what, unit,
                                              "has unit '" + unit + "' of dimension " + to_string(info.dimension) +
                                                  (info.per_kg ? " per kg" : "") + ", expected " + accepted});
            std::vector<double> out(values.size());
            for (std::size_t i = 0; i < values.size(); ++i) {
                if (!std::isfinite(values[i]))
                    throw InputError(ErrorContext{"", 0, what + "[" + std::to_string(i) + "]",
                                                  std::to_string(values[i]), "is not a finite number"});
                out[i] = info.to_canonical(values[i]);
            }
            return out;
        },
        py::arg("values"), py::arg("unit"), py::arg("dimension"), py::arg("what"));

    // Parameter overrides: the one parser of CLI --set and Python set= (simulate.hpp).
    m.def("parse_parameter_override", &parse_parameter_override, py::arg("model"), py::arg("text"), py::arg("where"));
    m.def("parse_parameter_override_value", &parse_parameter_override_value, py::arg("model"), py::arg("name"),
          py::arg("value"), py::arg("where"));

    m.def("simulate",
          py::overload_cast<const Model&, const Regimen&, const OutputGrid&, const SimOptions&, const Subject&>(
              &simulate),
          py::arg("model"), py::arg("regimen"), py::arg("grid"), py::arg_v("options", SimOptions{}, "SimOptions()"),
          py::arg_v("subject", Subject{}, "Subject()"), py::call_guard<py::gil_scoped_release>());
}
