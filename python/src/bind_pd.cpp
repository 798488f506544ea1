// Pharmacodynamics and treatment courses (include/ketasim/pd.hpp): PD parameter sets, the acute
// and symptom models, schedules, run_course (GIL released) and its result, with the curves as
// read-only NumPy views owned by the CourseResult.
#include "bindings.hpp"

namespace {
using namespace ketasim;

// {name: view} of curves that live inside the CourseResult behind `self`.
template <class F>
py::dict curves(py::object self, F members) {
    const auto& r = self.cast<const CourseResult&>();
    py::dict d;
    for (const auto& [name, vec] : members(r))
        d[py::str(name)] = readonly_view(vec->data(), {static_cast<py::ssize_t>(vec->size())}, self);
    return d;
}
using Curves = std::vector<std::pair<const char*, const std::vector<double>*>>;
}   // namespace

void bind_pd(py::module_& m) {
    py::class_<PdParameter>(m, "PdParameter")
        .def_readonly("name", &PdParameter::name)
        .def_readonly("value", &PdParameter::value)
        .def_readonly("unit", &PdParameter::unit)
        .def_readonly("description", &PdParameter::description)
        .def_readonly("source", &PdParameter::source)
        .def_readonly("calibrated", &PdParameter::calibrated)
        .def_readonly("line", &PdParameter::line);
    py::class_<PdParameterSet>(m, "PdParameterSet")
        .def_readonly("name", &PdParameterSet::name)
        .def_readonly("title", &PdParameterSet::title)
        .def_readonly("description", &PdParameterSet::description)
        .def_readonly("source_path", &PdParameterSet::source_path)
        .def_readonly("structure", &PdParameterSet::structure)
        .def_readonly("parameters", &PdParameterSet::parameters)
        .def_property_readonly("uncertainty_names", [](const PdParameterSet& s) { return s.uncertainty.names; })
        .def(
            "uncertainty_value",
            [](const PdParameterSet& s, const std::string& n) {
                return uncertainty_value(s, n, s.source_path, s.source_path);
            },
            py::arg("name"))
        .def("value", &PdParameterSet::value, py::arg("name"))
        .def("has", &PdParameterSet::has, py::arg("name"));
    m.def("load_library_pd", &load_library_pd, py::arg("name"), py::arg("models_dir") = "");
    m.def("load_pd_parameters", &load_pd_parameters, py::arg("path"));
    m.def("draw_pd_uncertainty", &draw_pd_uncertainty, py::arg("set"), py::arg("seed"), py::arg("replicate"));
    m.def("percentile", &percentile, py::arg("values"), py::arg("p"));

    py::class_<AcuteEffectModel>(m, "AcuteEffectModel")
        .def(py::init<>())
        .def_readwrite("diss_emax", &AcuteEffectModel::diss_emax)
        .def_readwrite("diss_ec50", &AcuteEffectModel::diss_ec50)
        .def_readwrite("diss_hill", &AcuteEffectModel::diss_hill)
        .def_readwrite("sbp_emax", &AcuteEffectModel::sbp_emax)
        .def_readwrite("sbp_ec50", &AcuteEffectModel::sbp_ec50)
        .def_readwrite("sbp_hill", &AcuteEffectModel::sbp_hill)
        .def_readwrite("sbp_k_tol", &AcuteEffectModel::sbp_k_tol)
        .def_readwrite("nausea_c50", &AcuteEffectModel::nausea_c50)
        .def_readwrite("dizziness_c50", &AcuteEffectModel::dizziness_c50)
        .def_readwrite("drowsiness_c50", &AcuteEffectModel::drowsiness_c50)
        .def_readwrite("dissociation_report_c50", &AcuteEffectModel::dissociation_report_c50)
        .def_readwrite("se_slope", &AcuteEffectModel::se_slope)
        .def_readwrite("diss_tolerance_per_session", &AcuteEffectModel::diss_tolerance_per_session)
        .def_readwrite("diss_discharge_threshold", &AcuteEffectModel::diss_discharge_threshold)
        .def_readwrite("sbp_discharge_threshold", &AcuteEffectModel::sbp_discharge_threshold)
        .def("validate", &AcuteEffectModel::validate)
        .def_static("from_parameters", &AcuteEffectModel::from_parameters, py::arg("parameters"));
    py::class_<SymptomModel>(m, "SymptomModel")
        .def(py::init<>())
        .def_readwrite("baseline", &SymptomModel::baseline)
        .def_readwrite("ec50", &SymptomModel::ec50)
        .def_readwrite("hill", &SymptomModel::hill)
        .def_readwrite("k_on", &SymptomModel::k_on)
        .def_readwrite("k_off", &SymptomModel::k_off)
        .def_readwrite("k_tr", &SymptomModel::k_tr)
        .def_readwrite("emax_p", &SymptomModel::emax_p)
        .def_readwrite("placebo_max", &SymptomModel::placebo_max)
        .def_readwrite("k_placebo", &SymptomModel::k_placebo)
        .def_readwrite("k_cons", &SymptomModel::k_cons)
        .def_readwrite("k_off_c", &SymptomModel::k_off_c)
        .def_readwrite("n_cons", &SymptomModel::n_cons)
        .def_property(
            "structure", [](const SymptomModel& x) { return std::string(to_string(x.structure)); },
            [](SymptomModel& x, const std::string& s) { x.structure = symptom_structure_from_string(s); })
        .def("validate", &SymptomModel::validate)
        .def_static("from_parameters", &SymptomModel::from_parameters, py::arg("parameters"));

    py::class_<ClinicalOptions>(m, "ClinicalOptions")
        .def(py::init<>())
        .def_readwrite("onset_fraction", &ClinicalOptions::onset_fraction)
        .def_readwrite("response_fraction", &ClinicalOptions::response_fraction)
        .def_readwrite("remission_threshold", &ClinicalOptions::remission_threshold)
        .def("validate", &ClinicalOptions::validate);
    py::class_<SymptomOptions>(m, "SymptomOptions")
        .def(py::init<>())
        .def_readwrite("rtol", &SymptomOptions::rtol)
        .def_readwrite("atol", &SymptomOptions::atol)
        .def("validate", &SymptomOptions::validate);
    py::class_<CourseOptions>(m, "CourseOptions")
        .def(py::init<>())
        .def_readwrite("weight_kg", &CourseOptions::weight_kg)
        .def_readwrite("dt_h", &CourseOptions::dt_h)
        .def_readwrite("follow_up_h", &CourseOptions::follow_up_h)
        .def_readwrite("models_dir", &CourseOptions::models_dir)
        .def_readwrite("clinical", &CourseOptions::clinical)
        .def_readwrite("symptom", &CourseOptions::symptom)
        .def_property(
            "pd_solver", [](const CourseOptions& o) { return std::string(to_string(o.pd_solver)); },
            [](CourseOptions& o, const std::string& s) { o.pd_solver = pd_solver_from_string(s); })
        .def("validate", &CourseOptions::validate);

    py::class_<CourseSpec>(m, "CourseSpec")
        .def(py::init<>())
        .def_readwrite("name", &CourseSpec::name)
        .def_readwrite("description", &CourseSpec::description)
        .def_readonly("model", &CourseSpec::model)
        .def_readonly("regimen", &CourseSpec::regimen)
        .def_readonly("session_starts_h", &CourseSpec::session_starts_h);
    m.def("racemic_equivalent_scale", &racemic_equivalent_scale, py::arg("model"));
    m.def("racemic_threshold_for", &racemic_threshold_for, py::arg("model"), py::arg("racemic_threshold"));
    m.def("iv_course_on_days", &iv_course_on_days, py::arg("model"), py::arg("days"), py::arg("mg_per_kg") = 0.5,
          py::arg("duration_h") = 40.0 / 60.0);
    m.def("iv_course", &iv_course, py::arg("model"), py::arg("per_week"), py::arg("weeks"), py::arg("mg_per_kg") = 0.5,
          py::arg("duration_h") = 40.0 / 60.0);
    m.def("esketamine_induction", &esketamine_induction, py::arg("model"), py::arg("weeks") = 8);
    py::class_<ScheduleInfo>(m, "ScheduleInfo")
        .def_property_readonly("name", [](const ScheduleInfo& s) { return std::string(s.name); })
        .def_property_readonly("default_model", [](const ScheduleInfo& s) { return std::string(s.default_model); })
        .def_readonly("default_weeks", &ScheduleInfo::default_weeks)
        .def_readonly("max_weeks", &ScheduleInfo::max_weeks)
        .def_property_readonly("description", [](const ScheduleInfo& s) { return std::string(s.description); });
    m.def("schedule_registry", &schedule_registry, py::return_value_policy::reference);
    m.def("schedule_info", &schedule_info, py::arg("name"), py::return_value_policy::reference);
    py::class_<ScheduleRequest>(m, "ScheduleRequest")
        .def(py::init<>())
        .def_readwrite("name", &ScheduleRequest::name)
        .def_readwrite("weeks", &ScheduleRequest::weeks)
        .def_readwrite("days", &ScheduleRequest::days)
        .def_readwrite("mg_per_kg", &ScheduleRequest::mg_per_kg)
        .def_readwrite("duration_h", &ScheduleRequest::duration_h);
    m.def("schedule_course", &schedule_course, py::arg("request"), py::arg("model"));
    m.def("group_sessions", &group_sessions, py::arg("regimen"), py::arg("session_window_h") = 2.0);
    m.def("course_from_regimen", &course_from_regimen, py::arg("regimen"), py::arg("model"),
          py::arg("session_window_h") = 2.0);
    m.def("with_model", &with_model, py::arg("spec"), py::arg("model"));

    py::enum_<ColumnKind>(m, "ColumnKind")
        .value("integer", ColumnKind::integer)
        .value("real", ColumnKind::real)
        .value("boolean", ColumnKind::boolean);
    py::class_<SessionColumn>(m, "SessionColumn")
        .def_property_readonly("name", [](const SessionColumn& c) { return std::string(c.name); })
        .def_property_readonly("unit", [](const SessionColumn& c) { return std::string(c.unit); })
        .def_readonly("kind", &SessionColumn::kind)
        .def_property_readonly("label", [](const SessionColumn& c) { return std::string(c.label); })
        .def_property_readonly("description", [](const SessionColumn& c) { return std::string(c.description); });
    m.def("session_columns", &session_columns, py::return_value_policy::reference);

    m.attr("DISSOCIATIVE_THRESHOLD_NG_PER_ML") = kDissociativeThresholdNgPerMl;
    py::class_<FlagshipOptions>(m, "FlagshipOptions")
        .def(py::init<>())
        .def_readwrite("weight_kg", &FlagshipOptions::weight_kg)
        .def_readwrite("esketamine_mg", &FlagshipOptions::esketamine_mg)
        .def_readwrite("racemic_in_mg", &FlagshipOptions::racemic_in_mg)
        .def_readwrite("iv_model", &FlagshipOptions::iv_model)
        .def_readwrite("esketamine_model", &FlagshipOptions::esketamine_model)
        .def_readwrite("racemic_in_model", &FlagshipOptions::racemic_in_model)
        .def("validate", &FlagshipOptions::validate);
    py::class_<ArmSpec>(m, "ArmSpec")
        .def_readonly("name", &ArmSpec::name)
        .def_readonly("label", &ArmSpec::label)
        .def_readonly("short_label", &ArmSpec::short_label)
        .def_readonly("model", &ArmSpec::model)
        .def_readonly("regimen", &ArmSpec::regimen)
        .def_readonly("description", &ArmSpec::description);
    m.def("flagship_arms", &flagship_arms, py::arg_v("options", FlagshipOptions{}, "FlagshipOptions()"));

    py::class_<SideEffectRisk>(m, "SideEffectRisk")
        .def(py::init<>())
        .def_readwrite("nausea", &SideEffectRisk::nausea)
        .def_readwrite("dizziness", &SideEffectRisk::dizziness)
        .def_readwrite("drowsiness", &SideEffectRisk::drowsiness)
        .def_readwrite("dissociation", &SideEffectRisk::dissociation);
    m.def("side_effect_risk", &side_effect_risk, py::arg("model"), py::arg("peak_ce"));
    m.def("course_incidence", &course_incidence, py::arg("per_session"));
    py::class_<SessionAcute>(m, "SessionAcute")
        .def_readonly("start_h", &SessionAcute::start_h)
        .def_readonly("peak_ce", &SessionAcute::peak_ce)
        .def_readonly("t_peak_ce_h", &SessionAcute::t_peak_ce_h)
        .def_readonly("peak_diss", &SessionAcute::peak_diss)
        .def_readonly("t_peak_diss_h", &SessionAcute::t_peak_diss_h)
        .def_readonly("peak_sbp", &SessionAcute::peak_sbp)
        .def_readonly("t_peak_sbp_h", &SessionAcute::t_peak_sbp_h)
        .def_readonly("discharge_h", &SessionAcute::discharge_h)
        .def_readonly("side_effects", &SessionAcute::side_effects);
    py::class_<SessionReport>(m, "SessionReport")
        .def_readonly("index", &SessionReport::index)
        .def_readonly("day", &SessionReport::day)
        .def_readonly("acute", &SessionReport::acute)
        .def_readonly("madrs_before", &SessionReport::madrs_before)
        .def_readonly("madrs_after_24h", &SessionReport::madrs_after_24h)
        .def_readonly("response", &SessionReport::response)
        .def_readonly("remission", &SessionReport::remission);
    py::class_<ClinicalMetrics>(m, "ClinicalMetrics")
        .def_readonly("baseline", &ClinicalMetrics::baseline)
        .def_readonly("onset_h", &ClinicalMetrics::onset_h)
        .def_readonly("response_h", &ClinicalMetrics::response_h)
        .def_readonly("remission_h", &ClinicalMetrics::remission_h)
        .def_readonly("response_duration_h", &ClinicalMetrics::response_duration_h)
        .def_readonly("relapse_after_last_h", &ClinicalMetrics::relapse_after_last_h)
        .def_readonly("sessions_to_response", &ClinicalMetrics::sessions_to_response)
        .def_readonly("response_lost", &ClinicalMetrics::response_lost)
        .def_readonly("min_madrs", &ClinicalMetrics::min_madrs)
        .def_readonly("t_min_madrs_h", &ClinicalMetrics::t_min_madrs_h);

    py::class_<CourseResult>(m, "CourseResult")
        .def_readonly("spec", &CourseResult::spec)
        .def_readonly("ce_scale", &CourseResult::ce_scale)
        .def_property_readonly("session_table",
                               [](const CourseResult& r) {
                                   // rows x columns of session_columns(), one new array.
                                   const auto rows = session_table(r);
                                   const auto n = static_cast<py::ssize_t>(rows.size()),
                                              k = static_cast<py::ssize_t>(session_columns().size());
                                   py::array_t<double> a({n, k});
                                   auto w = a.mutable_unchecked<2>();
                                   for (py::ssize_t i = 0; i < n; ++i)
                                       for (py::ssize_t j = 0; j < k; ++j)
                                           w(i, j) = rows[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)];
                                   return a;
                               })
        .def_readonly("pk", &CourseResult::pk)
        .def_readonly("sessions", &CourseResult::sessions)
        .def_readonly("clinical", &CourseResult::clinical)
        .def_readonly("side_effects_course", &CourseResult::side_effects_course)
        .def_property_readonly("acute_curves",
                               [](py::object self) {
                                   return curves(self, [](const CourseResult& r) {
                                       return Curves{{"time", &r.acute.time},
                                                     {"dissociation", &r.acute.dissociation},
                                                     {"sbp_rise", &r.acute.sbp_rise},
                                                     {"sbp_tolerance", &r.acute.sbp_tolerance}};
                                   });
                               })
        .def_property_readonly("symptom_curves", [](py::object self) {
            return curves(self, [](const CourseResult& r) {
                const SymptomCurve& s = r.symptoms;
                return Curves{{"time", &s.time},   {"ce", &s.ce},
                              {"P", &s.P},         {"C", &s.C},
                              {"E", &s.E},         {"placebo", &s.placebo},
                              {"madrs", &s.madrs}, {"madrs_control", &s.madrs_control}};
            });
        });
    m.def("run_course",
          static_cast<CourseResult (*)(const CourseSpec&, const AcuteEffectModel&, const SymptomModel&,
                                       const CourseOptions&)>(&run_course),
          py::arg("spec"), py::arg("acute"), py::arg("symptoms"),
          py::arg_v("options", CourseOptions{}, "CourseOptions()"), py::call_guard<py::gil_scoped_release>());
    // One subject: weight, age, parameter overrides (the `set` word) and random effects.
    m.def("run_course_subject",
          static_cast<CourseResult (*)(const CourseSpec&, const AcuteEffectModel&, const SymptomModel&,
                                       const CourseOptions&, const Subject&)>(&run_course),
          py::arg("spec"), py::arg("acute"), py::arg("symptoms"), py::arg("options"), py::arg("subject"),
          py::call_guard<py::gil_scoped_release>());
}
