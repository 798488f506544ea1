#pragma once
// Pharmacodynamics on a simulated effect-site curve (Ce, ng/mL):
//  - acute effects (dissociation on Ce; systolic BP rise on plasma with acute tolerance) and
//    per-session side-effect probabilities;
//  - a CALIBRATED, NOT PUBLISHED symptom model (MADRS 0-60) driven by Ce through a plasticity
//    state, integrated with Boost.Odeint (dopri5) on the exact PK solution;
//  - clinical metrics on a course (onset, response, remission, relapse) and standard schedules.
// Calibration targets and procedure: docs/calibration.md. Times in hours.
#include <limits>
#include <optional>
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
    std::string source;   // citation, "calibrated: <targets>" or "assumption: ..."
    bool calibrated = false;
    int line = 0;   // line in the file (for error messages), 0 if unknown
};

// Uncertainty of fitted values ([uncertainty] table of a PD file; docs/calibration.md): a
// multivariate normal on the log scale, log(value) ~ N(log(estimate), diag(se) R diag(se)). Each
// name is a parameter ("k_cons") or the spread of a variability block named by its first parameter
// ("variability.k_on.cv_percent", "variability.placebo_max.sd"; "variability.k_off.sd" for the
// block [k_off, k_off_c], allowed when its variances are equal: their common SD, and drawing it
// scales the block's covariance, keeping the correlations). Empty when the file has none.
struct PdUncertainty {
    std::vector<std::string> names;
    std::vector<double> estimate, se;   // estimate in the file's unit; se on the log scale
    Eigen::MatrixXd correlation;        // symmetric, unit diagonal, positive definite
    std::string method, scale, source;
    int line = 0;
    bool empty() const { return names.empty(); }
};

struct PdParameterSet {
    std::string name, title, description;
    std::string source_path;
    std::vector<PdParameter> parameters;
    // The top-level `structure` key ("" when absent): the equations a symptom file's parameters
    // belong to (SymptomModel::from_parameters requires it; other PD models reject it).
    std::string structure;
    int structure_line = 0;
    // Between-patient variability of PD parameters ([[variability]] blocks, the model files'
    // format: docs/populations.md); per-occasion blocks are not supported for PD.
    std::vector<VariabilityBlock> variability;
    PdUncertainty uncertainty;
    const PdParameter& parameter(const std::string& name) const;   // throws InputError if missing
    double value(const std::string& name) const { return parameter(name).value; }
    bool has(const std::string& name) const;
    // "file:line: parameters.<name>" for messages.
    std::string where(const std::string& name) const;
};

// Every [parameters.X] needs value, unit, description, source; `calibrated = true` requires a
// source starting with "calibrated:". Throws InputError naming file:line, key, value and rule.
// The current value of an [uncertainty] name (a parameter, or "variability.<p>.cv_percent" /
// "variability.<p>.sd" of the block whose first parameter is <p>; a multi-parameter block only when
// its diagonal variances are equal) and its replacement (the block's omega follows the file
// format's conventions: omega = log(1 + CV^2), omega = SD^2; a multi-parameter block's whole
// covariance is scaled, keeping the correlations). InputError naming `where`, the name and the rule
// when it names nothing.
double uncertainty_value(const PdParameterSet& s, const std::string& name, const std::string& file,
                         const std::string& where);
void set_uncertainty_value(PdParameterSet& s, const std::string& name, double value);

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

