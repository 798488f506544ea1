// `ketasim course`: a treatment course session by session (acute effects, discharge time, MADRS)
// with clinical metrics. The symptom model is calibrated, not published (docs/calibration.md).
#include <cmath>
#include <iostream>

#include "cli/commands.hpp"
#include "ketasim/ketasim.hpp"

namespace ketasim::cli {

namespace {
std::string days_text(double h) { return std::isnan(h) ? "-" : fmt_num(h / 24.0) + " d"; }
}   // namespace

int run_course(const CourseCliOptions& o) {
    // Given flags are checked, never replaced by a default: NaN or 0 is an error, not "not given".
    if (o.diss_tolerance_given && !(o.diss_tolerance > 0 && o.diss_tolerance <= 1))
        throw InputError(
            "--diss-tolerance: " + (std::isnan(o.diss_tolerance) ? std::string("nan") : fmt_num(o.diss_tolerance)) +
            ": must be in (0, 1] (dissociation Emax multiplier per earlier session; 1 = no tolerance)");
    // The session table is CSV only: refuse any other extension before the (long) run.
    const auto ends_with = [](const std::string& s, const std::string& x) {
        return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
    };
    if (!o.out.empty() && !ends_with(o.out, ".csv"))
        throw InputError("--out " + o.out + ": the session table is written as CSV only: give a FILE.csv");
    CourseSpec spec;
    if (!o.regimen.empty()) {
        if (o.schedule_given) throw InputError("--regimen and --schedule are exclusive: give one");
        if (o.weeks || !o.days.empty())
            throw InputError("--weeks and --days apply to --schedule, not to --regimen (the file gives the doses)");
        const double window = parse_quantity(o.session_window, Dimension::time, "--session-window", "h");
        const Model model = load_library_model(o.model.empty() ? "ketamine_iv_clements" : o.model, o.models_dir);
        try {
            spec = course_from_regimen(load_regimen(o.regimen), model, window);
        } catch (const InputError& e) {
            // File errors already name the file; model/route and window errors get it here.
            std::string msg = e.what();
            if (o.model.empty() && msg.find("is not a route of model") != std::string::npos)
                msg += "; give --model for other routes (e.g. --model esketamine_nasal)";
            throw InputError(msg.rfind(o.regimen, 0) == 0 ? msg : "--regimen " + o.regimen + ": " + msg);
        }
        spec.name = o.regimen;
        spec.description = "regimen " + o.regimen + ": " + spec.description;
    } else {
        ScheduleRequest q;
        q.name = o.schedule;
        const ScheduleInfo& info = [&]() -> const ScheduleInfo& {
            try {
                return schedule_info(o.schedule);
            } catch (const InputError& e) {
                throw InputError(std::string("--schedule: ") + e.what());
            }
        }();
        q.weeks = o.weeks;
        if (!o.days.empty()) q.days = parse_number_list(o.days, "--days");
        const Model model = load_library_model(o.model.empty() ? info.default_model : o.model, o.models_dir);
        try {
            spec = schedule_course(q, model);
        } catch (const InputError& e) {
            throw InputError("--schedule " + o.schedule + (o.model.empty() ? "" : " with --model " + o.model) + ": " +
                             e.what());
        }
    }
    // The covariate rule of populations and simulate: a weight the model cannot use is an error.
    if (o.weight_given) require_covariates_used(spec.model, spec.regimen.per_kg(), {"weight"}, "--weight");
    CourseOptions co;
    co.weight_kg = o.weight_kg;
    co.follow_up_h = o.follow_up_days * 24.0;
    co.models_dir = o.models_dir;
    co.pd_solver = pd_solver_from_string(o.pd_solver);
    AcuteEffectModel acute = AcuteEffectModel::from_parameters(load_library_pd("acute_effects", o.models_dir));
    if (o.diss_tolerance_given) acute.diss_tolerance_per_session = o.diss_tolerance;
    const SymptomModel symptoms = SymptomModel::from_parameters(load_library_pd("madrs", o.models_dir));
    const CourseResult r = ketasim::run_course(spec, acute, symptoms, co);
    // Built (and checked finite) before anything is printed or written.
    const std::vector<std::vector<double>> table = session_table(r);

    std::cout << "ketasim course: " << spec.description << "\nmodel " << r.spec.model.name << ", "
              << fmt_num(o.weight_kg) << " kg; baseline MADRS " << fmt_num(symptoms.baseline)
              << (acute.diss_tolerance_per_session != 1.0
                      ? "; dissociation tolerance x " + fmt_num(acute.diss_tolerance_per_session) + " per session"
                      : "")
              << (r.ce_scale != 1.0 ? "; Ce x " + fmt_num(r.ce_scale) + " as racemic-equivalent (parameters." +
                                          r.spec.model.effect_site->racemic_equivalent + " of the model file)"
                                    : "")
              << "\n\n";
    // The session table of the library (session_columns()): the same columns as --out and Python.
    const auto& cols = session_columns();
    std::vector<std::vector<std::string>> rows(1);
    for (const auto& c : cols) rows[0].push_back(c.label);
    for (const auto& row : table) {
        rows.emplace_back();
        for (std::size_t k = 0; k < row.size(); ++k)
            rows.back().push_back(cols[k].kind == ColumnKind::boolean   ? (row[k] != 0 ? "yes" : "-")
                                  : cols[k].kind == ColumnKind::integer ? std::to_string(static_cast<long long>(row[k]))
                                                                        : fmt_num(row[k]));
    }
    std::cout << format_table(rows);
    const auto& c = r.clinical;
    std::cout
        << "\nonset (>= " << fmt_num(co.clinical.onset_fraction * 100)
        << "% fall): " << (std::isnan(c.onset_h) ? std::string("-") : fmt_num(c.onset_h) + " h")
        << "\nresponse (>= " << fmt_num(co.clinical.response_fraction * 100) << "% fall): " << days_text(c.response_h)
        << (c.sessions_to_response > 0 ? " after session " + std::to_string(c.sessions_to_response) : "")
        << "\nremission (MADRS <= " << fmt_num(co.clinical.remission_threshold) << "): " << days_text(c.remission_h)
        << "\nlowest MADRS: " << fmt_num(c.min_madrs) << " at " << days_text(c.t_min_madrs_h)
        << "\nresponse duration (first response to first loss): "
        << (std::isnan(c.response_h) ? "-"
                                     : (c.response_lost ? days_text(c.response_duration_h) : "not lost in follow-up"))
        << "\nrelapse (response lost) after the last session: "
        << (std::isnan(c.relapse_after_last_h) ? "-" : days_text(c.relapse_after_last_h))
        << "\nside effects over the course (1 - prod(1 - p) over sessions, sessions independent: an assumption): "
           "nausea "
        << fmt_num(100 * r.side_effects_course.nausea) << "%, dizziness "
        << fmt_num(100 * r.side_effects_course.dizziness) << "%, drowsiness "
        << fmt_num(100 * r.side_effects_course.drowsiness) << "%, dissociation "
        << fmt_num(100 * r.side_effects_course.dissociation) << "%"
        << "\n\nTimes from the first session unless stated. The MADRS model is calibrated to single-dose IV data, not "
           "published;\nrepeated-session and esketamine values are predictions (docs/calibration.md).\n";
    if (!o.out.empty()) {
        write_text_atomically(o.out, session_table_csv(r));
        std::cout << "\nwritten: " << o.out << "\n";
    }
    return 0;
}

}   // namespace ketasim::cli
