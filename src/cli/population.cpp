// `ketasim population`: a virtual population on one regimen; prints metric distributions, writes
// one row per subject. Translation only: the population, its draws and summaries are the library's.
#include <toml++/toml.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "ketasim/ketasim.hpp"

namespace ketasim::cli {

namespace {

// Progress on stderr when it is a terminal: done/total, rate, ETA; one line rewritten in place.
class ProgressLine {
public:
    explicit ProgressLine(bool enabled) : enabled_(enabled && ::isatty(STDERR_FILENO)) {}
    bool operator()(std::size_t done, std::size_t total) {
        if (!enabled_) return true;
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        const double rate = s > 0 ? static_cast<double>(done) / s : 0.0;
        const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0.0;
        std::fprintf(stderr, "\rketasim population: %zu/%zu subjects, %.0f/s, ETA %.0f s   ", done, total, rate, eta);
        if (done == total) std::fprintf(stderr, "\n");
        return true;
    }

private:
    bool enabled_;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}   // namespace

namespace {
PopulationSpec population_spec(const PopulationCliOptions& o) {
    PopulationSpec spec;
    if (o.n < 0) throw InputError("--n: " + std::to_string(o.n) + " must be >= 1");
    spec.n = static_cast<std::size_t>(o.n);
    if (o.seed < 0) throw InputError("--seed: " + std::to_string(o.seed) + " must be in [0, 2^63 - 1]");
    spec.seed = static_cast<std::uint64_t>(o.seed);
    spec.variability = !o.no_variability;
    if (!o.covariates.empty()) spec.covariates = load_covariate_distributions(o.covariates);
    if (!o.subjects.empty()) spec.table = load_subject_table(o.subjects);
    return spec;
}

std::string pct(const Proportion& p) {
    return fmt_num(100 * p.estimate, 3) + " (" + fmt_num(100 * p.lower, 3) + "-" + fmt_num(100 * p.upper, 3) + ")";
}

int run_course_population_cli(const PopulationCliOptions& o) {
    if (!o.regimen.empty()) throw InputError("--regimen and --schedule are exclusive: give one");
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
    const CourseSpec spec = schedule_course(q, model);
    const PopulationSource source(spec.model, population_spec(o), spec.regimen.per_kg());
    CoursePopulationOptions co;
    if (!(o.follow_up_days >= 1)) throw InputError("--follow-up-days: " + fmt_num(o.follow_up_days) + " must be >= 1");
    co.course.follow_up_h = o.follow_up_days * 24.0;
    co.course.dt_h = parse_quantity(o.course_dt, Dimension::time, "--dt");
    co.course.clinical.remission_threshold = o.remission_threshold;
    co.course.models_dir = o.models_dir;
    co.stop_at_remission = o.stop_at_remission;
    co.metrics_only = o.metrics_only;
    co.max_sessions = o.max_sessions;
    if (o.uncertainty < 0)
        throw InputError("--uncertainty: " + std::to_string(o.uncertainty) +
                         " must be >= 0 (parameter sets drawn for the prediction bands; 0 = none)");
    co.uncertainty = o.uncertainty;
    co.parallel.threads = o.threads;
    co.parallel.chunk = static_cast<std::size_t>(o.chunk < 1 ? 0 : o.chunk);
    ProgressLine progress(!o.quiet);
    co.parallel.progress = [&](std::size_t d, std::size_t t) { return progress(d, t); };
    MemorySink sink;
    const PdParameterSet acute = load_library_pd("acute_effects", o.models_dir);
    const PdParameterSet symptoms = load_library_pd("madrs", o.models_dir);
    run_course_population(spec, acute, symptoms, source, 0, source.size(), co, sink);
    co.parallel.progress = nullptr;   // the replicates run without a progress line
    const CourseRateBands bands = course_rate_bands(spec, acute, symptoms, source, co);
    const std::size_t n_sessions = course_population_sessions(spec, co);
    const CoursePopulationSummary s = summarize_course_population(sink, n_sessions);
    std::cout << "ketasim population: " << spec.description << "\nmodel " << spec.model.name << "; " << s.n
              << " patients, seed " << o.seed << (source.spec().variability ? "" : ", no random effects")
              << (co.stop_at_remission ? "; each course stops at the first remission" : "")
              << "\nresponse: MADRS fall >= 50 % of baseline; remission: MADRS <= "
              << fmt_num(co.course.clinical.remission_threshold) << "; both 24 h after the session start (95 % Wilson)";
    if (bands.replicates > 0)
        std::cout << "\nparameter band: 2.5-97.5 % of the rate over " << bands.replicates
                  << " sets of the symptom model's values drawn from its [uncertainty] table, same patients";
    std::cout << "\n\n";
    std::vector<std::vector<std::string>> rows = {
        {"session", "day", "response %", "remission %", "remitted by then %"}};
    if (bands.replicates > 0) {
        rows[0].insert(rows[0].begin() + 3, "response band %");
        rows[0].insert(rows[0].begin() + 5, "remission band %");
    }
    auto band = [](double lo, double hi) { return fmt_num(100 * lo, 3) + "-" + fmt_num(100 * hi, 3); };
    for (std::size_t k = 0; k < n_sessions; ++k) {
        rows.push_back({std::to_string(k + 1), fmt_num(spec.session_starts_h[k] / 24.0), pct(s.response[k]),
                        pct(s.remission[k]), pct(s.ever_remitted[k])});
        if (bands.replicates > 0) {
            rows.back().insert(rows.back().begin() + 3, band(bands.response_plo[k], bands.response_phi[k]));
            rows.back().insert(rows.back().begin() + 5, band(bands.remission_plo[k], bands.remission_phi[k]));
        }
    }
    std::cout << format_table(rows);
    auto med = [](double v, const std::string& unit) {
        return std::isnan(v) ? std::string("not reached") : fmt_num(v) + unit;
    };
    std::cout << "\nmedian sessions to first response: " << med(s.sessions_to_response.median, "")
              << "\nmedian sessions to remission: " << med(s.sessions_to_remission.median, "")
              << "\nresponders after the last session: " << pct(s.responders_at_last)
              << " %\nmedian time to relapse after the last session (responders, Kaplan-Meier): "
              << med(s.relapse_h.median / 24.0, " d") << "\n";
    if (!o.out.empty()) {
        const bool is_csv = o.out.size() > 4 && o.out.substr(o.out.size() - 4) == ".csv";
        if (!is_csv)
            throw InputError("--out " + o.out +
                             ": population results are written as .csv (one row per patient) or as a run file (.h5, "
                             ".hdf5, .nc: the streamed, resumable file of `ketasim run`)");
        write_table_csv(o.out, sink.names, sink.units, sink.columns);
        std::cout << "\nwritten: " << o.out << " (" << s.n << " rows)\n";
    }
    return 0;
}
}   // namespace

// --data: a NONMEM-style dataset, one subject per ID (library: load_dataset, run_dataset_population).
static int run_dataset_population_cli(const PopulationCliOptions& o) {
    if (!o.regimen.empty() || !o.schedule.empty() || !o.subjects.empty() || !o.covariates.empty() || o.n != 0)
        throw InputError(
            "--data gives every subject's doses, times and covariates: not with --regimen, --schedule, "
            "--subjects, --covariates or --n");
    if (o.seed < 0) throw InputError("--seed: " + std::to_string(o.seed) + " must be in [0, 2^63 - 1]");
    const Model model = load_library_model(o.model, o.models_dir);
    const Dataset data = load_dataset(o.data, model);
    const PopulationSource source(model,
                                  dataset_population_spec(data, static_cast<std::uint64_t>(o.seed), !o.no_variability),
                                  dataset_uses_weight(data));
    const OutputGrid grid = OutputGrid::uniform(0.0, parse_quantity(o.t_end, Dimension::time, "--t-end"),
                                                parse_quantity(o.dt, Dimension::time, "--dt"));
    PopulationRunOptions ro;
    ro.outputs = o.outputs;
    ro.keep_trajectories = !o.observations.empty();
    ro.parallel.threads = o.threads;
    ro.parallel.chunk = static_cast<std::size_t>(o.chunk < 1 ? 0 : o.chunk);
    ProgressLine progress(!o.quiet);
    ro.parallel.progress = [&](std::size_t d, std::size_t t) { return progress(d, t); };
    MemorySink sink(ro.keep_trajectories);
    run_dataset_population(model, data, grid, source, 0, source.size(), SimOptions{}, ro, sink);
    std::cout << model.title << "\ndata: " << o.data << "; " << source.size() << " subjects (IDs), seed " << o.seed
              << (source.spec().variability ? "" : ", no random effects") << "\n\n";
    std::vector<std::vector<std::string>> rows = {{"ID", "output", "cmax", "tmax [h]", "auc_0_t"}};
    const auto& id = sink.column("ID");
    for (std::size_t c = 0; c < sink.names.size(); ++c) {
        const std::string& n = sink.names[c];
        const auto dot = n.find('.');
        if (dot == std::string::npos || n.substr(dot + 1) != "cmax") continue;
        const std::string out = n.substr(0, dot);
        const auto& tmax = sink.column(out + ".tmax");
        const auto& auc = sink.column(out + ".auc_0_t");
        for (std::size_t i = 0; i < id.size(); ++i)
            rows.push_back({fmt_num(id[i]), out + " [" + sink.units[c] + "]", fmt_num(sink.columns[c][i]),
                            fmt_num(tmax[i]), fmt_num(auc[i])});
    }
    std::cout << format_table(rows);
    auto csv_only = [](const std::string& path, const char* flag) {
        if (!(path.size() > 4 && path.substr(path.size() - 4) == ".csv"))
            throw InputError(std::string(flag) + " " + path + ": written as .csv");
    };
    if (!o.out.empty()) csv_only(o.out, "--out");
    if (!o.observations.empty()) csv_only(o.observations, "--observations");
    if (!o.out.empty()) {
        write_table_csv(o.out, sink.names, sink.units, sink.columns);
        std::cout << "\nwritten: " << o.out << " (" << source.size() << " rows, one per ID)\n";
    }
    if (!o.observations.empty()) {
        std::vector<long> ids;
        for (const auto& s : data.subjects) ids.push_back(s.id);
        const LongTable t = long_format(sink.trajectories, ids);
        write_table_csv(o.observations, t.names, t.units, t.columns);
        std::cout << "written: " << o.observations << " (" << t.columns[0].size() << " rows: ID, time, outputs)\n";
    }
    return 0;
}

namespace {

bool is_run_file(const std::string& out) {
    const auto ends = [&](const std::string& e) {
        return out.size() > e.size() && out.compare(out.size() - e.size(), e.size(), e) == 0;
    };
    return ends(".h5") || ends(".hdf5") || ends(".nc");
}

std::string absolute(const std::string& p) {
    return p.empty() ? p : std::filesystem::absolute(p).lexically_normal().string();
}

// `population --out FILE.h5` is a thin form of `ketasim run`: the flags written as the run spec
// they mean (stored in the file, so the run can be resumed or repeated with `ketasim run`) and
// given to the same parser and executor.
RunSpec population_run_spec(const PopulationCliOptions& o) {
    toml::table t, pop, outputs, course, run;
    if (!o.model.empty()) t.insert("model", o.model.find('/') != std::string::npos ? absolute(o.model) : o.model);
    if (!o.schedule.empty()) {
        t.insert("schedule", o.schedule);
        if (o.weeks) course.insert("weeks", *o.weeks);
        if (!o.days.empty()) {
            toml::array days;
            for (double d : parse_number_list(o.days, "--days")) days.push_back(d);
            course.insert("days", days);
        }
        course.insert("follow_up", fmt_num(o.follow_up_days, 17) + " d");
        course.insert("dt", o.course_dt);
        course.insert("remission_threshold", o.remission_threshold);
        course.insert("stop_at_remission", o.stop_at_remission);
        course.insert("max_sessions", o.max_sessions);
        course.insert("metrics_only", o.metrics_only);
        t.insert("course", course);
    } else {
        if (!o.regimen.empty()) t.insert("regimen", absolute(o.regimen));
        toml::array names;
        for (const auto& n : o.outputs) names.push_back(n);
        if (!names.empty()) outputs.insert("names", names);
        outputs.insert("t_end", o.t_end);
        outputs.insert("dt", o.dt);
        t.insert("outputs", outputs);
    }
    if (o.n < 0) throw InputError("--n: " + std::to_string(o.n) + " must be >= 1");
    if (o.n > 0) pop.insert("n", static_cast<std::int64_t>(o.n));
    if (o.seed < 0) throw InputError("--seed: " + std::to_string(o.seed) + " must be in [0, 2^63 - 1]");
    pop.insert("seed", static_cast<std::int64_t>(o.seed));
    if (!o.covariates.empty()) pop.insert("covariates", absolute(o.covariates));
    if (!o.subjects.empty()) pop.insert("table", absolute(o.subjects));
    pop.insert("variability", !o.no_variability);
    t.insert("population", pop);
    run.insert("out", absolute(o.out));
    if (o.chunk < 1) throw InputError("--chunk: " + std::to_string(o.chunk) + " must be >= 1");
    run.insert("chunk", static_cast<std::int64_t>(o.chunk));
    if (o.threads < 0) throw InputError("--threads: " + std::to_string(o.threads) + " must be >= 0");
    run.insert("threads", o.threads);
    t.insert("run", run);
    std::ostringstream os;
    os << t << "\n";
    return parse_run_spec(os.str(), "ketasim population (flags)", std::filesystem::current_path().string());
}

}   // namespace

int run_population_cli(const PopulationCliOptions& o) {
    if (!o.data.empty()) return run_dataset_population_cli(o);
    if (!o.observations.empty()) throw InputError("--observations: applies to --data");
    if (o.schedule.empty() &&
        (o.weeks || !o.days.empty() || o.stop_at_remission || o.max_sessions || o.metrics_only || o.uncertainty))
        throw InputError(
            "--weeks, --days, --stop-at-remission, --max-sessions, --uncertainty and --metrics-only apply to "
            "--schedule");
    if (!o.out.empty() && is_run_file(o.out)) {
        if (o.uncertainty)
            throw InputError("--uncertainty " + std::to_string(o.uncertainty) + " with --out " + o.out +
                             ": run files do not store prediction bands; print them (no --out) or write --out "
                             "FILE.csv");
        if (!o.schedule.empty() && !o.regimen.empty())
            throw InputError("--regimen and --schedule are exclusive: give one");
        RunCliOptions ro;
        ro.quiet = o.quiet;
        ro.models_dir = o.models_dir;
        return run_spec_cli(population_run_spec(o), ro);
    }
    if (!o.schedule.empty()) return run_course_population_cli(o);
    if (o.model.empty())
        throw InputError("give the model (library name or .toml) and --regimen FILE, or --schedule NAME");
    if (o.regimen.empty())
        throw InputError("--regimen FILE: the doses every subject gets (or --schedule NAME for a course)");
    const Model model = load_library_model(o.model, o.models_dir);
    const bool csv_regimen = o.regimen.size() > 4 && o.regimen.substr(o.regimen.size() - 4) == ".csv";
    if (csv_regimen)
        throw InputError("--regimen " + o.regimen +
                         ": a population takes a regimen TOML file; run a dataset (.csv, one subject per ID) with "
                         "--data FILE.csv, or one of its IDs with `ketasim simulate --regimen FILE.csv --id N`");
    const Regimen regimen = load_regimen(o.regimen);
    const PopulationSpec spec = population_spec(o);
    const PopulationSource source(model, spec, regimen.per_kg());

    const double t_end = parse_quantity(o.t_end, Dimension::time, "--t-end");
    const double dt = parse_quantity(o.dt, Dimension::time, "--dt");
    const OutputGrid grid = OutputGrid::uniform(0.0, t_end, dt);
    PopulationRunOptions ro;
    ro.outputs = o.outputs;
    ro.parallel.threads = o.threads;
    ro.parallel.chunk = static_cast<std::size_t>(o.chunk < 1 ? 0 : o.chunk);
    ProgressLine progress(!o.quiet);
    ro.parallel.progress = [&](std::size_t d, std::size_t t) { return progress(d, t); };
    MemorySink sink;
    run_population(model, regimen, grid, source, 0, source.size(), SimOptions{}, ro, sink);

    std::cout << model.title << "\nregimen: " << o.regimen << "; " << source.size() << " subjects, seed " << spec.seed
              << (spec.variability ? "" : ", no random effects") << "\n\n";
    std::vector<std::vector<std::string>> rows = {{"metric", "unit", "P5", "median", "P95"}};
    for (std::size_t c = 0; c < sink.names.size(); ++c) {
        const std::string& n = sink.names[c];
        const auto dot = n.find('.');
        if (dot == std::string::npos) continue;
        const std::string metric = n.substr(dot + 1);
        if (metric != "cmax" && metric != "tmax" && metric != "auc_0_t" && metric != "half_life") continue;
        rows.push_back({n, sink.units[c], fmt_num(percentile(sink.columns[c], 5)),
                        fmt_num(percentile(sink.columns[c], 50)), fmt_num(percentile(sink.columns[c], 95))});
    }
    std::cout << format_table(rows);
    if (!o.out.empty()) {
        const bool is_csv = o.out.size() > 4 && o.out.substr(o.out.size() - 4) == ".csv";
        if (!is_csv)
            throw InputError("--out " + o.out +
                             ": population results are written as .csv (one row per subject) or as a run file (.h5, "
                             ".hdf5, .nc: the streamed, resumable file of `ketasim run`)");
        write_table_csv(o.out, sink.names, sink.units, sink.columns);
        std::cout << "\nwritten: " << o.out << " (" << source.size() << " rows)\n";
    }
    return 0;
}

}   // namespace ketasim::cli