// Acute effects (docs/calibration.md, section 1):
//  - dissociation: sigmoid Emax of the effect-site concentration Ce (ke0 of the PK model file);
//  - systolic BP rise: sigmoid Emax of the PLASMA concentration (the effect site's driver) with
//    acute tolerance: rise = sbp_emax S(Cp) (1 - X), dX/dt = sbp_k_tol (S(Cp) - X), X in [0, 1).
//    A Ce-driven effect peaks after Ce, i.e. after the end of an infusion; the BP rise peaks at
//    30 min of a 40-min infusion (Riva-Posse 2018), which only a plasma-driven effect that
//    attenuates while the plasma level still rises can do. X returns to 0 between sessions;
//  - the side effects patients are warned about, as per-session PROBABILITIES, a logistic
//    function of the log of the session's peak Ce: p = 1 / (1 + (c50 / peak Ce)^se_slope).
struct AcuteEffectModel {
    // Dissociation on a 0..diss_emax scale (CADSS-like; percent of the maximal effect).
    double diss_emax = 100.0, diss_ec50 = 150.0, diss_hill = 3.0;
    // Systolic blood pressure rise, mmHg, on racemic-equivalent plasma concentration.
    double sbp_emax = 10.0, sbp_ec50 = 100.0, sbp_hill = 1.0;
    double sbp_k_tol = 0.0;   // 1/h; 0 = no acute tolerance
    // Dissociation Emax is multiplied by this factor for every earlier session (1 = no
    // tolerance). An assumption, not a fit: the reference only says it "fades".
    double diss_tolerance_per_session = 1.0;
    // Discharge readiness: every effect below its threshold until the next dose.
    double diss_discharge_threshold = 10.0;
    double sbp_discharge_threshold = 2.0;
    // Side-effect probabilities per session: peak Ce (racemic-equivalent ng/mL) giving p = 0.5,
    // and the common slope on log peak Ce.
    double nausea_c50 = 1e4, dizziness_c50 = 1e4, drowsiness_c50 = 1e4, dissociation_report_c50 = 1e4;
    double se_slope = 1.0;
    void validate() const;   // names the field, value and rule
    static AcuteEffectModel from_parameters(const PdParameterSet& p);
};

// Probabilities of the side effects patients are warned about (per session or per course).
struct SideEffectRisk {
    double nausea = 0, dizziness = 0, drowsiness = 0, dissociation = 0;   // in [0, 1]
};
// Per-session probabilities for a session whose peak racemic-equivalent Ce is `peak_ce` (ng/mL).
SideEffectRisk side_effect_risk(const AcuteEffectModel& m, double peak_ce);
// Per-course incidence from per-session probabilities: 1 - prod_k (1 - p_k), i.e. sessions are
// taken as independent given their exposure (an ASSUMPTION: no patient-level propensity).
SideEffectRisk course_incidence(const std::vector<SideEffectRisk>& per_session);

struct AcuteCurves {
    std::vector<double> time;            // h (the trajectory's grid)
    std::vector<double> dissociation;    // 0..diss_emax
    std::vector<double> sbp_rise;        // mmHg
    std::vector<double> sbp_tolerance;   // X, in [0, 1)
};

// `ce_scale` converts the Ce row (and the plasma driver row `driver_name`, for the BP rise) into
// racemic-equivalent ng/mL (see racemic_equivalent_scale()). The tolerance state X is integrated
// exactly for S(Cp) linear between grid points (second order in the grid step).
AcuteCurves acute_effects(const Trajectory& tr, const AcuteEffectModel& m, const std::vector<double>& session_starts_h,
                          double ce_scale = 1.0, const std::string& ce_name = "Ce",
                          const std::string& driver_name = "C_plasma");

struct SessionAcute {
    double start_h = 0;
    double peak_ce = 0, t_peak_ce_h = 0;   // racemic-equivalent ng/mL; h after start
    double peak_diss = 0, t_peak_diss_h = 0;
    double peak_sbp = 0, t_peak_sbp_h = 0;
    // First time after the start (h) from which every effect stays below its threshold until the
    // next session (or the end of the grid). NaN if never within the window.
    double discharge_h = std::numeric_limits<double>::quiet_NaN();
    SideEffectRisk side_effects;   // per-session probabilities (from peak_ce)
};
std::vector<SessionAcute> session_acute_metrics(const Trajectory& tr, const AcuteCurves& a, const AcuteEffectModel& m,
                                                const std::vector<double>& session_starts_h, double ce_scale = 1.0,
                                                const std::string& ce_name = "Ce");

