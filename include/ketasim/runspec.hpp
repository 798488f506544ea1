#pragma once
// Run files: one TOML spec describing a batch run (model, regimen, population, outputs, solver,
// chunking, output file), parsed once here for the CLI (`ketasim run SPEC.toml`) and Python
// (`ks.run(spec)`); the executor that streams results into a chunked, resumable HDF5 file;
// shards (an index range per file) and their merge. Format: docs/hpc.md.
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ketasim/simulate.hpp"

namespace ketasim {

struct RunSpec {
    std::string source;     // file name (or "spec") for messages
    std::string text;       // the spec as given; stored in the result file
    std::string base_dir;   // relative paths in the spec resolve here

    std::string model;     // library name or .toml path ("" with a schedule: its default model)
    std::string regimen;   // regimen TOML path (resolved)

    // schedule = NAME instead of regimen: a treatment course per subject (PK, acute effects, the
    // symptom model; `ketasim population --schedule`), one row per subject with the session
    // columns of run_course_population (population.hpp). [course] holds its options.
    std::string schedule;
    std::optional<int> course_weeks;
    std::vector<double> course_days;
    double course_follow_up_h = 28.0 * 24.0;
    double course_dt_h = 1.0 / 60.0;
    double remission_threshold = 10.0;
    bool stop_at_remission = false;
    int max_sessions = 0;
    bool metrics_only = false;             // run_course_metrics (no curves; BENCHMARKS.md) instead of run_course
    std::string symptom_model = "madrs";   // library PD name or .toml ("madrs_v1": the older structure)
    // A course run: schedule = NAME, or a course design whose `schedule` factor chooses each
    // point's schedule (schedule=choice(NAME, ...); then no schedule = NAME).
    bool is_course() const { return !schedule.empty() || has_schedule_factor(); }
    bool has_schedule_factor() const;

    // [population]
    std::size_t n = 0;
    std::uint64_t seed = 0;
    std::string covariates;   // covariate-distribution TOML (resolved path), optional
    std::string table;        // per-subject CSV (resolved path), optional
    bool variability = true;

    // [design], instead of [population]: one row per design point (dimension `point`), each a
    // typical subject with the factors' values (docs/hpc.md); in a course run each point is a
    // typical patient's course (no random effects), its schedule chosen by a `schedule` factor. kind "sobol" or "lhs";
    // n points; seed: the LHS permutations and jitter, or Sobol's digital shift when shift = true. factors: (name,
    // distribution text) in design order, from "NAME=KIND(ARGS)" entries as `ketasim sensitivity --factor` reads them
    // (design.hpp).
    std::string design_kind;
    std::size_t design_n = 0;
    std::uint64_t design_seed = 0;
    bool design_shift = false;
    std::vector<std::pair<std::string, std::string>> design_factors;
    bool is_design() const { return !design_kind.empty(); }

    // [outputs]
    std::vector<std::string> outputs;   // model outputs; empty = all
    bool trajectories = false;          // store outputs x time per subject, else metrics only
    double t_end_h = 24.0, dt_h = 1.0;

    // [solver]
    SimOptions sim;

    // [run]
    std::string out;                    // result file (.h5), resolved
    std::size_t chunk = 256;            // subjects per chunk (unit of work, of writing and of resuming)
    int threads = 0;                    // 0 = all cores ($SLURM_CPUS_PER_TASK when set)
    double memory_budget_bytes = 0.0;   // 0 = the machine's physical memory
    int compression = 1;                // deflate level 0-9 (1: BENCHMARKS.md, 4 costs 12 % more CPU for 1 % less)

    void validate() const;
};

// Parses a run spec. Unknown keys are errors naming the closest valid key; relative paths are
// resolved against `base_dir`. Throws InputError naming the file, line, key, value and rule.
RunSpec parse_run_spec(const std::string& toml_text, const std::string& source_name, const std::string& base_dir);
RunSpec load_run_spec(const std::string& path);

// "i/N": shard i (0-based) of N. InputError naming `where` unless 0 <= i < N.
struct Shard {
    std::size_t index = 0, count = 1;
};
Shard parse_shard(const std::string& text, const std::string& where = "--shard");
// Index range [begin, end) of shard `s` of n points: whole chunks of `chunk` points, as equal as
// possible, in order (chunk-aligned shards let the merge copy compressed chunks as they are).
void shard_range(std::size_t n, const Shard& s, std::size_t& begin, std::size_t& end, std::size_t chunk = 1);
// The file a shard writes: "out.h5" -> "out.shard-1-of-3.h5" (unchanged for 1 shard).
std::string shard_path(const std::string& out, const Shard& s);

struct RunControl {
    std::string models_dir;   // where library model names are looked up ("" = the default)
    int threads = -1;         // >= 0 overrides the spec's
    Shard shard;
    bool resume = false;              // finish an interrupted file instead of refusing it
    bool allow_over_budget = false;   // run although the estimate exceeds the memory budget
    // Called from the calling thread about every 50 ms with (done, total) points of this
    // invocation; return false to stop cleanly at the next chunk (the file stays resumable).
    std::function<bool(std::size_t, std::size_t)> progress;
    // Asked after each chunk is written (under the writer's lock); true stops the run there, the
    // file resumable (the CLI's SIGTERM/SIGINT handler sets what this reads).
    std::function<bool()> stop;
};

struct RunEstimate {
    std::size_t points = 0, begin = 0, end = 0, chunks = 0;
    std::size_t total = 0;   // points of the whole run (all shards)
    std::string path;
    double output_bytes = 0.0;   // from a simulated and compressed sample chunk
    double peak_memory_bytes = 0.0;
    double memory_budget_bytes = 0.0;
    double disk_free_bytes = 0.0;
};
// Simulates one sample chunk and writes it to an in-memory file to estimate the output size.
RunEstimate estimate_run(const RunSpec& spec, const RunControl& control);
// InputError with the estimate when the output would not fit the disk or the memory estimate
// exceeds the budget (unless control.allow_over_budget).
void check_estimate(const RunEstimate& e, const RunControl& control);

struct RunReport {
    std::string path;
    std::size_t points = 0;     // rows of this file
    std::size_t computed = 0;   // rows computed by this invocation
    std::size_t resumed = 0;    // rows kept from an interrupted run
    bool complete = false;      // false: stopped by control.progress (resumable)
    double seconds = 0.0;
};
// Runs the spec (its shard) into its file. Refuses an existing file unless control.resume;
// a second run on the same file fails (IoError naming the other run's pid). A stop through
// control.stop or control.progress is not an exception: it returns complete = false after every
// finished chunk is on disk (the file resumable).
RunReport execute_run(const RunSpec& spec, const RunControl& control);

// Combines shard files of one spec (same spec hash, covering [0, n) exactly once, each complete)
// into `out`, whose datasets equal those of the unsharded run.
void merge_run_files(const std::string& out, const std::vector<std::string>& shards);

}   // namespace ketasim
