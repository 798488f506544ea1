// The ketasim command line. Exit codes (README "Exit codes", docs/bad_input.md): 0 success;
// 1 usage error (unknown or missing flags, conflicting flags, a flag value CLI11 cannot read);
// 2 bad input (a value or file breaks a rule: InputError); 3 solver or I/O failure.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "ketasim/ketasim.hpp"

using namespace ketasim;

namespace {

std::string join_args(int argc, char** argv) {
    std::string s;
    for (int i = 0; i < argc; ++i) s += (i ? " " : "") + std::string(argv[i]);
    return s;
}

// A flag combination that cannot be run (missing, conflicting): exit 1, like CLI11's own errors.
class UsageError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// Runs `f`, adding the flag to an InputError from the library (e.g. the output grid's rule), so
// the message says which flag to change.
template <class F>
auto with_flags(const std::string& flags, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const InputError& e) {
        ErrorContext c = e.context();
        c.key = flags;
        throw InputError(flags + ": " + e.what(), c);
    }
}

// A number as typed: 0, 2.5, 1e-05 (ostream's shortest form), for messages.
std::string plain(double v) {
    std::ostringstream os;
    os << v;
    return os.str();
}

// --days: day numbers, each once (a repeated day would dose twice), none negative.
std::vector<double> parse_days(const std::string& text) {
    if (text.find_first_not_of(" \t") == std::string::npos)
        throw InputError(ErrorContext{"", 0, "--days", text, "is empty; list the dosing days, e.g. '0,2,4'"});
    std::vector<double> days = parse_number_list(text, "--days");
    std::vector<double> seen;
    for (double d : days) {
        if (!(d >= 0))
            throw InputError(ErrorContext{"", 0, "--days", text, "lists day " + plain(d) + "; days must be >= 0"});
        if (std::find(seen.begin(), seen.end(), d) != seen.end())
            throw InputError(
                ErrorContext{"", 0, "--days", text, "lists day " + plain(d) + " twice; each day doses once"});
        seen.push_back(d);
    }
    return days;
}

int cmd_models(const std::string& dir) {
    std::vector<std::vector<std::string>> rows = {{"name", "routes", "analyte", "default", "title"}};
    for (const auto& e : list_models(dir))
        rows.push_back({e.name, e.route, e.analyte, e.is_default ? "yes" : "", e.title});
    std::cout << cli::format_table(rows);
    std::cout << "\nModels directory: " << (dir.empty() ? default_models_dir() : dir)
              << "\nEach model file lists every parameter with its unit and source: ketasim show-model NAME\n";
    return 0;
}

int cmd_show_model(const std::string& name, const std::string& dir) {
    const Model m = load_library_model(name, dir);
    std::cout << m.title << "\n" << m.description << "\nfile: " << m.source_path << "\nroutes:";
    for (const auto& r : m.route_names()) std::cout << " " << r;
    std::cout << "\noutputs:";
    for (const auto& o : m.outputs) std::cout << " " << o.name << " (" << o.analyte << ", ng/mL)";
    if (m.effect_site) std::cout << " " << m.effect_site->name << " (effect site, ng/mL)";
    std::cout << "\n\n";
    std::vector<std::vector<std::string>> rows = {{"parameter", "value", "unit", "source"}};
    for (const auto& p : m.parameters) {
        std::ostringstream v;
        v << p.value;
        rows.push_back({p.name, v.str(), p.unit, (p.calibrated ? "[calibrated] " : "") + p.source});
    }
    std::cout << cli::format_table(rows);
    return 0;
}

struct SimulateArgs {
    std::string model, regimen, dose, route, duration, days, device, device_spacing = "5 min";
    std::string t_end = "24 h", dt = "5 min", out, solver = "exact", method = "dopri5", models_dir;
    double weight = 70, age = 40, rtol = 1e-8, atol = 1e-10, threshold = NAN;
    std::vector<std::string> sets;
    bool event_times = false, amounts = false;
    bool days_given = false, threshold_given = false, duration_given = false, spacing_given = false;
    std::vector<std::string> covariates_given;   // "weight", "age": set on the command line
    long id = -1;                                // --id: the subject of a multi-ID event table
};