// ---- symptom model (calibrated, not published) -----------------------------------------------
// Three structures, chosen by the model file's `structure` key (docs/symptom_model.md):
//
// madrs_v1 (one plasticity state; calibrated to one dose only; kept for comparison):
//   S(Ce) = Ce^h / (ec50^h + Ce^h)
//   dP/dt = k_on S(Ce) (1 - P) - k_off P         plasticity induced during exposure, P in [0, 1]
//   dE/dt = k_tr (P - E)                          its expression in mood, E in [0, 1] (delay)
// madrs_v2 (consolidation; the default library file models/pd/madrs.toml):
//   dP/dt = k_on S(Ce) (1 - P) - k_off P         fast, labile plasticity (as v1)
//   dC/dt = k_cons P (1 - C) - k_off_c C          consolidated (stabilized) plasticity, C in [0, 1]
//   dE/dt = k_tr (P + C - P C - E)                expression of either; P + C - PC = 1 - (1-P)(1-C)
// madrs_v3 (threshold-like consolidation; models/pd/madrs_v3.toml, a named alternative):
//   dC/dt = k_cons P^n_cons (1 - C) - k_off_c C   as v2, but consolidation grows as P^n_cons
//                                                 (n_cons >= 1): little C from one dose, much from
//                                                 sessions that keep P high (repeated drive)
// All:
//   placebo(t) = placebo_max (1 - exp(-k_placebo (t - t_first)))   expectation, from the 1st session
//   MADRS(t) = baseline (1 - emax_p E) (1 - placebo(t))            in [0, baseline] by construction
// v1 is v2 with k_cons = 0 (C stays 0), v2 is v3 with n_cons = 1: all are integrated by one code.
enum class SymptomStructure { madrs_v1, madrs_v2, madrs_v3 };
const char* to_string(SymptomStructure s);
// "madrs_v1", "madrs_v2" or "madrs_v3"; anything else is an InputError naming the valid structures.
SymptomStructure symptom_structure_from_string(const std::string& s);

struct SymptomModel {
    SymptomStructure structure = SymptomStructure::madrs_v1;
    double baseline = 32.0;   // MADRS points, in [0, 60]
    double ec50 = 150.0;      // ng/mL racemic-equivalent Ce
    double hill = 1.0;
    double k_on = 1.0;           // 1/h
    double k_off = 0.01;         // 1/h
    double k_tr = 0.1;           // 1/h
    double emax_p = 1.0;         // in [0, 1]
    double placebo_max = 0.28;   // in [0, 1)
    double k_placebo = 0.17;     // 1/h
    double k_cons = 0.0;         // 1/h, madrs_v2 and v3 (must be 0 for madrs_v1)
    double k_off_c = 0.0;        // 1/h, madrs_v2 and v3 (must be 0 for madrs_v1)
    double n_cons = 1.0;         // exponent of P in C's production, madrs_v3 only (must be 1 otherwise)
    void validate() const;
    // The file's `structure` selects the parameter table: a parameter of the other structure is
    // an InputError (never silently ignored), as is a missing or unknown structure.
    static SymptomModel from_parameters(const PdParameterSet& p);
};

struct SymptomOptions {
    double rtol = 1e-8, atol = 1e-10;   // dopri5 on (P, C, E)
    // Steps between two breakpoints or outputs before the coupled solver gives up (SolverError),
    // the PK ODE solver's limit (SimOptions::max_steps).
    long max_steps = SimOptions{}.max_steps;
    void validate() const;
};

struct SymptomCurve {
    std::vector<double> time;                      // h, the trajectory's grid
    std::vector<double> ce;                        // racemic-equivalent ng/mL
    std::vector<double> P, C, E, placebo, madrs;   // C: consolidated state (0 for madrs_v1)
    std::vector<double> madrs_control;             // placebo only (same expectation, no drug)
};

// Semi-analytic path: integrates (P, C, E) with dopri5 between consecutive grid points of the exact
// PK solution `tr`. Between grid points Ce is linear, or, when `ke0_per_h` is given (with the
// driver output, normally C_plasma, in `tr`), a cubic Hermite interpolant whose end slopes are
// the exact dCe/dt = ke0 (C_driver - Ce): fourth order instead of second (docs/calibration.md).
SymptomCurve simulate_symptoms(const Trajectory& tr, const SymptomModel& m, double first_session_h,
                               double ce_scale = 1.0, const SymptomOptions& o = {}, const std::string& ce_name = "Ce",
                               double ke0_per_h = std::numeric_limits<double>::quiet_NaN(),
                               const std::string& driver_name = "C_plasma");

