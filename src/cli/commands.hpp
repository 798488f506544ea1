#pragma once
// Private to the CLI: command implementations shared by main.cpp.
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ketasim/metrics.hpp"
#include "ketasim/pd.hpp"
#include "ketasim/runspec.hpp"

namespace CLI {
class App;
}

namespace ketasim::cli {

struct CompareOptions {
    double weight_kg = 70.0;
    double t_end_h = 24.0;
    double dt_h = 1.0 / 60.0;
    double threshold = kDissociativeThresholdNgPerMl;
    std::string out = "flagship.h5";
    std::string models_dir;
    // Defaults of the library's FlagshipOptions (include/ketasim/pd.hpp).
    std::string iv_model = FlagshipOptions{}.iv_model;
    std::string esketamine_model = FlagshipOptions{}.esketamine_model;
    std::string racemic_in_model = FlagshipOptions{}.racemic_in_model;
    double esketamine_mg = FlagshipOptions{}.esketamine_mg;
    double racemic_in_mg = FlagshipOptions{}.racemic_in_mg;
    std::string command;
};

int run_compare(const CompareOptions& o);

struct CourseCliOptions {
    std::string schedule = "iv-3x-weekly";
    std::optional<int> weeks;             // not given = the schedule's default
    std::string days;                     // iv-days: "0,2,4,7,9,11"
    bool schedule_given = false;          // --schedule on the command line (exclusive with --regimen)
    std::string regimen;                  // regimen TOML file instead of a named schedule
    std::string model;                    // library model or .toml file; default: the schedule's, or the IV default
    std::string session_window = "2 h";   // doses closer than this to a session's first dose join it
    double diss_tolerance = 1.0;          // (0, 1]; used only when diss_tolerance_given
    bool diss_tolerance_given = false;    // else the acute_effects file's value
    double weight_kg = 70.0;
    bool weight_given = false;   // --weight given: the model must use weight (covariate rule)
    double follow_up_days = 28.0;
    std::string out;                           // session table: FILE.csv only
    std::string pd_solver = "semi-analytic";   // or "coupled-ode"
    std::string models_dir;
};
int run_course(const CourseCliOptions& o);

struct PopulationCliOptions {
    std::string model, regimen;
    // A treatment course instead of a regimen: --schedule NAME [--weeks N] [--days LIST].
    std::string schedule;
    std::optional<int> weeks;
    std::string days;
    double follow_up_days = 28.0;
    std::string course_dt = "1 min";
    bool stop_at_remission = false;
    bool metrics_only = false;   // courses: run_course_metrics (no curves) instead of run_course
    int uncertainty = 0;         // courses: parameter sets drawn for the rates' prediction bands (0 = none)
    int max_sessions = 0;
    double remission_threshold = 10.0;
    long n = 0;
    long long seed = 0;
    std::string covariates;     // covariate-distribution TOML file
    std::string subjects;       // per-subject CSV table
    std::string data;           // NONMEM-style dataset: one subject per ID (doses, EVID 0 times, covariates)
    std::string observations;   // --data: per-ID trajectories at the EVID 0 times, long-format CSV
    bool no_variability = false;
    std::string t_end = "24 h", dt = "5 min";
    std::vector<std::string> outputs;
    int threads = 0;
    long chunk = 16;
    bool quiet = false;
    std::string out;
    std::string models_dir;
};
int run_population_cli(const PopulationCliOptions& o);

// `ketasim run SPEC.toml` (src/cli/run.cpp) and `ketasim merge OUT SHARDS...`.
struct RunCliOptions {
    std::string spec;
    int threads = -1;    // -1: the spec's
    std::string shard;   // "i/N"
    bool resume = false, dry_run = false, quiet = false, over_budget = false;
    std::string models_dir;
};
int run_run_cli(const RunCliOptions& o);
// The same for a spec already parsed (`population --out FILE.h5` builds one from its flags).
int run_spec_cli(const RunSpec& spec, const RunCliOptions& o);
int run_merge_cli(const std::string& out, const std::vector<std::string>& shards);
#ifdef KETASIM_WITH_MPI
// src/mpi/run_mpi.cpp: true when started by mpirun/srun with MPI; then one shard per rank.
bool launched_by_mpi();
int run_run_mpi(const RunCliOptions& o);
#endif

struct SensitivityCliOptions {
    std::string model, regimen;
    std::vector<std::string> factors;   // NAME=KIND(ARGS)
    std::string metric = "auc_0_t", output;
    long n = 1024;
    long long seed = 0;
    long bootstrap = 1000;
    double confidence = 0.95;
    bool scramble = false;
    std::string t_end = "24 h", dt = "1 min";
    double threshold = std::numeric_limits<double>::quiet_NaN();
    double weight = 70, age = 40;
    int threads = 0;
};
// Registers `ketasim sensitivity` (src/cli/sensitivity.cpp) and runs it.
CLI::App* add_sensitivity_command(CLI::App& app, SensitivityCliOptions& o);
int run_sensitivity_cli(const SensitivityCliOptions& o, const std::string& models_dir);

// A metrics table: one row per output of `tr` (output, unit, then each metric of `metric_names`,
// registry names from include/ketasim/metrics.hpp, headed "name [unit]", e.g. "auc_0_t [unit*h]").
std::vector<std::vector<std::string>> metrics_rows(const Trajectory& tr, const std::map<std::string, Metrics>& ms,
                                                   const std::vector<std::string>& metric_names);

// Formats a table with aligned columns (first row = header).
std::string format_table(const std::vector<std::vector<std::string>>& rows);
std::string fmt_num(double v, int precision = 3);

}   // namespace ketasim::cli
