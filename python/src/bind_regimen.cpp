// DoseEvent and Regimen, as in include/ketasim/regimen.hpp (times h, amounts mg or mg/kg).
#include "bindings.hpp"

void bind_regimen(py::module_& m) {
    using namespace ketasim;
    py::class_<DoseEvent>(m, "DoseEvent")
        .def(py::init<>())
        .def_readwrite("time", &DoseEvent::time)
        .def_readwrite("amount", &DoseEvent::amount)
        .def_readwrite("per_kg", &DoseEvent::per_kg)
        .def_readwrite("route", &DoseEvent::route)
        .def_readwrite("compartment", &DoseEvent::compartment)
        .def_readwrite("duration", &DoseEvent::duration)
        .def_readwrite("device", &DoseEvent::device)
        .def_readwrite("steady_state", &DoseEvent::steady_state)
        .def_readwrite("interval", &DoseEvent::interval);
    py::class_<Regimen>(m, "Regimen")
        .def(py::init<>())
        .def_readwrite("events", &Regimen::events)
        .def("add", &Regimen::add, py::arg("event"), py::return_value_policy::reference_internal)
        .def("add_repeated", &Regimen::add_repeated, py::arg("event"), py::arg("ii"), py::arg("addl"),
             py::return_value_policy::reference_internal)
        .def("add_on_days", &Regimen::add_on_days, py::arg("event"), py::arg("days"),
             py::return_value_policy::reference_internal)
        .def("merge", &Regimen::merge, py::arg("other"), py::return_value_policy::reference_internal)
        .def_static("iv_infusion", &Regimen::iv_infusion, py::arg("amount"), py::arg("duration_h"), py::arg("times"),
                    py::arg("per_kg") = false)
        .def_static("iv_bolus", &Regimen::iv_bolus, py::arg("amount_mg"), py::arg("times"))
        .def_static("intranasal", &Regimen::intranasal, py::arg("total_mg"), py::arg("times"),
                    py::arg("mg_per_device") = kNasalDeviceMg, py::arg("spacing_h") = kNasalDeviceSpacingH,
                    py::arg("route") = "intranasal")
        .def("sorted", &Regimen::sorted)
        .def("last_time", &Regimen::last_time)
        .def("per_kg", &Regimen::per_kg)
        .def("validate", &Regimen::validate);
    m.attr("NASAL_DEVICE_MG") = kNasalDeviceMg;
    m.attr("NASAL_DEVICE_SPACING_H") = kNasalDeviceSpacingH;
    m.def("parse_number_list", &parse_number_list, py::arg("text"), py::arg("what"));
}