// Coupled path: every PK state (including the effect site) and (P, C, E) integrated together as one
// ODE system by Boost.Odeint dopri5 with error control on all of them, restarted at every dose
// and infusion start/stop. No exact PK solution involved: the independent reference that the
// semi-analytic path is tested against. Output on `times` (h, increasing); `ce_scale` as above.
SymptomCurve simulate_symptoms_coupled(const Model& model, const Regimen& regimen, const Subject& subject,
                                       const std::vector<double>& times, const SymptomModel& m, double first_session_h,
                                       double ce_scale = 1.0, const SymptomOptions& o = {});

// The symptom equations themselves, for solvers other than the two above (the metrics-only course,
// run_course_metrics): the state has kSymptomStates entries, (P, C, E) for both structures, all 0
// before the first dose; `ce` is racemic-equivalent ng/mL. A new structure changes these and both
// course paths follow.
constexpr int kSymptomStates = 3;
void symptom_derivative(const SymptomModel& m, double ce, const double* y, double* dy);
// MADRS of state y at t_since_first_h after the first session start (placebo included).
double symptom_madrs(const SymptomModel& m, const double* y, double t_since_first_h);

// ---- clinical metrics ------------------------------------------------------------------------

struct ClinicalOptions {
    double onset_fraction = 0.2;         // onset of improvement: >= 20% fall from baseline
    double response_fraction = 0.5;      // response: >= 50% fall from baseline
    double remission_threshold = 10.0;   // remission: MADRS <= 10
    void validate() const;
};

struct ClinicalMetrics {
    static constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    double baseline = nan;
    double onset_h = nan;                // from the first session
    double response_h = nan;             // from the first session
    double remission_h = nan;            // from the first session
    double response_duration_h = nan;    // first response until first loss (NaN if not lost)
    double relapse_after_last_h = nan;   // response lost, h after the last session start
    int sessions_to_response = -1;       // sessions started up to the response time (-1: none)
    bool response_lost = false;
    double min_madrs = nan, t_min_madrs_h = nan;
};
ClinicalMetrics clinical_metrics(const SymptomCurve& s, const SymptomModel& m,
                                 const std::vector<double>& session_starts_h, const ClinicalOptions& o = {});

// ---- schedules and courses -------------------------------------------------------------------

// A course: the PK model it runs on, its regimen and the session start times. The model is part
// of the course, so the name reported and the racemic-equivalence factor used always belong to
// the model simulated.
struct CourseSpec {
    std::string name, description;
    Model model;
    Regimen regimen;
    std::vector<double> session_starts_h;
};

// Ce -> racemic-equivalent ng/mL factor of a model: the value of the parameter named by its
// [effect_site] racemic_equivalent key (each library model states its source: 1 by definition for
// racemic ketamine, 2 assumed for esketamine). InputError if the model has no effect site or no
// such key: the PD parameters are calibrated on racemic Ce, so the factor is never guessed.
double racemic_equivalent_scale(const Model& model);
// A racemic-ketamine concentration threshold (the dissociative 100 ng/mL) in `model`'s own
// concentration unit: threshold / racemic_equivalent_scale(model). Comparing the model's parent
// concentration (C_plasma, Ce) with it compares the racemic-equivalent concentration with the
// threshold, the scale of the PD models (`ketasim compare`, ks.flagship).
double racemic_threshold_for(const Model& model, double racemic_threshold);

// Racemic IV mg_per_kg over duration_h on the given days (24 h * day) on `model` (route "iv").
CourseSpec iv_course_on_days(const Model& model, const std::vector<double>& days, double mg_per_kg = 0.5,
                             double duration_h = 40.0 / 60.0);
