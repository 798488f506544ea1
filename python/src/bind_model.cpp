// Model data (read-only views of the loaded model), Subject, and unit parsing.
#include "bindings.hpp"

void bind_model(py::module_& m) {
    using namespace ketasim;
    py::class_<Parameter>(m, "Parameter")
        .def_readonly("name", &Parameter::name)
        .def_readonly("value", &Parameter::value)
        .def_readonly("unit", &Parameter::unit)
        .def_readonly("description", &Parameter::description)
        .def_readonly("source", &Parameter::source)
        .def_readonly("calibrated", &Parameter::calibrated)
        .def_readonly("allometric_exponent", &Parameter::allometric_exponent)
        .def_readonly("reference_weight_kg", &Parameter::reference_weight_kg)
        .def_readonly("lower", &Parameter::lower)
        .def_readonly("upper", &Parameter::upper)
        .def_readonly("age_slope", &Parameter::age_slope)
        .def_readonly("age_reference", &Parameter::age_reference)
        .def("__repr__", [](const Parameter& p) {
            return "<Parameter " + p.name + " = " + py::repr(py::float_(p.value)).cast<std::string>() + " " + p.unit +
                   ">";
        });
    py::class_<Compartment>(m, "Compartment")
        .def_readonly("name", &Compartment::name)
        .def_readonly("volume", &Compartment::volume)
        .def_readonly("description", &Compartment::description);
    py::class_<OutputSpec>(m, "OutputSpec")
        .def_readonly("name", &OutputSpec::name)
        .def_readonly("compartment", &OutputSpec::compartment)
        .def_readonly("analyte", &OutputSpec::analyte)
        .def_readonly("description", &OutputSpec::description);
    py::class_<EffectSite>(m, "EffectSite")
        .def_readonly("name", &EffectSite::name)
        .def_readonly("driver", &EffectSite::driver)
        .def_readonly("ke0", &EffectSite::ke0);
    py::class_<Model>(m, "Model")
        .def_readonly("name", &Model::name)
        .def_readonly("title", &Model::title)
        .def_readonly("description", &Model::description)
        .def_readonly("analyte", &Model::analyte)
        .def_readonly("source_path", &Model::source_path)
        .def_readonly("source_text", &Model::source_text)
        .def_readonly("parameters", &Model::parameters)
        .def_readonly("compartments", &Model::compartments)
        .def_readonly("outputs", &Model::outputs)
        .def_readonly("effect_site", &Model::effect_site)
        .def("parameter", &Model::parameter, py::arg("name"), py::return_value_policy::reference_internal)
        .def("has_parameter", &Model::has_parameter, py::arg("name"))
        .def("covariate_names", &Model::covariate_names)
        .def("route_names", &Model::route_names)
        .def("validate", &Model::validate);

    py::class_<Subject>(m, "Subject")
        .def(py::init<>())
        .def_readwrite("weight_kg", &Subject::weight_kg)
        .def_readwrite("age_years", &Subject::age_years)
        .def_readwrite("parameters", &Subject::parameters)
        .def("validate", &Subject::validate);

    m.def(
        "parse_unit",
        [](const std::string& unit) {
            const UnitInfo u = parse_unit(unit);
            return py::make_tuple(to_string(u.dimension), u.factor, u.per_kg);
        },
        py::arg("unit"), "(dimension, factor to canonical, per_kg) of a unit string");
    m.def(
        "parse_quantity",
        [](const std::string& text, const std::string& dimension, const std::string& what,
           const std::string& default_unit) {
            return parse_quantity(text, dimension_from_string(dimension), what, default_unit);
        },
        py::arg("text"), py::arg("dimension"), py::arg("what"), py::arg("default_unit") = "",
        "The one quantity parser (include/ketasim/units.hpp): text such as '40 min' in canonical units");
    m.def(
        "parse_dose",
        [](const std::string& text, const std::string& what, bool allow_per_kg) {
            const Dose d = parse_dose(text, what, allow_per_kg);
            return py::make_tuple(d.amount, d.per_kg);
        },
        py::arg("text"), py::arg("what"), py::arg("allow_per_kg") = true,
        "(amount, per_kg) of a dose such as '56 mg' or '0.5 mg/kg' (amount in mg or mg/kg)");
    m.def(
        "accepted_units",
        [](const std::string& dimension, bool per_kg) {
            return accepted_units(dimension_from_string(dimension), per_kg);
        },
        py::arg("dimension"), py::arg("per_kg") = false);
}