int cmd_simulate(const SimulateArgs& a, const std::string& command) {
    const Model m = load_library_model(a.model, a.models_dir);
    Subject s;
    s.weight_kg = a.weight;
    s.age_years = a.age;
    for (const auto& kv : a.sets) {
        // The one override parser (library): NAME=VALUE in the file unit, or NAME=VALUE UNIT.
        const auto [name, value] = parse_parameter_override(m, kv, "--set");
        if (!s.parameters.emplace(name, value).second)
            throw InputError(ErrorContext{"", 0, "--set", kv, "sets '" + name + "' a second time"});
    }
    Regimen reg;
    std::string regimen_text;
    std::vector<double> extra_times;
    if (!a.regimen.empty()) {
        if (!a.dose.empty()) throw UsageError("--regimen and --dose are exclusive: give one");
        const std::vector<std::pair<bool, const char*>> dose_flags = {{!a.route.empty(), "--route"},
                                                                      {a.duration_given, "--duration"},
                                                                      {a.days_given, "--days"},
                                                                      {!a.device.empty(), "--device"}};
        for (const auto& [given, flag] : dose_flags)
            if (given)
                throw UsageError(std::string(flag) + " applies to --dose; the regimen file " + a.regimen +
                                 " gives its own");
        const bool csv = a.regimen.size() > 4 && a.regimen.substr(a.regimen.size() - 4) == ".csv";
        if (csv && a.id >= 0) {
            // One ID of a dataset (issue 8): its doses, its EVID 0 times, and its covariate columns
            // (WT[kg], AGE[years], flags) as the population reads them; a covariate given both in
            // the file and as a flag is an error rather than a silent choice.
            const Dataset d = load_dataset(a.regimen, m);
            const std::size_t i = dataset_index(d, a.id);
            reg = d.subjects[i].regimen;
            extra_times = d.subjects[i].observation_times;
            if (!d.covariate_headers.empty()) {
                const PopulationSource src(m, dataset_population_spec(d, 0, false), reg.per_kg());
                std::vector<double> overrides;
                const Subject from_file = src.subject(i, overrides);
                for (const auto& h : d.covariate_headers) {
                    const std::string name = h.substr(0, h.find('['));
                    const std::string cov = name == "WT"    ? "weight"
                                            : name == "AGE" ? "age"
                                            : name == "SEX" ? "sex"
                                                            : name;
                    if (std::find(a.covariates_given.begin(), a.covariates_given.end(), cov) !=
                        a.covariates_given.end())
                        throw UsageError("--" + cov + ": " + a.regimen + " gives " + h + " for ID " +
                                         std::to_string(a.id) + "; give it once (the file or the flag)");
                    if (cov == "weight")
                        s.weight_kg = from_file.weight_kg;
                    else if (cov == "age")
                        s.age_years = from_file.age_years;
                    else
                        s.covariates[cov] = from_file.covariates.at(cov);
                }
            }
        } else if (csv) {
            EventTable et = load_event_table(a.regimen, &m, a.id);
            reg = et.regimen;
            extra_times = et.observation_times;
        } else {
            reg = load_regimen(a.regimen);
        }
        regimen_text = "from " + a.regimen;
    } else {
        if (a.dose.empty())
            throw UsageError("give a dose (--dose '0.5 mg/kg' --route iv --duration '40 min') or --regimen FILE");
        // The route: given, or the model's only one. A model with several routes (esketamine_nasal:
        // intranasal, oral, iv) has no silent default: an IV bolus of a nasal product is a wrong answer.
        std::string route = a.route;
        if (route.empty()) {
            const auto routes = m.route_names();
            if (routes.size() != 1) {
                std::string list;
                for (const auto& r : routes) list += (list.empty() ? "" : ", ") + r;
                throw UsageError("--route is required: model '" + m.name + "' has several routes (" + list + ")");
            }
            route = routes.front();
        }
        if (!m.has_route(route)) (void)m.route(route);   // throws the model's "unknown route ... (this model has: ...)"
        const RouteKind kind = m.route(route).kind;
        const Dose dose = parse_dose(a.dose, "--dose");
        DoseEvent e;
        e.amount = dose.amount;
        e.per_kg = dose.per_kg;
        e.route = route;
        if (a.duration_given) {
            e.duration = parse_quantity(a.duration, Dimension::time, "--duration");
            if (e.duration > 0 && kind != RouteKind::iv)
                throw InputError(ErrorContext{"", 0, "--duration", a.duration,
                                              "applies to iv infusions; route '" + route + "' has its own absorption"});
        }
        const std::vector<double> days = a.days_given ? parse_days(a.days) : std::vector<double>{0.0};
        std::vector<double> times;
        for (double d : days) times.push_back(24.0 * d);
        if (kind == RouteKind::intranasal) {
            // One meaning of an intranasal dose, as in Python's Regimen.intranasal: the total of a
            // session, given as devices (default kNasalDeviceMg, kNasalDeviceSpacingH apart).
            if (dose.per_kg)
                throw InputError(ErrorContext{"", 0, "--dose", a.dose, "is per kg; an intranasal dose is in mg"});
            const double dev =
                a.device.empty() ? kNasalDeviceMg : parse_quantity(a.device, Dimension::amount, "--device");
            const double spacing = parse_quantity(a.device_spacing, Dimension::time, "--device-spacing");
            reg = with_flags("--dose/--device",
                             [&] { return Regimen::intranasal(dose.amount, times, dev, spacing, route); });
        } else {
            if (!a.device.empty() || a.spacing_given)
                throw UsageError("--device and --device-spacing apply to intranasal routes, not '" + route + "'");
            reg.add_on_days(e, days);
        }
        regimen_text = a.dose + " " + route + (e.duration > 0 ? " over " + a.duration : "") +
                       (a.days_given ? " on days " + a.days : "") +
                       (kind == RouteKind::intranasal
                            ? " as " + (a.device.empty() ? cli::fmt_num(kNasalDeviceMg) + " mg" : a.device) + " devices"
                            : "");
    }
    const double t_end = parse_quantity(a.t_end, Dimension::time, "--t-end");
    const double dt = parse_quantity(a.dt, Dimension::time, "--dt");
    OutputGrid grid = with_flags("--t-end/--dt", [&] { return OutputGrid::uniform(0.0, t_end, dt); });
    if (!extra_times.empty()) {
        grid.times.insert(grid.times.end(), extra_times.begin(), extra_times.end());
        std::sort(grid.times.begin(), grid.times.end());
        grid.times.erase(std::unique(grid.times.begin(), grid.times.end()), grid.times.end());
    }
    if (a.threshold_given && !(std::isfinite(a.threshold) && a.threshold > 0))
        throw InputError(
            ErrorContext{"", 0, "--threshold", plain(a.threshold), "must be a finite concentration > 0 (ng/mL)"});
    SimOptions opt;
    opt.solver = with_flags("--solver", [&] { return solver_from_string(a.solver); });
    opt.method = with_flags("--method", [&] { return ode_method_from_string(a.method); });
    opt.rtol = a.rtol;
    opt.atol = a.atol;
    opt.include_event_times = a.event_times;
    opt.output_amounts = a.amounts;
    with_flags("--rtol/--atol", [&] { opt.validate(); });
    with_flags("--weight/--age", [&] { s.validate(); });
    require_covariates_used(m, reg.per_kg(), a.covariates_given, "--weight/--age");
    Trajectory tr = simulate(m, reg, grid, opt, s);

    MetricOptions mo;   // the automatic terminal window uses the trajectory's own last dose
    mo.threshold = a.threshold;
    std::map<std::string, Metrics> ms;
    for (const auto& name : tr.names) ms[name] = compute_metrics(tr, name, mo);
    std::vector<std::string> shown = {"cmax", "tmax", "auc_0_t", "auc_0_inf", "half_life"};
    if (a.threshold_given) shown.insert(shown.end(), {"time_to_threshold", "time_above"});
    const std::vector<std::vector<std::string>> rows = cli::metrics_rows(tr, ms, shown);
    std::cout << m.title << "\nregimen: " << regimen_text << "; " << reg.events.size() << " dose event(s), "
              << cli::fmt_num(tr.dose_total_mg) << " mg in total; weight " << cli::fmt_num(s.weight_kg) << " kg\n\n"
              << cli::format_table(rows);
    if (!a.out.empty()) {
        ResultArm arm;
        arm.name = m.name;
        arm.model = &m;
        arm.regimen_text = regimen_text;
        arm.subjects.push_back(std::move(tr));
        arm.subject_info.push_back(s);
        arm.metrics.push_back(ms);
        RunInfo info;
        info.options = opt;
        info.command = command;
        write_results(a.out, {arm}, info);
        std::cout << "\nwritten: " << a.out << "\n";
    }
    return 0;
}

}   // namespace