// 2x weekly (days 0, 3 of each week) or 3x weekly (days 0, 2, 4) for `weeks` weeks, in [1, 52].
CourseSpec iv_course(const Model& model, int per_week, int weeks, double mg_per_kg = 0.5,
                     double duration_h = 40.0 / 60.0);
// Spravato induction: weeks 1-4 twice weekly (days 0, 3), 56 mg on day 0 then 84 mg; weeks 5..weeks
// once weekly 84 mg, as 28 mg devices 5 min apart (route "intranasal"). `weeks` in [1, 8].
CourseSpec esketamine_induction(const Model& model, int weeks = 8);

// Named schedules (the CLI's --schedule and Python's schedule names), defined here only.
struct ScheduleInfo {
    const char* name;
    const char* default_model;   // library model the schedule is written for
    int default_weeks;           // 0: the schedule has no weeks (iv-days)
    int max_weeks;
    const char* description;
};
const std::vector<ScheduleInfo>& schedule_registry();
const ScheduleInfo& schedule_info(const std::string& name);   // InputError listing the names
// Arguments of a named schedule. weeks not set: the schedule's default (a given value outside
// [1, max_weeks] is an error, never a fallback). days: iv-days only (and
// required there). mg_per_kg and duration_h: IV schedules only (NaN: the default 0.5 mg/kg, 40 min).
struct ScheduleRequest {
    std::string name;
    std::optional<int> weeks;
    std::vector<double> days;
    double mg_per_kg = std::numeric_limits<double>::quiet_NaN();
    double duration_h = std::numeric_limits<double>::quiet_NaN();
};
// Validates the request against the schedule (an argument the schedule does not take is an
// InputError naming it) and builds the course on `model`.
CourseSpec schedule_course(const ScheduleRequest& request, const Model& model);

// Session start times (h) of a regimen: dose start times in order, grouped so that a dose starting
// within `session_window_h` of the first dose of the current session belongs to that session
// (the devices of one nasal session are 5 min apart; sessions are a day or more apart). Throws
// InputError for an empty regimen or a window outside (0, 24] h.
std::vector<double> group_sessions(const Regimen& regimen, double session_window_h = 2.0);

// A course from any regimen (e.g. a regimen TOML file) on `model`: sessions from group_sessions().
// Every dose's route must be a route of the model and the model must give its racemic-equivalence
// factor (InputError naming the event, route and the model's routes, or the missing key).
CourseSpec course_from_regimen(const Regimen& regimen, const Model& model, double session_window_h = 2.0);

// The same course (regimen, sessions) on another model, checked as course_from_regimen does.
CourseSpec with_model(const CourseSpec& spec, const Model& model);

// How run_course integrates the symptom states (both must agree; tests hold them together).
enum class PdSolver {
    semi_analytic,   // exact PK, then (P, C, E) by dopri5 on Hermite-interpolated Ce (fast, default)
    coupled_ode      // PK + effect site + (P, C, E) as one dopri5 system (reference; slower)
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
    int index = 0;   // 1-based
    double day = 0;
    SessionAcute acute;
    double madrs_before = 0;                    // at the session start
    double madrs_after_24h = 0;                 // 24 h after the start
    bool response = false, remission = false;   // at 24 h after the start
};

struct CourseResult {
    CourseSpec spec;         // spec.model: the model simulated
    double ce_scale = 1.0;   // racemic_equivalent_scale(spec.model), as used
    Trajectory pk;
    AcuteCurves acute;
    SymptomCurve symptoms;
    std::vector<SessionReport> sessions;
    ClinicalMetrics clinical;
    SideEffectRisk side_effects_course;   // course_incidence() of the sessions' probabilities
};

CourseResult run_course(const CourseSpec& spec, const AcuteEffectModel& acute, const SymptomModel& symptoms,
                        const CourseOptions& o = {});
// The same for one subject of a population (covariates, overrides and random effects; its weight
// replaces CourseOptions::weight_kg, which must then be left at its default).
CourseResult run_course(const CourseSpec& spec, const AcuteEffectModel& acute, const SymptomModel& symptoms,
                        const CourseOptions& o, const Subject& subject);

