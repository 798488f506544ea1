#pragma once
// Virtual populations: reproducible random streams, covariate distributions, per-subject tables,
// the population point source (subject i -> covariates + random effects), population PK runs
// through the run layer, and summaries (percentile bands, metric distributions, rates with
// Wilson intervals, Kaplan-Meier medians). Format and order of application: docs/populations.md.
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "ketasim/io.hpp"
#include "ketasim/metrics.hpp"
#include "ketasim/model.hpp"
#include "ketasim/pd.hpp"
#include "ketasim/regimen.hpp"
#include "ketasim/run.hpp"
#include "ketasim/simulate.hpp"

namespace ketasim {

// ---- reproducible random numbers -------------------------------------------------------------

// What a stream is drawn for; part of its key, so adding draws of one kind never shifts another.
// design: Latin hypercube permutations and jitter, Sobol digital shifts; bootstrap: resampling of
// sensitivity indices (include/ketasim/design.hpp); pd_uncertainty: draws of the calibrated PD
// parameters from their fitted covariance (one per replicate).
enum class StreamKind : std::uint64_t {
    covariates = 1,
    iiv = 2,
    iov = 3,
    residual = 4,
    pd = 5,
    design = 6,
    bootstrap = 7,
    pd_uncertainty = 8
};

// A hash-seeded stream: the key (seed, replicate, subject, occasion, kind) is mixed with
// SplitMix64 into the state of a xoshiro256** generator. The same key gives the same numbers
// whatever thread, chunk or process draws them; distinct keys give independent-looking streams.
class RandomStream {
public:
    RandomStream(std::uint64_t seed, std::uint64_t replicate, std::uint64_t subject, std::uint64_t occasion,
                 StreamKind kind);
    std::uint64_t next_u64();
    double uniform();   // in (0, 1), 53 random bits
    double normal();    // N(0, 1), Box-Muller (both values used)

private:
    std::uint64_t s_[4];
    double spare_ = 0.0;
    bool has_spare_ = false;
};

// Largest accepted seed: 2^63 - 1, so seeds survive a round trip through signed 64-bit integers
// (HDF5 attributes, pandas, JSON) unchanged.
constexpr std::uint64_t kMaxSeed = (std::uint64_t{1} << 63) - 1;

// ---- covariate distributions ------------------------------------------------------------------

enum class CovariateDistributionKind { fixed, normal, lognormal, uniform, bernoulli };

// One covariate of a virtual population. `weight` in kg, `age` in years, any other name is a 0/1
// flag (bernoulli). normal: mean, sd; lognormal: median, cv (fraction of the median, exact
// log-normal convention); uniform: lower, upper; fixed: value. Normal and log-normal draws are
// truncated to [lower, upper] by redrawing.
struct CovariateDistribution {
    std::string name;
    CovariateDistributionKind kind = CovariateDistributionKind::fixed;
    double value = 0.0, mean = 0.0, sd = 0.0, median = 0.0, cv = 0.0, p = 0.0;
    double lower = -std::numeric_limits<double>::infinity(), upper = std::numeric_limits<double>::infinity();
    std::string where;   // "file:line" or "covariates['weight']" for messages
    void validate() const;
    double draw(RandomStream& rng) const;
};

// From named fields given as text with units ("80 kg", "15 kg", "45 years", "0.58"), as a file
// or Python gives them: {"distribution": "normal", "mean": "80 kg", "sd": "15 kg", ...}.
CovariateDistribution parse_covariate_distribution(const std::string& name,
                                                   const std::map<std::string, std::string>& fields,
                                                   const std::string& where);
// A covariate file: one [NAME] table per covariate with the fields above (docs/populations.md).
std::vector<CovariateDistribution> parse_covariate_distributions(const std::string& toml_text,
                                                                 const std::string& source_name);
std::vector<CovariateDistribution> load_covariate_distributions(const std::string& path);

// The rule for every face that lets a user set covariates (CLI --weight/--age, Python weight=/
// age=, sweep variables, population draws and tables): each named covariate must be one the model
// uses (or weight with a regimen dosed in mg/kg). InputError naming `where`, the covariate and the
// covariates the model does use.
void require_covariates_used(const Model& model, bool regimen_per_kg, const std::vector<std::string>& names,
                             const std::string& where);

// ---- per-subject tables -----------------------------------------------------------------------

// One row per subject; columns by name: `weight` (kg), `age` (years), a flag covariate (0/1), or
// a model parameter (its file unit; the value replaces the typical value before random effects).
// `ID` (optional) is kept as the subject's id.
struct SubjectTable {
    std::vector<std::string> columns;
    std::vector<std::string> units;   // per column, as given in the header ("" = none)
    std::vector<int> header_index;    // per column, its position in the file's header
    std::vector<double> values;       // rows x columns, row-major
    std::vector<long> ids;            // empty = 0, 1, 2, ...
    std::string source;               // file name or "table" for messages
    std::size_t rows() const { return columns.empty() ? 0 : values.size() / columns.size(); }
};
// CSV with a header; units in brackets as the event-table reader allows (WT[kg], AGE[years],
// CL[L/h]); WT/AGE/SEX are read as weight/age/sex. Every column must be known to `model`.
SubjectTable load_subject_table(const std::string& path);
// The same from headers and a rows x headers row-major array (a pandas DataFrame).
SubjectTable subject_table_from_columns(const std::vector<std::string>& headers, const std::vector<double>& values,
                                        const std::string& source_name);
SubjectTable parse_subject_table(const std::string& csv_text, const std::string& source_name);

// ---- the population point source ---------------------------------------------------------------

struct PopulationSpec {
    std::size_t n = 0;        // subjects; with a table, 0 = one per row (else must equal rows)
    std::uint64_t seed = 0;   // in [0, kMaxSeed]
    std::uint64_t replicate = 0;
    std::vector<CovariateDistribution> covariates;   // each must be a covariate the model uses
    SubjectTable table;                              // optional per-subject values (rows replace draws)
    bool variability = true;                         // draw the model's random effects (false: typical subjects)
    void validate() const;
};

// Subject i of a population: covariates (table row, else drawn, else the model's reference),
// random effects drawn with the model's covariances (Cholesky), parameter overrides from the
// table by index. Thread-safe; nothing is materialized up front.
class PopulationSource {
public:
    // `regimen_uses_weight`: the regimen doses per kg, so weight matters even when the model's
    // parameters do not use it. Throws InputError for a covariate or table column the model (and
    // regimen) does not use, naming the covariates it does use.
    PopulationSource(const Model& model, const PopulationSpec& spec, bool regimen_uses_weight = false);
    std::size_t size() const { return n_; }
    const ParameterLayout& layout() const { return layout_; }
    const PopulationSpec& spec() const { return spec_; }
    // Subject i and its overrides (layout().size() values, NaN = none) in `overrides`.
    Subject subject(std::size_t i, std::vector<double>& overrides) const;
    // Random effects of occasion `occasion` (1-based) for the model's per-occasion blocks; the
    // subject's IIV entries are kept. No-op when the model has no per-occasion block.
    void occasion_effects(std::size_t i, std::uint64_t occasion, Subject& s) const;
    bool has_occasion_effects() const { return has_iov_; }
    // Column names/units of the subject description (covariates, then parameters with random
    // effects or table overrides, canonical units) and their values for a compiled subject.
    const std::vector<std::string>& describe_names() const { return describe_names_; }
    const std::vector<std::string>& describe_units() const { return describe_units_; }
    void describe(const Subject& s, const LinearSystem& sys, double* out) const;

private:
    const Model* model_;
    PopulationSpec spec_;
    ParameterLayout layout_;
    std::size_t n_ = 0;
    struct Block {
        std::vector<int> eta;   // entries of Subject::eta
        Eigen::MatrixXd L;      // Cholesky factor of omega
        bool per_occasion;
    };
    std::vector<Block> blocks_;
    bool has_iov_ = false;
    std::vector<int> table_param_col_;           // per table column: parameter index or -1
    std::vector<std::string> table_covariate_;   // per table column: covariate name or ""
    std::vector<std::string> flag_names_;
    std::vector<std::string> describe_names_, describe_units_;
    std::vector<int> describe_params_;
};

// ---- population PK runs -----------------------------------------------------------------------

struct PopulationRunOptions {
    std::vector<std::string> outputs;   // outputs to record and compute metrics on; empty = all
    MetricOptions metric_options;       // last_dose_time 0 = the regimen's own
    bool keep_trajectories = false;     // for bands (memory: subjects x outputs x times)
    bool residual_error = false;        // observations with the model's residual error (trajectories)
    ParallelOptions parallel;
    void validate() const;
};

// Simulates subjects [begin, end) of the population on one regimen and grid; the sink receives
// per-subject columns: `subject`, the source's description columns, then `<output>.<metric>` for
// every output and metric of the registry. The same seed gives bit-identical columns for any
// thread count, chunk size or index range.
void run_population(const Model& model, const Regimen& regimen, const OutputGrid& grid, const PopulationSource& source,
                    std::size_t begin, std::size_t end, const SimOptions& sim, const PopulationRunOptions& options,
                    ResultSink& sink);

// ---- datasets: one subject per ID (issue 8) ------------------------------------------------------

// The covariates of a dataset as a subject table (one row per ID; empty without covariate columns).
SubjectTable dataset_subject_table(const Dataset& data);
// The population of a dataset: one subject per ID, its covariates from the dataset (checked
// against the model by PopulationSource: a covariate the model does not use is an error naming
// the ones it does), random effects drawn from `seed` unless `variability` is false.
PopulationSpec dataset_population_spec(const Dataset& data, std::uint64_t seed, bool variability);
// The index of subject `id` in `data.subjects` (InputError naming the file and the ID if absent).
std::size_t dataset_index(const Dataset& data, long id);
// Whether any subject is dosed per kg (weight then matters even if no parameter uses it).
bool dataset_uses_weight(const Dataset& data);
// Simulates subjects [begin, end) of a dataset, each with its own doses and output times (its
// EVID 0 rows; `grid` for an ID without any). Columns as run_population's with `ID` after
// `subject`; metrics are computed on each subject's own times (and its own last dose).
// Trajectories (keep_trajectories) have each subject's own times. `source` comes from
// dataset_population_spec(data, ...).
void run_dataset_population(const Model& model, const Dataset& data, const OutputGrid& grid,
                            const PopulationSource& source, std::size_t begin, std::size_t end, const SimOptions& sim,
                            const PopulationRunOptions& options, ResultSink& sink);
// Trajectories of a run whose subjects have their own times, in long format: columns `ID` (or
// `subject` when `ids` is empty), `time` [h], then one per output; one row per subject and time.
struct LongTable {
    std::vector<std::string> names, units;
    std::vector<std::vector<double>> columns;
};
LongTable long_format(const std::vector<Trajectory>& trajectories, const std::vector<long>& ids);

// ---- summaries ---------------------------------------------------------------------------------

// Percentile (0-100) of finite values by linear interpolation between order statistics (type 7,
// as NumPy's default); NaN when none is finite.
double percentile(std::vector<double> values, double p);

// Bands over time: result[k][j] = percentile percentiles[k] of output row `output` at time j
// across the trajectories (which must share the grid).
std::vector<std::vector<double>> percentile_bands(const std::vector<Trajectory>& trajectories,
                                                  const std::string& output, const std::vector<double>& percentiles);

struct Proportion {
    std::size_t successes = 0, n = 0;
    double estimate = std::numeric_limits<double>::quiet_NaN();
    double lower = std::numeric_limits<double>::quiet_NaN(), upper = std::numeric_limits<double>::quiet_NaN();
};
// Wilson score interval at the given two-sided confidence z (1.959964 for 95 %).
Proportion wilson_interval(std::size_t successes, std::size_t n, double z = 1.959963984540054);

// Kaplan-Meier survival of event times (h) with censoring (event[i] false = censored at time[i]).
struct KaplanMeier {
    std::vector<double> time, survival;   // step function: S(t) = survival[k] for time[k] <= t < time[k+1]
    double median = std::numeric_limits<double>::quiet_NaN();   // first time with S <= 0.5; NaN if never
    std::size_t n = 0, events = 0;
};
KaplanMeier kaplan_meier(const std::vector<double>& time, const std::vector<bool>& event);

// ---- treatment courses in a population ---------------------------------------------------------

// Random effects of a PD parameter set ([[variability]] blocks of models/pd/*.toml) for subject
// `subject`: a copy of `set` with the drawn values (file units), drawn from the stream
// (seed, replicate, subject, 0, pd) with `stream_offset` normals skipped, so the acute-effect and
// symptom sets of one subject use disjoint numbers.
PdParameterSet draw_pd_parameters(const PdParameterSet& set, const PopulationSpec& spec, std::size_t subject,
                                  std::size_t stream_offset = 0);

// One draw of a PD set's fitted values from its [uncertainty] table (parameter uncertainty, not
// between-patient variability): a copy of `set` with the named parameters and variability spreads
// replaced by estimate * exp(z), z ~ N(0, diag(se) R diag(se)), from the stream
// (seed, replicate, 0, 0, pd_uncertainty): the same (seed, replicate) gives the same set.
// InputError if the set has no [uncertainty] table.
PdParameterSet draw_pd_uncertainty(const PdParameterSet& set, std::uint64_t seed, std::uint64_t replicate);

struct CoursePopulationOptions {
    CourseOptions course;             // dt, follow-up, PD solver, clinical thresholds (weight: per subject)
    bool stop_at_remission = false;   // a patient's course ends after the first session with remission
    int max_sessions = 0;             // 0 = every session of the course; else at most this many
    // Extra columns `madrs_at.<h>`: MADRS at these times (h after the first session start; each
    // within the simulated span), e.g. 72 and 168 for single-dose rates at 72 h and day 7.
    std::vector<double> madrs_times_h;
    // Metrics only: each patient through run_course_metrics (no curves; exact PK at any time, the
    // acute effects only on the grid points that can matter, the symptom model at its own steps)
    // instead of run_course. Same columns; agreement (tests/cpp/course_metrics_test.cpp): MADRS
    // to 1e-5 points, acute peaks to 1e-9 relative, peak and discharge times to one grid step,
    // relapse to one grid step. Default off: run_course stays the reference.
    bool metrics_only = false;
    // Parameter uncertainty (course_rate_bands): K > 0 also runs K populations of the same patients,
    // replicate k on draw_pd_uncertainty(symptoms, seed, k), for 2.5/97.5 % bands of each
    // session's rates. 0 = none. run_course_population only checks that the symptom set has a table.
    int uncertainty = 0;
    ParallelOptions parallel;
    void validate() const;
};

// Sessions a course population reports: every session of `spec`, or at most options.max_sessions.
std::size_t course_population_sessions(const CourseSpec& spec, const CoursePopulationOptions& options);

// One row per subject: `subject`, the source's description columns, the PD parameters that vary,
// `sessions_given`, per session k (1-based; NaN after a patient's course stopped):
// `madrs_24h.k`, `response.k`, `remission.k` (0/1 at 24 h after the start), `peak_dissociation.k`
// (%), `peak_sbp_rise.k` (mmHg), `discharge.k` (h after the start); then `sessions_to_response`,
// `sessions_to_remission` (NaN: never), `responder_at_last` (0/1, at 24 h after the last session
// given), `relapse_h` (h from the last session's start to the first MADRS above the response
// level, for responders; NaN otherwise) and `relapse_observed` (1, or 0 = censored at the end of
// follow-up), `baseline_madrs`, `madrs_end`; then `madrs_at.<h>` for options.madrs_times_h.
void run_course_population(const CourseSpec& spec, const PdParameterSet& acute, const PdParameterSet& symptoms,
                           const PopulationSource& source, std::size_t begin, std::size_t end,
                           const CoursePopulationOptions& options, ResultSink& sink);

// Population rates of a course: response and remission per session with 95 % Wilson intervals
// (over every subject; a patient whose course stopped at remission counts as remitted and
// responding at later sessions), the cumulative share remitted by each session, Kaplan-Meier
// medians of sessions to first response and to remission (censored at the sessions given), and
// of the relapse time after the last session among responders (censored at the end of follow-up).
struct CoursePopulationSummary {
    std::size_t n = 0;
    std::vector<Proportion> response, remission, ever_remitted;   // per session
    KaplanMeier sessions_to_response, sessions_to_remission, relapse_h;
    Proportion responders_at_last;
};
CoursePopulationSummary summarize_course_population(const MemorySink& sink, std::size_t n_sessions);

// Parameter-uncertainty bands of a course population's per-session rates (options.uncertainty = K):
// K populations of the subjects of `source` (same seed: common random numbers, so the band is
// parameter uncertainty, not Monte Carlo noise), replicate k with the symptom set
// draw_pd_uncertainty(symptoms, source seed, k), each summarised by summarize_course_population;
// per session, the 2.5 and 97.5 % percentiles (percentile(): linear interpolation) of the K
// response and remission rates. K = 0: empty vectors. InputError if K > 0 and the symptom set
// has no [uncertainty] table; every rate is checked finite.
struct CourseRateBands {
    std::size_t replicates = 0;
    std::vector<std::vector<double>> response, remission;   // [replicate][session]: each replicate's rates
    std::vector<double> response_plo, response_phi, remission_plo, remission_phi;   // [session]
};
CourseRateBands course_rate_bands(const CourseSpec& spec, const PdParameterSet& acute, const PdParameterSet& symptoms,
                                  const PopulationSource& source, const CoursePopulationOptions& options);

}   // namespace ketasim