int main(int argc, char** argv) {
    CLI::App app{"ketasim " + version() + ": ketamine and esketamine PK/PD simulation"};
    app.require_subcommand(1);
    app.footer("Exit codes: 0 success, 1 usage error, 2 bad input, 3 solver or I/O failure (docs/bad_input.md).");
    app.set_version_flag("--version", version());
    std::string models_dir;
    app.add_option("--models-dir", models_dir,
                   "Model library directory (default: $KETASIM_MODELS_DIR or the built-in one)");

    auto* models = app.add_subcommand("models", "List the model library");
    std::string show_name;
    auto* show = app.add_subcommand("show-model", "Print a model's parameters with units and sources");
    show->add_option("model", show_name, "Library name or .toml path")->required();

    SimulateArgs sa;
    auto* sim = app.add_subcommand("simulate", "Simulate one model and regimen; print metrics; write HDF5 or CSV");
    sim->add_option("model", sa.model, "Library name (see `ketasim models`) or a .toml model file")->required();
    sim->add_option("--regimen", sa.regimen, "Regimen file: .toml ([[dose]] entries) or NONMEM-style .csv event table");
    sim->add_option("--id", sa.id, "Event table (.csv) with several IDs: simulate this subject (ID column value)")
        ->check(CLI::NonNegativeNumber);
    sim->add_option("--dose", sa.dose, "Dose per administration, e.g. '35 mg' or '0.5 mg/kg'");
    sim->add_option("--route", sa.route,
                    "Route name of the model (iv, intranasal, oral, ...); required when the model has several routes");
    sim->add_option("--duration", sa.duration,
                    "Infusion duration with its unit, e.g. '40 min' (iv only; default: bolus)");
    sim->add_option("--days", sa.days, "Dose on these days, e.g. '0,2,4,7,9,11' (default: day 0)");
    sim->add_option(
        "--device", sa.device,
        "Intranasal: the dose is given as devices of this size (default '28 mg', 5 min apart: 56 mg = two devices)");
    sim->add_option("--device-spacing", sa.device_spacing, "Intranasal: time between devices")->capture_default_str();
    sim->add_option("--weight", sa.weight, "Body weight, kg")->capture_default_str();
    sim->add_option("--age", sa.age, "Age, years")->capture_default_str();
    sim->add_option("--set", sa.sets,
                    "Override a parameter: NAME=VALUE in the parameter's file unit, or NAME='VALUE UNIT' (repeatable)");
    sim->add_option("--t-end", sa.t_end, "End of the simulation, e.g. '24 h' or '14 d'")->capture_default_str();
    sim->add_option("--dt", sa.dt, "Output step, e.g. '5 min'")->capture_default_str();
    sim->add_option("--solver", sa.solver, "exact (matrix exponential) or ode (Boost.Odeint)")->capture_default_str();
    sim->add_option("--method", sa.method, "ODE method: dopri5 or rosenbrock4 (stiff)")->capture_default_str();
    sim->add_option("--rtol", sa.rtol, "ODE relative tolerance")->capture_default_str();
    sim->add_option("--atol", sa.atol, "ODE absolute tolerance (mg)")->capture_default_str();
    sim->add_option("--threshold", sa.threshold,
                    "Concentration threshold, ng/mL (finite, > 0), for time-to and time-above");
    sim->add_flag("--event-times", sa.event_times, "Add every dose and infusion start/stop to the output times");
    sim->add_flag("--amounts", sa.amounts, "Also output every compartment amount (mg), including the sinks");
    sim->add_option("--out", sa.out, "Write the curves: FILE.h5 (HDF5) or FILE.csv");

    cli::CompareOptions co;
    std::string c_tend = "24 h", c_dt = "1 min";
    auto* cmp = app.add_subcommand(
        "compare", "Flagship: IV racemic 0.5 mg/kg over 40 min vs intranasal esketamine and racemic ketamine");
    cmp->add_option("--weight", co.weight_kg, "Body weight, kg")->capture_default_str();
    cmp->add_option("--t-end", c_tend, "End of the simulation")->capture_default_str();
    cmp->add_option("--dt", c_dt, "Output step")->capture_default_str();
    cmp->add_option("--threshold", co.threshold, "Concentration threshold, ng/mL")->capture_default_str();
    cmp->add_option("--esketamine-mg", co.esketamine_mg, "Esketamine dose, mg (multiple of 28)")->capture_default_str();
    cmp->add_option("--racemic-in-mg", co.racemic_in_mg, "Racemic intranasal dose, mg")->capture_default_str();
    cmp->add_option("--iv-model", co.iv_model, "IV model (library name or file)")->capture_default_str();
    cmp->add_option("--out", co.out, "Result file (.h5 or .csv)")->capture_default_str();

    cli::CourseCliOptions cso;
    int crs_weeks = 0;
    auto* crs = app.add_subcommand("course", "A treatment course: acute effects, discharge time and MADRS per session");
    std::string schedule_names, schedule_weeks;   // from the library's list (schedule_registry())
    for (const auto& sch : schedule_registry()) {
        schedule_names += (schedule_names.empty() ? "" : ", ") + std::string(sch.name);
        if (sch.default_weeks > 0)
            schedule_weeks +=
                (schedule_weeks.empty() ? "" : ", ") + std::string(sch.name) + " " + std::to_string(sch.default_weeks);
    }
    crs->add_option("--schedule", cso.schedule, "Named schedule: " + schedule_names)->capture_default_str();
    crs->add_option("--weeks", crs_weeks, "Weeks of treatment (default: " + schedule_weeks + ")");
    crs->add_option("--days", cso.days, "iv-days: session days, e.g. '0,2,4,7,9,11'");
    crs->add_option("--weight", cso.weight_kg, "Body weight, kg")->capture_default_str();
    crs->add_option("--follow-up-days", cso.follow_up_days, "Follow-up after the last session, days")
        ->capture_default_str();
    crs->add_option(
        "--regimen", cso.regimen,
        "Regimen TOML file ([[dose]] entries) instead of --schedule; sessions = doses grouped by --session-window");
    crs->add_option("--model", cso.model,
                    "Model (library name or .toml); default: the schedule's, ketamine_iv_clements for --regimen");
    crs->add_option("--session-window", cso.session_window,
                    "--regimen: a dose within this time of a session's first dose joins that session")
        ->capture_default_str();
    crs->add_option("--diss-tolerance", cso.diss_tolerance,
                    "Dissociation Emax multiplied by this factor per earlier session, in (0, 1]; 1 = no tolerance "
                    "(default: models/pd/acute_effects.toml, 1)");
    crs->add_option("--pd-solver", cso.pd_solver,
                    "semi-analytic (exact PK, then the symptom states) or coupled-ode (PK and symptom states as one "
                    "ODE system: the reference, slower)")
        ->capture_default_str();
    crs->add_option("--out", cso.out, "Write the session table: FILE.csv (written whole or not at all)");

    cli::PopulationCliOptions po;
    auto* pop = app.add_subcommand("population",
                                   "A virtual population on one regimen: metric distributions, one row per subject");
    pop->add_option("model", po.model, "Library name or .toml model file (with --schedule: default the schedule's)");
    pop->add_option("--regimen", po.regimen, "Regimen TOML file ([[dose]] entries): a PK population");
    pop->add_option(
        "--schedule", po.schedule,
        "A treatment course per patient instead: iv-3x-weekly, iv-2x-weekly, iv-days or esketamine-induction");
    pop->add_option("--weeks", po.weeks, "--schedule: weeks of treatment (default: the schedule's)");
    pop->add_option("--days", po.days, "--schedule iv-days: session days, e.g. '0,2,4,7,9,11'");
    pop->add_option("--follow-up-days", po.follow_up_days, "--schedule: follow-up after the last session, days")
        ->capture_default_str();
    pop->add_flag("--metrics-only", po.metrics_only,
                  "--schedule: compute each patient's session outputs without curves (exact PK at any time, "
                  "symptom model at its own steps; same columns as the full path, which stays the reference)");
    pop->add_option("--uncertainty", po.uncertainty,
                    "--schedule: also run K populations on symptom-model values drawn from its [uncertainty] "
                    "table: 2.5-97.5 % bands of each session's rates (0 = none)")
        ->capture_default_str();
    pop->add_flag("--stop-at-remission", po.stop_at_remission,
                  "--schedule: a patient's course ends at the first remission");
    pop->add_option("--max-sessions", po.max_sessions, "--schedule: at most this many sessions (0 = all)")
        ->capture_default_str();
    pop->add_option("--remission-threshold", po.remission_threshold, "--schedule: remission = MADRS <= this")
        ->capture_default_str();
    pop->add_option("--n", po.n, "Number of subjects (not with --subjects, which gives one per row)");
    pop->add_option("--seed", po.seed, "Random seed in [0, 2^63 - 1]; the same seed gives the same population")
        ->capture_default_str();
    pop->add_option("--covariates", po.covariates,
                    "Covariate distributions: TOML file with [weight], [age], ... tables");
    pop->add_option("--subjects", po.subjects,
                    "Per-subject table: CSV with ID, WT[kg], AGE[years], flags or parameters");
    pop->add_option("--data", po.data,
                    "NONMEM-style dataset (CSV): each ID a subject with its doses, EVID 0 rows as its output times, "
                    "covariate columns WT[kg], AGE[years], SEX, ...");
    pop->add_option("--observations", po.observations,
                    "--data: write each ID's outputs at its times: FILE.csv (long format)");
    pop->add_flag("--no-variability", po.no_variability,
                  "Typical subjects: no random effects (covariates still apply)");
    pop->add_option("--t-end", po.t_end, "End of the simulation, e.g. '24 h' or '14 d'")->capture_default_str();
    pop->add_option("--dt", po.dt, "Output step, e.g. '5 min'")->capture_default_str();
    pop->add_option("--outputs", po.outputs, "Outputs to compute metrics on (default: all)")->delimiter(',');
    pop->add_option("--threads", po.threads, "Worker threads; 0 = all cores ($SLURM_CPUS_PER_TASK when set)")
        ->capture_default_str();
    pop->add_option("--chunk", po.chunk, "Subjects per work unit (results do not depend on it)")->capture_default_str();
    pop->add_flag("--quiet", po.quiet, "No progress line on stderr");
    pop->add_option(
        "--out", po.out,
        "Write one row per subject: FILE.csv, or FILE.h5 (the streamed, resumable run file of `ketasim run`, "
        "its spec written from these flags; docs/hpc.md)");

    cli::RunCliOptions ro;
    auto* run =
        app.add_subcommand("run", "Run a spec file: a population streamed into a resumable HDF5 file (docs/hpc.md)");
    run->add_option("spec", ro.spec, "Run spec (TOML)")->required();
    run->add_option("--threads", ro.threads, "Worker threads (overrides the spec's run.threads; 0 = all cores)");
    run->add_option("--shard", ro.shard,
                    "Run shard i/N of the index range into its own file (merge with `ketasim merge`)");
    run->add_flag("--resume", ro.resume, "Finish an interrupted run's file");
    run->add_flag("--dry-run", ro.dry_run, "Print the points, output size and peak memory estimate; run nothing");
    run->add_flag("--over-budget", ro.over_budget, "Run even if the memory estimate exceeds run.memory_budget");
    run->add_flag("--quiet", ro.quiet, "No progress line and no summary");
    std::string merge_out;
    std::vector<std::string> merge_in;
    auto* merge = app.add_subcommand("merge", "Combine the shard files of one run spec into one file");
    merge->add_option("out", merge_out, "The merged file (.h5)")->required();
    merge->add_option("shards", merge_in, "Shard files (ketasim run --shard i/N)")->required();
    cli::SensitivityCliOptions sens_o;
    auto* sens = cli::add_sensitivity_command(app, sens_o);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version exit 0 as CLI11 prints them; every other parse error is a usage
        // error: one line, exit 1 (CLI11's own codes 104-109 are not part of our contract).
        if (e.get_exit_code() == 0) return app.exit(e);
        std::cerr << "ketasim: usage error: " << e.what() << " (see ketasim --help)\n";
        return 1;
    }
    sa.days_given = sim->count("--days") > 0;
    sa.threshold_given = sim->count("--threshold") > 0;
    if (sim->count("--id") && (sa.regimen.size() < 4 || sa.regimen.substr(sa.regimen.size() - 4) != ".csv")) {
        std::cerr << "ketasim: usage error: --id applies to an event table (--regimen FILE.csv)\n";
        return 1;
    }
    if (sim->count("--weight")) sa.covariates_given.push_back("weight");
    if (sim->count("--age")) sa.covariates_given.push_back("age");
    sa.duration_given = sim->count("--duration") > 0;
    sa.spacing_given = sim->count("--device-spacing") > 0;
    const std::string command = join_args(argc, argv);
    try {
        if (*models) return cmd_models(models_dir);
        if (*show) return cmd_show_model(show_name, models_dir);
        if (*sim) {
            sa.models_dir = models_dir;
            return cmd_simulate(sa, command);
        }
        if (*cmp) {
            co.models_dir = models_dir;
            co.t_end_h = parse_quantity(c_tend, Dimension::time, "--t-end");
            co.dt_h = parse_quantity(c_dt, Dimension::time, "--dt");
            if (!(std::isfinite(co.threshold) && co.threshold > 0))
                throw InputError(ErrorContext{"", 0, "--threshold", plain(co.threshold),
                                              "must be a finite concentration > 0 (ng/mL)"});
            if (!(co.weight_kg > 0 && co.weight_kg < 1000))
                throw InputError("--weight: " + std::to_string(co.weight_kg) + " kg must be in (0, 1000)");
            co.command = command;
            return cli::run_compare(co);
        }
        if (*pop) {
            po.models_dir = models_dir;
            if (pop->count("--n") == 0 && po.subjects.empty() && po.data.empty())
                throw InputError("--n: give the number of subjects (or --subjects FILE, or --data FILE)");
            if (pop->count("--dt")) po.course_dt = po.dt;   // a course's PK grid defaults to 1 min
            return cli::run_population_cli(po);
        }
        if (*run) {
            ro.models_dir = models_dir;
            return cli::run_run_cli(ro);
        }
        if (*merge) return cli::run_merge_cli(merge_out, merge_in);
        if (*sens) return cli::run_sensitivity_cli(sens_o, models_dir);
        if (*crs) {
            cso.models_dir = models_dir;
            cso.schedule_given = crs->count("--schedule") > 0;
            if (crs->count("--weeks") > 0) cso.weeks = crs_weeks;
            cso.diss_tolerance_given = crs->count("--diss-tolerance") > 0;
            cso.weight_given = crs->count("--weight") > 0;
            return cli::run_course(cso);
        }
    } catch (const UsageError& e) {
        std::cerr << "ketasim: usage error: " << e.what() << "\n";
        return 1;
    } catch (const InputError& e) {
        std::cerr << "ketasim: error: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "ketasim: failed: " << e.what() << "\n";
        return 3;
    }
    return 1;
}
