#pragma once
// Pharmacodynamics on a simulated effect-site curve (Ce, ng/mL):
//  - acute effects (dissociation, systolic BP rise) as sigmoid Emax functions of Ce;
//  - a CALIBRATED, NOT PUBLISHED symptom model (MADRS 0-60) driven by Ce through a plasticity
//    state, integrated with Boost.Odeint (dopri5) on the exact PK solution;
//  - clinical metrics on a course (onset, response, remission, relapse) and standard schedules.
// Calibration targets and procedure: docs/calibration.md. Times in hours.
#include <limits>
#include <string>
#include <vector>

#include "ketasim/model.hpp"
#include "ketasim/regimen.hpp"
#include "ketasim/simulate.hpp"

namespace ketasim {

// ---- PD parameter files (models/pd/*.toml) ---------------------------------------------------

struct PdParameter {
    std::string name;
    double value = 0.0;
    std::string unit;
    std::string description;
    std::string source;        // citation, "calibrated: <targets>" or "assumption: ..."
    bool calibrated = false;
    int line = 0;              // line in the file (for error messages), 0 if unknown
};

struct PdParameterSet {
    std::string name, title, description;
    std::string source_path;
    std::vector<PdParameter> parameters;
    const PdParameter& parameter(const std::string& name) const;   // throws InputError if missing
    double value(const std::string& name) const { return parameter(name).value; }
    bool has(const std::string& name) const;
    // "file:line: parameters.<name>" for messages.
    std::string where(const std::string& name) const;
};

// Every [parameters.X] needs value, unit, description, source; `calibrated = true` requires a
// source starting with "calibrated:". Throws InputError naming file:line, key, value and rule.
PdParameterSet parse_pd_parameters(const std::string& toml_text, const std::string& source_name);

// The unit a PD parameter is read in: a dimension converted to its canonical unit, or a fixed
// scale that has no conversion (a score is only meaningful on its own scale).
enum class PdUnit {
    concentration,    // canonical ng/mL; also ug/mL, mg/L, ug/L (converted)
    rate,             // canonical 1/h; also 1/min, 1/d (converted)
    fraction,         // "1" (also "fraction", "%" converted to a fraction)
    percent_effect,   // "% of maximal effect" only (the dissociation scale 0-100)
    mmhg,             // "mmHg" only
    madrs_points,     // "MADRS points" only
};
struct PdParameterSpec {
    const char* name;
    PdUnit unit;
};
// The parameters `p` must hold, as declared by the code that consumes them (one table per PD
// model: AcuteEffectModel, SymptomModel). Every parameter of `p` must be in `spec` (an unknown
// or misspelt name is an InputError naming the closest valid one), every spec entry must be
// present, and each unit must be one of its PdUnit's; values come back in canonical units.
PdParameterSet conform_pd_parameters(const PdParameterSet& p, const std::vector<PdParameterSpec>& spec);
PdParameterSet load_pd_parameters(const std::string& path);
// models/pd/<name>.toml of the library directory (see default_models_dir()).
PdParameterSet load_library_pd(const std::string& name, const std::string& models_dir = "");

// ---- acute effects ---------------------------------------------------------------------------

// E(c) = emax c^hill / (ec50^hill + c^hill) for c >= 0 (negative c, from roundoff, counts as 0).
double sigmoid_emax(double c, double emax, double ec50, double hill);

struct AcuteEffectModel {
    // Dissociation on a 0..diss_emax scale (CADSS-like; percent of the maximal effect).
    double diss_emax = 100.0, diss_ec50 = 150.0, diss_hill = 3.0;
    // Systolic blood pressure rise, mmHg.
    double sbp_emax = 10.0, sbp_ec50 = 100.0, sbp_hill = 1.0;
    // Dissociation Emax is multiplied by this factor for every earlier session (1 = no
    // tolerance). An assumption, not a fit: the reference only says it "fades".
    double diss_tolerance_per_session = 1.0;
    // Discharge readiness: every effect below its threshold until the next dose.
    double diss_discharge_threshold = 10.0;
    double sbp_discharge_threshold = 2.0;
    void validate() const;   // names the field, value and rule
    static AcuteEffectModel from_parameters(const PdParameterSet& p);
};

struct AcuteCurves {
    std::vector<double> time;           // h (the trajectory's grid)
    std::vector<double> dissociation;   // 0..diss_emax
    std::vector<double> sbp_rise;       // mmHg
};

// `ce_scale` converts the Ce row into racemic-equivalent ng/mL (see kEsketamineRacemicEquivalent).
AcuteCurves acute_effects(const Trajectory& tr, const AcuteEffectModel& m, const std::vector<double>& session_starts_h,
                          double ce_scale = 1.0, const std::string& ce_name = "Ce");

// Racemic 0.5 mg/kg holds 0.25 mg/kg S-ketamine, and the S-enantiomer carries most of the NMDA
// activity, so 1 ng/mL esketamine is treated as 2 ng/mL racemic-equivalent: an assumption used to
// PREDICT esketamine effects with parameters calibrated on racemic IV data (docs/calibration.md).
constexpr double kEsketamineRacemicEquivalent = 2.0;

struct SessionAcute {
    double start_h = 0;
    double peak_ce = 0, t_peak_ce_h = 0;          // racemic-equivalent ng/mL; h after start
    double peak_diss = 0, t_peak_diss_h = 0;
    double peak_sbp = 0, t_peak_sbp_h = 0;
    // First time after the start (h) from which every effect stays below its threshold until the
    // next session (or the end of the grid). NaN if never within the window.
    double discharge_h = std::numeric_limits<double>::quiet_NaN();
};
std::vector<SessionAcute> session_acute_metrics(const Trajectory& tr, const AcuteCurves& a, const AcuteEffectModel& m,
                                                const std::vector<double>& session_starts_h, double ce_scale = 1.0,
                                                const std::string& ce_name = "Ce");

// ---- symptom model (calibrated, not published) -----------------------------------------------
// S(Ce) = Ce^h / (ec50^h + Ce^h)
// dP/dt = k_on S(Ce) (1 - P) - k_off P          plasticity induced during exposure, P in [0, 1]
// dE/dt = k_tr (P - E)                           its expression in mood, E in [0, 1] (delay)
// placebo(t) = placebo_max (1 - exp(-k_placebo (t - t_first)))   expectation, from the 1st session
// MADRS(t) = baseline (1 - emax_p E) (1 - placebo(t))            in [0, baseline] by construction
struct SymptomModel {
    double baseline = 32.0;        // MADRS points, in [0, 60]
    double ec50 = 150.0;           // ng/mL racemic-equivalent Ce
    double hill = 1.0;
    double k_on = 1.0;             // 1/h
    double k_off = 0.01;           // 1/h
    double k_tr = 0.1;             // 1/h
    double emax_p = 1.0;           // in [0, 1]
    double placebo_max = 0.28;     // in [0, 1)
    double k_placebo = 0.17;       // 1/h
    void validate() const;
    static SymptomModel from_parameters(const PdParameterSet& p);
};

struct SymptomOptions {
    double rtol = 1e-8, atol = 1e-10;   // dopri5 on (P, E)
    void validate() const;
};

struct SymptomCurve {
    std::vector<double> time;     // h, the trajectory's grid
    std::vector<double> ce;       // racemic-equivalent ng/mL
    std::vector<double> P, E, placebo, madrs;
    std::vector<double> madrs_control;   // placebo only (same expectation, no drug)
};

// Semi-analytic path: integrates (P, E) with dopri5 between consecutive grid points of the exact
// PK solution `tr`. Between grid points Ce is linear, or, when `ke0_per_h` is given (with the
// driver output, normally C_plasma, in `tr`), a cubic Hermite interpolant whose end slopes are
// the exact dCe/dt = ke0 (C_driver - Ce): fourth order instead of second (docs/calibration.md).
SymptomCurve simulate_symptoms(const Trajectory& tr, const SymptomModel& m, double first_session_h,
                               double ce_scale = 1.0, const SymptomOptions& o = {}, const std::string& ce_name = "Ce",
                               double ke0_per_h = std::numeric_limits<double>::quiet_NaN(),
                               const std::string& driver_name = "C_plasma");

// Coupled path: every PK state (including the effect site) and (P, E) integrated together as one
// ODE system by Boost.Odeint dopri5 with error control on all of them, restarted at every dose
// and infusion start/stop. No exact PK solution involved: the independent reference that the
// semi-analytic path is tested against. Output on `times` (h, increasing); `ce_scale` as above.
SymptomCurve simulate_symptoms_coupled(const Model& model, const Regimen& regimen, const Subject& subject,
                                       const std::vector<double>& times, const SymptomModel& m,
                                       double first_session_h, double ce_scale = 1.0, const SymptomOptions& o = {});

// ---- clinical metrics ------------------------------------------------------------------------

struct ClinicalOptions {
    double onset_fraction = 0.2;        // onset of improvement: >= 20% fall from baseline
    double response_fraction = 0.5;     // response: >= 50% fall from baseline
    double remission_threshold = 10.0;  // remission: MADRS <= 10
    void validate() const;
};

struct ClinicalMetrics {
    static constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    double baseline = nan;
    double onset_h = nan;              // from the first session
    double response_h = nan;           // from the first session
    double remission_h = nan;          // from the first session
    double response_duration_h = nan;  // first response until first loss (NaN if not lost)
    double relapse_after_last_h = nan; // response lost, h after the last session start
    int sessions_to_response = -1;     // sessions started up to the response time (-1: none)
    bool response_lost = false;
    double min_madrs = nan, t_min_madrs_h = nan;
};
ClinicalMetrics clinical_metrics(const SymptomCurve& s, const SymptomModel& m, const std::vector<double>& session_starts_h,
                                 const ClinicalOptions& o = {});

// ---- schedules and courses -------------------------------------------------------------------

struct CourseSpec {
    std::string name, description;
    std::string model = "ketamine_iv_clements";   // library model
    Regimen regimen;
    std::vector<double> session_starts_h;
    double ce_scale = 1.0;                          // Ce -> racemic-equivalent ng/mL
};

// Racemic IV mg_per_kg over duration_h on the given days (24 h * day).
CourseSpec iv_course_on_days(const std::vector<double>& days, double mg_per_kg = 0.5, double duration_h = 40.0 / 60.0);
// 2x weekly (days 0, 3 of each week) or 3x weekly (days 0, 2, 4) for `weeks` weeks.
CourseSpec iv_course(int per_week, int weeks, double mg_per_kg = 0.5, double duration_h = 40.0 / 60.0);
// Spravato induction: weeks 1-4 twice weekly (days 0, 3), 56 mg on day 0 then 84 mg; weeks 5..weeks
// once weekly 84 mg. `weeks` in [1, 8] (default 8).
CourseSpec esketamine_induction(int weeks = 8);

// Ce -> racemic-equivalent ng/mL factor for a model, from the analyte of its effect-site driver
// output (or the model's analyte): esketamine -> kEsketamineRacemicEquivalent, racemic ketamine
// -> 1. Any other analyte is an InputError: the PD parameters are calibrated on racemic Ce only.
double racemic_equivalent_scale(const Model& model);

// Session start times (h) of a regimen: dose start times in order, grouped so that a dose starting
// within `session_window_h` of the first dose of the current session belongs to that session
// (the devices of one nasal session are 5 min apart; sessions are a day or more apart). Throws
// InputError for an empty regimen or a window outside (0, 24] h.
std::vector<double> group_sessions(const Regimen& regimen, double session_window_h = 2.0);

// A course from any regimen (e.g. a regimen TOML file) on `model`: sessions from group_sessions(),
// ce_scale from racemic_equivalent_scale(model), spec.model = model.name. Every dose's route must
// be a route of the model (InputError naming the event, route and the model's routes).
CourseSpec course_from_regimen(const Regimen& regimen, const Model& model, double session_window_h = 2.0);

// How run_course integrates the symptom states (both must agree; tests hold them together).
enum class PdSolver {
    semi_analytic,   // exact PK, then (P, E) by dopri5 on Hermite-interpolated Ce (fast, default)
    coupled_ode      // PK + effect site + (P, E) as one dopri5 system (reference; slower)
};
const char* to_string(PdSolver s);
PdSolver pd_solver_from_string(const std::string& s);   // "semi-analytic" or "coupled-ode"

struct CourseOptions {
    double weight_kg = 70.0;
    PdSolver pd_solver = PdSolver::semi_analytic;
    double dt_h = 1.0 / 60.0;           // grid of the exact PK solution
    double follow_up_h = 28.0 * 24.0;   // after the last session
    std::string models_dir;
    ClinicalOptions clinical;
    SymptomOptions symptom;
    void validate() const;
};

struct SessionReport {
    int index = 0;                       // 1-based
    double day = 0;
    SessionAcute acute;
    double madrs_before = 0;             // at the session start
    double madrs_after_24h = 0;          // 24 h after the start
    bool response = false, remission = false;   // at 24 h after the start
};

struct CourseResult {
    CourseSpec spec;
    Trajectory pk;
    AcuteCurves acute;
    SymptomCurve symptoms;
    std::vector<SessionReport> sessions;
    ClinicalMetrics clinical;
};

CourseResult run_course(const Model& model, const CourseSpec& spec, const AcuteEffectModel& acute,
                        const SymptomModel& symptoms, const CourseOptions& o = {});

}  // namespace ketasim
