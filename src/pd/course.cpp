// Standard schedules and a whole course: exact PK on a fine grid, acute effects, symptom model,
// clinical metrics. Schedules: docs reference section 5 (IV 0.5 mg/kg over 40 min 2x or 3x
// weekly; Spravato induction twice weekly for 4 weeks, then weekly).
#include <algorithm>
#include <cctype>
#include <cmath>

#include "ketasim/errors.hpp"
#include "ketasim/metrics.hpp"
#include "ketasim/pd.hpp"
#include "pd/pd_check.hpp"
#include "ketasim/io.hpp"

namespace ketasim {

namespace {
using detail::pd_num;
using detail::pd_require;
}  // namespace

CourseSpec iv_course_on_days(const std::vector<double>& days, double mg_per_kg, double duration_h) {
    if (days.empty()) throw InputError("iv course: days is empty: need at least one session");
    if (!(mg_per_kg > 0)) throw InputError("iv course: mg_per_kg = " + pd_num(mg_per_kg) + ": must be > 0");
    if (!(duration_h >= 0)) throw InputError("iv course: duration_h = " + pd_num(duration_h) + ": must be >= 0");
    CourseSpec c;
    for (double d : days) c.session_starts_h.push_back(24.0 * d);
    std::sort(c.session_starts_h.begin(), c.session_starts_h.end());
    c.regimen = Regimen::iv_infusion(mg_per_kg, duration_h, c.session_starts_h, true);
    c.model = "ketamine_iv_clements";
    c.name = "iv-days";
    std::string list;
    for (double d : days) list += (list.empty() ? "" : ",") + pd_num(d);
    c.description = "racemic ketamine " + pd_num(mg_per_kg) + " mg/kg IV over " + pd_num(duration_h * 60.0) +
                    " min on days " + list;
    return c;
}

CourseSpec iv_course(int per_week, int weeks, double mg_per_kg, double duration_h) {
    if (per_week != 2 && per_week != 3)
        throw InputError("iv course: per_week = " + std::to_string(per_week) + ": must be 2 or 3");
    if (weeks < 1 || weeks > 52) throw InputError("iv course: weeks = " + std::to_string(weeks) + ": must be in [1, 52]");
    // Mon/Wed/Fri or Mon/Thu.
    const std::vector<double> week_days = per_week == 3 ? std::vector<double>{0, 2, 4} : std::vector<double>{0, 3};
    std::vector<double> days;
    for (int w = 0; w < weeks; ++w)
        for (double d : week_days) days.push_back(7.0 * w + d);
    CourseSpec c = iv_course_on_days(days, mg_per_kg, duration_h);
    c.name = per_week == 3 ? "iv-3x-weekly" : "iv-2x-weekly";
    c.description += " (" + std::to_string(per_week) + "x weekly for " + std::to_string(weeks) + " weeks)";
    return c;
}

CourseSpec esketamine_induction(int weeks) {
    if (weeks < 1 || weeks > 8)
        throw InputError("esketamine induction: weeks = " + std::to_string(weeks) + ": must be in [1, 8]");
    CourseSpec c;
    c.name = "esketamine-induction";
    c.model = "esketamine_nasal";
    c.ce_scale = kEsketamineRacemicEquivalent;
    for (int w = 0; w < weeks; ++w) {
        const std::vector<double> days = w < 4 ? std::vector<double>{0, 3} : std::vector<double>{0};
        for (double d : days) {
            const double t = 24.0 * (7.0 * w + d);
            const double mg = c.session_starts_h.empty() ? 56.0 : 84.0;
            c.regimen.merge(Regimen::intranasal(mg, {t}));
            c.session_starts_h.push_back(t);
        }
    }
    c.description = "esketamine intranasal, 28 mg devices 5 min apart: 56 mg on day 0, then 84 mg; twice weekly in weeks "
                    "1-4" + std::string(weeks > 4 ? ", weekly in weeks 5-" + std::to_string(weeks) : "") +
                    " (" + std::to_string(c.session_starts_h.size()) + " sessions)";
    return c;
}

double racemic_equivalent_scale(const Model& model) {
    std::string analyte = model.analyte;
    if (model.effect_site)
        for (const auto& o : model.outputs)
            if (o.name == model.effect_site->driver && !o.analyte.empty()) analyte = o.analyte;
    std::string lower;
    for (char ch : analyte) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    // "esketamine" first: it contains "ketamine".
    if (lower.rfind("esketamine", 0) == 0) return kEsketamineRacemicEquivalent;
    if (lower.find("racemic") != std::string::npos) return 1.0;
    throw InputError("model '" + model.name + "': analyte '" + analyte +
                     "' of the effect-site driver is neither esketamine nor racemic ketamine: the PD parameters are "
                     "calibrated on racemic Ce, so the Ce scale cannot be chosen");
}

std::vector<double> group_sessions(const Regimen& regimen, double session_window_h) {
    if (!(session_window_h > 0 && session_window_h <= 24.0))
        throw InputError("session_window_h = " + pd_num(session_window_h) + ": must be in (0, 24] h");
    if (regimen.events.empty()) throw InputError("regimen: no dose events: a course needs at least one session");
    std::vector<double> starts;
    for (const auto& e : regimen.sorted())
        if (starts.empty() || e.time > starts.back() + session_window_h) starts.push_back(e.time);
    return starts;
}

CourseSpec course_from_regimen(const Regimen& regimen, const Model& model, double session_window_h) {
    regimen.validate();
    for (std::size_t i = 0; i < regimen.events.size(); ++i) {
        const DoseEvent& e = regimen.events[i];
        if (!e.compartment.empty() || model.has_route(e.route)) continue;
        std::string routes;
        for (const auto& r : model.route_names()) routes += (routes.empty() ? "" : ", ") + r;
        throw InputError("regimen event " + std::to_string(i) + " (t = " + pd_num(e.time) + " h): route '" + e.route +
                         "' is not a route of model '" + model.name + "' (routes: " + routes + ")");
    }
    CourseSpec c;
    c.name = "regimen";
    c.model = model.name;
    c.regimen = regimen;
    c.session_starts_h = group_sessions(regimen, session_window_h);
    c.ce_scale = racemic_equivalent_scale(model);
    std::string days;
    for (double t : c.session_starts_h) days += (days.empty() ? "" : ",") + pd_num(t / 24.0);
    c.description = std::to_string(regimen.events.size()) + " dose event(s) in " +
                    std::to_string(c.session_starts_h.size()) + " session(s) on days " + days + " (model " + model.name +
                    ")";
    return c;
}

void CourseOptions::validate() const {
    if (!(weight_kg > 0 && weight_kg < 1000)) throw InputError("weight_kg = " + pd_num(weight_kg) + ": must be in (0, 1000)");
    if (!(dt_h > 0 && dt_h <= 0.25)) throw InputError("dt_h = " + pd_num(dt_h) + ": must be in (0, 0.25] h (15 min)");
    if (!(follow_up_h >= 24.0)) throw InputError("follow_up_h = " + pd_num(follow_up_h) + ": must be >= 24 h");
    clinical.validate();
    symptom.validate();
}

const char* to_string(PdSolver s) { return s == PdSolver::coupled_ode ? "coupled-ode" : "semi-analytic"; }

PdSolver pd_solver_from_string(const std::string& s) {
    if (s == "semi-analytic") return PdSolver::semi_analytic;
    if (s == "coupled-ode") return PdSolver::coupled_ode;
    throw InputError("pd solver: '" + s + "' is not a PD solver (accepted: semi-analytic, coupled-ode)");
}

CourseResult run_course(const Model& model, const CourseSpec& spec, const AcuteEffectModel& acute,
                        const SymptomModel& symptoms, const CourseOptions& o) {
    o.validate();
    acute.validate();
    symptoms.validate();
    if (!model.effect_site) throw InputError("model '" + model.name + "' has no [effect_site]: PD needs Ce");
    if (spec.session_starts_h.empty()) throw InputError("course '" + spec.name + "': no sessions");
    CourseResult r;
    r.spec = spec;
    const double t_first = spec.session_starts_h.front();
    const double t_end = spec.session_starts_h.back() + o.follow_up_h;
    Subject subj;
    subj.weight_kg = o.weight_kg;
    OutputGrid grid = OutputGrid::uniform(0.0, t_end, o.dt_h);
    // Session starts on the grid, so "before" and discharge windows start exactly at a dose.
    grid.times.insert(grid.times.end(), spec.session_starts_h.begin(), spec.session_starts_h.end());
    std::sort(grid.times.begin(), grid.times.end());
    grid.times.erase(std::unique(grid.times.begin(), grid.times.end(),
                                 [](double a, double b) { return std::fabs(a - b) < 1e-9; }),
                     grid.times.end());
    r.pk = simulate(model, spec.regimen, grid, SimOptions{}, subj);
    const std::string ce = model.effect_site->name;
    r.acute = acute_effects(r.pk, acute, spec.session_starts_h, spec.ce_scale, ce);
    const auto sa = session_acute_metrics(r.pk, r.acute, acute, spec.session_starts_h, spec.ce_scale, ce);
    if (o.pd_solver == PdSolver::coupled_ode) {
        r.symptoms = simulate_symptoms_coupled(model, spec.regimen, subj, r.pk.time, symptoms, t_first, spec.ce_scale,
                                               o.symptom);
    } else {
        const double ke0 = resolve_parameter(model.parameter(model.effect_site->ke0), subj);   // 1/h
        r.symptoms = simulate_symptoms(r.pk, symptoms, t_first, spec.ce_scale, o.symptom, ce, ke0,
                                       model.effect_site->driver);
    }
    r.clinical = clinical_metrics(r.symptoms, symptoms, spec.session_starts_h, o.clinical);
    const double response_level = symptoms.baseline * (1.0 - o.clinical.response_fraction);
    for (std::size_t k = 0; k < sa.size(); ++k) {
        SessionReport s;
        s.index = static_cast<int>(k + 1);
        s.day = sa[k].start_h / 24.0;
        s.acute = sa[k];
        // "Before": the value on the grid at the start (the dose has no instantaneous effect on MADRS).
        s.madrs_before = interpolate(r.symptoms.time, r.symptoms.madrs.data(), sa[k].start_h);
        s.madrs_after_24h = interpolate(r.symptoms.time, r.symptoms.madrs.data(), sa[k].start_h + 24.0);
        s.response = s.madrs_after_24h <= response_level;
        s.remission = s.madrs_after_24h <= o.clinical.remission_threshold;
        r.sessions.push_back(s);
    }
    return r;
}

}  // namespace ketasim
