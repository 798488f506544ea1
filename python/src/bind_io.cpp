// Files: model and regimen TOML, NONMEM-style event tables, the model library, result writers.
#include "bindings.hpp"

void bind_io(py::module_& m) {
    using namespace ketasim;
    py::class_<LibraryEntry>(m, "LibraryEntry")
        .def_readonly("name", &LibraryEntry::name)
        .def_readonly("file", &LibraryEntry::file)
        .def_readonly("title", &LibraryEntry::title)
        .def_readonly("route", &LibraryEntry::route)
        .def_readonly("analyte", &LibraryEntry::analyte)
        .def_readonly("is_default", &LibraryEntry::is_default)
        .def_readonly("notes", &LibraryEntry::notes);
    py::class_<EventTable>(m, "EventTable")
        .def_readonly("regimen", &EventTable::regimen)
        .def_readonly("observation_times", &EventTable::observation_times)
        .def_readonly("covariate_columns", &EventTable::covariate_columns);

    m.def("load_model", &load_model, py::arg("path"));
    m.def("parse_model", &parse_model, py::arg("toml_text"), py::arg("source_name"));
    m.def("load_regimen", &load_regimen, py::arg("path"));
    m.def("parse_regimen", &parse_regimen, py::arg("toml_text"), py::arg("source_name"));
    m.def("load_event_table", &load_event_table, py::arg("path"), py::arg("model") = nullptr, py::arg("id") = -1,
          py::arg("covariate_columns") = std::vector<std::string>{});
    m.def("default_models_dir", &default_models_dir);
    m.def("list_models", &list_models, py::arg("models_dir") = "");
    m.def("resolve_model_path", &resolve_model_path, py::arg("name_or_path"), py::arg("models_dir") = "");
    m.def("load_library_model", &load_library_model, py::arg("name_or_path"), py::arg("models_dir") = "");
    m.def("version", &version);

    // One arm per tuple (name, model, regimen_text, trajectories, subjects, metrics); the
    // writer's layout is the one read_results() reads.
    m.def(
        "write_results",
        [](const std::string& path,
           const std::vector<std::tuple<std::string, const Model*, std::string, std::vector<Trajectory>,
                                        std::vector<Subject>, std::vector<std::map<std::string, Metrics>>>>& arms,
           const SimOptions& options, const std::string& command) {
            std::vector<ResultArm> a;
            for (const auto& [name, model, text, trajs, subjects, metrics] : arms)
                a.push_back(ResultArm{name, model, text, trajs, subjects, metrics, {}});
            RunInfo info;
            info.options = options;
            info.command = command;
            py::gil_scoped_release release;
            write_results(path, a, info);
        },
        py::arg("path"), py::arg("arms"), py::arg_v("options", SimOptions{}, "SimOptions()"),
        py::arg("command") = "python");
}
