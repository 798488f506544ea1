// Standard schedules and a whole course: exact PK on a fine grid, acute effects, symptom model,
// clinical metrics. Schedules: docs reference section 5 (IV 0.5 mg/kg over 40 min 2x or 3x
// weekly; Spravato induction twice weekly for 4 weeks, then weekly).
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "ketasim/errors.hpp"
#include "ketasim/metrics.hpp"
#include "ketasim/pd.hpp"
#include "pd/pd_check.hpp"
#include "ketasim/io.hpp"

namespace ketasim {

namespace {
using detail::pd_num;
using detail::pd_require;

std::string route_list(const Model& model) {
    std::string routes;
    for (const auto& r : model.route_names()) routes += (routes.empty() ? "" : ", ") + r;
    return routes;
}

// Attaches `model` to a course after checking that it can run it: every dose's route is a route
// of the model, and the model has an effect site with its racemic-equivalence factor.
CourseSpec attach_model(CourseSpec c, const Model& model) {
    c.regimen.validate();
    for (std::size_t i = 0; i < c.regimen.events.size(); ++i) {
        const DoseEvent& e = c.regimen.events[i];
        if (!e.compartment.empty() || model.has_route(e.route)) continue;
        throw InputError("regimen event " + std::to_string(i) + " (t = " + pd_num(e.time) + " h): route '" + e.route +
                         "' is not a route of model '" + model.name + "' (routes: " + route_list(model) + ")");
    }
    racemic_equivalent_scale(model);   // throws if the model cannot run PD
    c.model = model;
    return c;
}

// The regimen and sessions of an IV course, before a model is attached.
CourseSpec iv_days_spec(const std::vector<double>& days, double mg_per_kg, double duration_h) {
    if (days.empty()) throw InputError("iv course: days is empty: need at least one session day (e.g. 0,2,4,7,9,11)");
    for (double d : days)
        if (!(d >= 0 && d <= 3650)) throw InputError("iv course: day " + pd_num(d) + ": must be in [0, 3650]");
    if (!(mg_per_kg > 0 && mg_per_kg <= 10))
        throw InputError("iv course: mg_per_kg = " + pd_num(mg_per_kg) + ": must be in (0, 10]");
    if (!(duration_h >= 0 && duration_h <= 24))
        throw InputError("iv course: duration_h = " + pd_num(duration_h) + ": must be in [0, 24] h");
    CourseSpec c;
    for (double d : days) c.session_starts_h.push_back(24.0 * d);
    std::sort(c.session_starts_h.begin(), c.session_starts_h.end());
    for (std::size_t i = 1; i < c.session_starts_h.size(); ++i)
        if (c.session_starts_h[i] == c.session_starts_h[i - 1])
            throw InputError("iv course: day " + pd_num(c.session_starts_h[i] / 24.0) + " is given twice");
    c.regimen = Regimen::iv_infusion(mg_per_kg, duration_h, c.session_starts_h, true);
    c.name = "iv-days";
    std::string list;
    for (double d : days) list += (list.empty() ? "" : ",") + pd_num(d);
    c.description = "racemic ketamine " + pd_num(mg_per_kg) + " mg/kg IV over " + pd_num(duration_h * 60.0) +
                    " min on days " + list;
    return c;
}
}   // namespace

double racemic_equivalent_scale(const Model& model) {
    if (!model.effect_site) throw InputError("model '" + model.name + "' has no [effect_site]: PD needs Ce");
    const std::string& pn = model.effect_site->racemic_equivalent;
    if (pn.empty())
        throw InputError("model '" + model.name +
                         "': [effect_site] has no racemic_equivalent key: the PD parameters are "
                         "calibrated on racemic Ce, so give the parameter converting this model's Ce into "
                         "racemic-equivalent ng/mL (1 for racemic ketamine), with its source");
    if (!model.has_parameter(pn))
        throw InputError("model '" + model.name + "': effect_site.racemic_equivalent names parameter '" + pn +
                         "', which is not defined");
    const double v = model.parameter(pn).value;
    if (!(v > 0) || !std::isfinite(v))
        throw InputError("model '" + model.name + "': parameters." + pn + " = " + pd_num(v) +
                         ": must be finite and > 0");
    return v;
}

double racemic_threshold_for(const Model& model, double racemic_threshold) {
    return racemic_threshold / racemic_equivalent_scale(model);
}

CourseSpec iv_course_on_days(const Model& model, const std::vector<double>& days, double mg_per_kg, double duration_h) {
    return attach_model(iv_days_spec(days, mg_per_kg, duration_h), model);
}

CourseSpec iv_course(const Model& model, int per_week, int weeks, double mg_per_kg, double duration_h) {
    if (per_week != 2 && per_week != 3)
        throw InputError("iv course: per_week = " + std::to_string(per_week) + ": must be 2 or 3");
    if (weeks < 1 || weeks > 52)
        throw InputError("iv course: weeks = " + std::to_string(weeks) + ": must be in [1, 52]");
    // Mon/Wed/Fri or Mon/Thu.
    const std::vector<double> week_days = per_week == 3 ? std::vector<double>{0, 2, 4} : std::vector<double>{0, 3};
    std::vector<double> days;
    for (int w = 0; w < weeks; ++w)
        for (double d : week_days) days.push_back(7.0 * w + d);
    CourseSpec c = iv_days_spec(days, mg_per_kg, duration_h);
    c.name = per_week == 3 ? "iv-3x-weekly" : "iv-2x-weekly";
    c.description += " (" + std::to_string(per_week) + "x weekly for " + std::to_string(weeks) + " weeks)";
    return attach_model(std::move(c), model);
}

CourseSpec esketamine_induction(const Model& model, int weeks) {
    if (weeks < 1 || weeks > 8)
        throw InputError("esketamine induction: weeks = " + std::to_string(weeks) + ": must be in [1, 8]");
    CourseSpec c;
    c.name = "esketamine-induction";
    for (int w = 0; w < weeks; ++w) {
        const std::vector<double> days = w < 4 ? std::vector<double>{0, 3} : std::vector<double>{0};
        for (double d : days) {
            const double t = 24.0 * (7.0 * w + d);
            const double mg = c.session_starts_h.empty() ? 56.0 : 84.0;
            c.regimen.merge(Regimen::intranasal(mg, {t}));
            c.session_starts_h.push_back(t);
        }
    }
    c.description =
        "esketamine intranasal, 28 mg devices 5 min apart: 56 mg on day 0, then 84 mg; twice weekly in weeks "
        "1-4" +
        std::string(weeks > 4 ? ", weekly in weeks 5-" + std::to_string(weeks) : "") + " (" +
        std::to_string(c.session_starts_h.size()) + " sessions)";
    return attach_model(std::move(c), model);
}

const std::vector<ScheduleInfo>& schedule_registry() {
    // Docs reference section 5 (IV 0.5 mg/kg over 40 min 2x or 3x weekly) and the Spravato label.
    static const std::vector<ScheduleInfo> r = {
        {"iv-3x-weekly", "ketamine_iv_clements", 2, 52,
         "racemic ketamine 0.5 mg/kg IV over 40 min on days 0, 2, 4 of each week"},
        {"iv-2x-weekly", "ketamine_iv_clements", 4, 52,
         "racemic ketamine 0.5 mg/kg IV over 40 min on days 0, 3 of each week"},
        {"iv-days", "ketamine_iv_clements", 0, 0, "racemic ketamine 0.5 mg/kg IV over 40 min on the given days"},
        {"esketamine-induction", "esketamine_nasal", 8, 8,
         "Spravato induction: 56 mg then 84 mg intranasal, twice weekly in weeks 1-4, then weekly"},
    };
    return r;
}

const ScheduleInfo& schedule_info(const std::string& name) {
    for (const auto& s : schedule_registry())
        if (name == s.name) return s;
    std::string names;
    for (const auto& s : schedule_registry()) names += (names.empty() ? "" : ", ") + std::string(s.name);
    throw InputError("schedule '" + name + "' is not a schedule (accepted: " + names + ")");
}

CourseSpec schedule_course(const ScheduleRequest& q, const Model& model) {
    const ScheduleInfo& info = schedule_info(q.name);
    const std::string n = q.name;
    const bool iv = n.rfind("iv-", 0) == 0;
    if (q.weeks && info.default_weeks == 0)
        throw InputError("schedule " + n + ": weeks = " + std::to_string(*q.weeks) +
                         ": this schedule takes days, not weeks");
    if (q.weeks && (*q.weeks < 1 || *q.weeks > info.max_weeks))
        throw InputError("schedule " + n + ": weeks = " + std::to_string(*q.weeks) + ": must be in [1, " +
                         std::to_string(info.max_weeks) + "] (default " + std::to_string(info.default_weeks) + ")");
    if (n != "iv-days" && !q.days.empty()) throw InputError("schedule " + n + ": days apply to iv-days only");
    if (!iv && !(std::isnan(q.mg_per_kg) && std::isnan(q.duration_h)))
        throw InputError("schedule " + n + ": mg_per_kg and duration apply to the IV schedules only");
    const double mg = std::isnan(q.mg_per_kg) ? 0.5 : q.mg_per_kg;
    const double dur = std::isnan(q.duration_h) ? 40.0 / 60.0 : q.duration_h;
    const int weeks = q.weeks ? *q.weeks : info.default_weeks;
    if (n == "iv-3x-weekly") return iv_course(model, 3, weeks, mg, dur);
    if (n == "iv-2x-weekly") return iv_course(model, 2, weeks, mg, dur);
    if (n == "iv-days") return iv_course_on_days(model, q.days, mg, dur);
    return esketamine_induction(model, weeks);
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
    CourseSpec c;
    c.name = "regimen";
    c.regimen = regimen;
    c.session_starts_h = group_sessions(regimen, session_window_h);
    std::string days;
    for (double t : c.session_starts_h) days += (days.empty() ? "" : ",") + pd_num(t / 24.0);
    c.description = std::to_string(regimen.events.size()) + " dose event(s) in " +
                    std::to_string(c.session_starts_h.size()) + " session(s) on days " + days;
    return attach_model(std::move(c), model);
}

CourseSpec with_model(const CourseSpec& spec, const Model& model) {
    CourseSpec c = spec;
    c.model = Model{};
    return attach_model(std::move(c), model);
}

void CourseOptions::validate() const {
    if (!(weight_kg > 0 && weight_kg < 1000))
        throw InputError("weight_kg = " + pd_num(weight_kg) + ": must be in (0, 1000)");
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

CourseResult run_course(const CourseSpec& spec, const AcuteEffectModel& acute, const SymptomModel& symptoms,
                        const CourseOptions& o) {
    Subject subj;
    subj.weight_kg = o.weight_kg;
    return run_course(spec, acute, symptoms, o, subj);
}

CourseResult run_course(const CourseSpec& spec, const AcuteEffectModel& acute, const SymptomModel& symptoms,
                        const CourseOptions& o, const Subject& subj) {
    o.validate();
    acute.validate();
    symptoms.validate();
    const Model& model = spec.model;
    const double ce_scale = racemic_equivalent_scale(model);   // also: the model has an effect site
    if (spec.session_starts_h.empty()) throw InputError("course '" + spec.name + "': no sessions");
    CourseResult r;
    r.spec = spec;
    r.ce_scale = ce_scale;
    const double t_first = spec.session_starts_h.front();
    const double t_end = spec.session_starts_h.back() + o.follow_up_h;
    OutputGrid grid = OutputGrid::uniform(0.0, t_end, o.dt_h);
    // Session starts on the grid, so "before" and discharge windows start exactly at a dose.
    grid.times.insert(grid.times.end(), spec.session_starts_h.begin(), spec.session_starts_h.end());
    std::sort(grid.times.begin(), grid.times.end());
    grid.times.erase(
        std::unique(grid.times.begin(), grid.times.end(), [](double a, double b) { return std::fabs(a - b) < 1e-9; }),
        grid.times.end());
    r.pk = simulate(model, spec.regimen, grid, SimOptions{}, subj);
    const std::string ce = model.effect_site->name;
    r.acute = acute_effects(r.pk, acute, spec.session_starts_h, ce_scale, ce, model.effect_site->driver);
    const auto sa = session_acute_metrics(r.pk, r.acute, acute, spec.session_starts_h, ce_scale, ce);
    if (o.pd_solver == PdSolver::coupled_ode) {
        r.symptoms =
            simulate_symptoms_coupled(model, spec.regimen, subj, r.pk.time, symptoms, t_first, ce_scale, o.symptom);
    } else {
        // ke0 of this subject, random effects included (1/h).
        const ParameterLayout layout(model);
        std::vector<double> values(layout.size());
        layout.resolve(subj, nullptr, values.data());
        const double ke0 = values[static_cast<std::size_t>(layout.index(model.effect_site->ke0))];
        r.symptoms =
            simulate_symptoms(r.pk, symptoms, t_first, ce_scale, o.symptom, ce, ke0, model.effect_site->driver);
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
    std::vector<SideEffectRisk> per_session;
    for (const auto& x : sa) per_session.push_back(x.side_effects);
    r.side_effects_course = course_incidence(per_session);
    return r;
}

const std::vector<SessionColumn>& session_columns() {
    using K = ColumnKind;
    static const std::vector<SessionColumn> c = {
        {"session", "1", K::integer, "session", "1-based session index"},
        {"day", "d", K::real, "day", "session start, days from time 0"},
        {"peak_ce_ng_per_mL", "ng/mL", K::real, "peak Ce ng/mL", "peak racemic-equivalent effect-site concentration"},
        {"t_peak_ce_h", "h", K::real, "t peak Ce h", "time of the peak Ce after the session start"},
        {"peak_dissociation_pct", "%", K::real, "peak dissoc %", "peak dissociation, % of the maximal effect"},
        {"t_peak_dissociation_h", "h", K::real, "t dissoc h", "time of the peak dissociation after the session start"},
        {"peak_sbp_rise_mmHg", "mmHg", K::real, "peak SBP mmHg", "peak systolic blood pressure rise"},
        {"t_peak_sbp_h", "h", K::real, "t SBP h", "time of the peak SBP rise after the session start"},
        {"discharge_min", "min", K::real, "discharge min",
         "after the session start, first time from which every effect stays below its discharge threshold (NaN: not "
         "within the window)"},
        {"p_nausea", "1", K::real, "P nausea",
         "probability of nausea/vomiting in this session (logistic in log peak Ce)"},
        {"p_dizziness", "1", K::real, "P dizzy", "probability of dizziness in this session (logistic in log peak Ce)"},
        {"p_drowsiness", "1", K::real, "P drowsy",
         "probability of drowsiness in this session (logistic in log peak Ce)"},
        {"p_dissociation", "1", K::real, "P dissoc",
         "probability that dissociation is reported as a side effect in this session (logistic in log peak Ce)"},
        {"madrs_before", "MADRS points", K::real, "MADRS before", "MADRS at the session start"},
        {"madrs_24h", "MADRS points", K::real, "MADRS 24 h", "MADRS 24 h after the session start"},
        {"response_24h", "bool", K::boolean, "response", "MADRS 24 h <= baseline * (1 - response_fraction)"},
        {"remission_24h", "bool", K::boolean, "remission", "MADRS 24 h <= remission_threshold"},
    };
    return c;
}

std::vector<std::vector<double>> session_table(const CourseResult& r) {
    std::vector<std::vector<double>> rows;
    for (const auto& s : r.sessions) {
        const SessionAcute& a = s.acute;
        rows.push_back({static_cast<double>(s.index), s.day, a.peak_ce, a.t_peak_ce_h, a.peak_diss, a.t_peak_diss_h,
                        a.peak_sbp, a.t_peak_sbp_h, a.discharge_h * 60.0, a.side_effects.nausea,
                        a.side_effects.dizziness, a.side_effects.drowsiness, a.side_effects.dissociation,
                        s.madrs_before, s.madrs_after_24h, s.response ? 1.0 : 0.0, s.remission ? 1.0 : 0.0});
        if (rows.back().size() != session_columns().size())
            throw std::logic_error("session_table: row and session_columns() differ in length");
        // Every value but discharge (NaN = no discharge within the window) must be finite.
        for (std::size_t k = 0; k < rows.back().size(); ++k)
            if (!std::isfinite(rows.back()[k]) && std::string(session_columns()[k].name) != "discharge_min")
                throw SolverError("session " + std::to_string(s.index) + ": " + session_columns()[k].name +
                                  " is not finite (" + pd_num(rows.back()[k]) + ")");
    }
    return rows;
}

std::string session_table_csv(const CourseResult& r) {
    const auto& cols = session_columns();
    std::ostringstream os;
    os << std::setprecision(std::numeric_limits<double>::max_digits10);   // round-trips exactly
    for (std::size_t k = 0; k < cols.size(); ++k) os << (k ? "," : "") << cols[k].name;
    os << "\n";
    for (const auto& row : session_table(r)) {
        for (std::size_t k = 0; k < row.size(); ++k) {
            if (k) os << ",";
            if (std::isnan(row[k]))
                os << "nan";
            else if (cols[k].kind == ColumnKind::real)
                os << row[k];
            else
                os << static_cast<long long>(row[k]);
        }
        os << "\n";
    }
    return os.str();
}

void FlagshipOptions::validate() const {
    // Doses are checked by the Regimen builders (whole devices, > 0); the weight here.
    if (!(weight_kg > 0 && weight_kg < 1000))
        throw InputError("weight_kg = " + pd_num(weight_kg) + ": must be in (0, 1000)");
    for (const auto* m : {&iv_model, &esketamine_model, &racemic_in_model})
        if (m->empty()) throw InputError("flagship: a model name is empty");
}

std::vector<ArmSpec> flagship_arms(const FlagshipOptions& o) {
    o.validate();
    return {
        {"iv_racemic", "IV racemic ketamine 0.5 mg/kg over 40 min", "IV racemic ketamine", o.iv_model,
         Regimen::iv_infusion(0.5, 40.0 / 60.0, {0.0}, true),
         "racemic ketamine 0.5 mg/kg (" + pd_num(0.5 * o.weight_kg) + " mg) IV over 40 min at t = 0"},
        {"in_esketamine", "IN esketamine " + pd_num(o.esketamine_mg) + " mg (28 mg devices, 5 min apart)",
         "IN esketamine", o.esketamine_model, Regimen::intranasal(o.esketamine_mg, {0.0}),
         "esketamine " + pd_num(o.esketamine_mg) + " mg intranasal as 28 mg devices 5 min apart"},
        {"in_racemic", "IN racemic ketamine " + pd_num(o.racemic_in_mg) + " mg", "IN racemic ketamine",
         o.racemic_in_model, Regimen::intranasal(o.racemic_in_mg, {0.0}, o.racemic_in_mg, 0.0),
         "racemic ketamine " + pd_num(o.racemic_in_mg) + " mg intranasal at t = 0 (one dose event)"},
    };
}

}   // namespace ketasim
