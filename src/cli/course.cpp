// `ketasim course`: a treatment course session by session (acute effects, discharge time, MADRS)
// with clinical metrics. The symptom model is calibrated, not published (docs/calibration.md).
#include <cmath>
#include <fstream>
#include <iomanip>
#include <limits>
#include <iostream>

#include "cli/commands.hpp"
#include "ketasim/ketasim.hpp"

namespace ketasim::cli {

namespace {
std::string days_text(double h) { return std::isnan(h) ? "-" : fmt_num(h / 24.0) + " d"; }
}  // namespace

int run_course(const CourseCliOptions& o) {
    const bool tolerance_given = !std::isnan(o.diss_tolerance);
    if (tolerance_given && !(o.diss_tolerance > 0 && o.diss_tolerance <= 1))
        throw InputError("--diss-tolerance: " + fmt_num(o.diss_tolerance) +
                         ": must be in (0, 1] (dissociation Emax multiplier per earlier session; 1 = no tolerance)");
    CourseSpec spec;
    Model model;
    if (!o.regimen.empty()) {
        if (o.schedule_given) throw InputError("--regimen and --schedule are exclusive: give one");
        if (o.weeks > 0 || !o.days.empty())
            throw InputError("--weeks and --days apply to --schedule, not to --regimen (the file gives the doses)");
        const double window = parse_quantity(o.session_window, Dimension::time, "--session-window", "h");
        model = load_library_model(o.model.empty() ? "ketamine_iv_clements" : o.model, o.models_dir);
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
        if (o.schedule == "iv-3x-weekly")
            spec = iv_course(3, o.weeks > 0 ? o.weeks : 2);
        else if (o.schedule == "iv-2x-weekly")
            spec = iv_course(2, o.weeks > 0 ? o.weeks : 4);
        else if (o.schedule == "esketamine-induction")
            spec = esketamine_induction(o.weeks > 0 ? o.weeks : 8);
        else if (o.schedule == "iv-days")
            spec = iv_course_on_days(parse_number_list(o.days, "--days"));
        else
            throw InputError("--schedule: '" + o.schedule +
                             "' is not a schedule (iv-3x-weekly, iv-2x-weekly, esketamine-induction, iv-days)");
        if (!o.model.empty()) {
            model = load_library_model(o.model, o.models_dir);
            // The schedule's sessions on another model: its routes and Ce scale are checked.
            CourseSpec other;
            try {
                other = course_from_regimen(spec.regimen, model);
            } catch (const InputError& e) {
                throw InputError("--model " + o.model + " with --schedule " + o.schedule + ": " + e.what());
            }
            spec.model = model.name;
            spec.ce_scale = other.ce_scale;
        } else {
            model = load_library_model(spec.model, o.models_dir);
        }
    }
    CourseOptions co;
    co.weight_kg = o.weight_kg;
    co.follow_up_h = o.follow_up_days * 24.0;
    co.models_dir = o.models_dir;
    co.pd_solver = pd_solver_from_string(o.pd_solver);
    AcuteEffectModel acute = AcuteEffectModel::from_parameters(load_library_pd("acute_effects", o.models_dir));
    if (tolerance_given) acute.diss_tolerance_per_session = o.diss_tolerance;
    const SymptomModel symptoms = SymptomModel::from_parameters(load_library_pd("madrs", o.models_dir));
    const CourseResult r = run_course(model, spec, acute, symptoms, co);

    std::cout << "ketasim course: " << spec.description << "\nmodel " << spec.model << ", " << fmt_num(o.weight_kg)
              << " kg; baseline MADRS " << fmt_num(symptoms.baseline)
              << (acute.diss_tolerance_per_session != 1.0
                      ? "; dissociation tolerance x " + fmt_num(acute.diss_tolerance_per_session) + " per session"
                      : "")
              << (spec.ce_scale != 1.0 ? "; esketamine Ce x " + fmt_num(spec.ce_scale) + " as racemic-equivalent (assumption)" : "")
              << "\n\n";
    std::vector<std::vector<std::string>> rows = {{"session", "day", "peak Ce ng/mL", "peak dissoc %", "peak SBP mmHg",
                                                   "discharge min", "MADRS before", "MADRS 24 h", "status 24 h"}};
    for (const auto& s : r.sessions)
        rows.push_back({std::to_string(s.index), fmt_num(s.day), fmt_num(s.acute.peak_ce), fmt_num(s.acute.peak_diss),
                        "+" + fmt_num(s.acute.peak_sbp), fmt_num(s.acute.discharge_h * 60.0), fmt_num(s.madrs_before),
                        fmt_num(s.madrs_after_24h), s.remission ? "remission" : (s.response ? "response" : "-")});
    std::cout << format_table(rows);
    const auto& c = r.clinical;
    std::cout << "\nonset (>= " << fmt_num(co.clinical.onset_fraction * 100) << "% fall): "
              << (std::isnan(c.onset_h) ? std::string("-") : fmt_num(c.onset_h) + " h")
              << "\nresponse (>= " << fmt_num(co.clinical.response_fraction * 100) << "% fall): " << days_text(c.response_h)
              << (c.sessions_to_response > 0 ? " after session " + std::to_string(c.sessions_to_response) : "")
              << "\nremission (MADRS <= " << fmt_num(co.clinical.remission_threshold) << "): " << days_text(c.remission_h)
              << "\nlowest MADRS: " << fmt_num(c.min_madrs) << " at " << days_text(c.t_min_madrs_h)
              << "\nresponse duration (first response to first loss): "
              << (std::isnan(c.response_h) ? "-" : (c.response_lost ? days_text(c.response_duration_h) : "not lost in follow-up"))
              << "\nrelapse (response lost) after the last session: "
              << (std::isnan(c.relapse_after_last_h) ? "-" : days_text(c.relapse_after_last_h))
              << "\n\nTimes from the first session unless stated. The MADRS model is calibrated to single-dose IV data, not "
                 "published;\nrepeated-session and esketamine values are predictions (docs/calibration.md).\n";
    if (!o.out.empty()) {
        std::ofstream f(o.out);
        if (!f) throw IoError(o.out + ": cannot open for writing");
        f << std::setprecision(std::numeric_limits<double>::max_digits10);   // round-trips exactly
        f << "session,day,peak_ce_ng_per_mL,peak_dissociation_pct,peak_sbp_rise_mmHg,discharge_min,madrs_before,"
             "madrs_24h,response_24h,remission_24h\n";
        for (const auto& s : r.sessions)
            f << s.index << "," << s.day << "," << s.acute.peak_ce << "," << s.acute.peak_diss << "," << s.acute.peak_sbp
              << "," << s.acute.discharge_h * 60.0 << "," << s.madrs_before << "," << s.madrs_after_24h << ","
              << (s.response ? 1 : 0) << "," << (s.remission ? 1 : 0) << "\n";
        if (!f) throw IoError(o.out + ": write failed");
        std::cout << "\nwritten: " << o.out << "\n";
    }
    return 0;
}

}  // namespace ketasim::cli