// The metrics-only course: what a population needs of run_course, without curves. Per session
// the SessionReport (acute peaks and their times on the course grid, discharge, MADRS before and
// 24 h after the start, response, remission); MADRS at first start + madrs_times_h (NaN past the
// end) and at the end of follow-up; and relapse after the last session. The PK is the exact
// solution at any time (PkSolution); the acute effects are evaluated on run_course's grid
// (o.dt_h, session starts inserted) from each session start only until the PK solution's bound
// proves that no later point of the session can raise a peak or cross a discharge threshold;
// (P, C, E) are integrated by dopri5 (o.symptom tolerances) on the exact Ce, stopping at every dose
// breakpoint and output time. Agreement with run_course: tests/cpp/course_metrics_test.cpp.
struct CourseMetrics {
    std::vector<SessionReport> sessions;
    std::vector<double> madrs_at;   // at first start + madrs_times_h[j]
    double madrs_end = 0;           // at the end of follow-up (last start + follow_up_h)
    double t_end_h = 0;             // that time
    // For a responder at 24 h after the last session: the first time after that at which the MADRS
    // is above the response level, in h after the last session start (root of the continuous
    // curve); relapse_observed false and t_end_h - last start when it never is. NaN otherwise.
    double relapse_h = std::numeric_limits<double>::quiet_NaN();
    bool relapse_observed = false;
    SideEffectRisk side_effects_course;
};
// `sys` is the subject's compiled system (spec.model compiled with the subject). Throws
// SolverError (naming the time) if the symptom integration needs more than o.symptom.max_steps
// steps in all.
CourseMetrics run_course_metrics(const CourseSpec& spec, const AcuteEffectModel& acute, const SymptomModel& symptoms,
                                 const CourseOptions& o, const LinearSystem& sys,
                                 const std::vector<double>& madrs_times_h = {});

// ---- the session table -----------------------------------------------------------------------
// One row per session of a CourseResult. The CLI (`ketasim course` table and --out CSV) and
// Python (CourseResult.sessions) both read this list, so they have the same columns.
enum class ColumnKind { integer, real, boolean };
struct SessionColumn {
    const char* name;   // CSV / DataFrame column
    const char* unit;   // "1", "d", "h", "min", "ng/mL", "%", "mmHg", "MADRS points", "bool"
    ColumnKind kind;
    const char* label;   // short console header
    const char* description;
};
const std::vector<SessionColumn>& session_columns();
// rows x columns (session_columns() order); integers and booleans (0/1) as doubles; NaN where a
// value does not exist (e.g. no discharge within the window).
std::vector<std::vector<double>> session_table(const CourseResult& r);
// The table as CSV text (header = column names; doubles round-trip exactly; NaN written as "nan").
std::string session_table_csv(const CourseResult& r);

// ---- the flagship comparison -----------------------------------------------------------------
// IV racemic ketamine 0.5 mg/kg over 40 min versus intranasal esketamine and intranasal racemic
// ketamine (`ketasim compare`, python ketasim.flagship), defined here only.
constexpr double kDissociativeThresholdNgPerMl = 100.0;   // lower end (Krystal 1994, via Zanos 2018 Table 1)
struct FlagshipOptions {
    double weight_kg = 70.0;       // for the IV mg/kg dose text
    double esketamine_mg = 56.0;   // multiple of 28 (devices)
    double racemic_in_mg = 50.0;
    std::string iv_model = "ketamine_iv_clements";
    std::string esketamine_model = "esketamine_nasal";
    std::string racemic_in_model = "ketamine_intranasal_racemic";
    void validate() const;
};
struct ArmSpec {
    std::string name;          // identifier (HDF5 group): iv_racemic, in_esketamine, in_racemic
    std::string label;         // human-readable arm label (figure legends, Python keys)
    std::string short_label;   // for table columns
    std::string model;         // library model name or file
    Regimen regimen;
    std::string description;   // the dose in words
};
std::vector<ArmSpec> flagship_arms(const FlagshipOptions& o = {});

}   // namespace ketasim
