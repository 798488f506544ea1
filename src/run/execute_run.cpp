// The executor of run specs: a population run streamed chunk by chunk into a run file
// (src/io/stream_h5.cpp), resumable after a stop or a kill, one index range per shard; the size
// and memory estimate of --dry-run; the merge of shard files.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <sstream>

#include "core/text.hpp"
#include "io/stream_h5.hpp"
#include "ketasim/errors.hpp"
#include "ketasim/io.hpp"
#include "ketasim/pd.hpp"
#include "ketasim/population.hpp"
#include "ketasim/runspec.hpp"
#include "ketasim/sweep.hpp"
#include "solve/inputs.hpp"

namespace ketasim {

namespace fs = std::filesystem;
using detail::RowBlock;
using detail::RunFileLayout;
using detail::RunFileReader;
using detail::RunFileWriter;

namespace {

std::string read_file_text(const std::string& path) {
    if (path.empty()) return "";
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path + ": cannot open");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// FNV-1a 64: a fingerprint of everything that determines the numbers (spec, model, regimen,
// covariate and table files), so shards and resumed files of different runs are never combined.
std::string fingerprint(const std::vector<std::string>& parts) {
    std::uint64_t h = 1469598103934665603ull;
    for (const auto& p : parts) {
        for (unsigned char c : p) {
            h ^= c;
            h *= 1099511628211ull;
        }
        h ^= 0xff;
        h *= 1099511628211ull;
    }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

struct Prepared {
    Model model;
    Regimen regimen;
    std::string regimen_text;
    PopulationSpec pop;
    std::unique_ptr<PopulationSource> source;
    // A design run ([design]): its points, each a typical subject with the factors' values.
    std::unique_ptr<DesignSource> design;
    std::unique_ptr<SweepSource> sweep;
    // A course run (schedule = NAME): the course, its PD sets and options.
    std::unique_ptr<CourseSpec> course;
    // A course design: every schedule the design can choose (index = the schedule factor's value;
    // one entry, the spec's schedule, without a schedule factor), the design dimension of the
    // schedule factor (npos: none), and the course columns of the file (the union over schedules:
    // the longest schedule's, whose per-session columns cover the others').
    std::vector<CourseSpec> courses;
    std::vector<std::string> schedules;
    std::size_t schedule_dim = static_cast<std::size_t>(-1);
    std::vector<std::string> course_names, course_units;
    PdParameterSet acute, symptoms;
    CoursePopulationOptions course_options;
    OutputGrid grid;
    PopulationRunOptions options;
    RunFileLayout layout;
    std::string path;

    std::size_t size() const { return design ? design->size() : source->size(); }
    void run_course_design(std::size_t b, std::size_t e, const ParallelOptions& par, ResultSink& sink) const;
    // Rows [b, e) into `sink`: subjects of the population, or design points (then the columns
    // start with `point`, the row's index, before the factors and metrics).
    void run_range(std::size_t b, std::size_t e, const SimOptions& sim, const PopulationRunOptions& ro,
                   ResultSink& sink) const;
};

// Prepends the `point` column (the global row index) to a sweep's blocks: the run file's row
// dimension, as `subject` is for population runs.
class PointColumnSink : public ResultSink {
public:
    explicit PointColumnSink(ResultSink& inner) : inner_(inner) {}
    void start(const std::vector<std::string>& n, const std::vector<std::string>& u, std::size_t b,
               std::size_t e) override {
        names_ = {"point"};
        // `dose` names the file's dose-event dimension: the dose factor's column is `total_dose`.
        for (const auto& name : n) names_.push_back(name == "dose" ? "total_dose" : name);
        std::vector<std::string> units = {""};
        units.insert(units.end(), u.begin(), u.end());
        inner_.start(names_, units, b, e);
    }
    void write(ColumnBlock&& block) override {
        std::vector<double> idx(block.end - block.begin);
        for (std::size_t r = 0; r < idx.size(); ++r) idx[r] = static_cast<double>(block.begin + r);
        block.columns.insert(block.columns.begin(), std::move(idx));
        block.names = &names_;
        inner_.write(std::move(block));
    }
    bool concurrent_writes() const override { return inner_.concurrent_writes(); }

private:
    ResultSink& inner_;
    std::vector<std::string> names_;
};

void Prepared::run_range(std::size_t b, std::size_t e, const SimOptions& sim, const PopulationRunOptions& ro,
                         ResultSink& sink) const {
    if (course && design) {
        run_course_design(b, e, ro.parallel, sink);
        return;
    }
    if (course) {
        CoursePopulationOptions co = course_options;
        co.parallel = ro.parallel;
        run_course_population(*course, acute, symptoms, *source, b, e, co, sink);
        return;
    }
    if (!sweep) {
        run_population(model, regimen, grid, *source, b, e, sim, ro, sink);
        return;
    }
    SweepOptions so;
    so.threads = ro.parallel.threads;
    so.chunk = ro.parallel.chunk;
    so.progress = ro.parallel.progress;
    so.outputs = ro.outputs;
    so.keep_trajectories = ro.keep_trajectories;
    so.metric_options = ro.metric_options;
    PointColumnSink points(sink);
    run_sweep(model, *sweep, b, e, grid, sim, so, points);
}

// Column names and units of a run: run_population announces them through ResultSink::start.
class NamesSink : public ResultSink {
public:
    void start(const std::vector<std::string>& n, const std::vector<std::string>& u, std::size_t,
               std::size_t) override {
        names = n;
        units = u;
    }
    void write(ColumnBlock&&) override {}
    std::vector<std::string> names, units;
};

// Course design point i: a typical patient (no random effects) with the point's factor values
// (weight, age, model parameters: a one-row subject table), treated with the schedule the point's
// schedule factor chooses: run_course_population on that one patient, so that a point equals the
// same patient in a single-schedule course run. Columns: point, the factors (schedule as its
// index into the choices), then the course columns; per-session columns past a shorter
// schedule's last session are NaN.
void Prepared::run_course_design(std::size_t b, std::size_t e, const ParallelOptions& par, ResultSink& sink) const {
    const std::vector<std::string>& factors = design->names();
    std::vector<std::string> names = {"point"}, units = {""};
    for (const auto& f : factors) {
        names.push_back(f);
        units.push_back(factor_unit(f, &model));
    }
    const std::size_t first_course = names.size();
    names.insert(names.end(), course_names.begin(), course_names.end());
    units.insert(units.end(), course_units.begin(), course_units.end());
    std::map<std::string, std::size_t> index;
    for (std::size_t c = first_course; c < names.size(); ++c) index[names[c]] = c;
    sink.start(names, units, b, e);
    // Table columns: every factor but the schedule, as subject_table_from_columns reads them.
    std::vector<std::size_t> table_dims;
    std::vector<std::string> table_headers;
    for (std::size_t j = 0; j < factors.size(); ++j) {
        if (j == schedule_dim) continue;
        table_dims.push_back(j);
        table_headers.push_back(factors[j] == "weight" ? "weight[kg]"
                                : factors[j] == "age"  ? "age[years]"
                                                       : factors[j]);
    }
    std::mutex sink_mutex;
    auto chunk = [&](std::size_t cb, std::size_t ce) {
        ColumnBlock block;
        block.begin = cb;
        block.end = ce;
        block.names = &names;
        block.columns.assign(names.size(), std::vector<double>(ce - cb, std::numeric_limits<double>::quiet_NaN()));
        std::vector<double> x(factors.size()), row(table_dims.size());
        for (std::size_t i = cb; i < ce; ++i) {
            const std::size_t r = i - cb;
            design->point(i, x.data());
            const std::size_t s = schedule_dim < x.size() ? static_cast<std::size_t>(x[schedule_dim]) : 0;
            const std::string who = "design point " + std::to_string(i) + " (schedule " + schedules.at(s) + ")";
            try {
                PopulationSpec ps;
                ps.n = 1;
                ps.variability = false;
                if (!table_dims.empty()) {
                    for (std::size_t k = 0; k < table_dims.size(); ++k) row[k] = x[table_dims[k]];
                    ps.table = subject_table_from_columns(table_headers, row, who);
                }
                const CourseSpec& cs = courses[s];
                const PopulationSource src(cs.model, ps, cs.regimen.per_kg());
                CoursePopulationOptions co = course_options;
                co.parallel = ParallelOptions{};
                co.parallel.threads = 1;   // inside a worker of this run's executor
                MemorySink one;
                run_course_population(cs, acute, symptoms, src, 0, 1, co, one);
                for (std::size_t c = 1 + src.describe_names().size(); c < one.names.size(); ++c)
                    block.columns[index.at(one.names[c])][r] = one.columns[c][0];
            } catch (const InputError& ex) {
                throw InputError(who + ": " + ex.what());
            } catch (const SolverError& ex) {
                throw SolverError(who + ": " + ex.what());
            }
            block.columns[0][r] = static_cast<double>(i);
            for (std::size_t j = 0; j < x.size(); ++j) block.columns[1 + j][r] = x[j];
        }
        deliver(sink, sink_mutex, std::move(block));
    };
    parallel_for(b, e, par, chunk);
}

std::unique_ptr<Prepared> prepare(const RunSpec& spec, const RunControl& control) {
    spec.validate();
    auto p = std::make_unique<Prepared>();
    if (spec.is_course()) {
        // The schedules: the spec's one, or the schedule factor's choices (each checked here, in
        // the library's schedule registry).
        if (!spec.schedule.empty()) {
            p->schedules = {spec.schedule};
        } else {
            for (const auto& [name, text] : spec.design_factors)
                if (detail::trim(name) == "schedule")
                    p->schedules =
                        parse_factor(name, text, spec.source + ": design.factors", nullptr).distribution.choices;
        }
        std::string model_name = spec.model;
        for (const auto& name : p->schedules) {
            const ScheduleInfo& info = [&]() -> const ScheduleInfo& {
                try {
                    return schedule_info(name);
                } catch (const InputError& e) {
                    throw InputError(spec.source +
                                     (spec.schedule.empty() ? ": design.factors schedule: " : ": schedule: ") +
                                     e.what());
                }
            }();
            if (spec.model.empty() && !model_name.empty() && model_name != info.default_model)
                throw InputError(spec.source + ": design.factors schedule: '" + name + "' is written for model '" +
                                 info.default_model + "', '" + p->schedules[0] + "' for '" + model_name +
                                 "': choose schedules of one model, or give model = NAME");
            if (model_name.empty()) model_name = info.default_model;
        }
        p->model = load_library_model(model_name, control.models_dir);
        const Model base_model = p->model;
        for (const auto& name : p->schedules) {
            ScheduleRequest q;
            q.name = name;
            q.weeks = spec.course_weeks;
            q.days = spec.course_days;
            try {
                p->courses.push_back(schedule_course(q, base_model));
            } catch (const InputError& e) {
                throw InputError(spec.source + ": [course]: " + e.what());
            }
        }
        p->course = std::make_unique<CourseSpec>(p->courses.front());
        p->model = p->course->model;
        p->regimen = p->course->regimen;
        p->regimen_text.clear();
        for (std::size_t k = 0; k < p->courses.size(); ++k)
            p->regimen_text += (k ? "\n" : "") +
                               (p->courses.size() > 1 ? std::to_string(k) + " " + p->schedules[k] + ": " : "") +
                               p->courses[k].description;
        p->acute = load_library_pd("acute_effects", control.models_dir);
        p->symptoms = load_library_pd(spec.symptom_model, control.models_dir);
        CoursePopulationOptions& co = p->course_options;
        co.course.follow_up_h = spec.course_follow_up_h;
        co.course.dt_h = spec.course_dt_h;
        co.course.clinical.remission_threshold = spec.remission_threshold;
        co.course.models_dir = control.models_dir;
        co.stop_at_remission = spec.stop_at_remission;
        co.max_sessions = spec.max_sessions;
        co.metrics_only = spec.metrics_only;
        co.validate();
    } else {
        p->model = load_library_model(spec.model, control.models_dir);
        p->regimen_text = read_file_text(spec.regimen);
        p->regimen = load_regimen(spec.regimen);
    }
    p->pop.n = spec.n;
    p->pop.seed = spec.seed;
    p->pop.variability = spec.variability;
    if (!spec.covariates.empty()) p->pop.covariates = load_covariate_distributions(spec.covariates);
    if (!spec.table.empty()) p->pop.table = load_subject_table(spec.table);
    if (spec.is_design()) {
        std::vector<Factor> factors;
        std::vector<std::string> covariates;
        for (const auto& [name, text] : spec.design_factors) {
            factors.push_back(parse_factor(name, text, spec.source + ": design.factors", &p->model));
            if (name == "weight" || name == "age") covariates.push_back(name);
        }
        require_covariates_used(p->model, p->regimen.per_kg(), covariates, spec.source + ": design.factors");
        if (spec.design_kind == "sobol")
            p->design = std::make_unique<SobolDesign>(factors, spec.design_n, 1, spec.design_shift, spec.design_seed);
        else
            p->design = std::make_unique<LatinHypercubeDesign>(factors, spec.design_n, spec.design_seed);
        if (p->course) {
            for (std::size_t j = 0; j < factors.size(); ++j)
                if (factors[j].name == "schedule") p->schedule_dim = j;
            // The file's course columns: per schedule, those of a typical patient's course run
            // (after `subject` and the patient's description); the longest list covers the others.
            for (const CourseSpec& cs : p->courses) {
                PopulationSpec ps;
                ps.n = 1;
                ps.variability = false;
                const PopulationSource src(cs.model, ps, cs.regimen.per_kg());
                NamesSink one;
                run_course_population(cs, p->acute, p->symptoms, src, 0, 0, p->course_options, one);
                const std::size_t skip = 1 + src.describe_names().size();
                if (one.names.size() - skip > p->course_names.size()) {
                    p->course_names.assign(one.names.begin() + static_cast<std::ptrdiff_t>(skip), one.names.end());
                    p->course_units.assign(one.units.begin() + static_cast<std::ptrdiff_t>(skip), one.units.end());
                }
            }
        } else {
            p->sweep = std::make_unique<SweepSource>(Subject{}, p->regimen, *p->design);
        }
    } else {
        p->source = std::make_unique<PopulationSource>(p->model, p->pop, p->regimen.per_kg());
    }
    p->grid = OutputGrid::uniform(0.0, spec.t_end_h, spec.dt_h);
    p->options.outputs = spec.outputs;
    p->options.keep_trajectories = spec.trajectories;
    p->options.parallel.threads = control.threads >= 0 ? control.threads : spec.threads;
    p->options.parallel.chunk = spec.chunk;

    const std::size_t n = p->size();
    RunFileLayout& L = p->layout;
    L.n_total = n;
    shard_range(n, control.shard, L.begin, L.end, spec.chunk);
    if (L.end == L.begin)
        throw InputError("--shard " + std::to_string(control.shard.index) + "/" + std::to_string(control.shard.count) +
                         ": no " + (spec.is_design() ? "points" : "subjects") + " in this shard (the run has " +
                         std::to_string(n) + ")");
    L.chunk = spec.chunk;
    L.compression = spec.compression;
    {
        NamesSink names;
        p->run_range(0, 0, spec.sim, p->options, names);
        L.columns = names.names;
        L.column_units = names.units;
    }
    if (spec.trajectories && !spec.is_course()) {
        LinearSystem typical = p->sweep ? compile(p->model, Subject{}) : p->source->layout().compile(Subject{});
        detail::select_outputs(typical, spec.outputs);
        L.outputs = typical.output_names;
        L.output_units = typical.output_units;
        L.time = p->grid.times;
    }
    // A design over schedules has no one dose table: the `schedule` column and the `course`
    // attribute (each choice's description) say what each point received.
    for (const auto& e : p->courses.size() > 1 ? std::vector<DoseEvent>{} : p->regimen.events) {
        L.dose_time.push_back(e.time);
        L.dose_amount.push_back(e.amount);
        L.dose_per_kg.push_back(e.per_kg ? 1 : 0);
        L.dose_route.push_back(e.compartment.empty() ? e.route : "compartment:" + e.compartment);
        L.dose_duration.push_back(e.duration);
        L.dose_interval.push_back(e.interval);
        L.dose_steady_state.push_back(e.steady_state ? 1 : 0);
        L.dose_device.push_back(e.device);
    }
    L.spec_hash = fingerprint({spec.text, p->model.source_text, p->regimen_text, read_file_text(spec.covariates),
                               read_file_text(spec.table), p->course ? read_file_text(p->acute.source_path) : "",
                               p->course ? read_file_text(p->symptoms.source_path) : ""});
    // Settings that affected the numbers, and only those.
    L.text_attrs = {{"spec", spec.text},
                    {"model_name", p->model.name},
                    {"model_toml", p->model.source_text},
                    {p->course ? "course" : "regimen_toml", p->regimen_text},
                    {"solver", p->course ? "exact PK, semi-analytic PD" : to_string(spec.sim.solver)}};
    if (spec.sim.solver == SolverKind::ode) {
        L.text_attrs.emplace_back("method", to_string(spec.sim.method));
        L.number_attrs = {{"rtol", spec.sim.rtol}, {"atol", spec.sim.atol}};
    }
    bool random = false;
    if (spec.is_design())
        random = spec.design_kind == "lhs" || spec.design_shift;
    else if (spec.variability && !p->model.variability.empty())
        random = true;
    for (const auto& c : p->pop.covariates)
        if (c.kind != CovariateDistributionKind::fixed) random = true;
    if (random)
        L.int_attrs.emplace_back("seed", static_cast<std::int64_t>(spec.is_design() ? spec.design_seed : spec.seed));
    if (spec.is_design()) L.text_attrs.emplace_back("design", spec.design_kind);
    if (p->course) {
        if (!spec.schedule.empty()) L.text_attrs.emplace_back("schedule", spec.schedule);
        std::string choices;
        for (const auto& n : p->schedules) choices += (choices.empty() ? "" : ", ") + n;
        if (spec.schedule.empty())
            L.text_attrs.emplace_back("schedule_choices", choices);   // index k of the schedule column
        L.text_attrs.emplace_back("acute_toml", read_file_text(p->acute.source_path));
        L.text_attrs.emplace_back("symptom_toml", read_file_text(p->symptoms.source_path));
        L.number_attrs.emplace_back("remission_threshold", spec.remission_threshold);
        L.number_attrs.emplace_back("course_dt_h", spec.course_dt_h);
        L.number_attrs.emplace_back("follow_up_h", spec.course_follow_up_h);
    }
    p->path = shard_path(spec.out, control.shard);
    return p;
}

// Receives blocks from the workers (one per chunk, concurrently) and writes them: each worker
// checks and compresses its block (encode_chunk), then stores it under the sink's lock.
class FileSink : public ResultSink {
public:
    FileSink(RunFileWriter& w, std::function<bool()> stop = {}) : w_(w), stop_(std::move(stop)) {}
    void start(const std::vector<std::string>& names, const std::vector<std::string>&, std::size_t,
               std::size_t) override {
        if (names != w_.layout().columns) throw IoError("run file: the run's columns differ from the file's");
    }
    bool concurrent_writes() const override { return true; }
    void write(ColumnBlock&& block) override {
        const RunFileLayout& L = w_.layout();
        const std::size_t k = (block.begin - L.begin) / L.chunk;
        RowBlock b;
        b.begin = block.begin;
        b.end = block.end;
        b.columns = std::move(block.columns);
        const std::size_t n = block.end - block.begin, T = L.time.size();
        for (std::size_t o = 0; o < L.outputs.size(); ++o) {
            std::vector<double> v(n * T);
            for (std::size_t r = 0; r < n; ++r) {
                const Trajectory& tr = block.trajectories.at(r);
                const auto row = tr.values.row(static_cast<Eigen::Index>(o));
                for (std::size_t j = 0; j < T; ++j) v[r * T + j] = row(static_cast<Eigen::Index>(j));
            }
            b.outputs.push_back(std::move(v));
        }
        block.trajectories.clear();
        const detail::EncodedChunk e = w_.encode_chunk(k, b);
        b = RowBlock{};
        std::lock_guard<std::mutex> lock(mutex_);
        w_.write_encoded(e);
        rows_ += n;
        // Thrown after the chunk is on disk: parallel_for finishes the running chunks (each
        // written, then stopping here too) and rethrows.
        if (stop_ && stop_()) throw RunCancelled("run stopped");
    }
    std::size_t rows() const { return rows_; }

private:
    RunFileWriter& w_;
    std::function<bool()> stop_;
    std::mutex mutex_;
    std::size_t rows_ = 0;
};

// Runs the missing chunks of `w`; false if stopped through control.progress.
bool run_missing(Prepared& p, const RunSpec& spec, const RunControl& control, RunFileWriter& w, std::size_t& computed) {
    const RunFileLayout& L = w.layout();
    const auto done = w.chunks_done();
    std::size_t todo = 0;
    for (std::size_t k = 0; k < done.size(); ++k)
        if (!done[k]) todo += L.chunk_end(k) - L.chunk_begin(k);
    std::size_t finished = 0;
    FileSink sink(w, control.stop);
    PopulationRunOptions ro = p.options;
    for (std::size_t k = 0; k < done.size();) {
        if (done[k]) {
            ++k;
            continue;
        }
        std::size_t k2 = k;
        while (k2 < done.size() && !done[k2]) ++k2;
        const std::size_t b = L.chunk_begin(k), e = L.chunk_end(k2 - 1);
        ro.parallel.progress = [&, base = finished](std::size_t d, std::size_t) {
            return control.progress ? control.progress(base + d, todo) : true;
        };
        try {
            p.run_range(b, e, spec.sim, ro, sink);
        } catch (const RunCancelled&) {
            computed = sink.rows();
            return false;
        }
        finished += e - b;
        k = k2;
    }
    computed = sink.rows();
    return true;
}

double physical_memory() {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0.0;
}

double current_rss() {
    std::ifstream in("/proc/self/statm");
    long size = 0, resident = 0;
    in >> size >> resident;
    return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGE_SIZE));
}

std::string gib(double b) {
    char buf[64];
    if (b >= 1073741824.0)
        std::snprintf(buf, sizeof buf, "%.2f GiB", b / 1073741824.0);
    else
        std::snprintf(buf, sizeof buf, "%.1f MiB", b / 1048576.0);
    return buf;
}

}   // namespace

RunEstimate estimate_run(const RunSpec& spec, const RunControl& control) {
    auto p = prepare(spec, control);
    const RunFileLayout& L = p->layout;
    RunEstimate e;
    e.begin = L.begin;
    e.end = L.end;
    e.points = L.rows();
    e.total = L.n_total;
    e.chunks = L.n_chunks();
    e.path = p->path;
    // Size: an in-memory file of the full shape with its first one and two chunks written. The
    // first chunk also pays every dataset's chunk index and allocation blocks; the second is the
    // marginal cost of a chunk, which scales with the rows.
    {
        const std::string mem = p->path + ".estimate-in-memory";
        RunFileWriter file(mem, L, true);
        FileSink sink(file);
        PopulationRunOptions ro = p->options;
        ro.parallel.threads = 1;
        const std::size_t sample = std::min<std::size_t>(2, L.n_chunks());
        std::vector<double> size(sample);
        for (std::size_t k = 0; k < sample; ++k) {
            p->run_range(L.chunk_begin(k), L.chunk_end(k), spec.sim, ro, sink);
            size[k] = static_cast<double>(file.image_bytes());
        }
        if (sample == 1) {
            e.output_bytes = size[0];
        } else {
            const double per_row = (size[1] - size[0]) / static_cast<double>(L.chunk_end(1) - L.chunk_begin(1));
            e.output_bytes = size[0] + per_row * static_cast<double>(e.points - (L.chunk_end(0) - L.chunk_begin(0)));
        }
    }
    // Memory: the process as it is, plus per worker thread (and the writer) one chunk of
    // trajectories held twice (the simulated trajectories and the block being written) and the
    // HDF5 chunk buffers, plus HDF5's chunk cache.
    const double threads = resolve_thread_count(p->options.parallel.threads);
    const double row_bytes = 8.0 * (static_cast<double>(L.columns.size()) +
                                    3.0 * static_cast<double>(L.outputs.size() * L.time.size()) + 64.0);
    e.peak_memory_bytes = current_rss() + (threads + 1.0) * static_cast<double>(L.chunk) * row_bytes + 16.0 * 1048576.0;
    e.memory_budget_bytes = spec.memory_budget_bytes > 0 ? spec.memory_budget_bytes : physical_memory();
    std::error_code ec;
    const fs::path dir = fs::absolute(p->path).parent_path();
    const auto sp = fs::space(dir, ec);
    e.disk_free_bytes = ec ? 0.0 : static_cast<double>(sp.available);
    return e;
}

void check_estimate(const RunEstimate& e, const RunControl& control) {
    if (e.disk_free_bytes > 0 && e.output_bytes > e.disk_free_bytes)
        throw InputError(e.path + ": the output needs about " + gib(e.output_bytes) + " but the disk has " +
                         gib(e.disk_free_bytes) +
                         " free; store fewer outputs (outputs.names), a coarser outputs.dt, "
                         "metrics only (outputs.trajectories = false), or shard the run");
    if (!control.allow_over_budget && e.memory_budget_bytes > 0 && e.peak_memory_bytes > e.memory_budget_bytes)
        throw InputError(e.path + ": the run needs about " + gib(e.peak_memory_bytes) +
                         " of memory, over the budget of " + gib(e.memory_budget_bytes) +
                         " (run.memory_budget); lower run.chunk or the threads, or raise "
                         "run.memory_budget");
}

RunReport execute_run(const RunSpec& spec, const RunControl& control) {
    const auto t0 = std::chrono::steady_clock::now();
    auto p = prepare(spec, control);
    const RunFileLayout& L = p->layout;
    const std::string& path = p->path;
    const fs::path parent = fs::path(path).parent_path();
    if (!parent.empty() && !fs::is_directory(parent))
        throw IoError(path + ": cannot write: directory '" + parent.string() + "' does not exist");
    detail::RunLock lock(path);
    RunReport rep;
    rep.path = path;
    rep.points = L.rows();
    std::unique_ptr<RunFileWriter> w;
    if (fs::exists(path)) {
        std::unique_ptr<RunFileReader> old;
        try {
            old = std::make_unique<RunFileReader>(path);
        } catch (const IoError& e) {
            throw IoError(std::string(e.what()) + "; it cannot be resumed: remove it to start over");
        }
        if (!control.resume)
            throw InputError(path + (old->complete()
                                         ? ": exists (a complete run); remove it to run again"
                                         : ": exists (an interrupted run); add --resume to finish it, or remove it"));
        const RunFileLayout& O = old->layout();
        if (O.spec_hash != L.spec_hash || O.begin != L.begin || O.end != L.end || O.chunk != L.chunk ||
            O.n_total != L.n_total)
            throw InputError(path +
                             ": --resume: the file comes from a different spec, model, regimen, shard or chunk "
                             "(spec_hash " +
                             O.spec_hash + " vs " + L.spec_hash + "); remove it or restore that spec");
        if (old->complete()) {
            rep.complete = true;
            rep.resumed = L.rows();
            return rep;
        }
        // Copy the chunks recorded as done into a fresh file (checksums verified on the way):
        // the interrupted file's free space and metadata are never written to again.
        const auto done = old->chunks_done();
        const std::string tmp = path + ".resume-tmp";
        std::error_code ec;
        fs::remove(tmp, ec);
        {
            RunFileWriter fresh(tmp, L);
            for (std::size_t k = 0; k < done.size(); ++k) {
                if (!done[k]) continue;
                RowBlock b;
                try {
                    b = old->read_rows(L.chunk_begin(k), L.chunk_end(k));
                } catch (const IoError&) {
                    continue;   // damaged: computed again
                }
                fresh.write_chunk(k, b);
                rep.resumed += b.end - b.begin;
            }
        }
        old.reset();
        fs::rename(tmp, path);
        w = std::make_unique<RunFileWriter>(path);
    } else {
        w = std::make_unique<RunFileWriter>(path, L);
    }
    const bool finished = run_missing(*p, spec, control, *w, rep.computed);
    if (finished) w->mark_complete();
    w->close();
    rep.complete = finished;
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return rep;
}

void merge_run_files(const std::string& out, const std::vector<std::string>& shards) {
    if (shards.empty()) throw InputError("merge: no shard files given");
    std::vector<std::unique_ptr<RunFileReader>> in;
    for (const auto& s : shards) {
        in.push_back(std::make_unique<RunFileReader>(s));
        if (!in.back()->complete())
            throw InputError(s +
                             ": not complete (attribute complete = 0): finish it with `ketasim run SPEC --shard i/N "
                             "--resume` before merging");
        const RunFileLayout& a = in.front()->layout();
        const RunFileLayout& b = in.back()->layout();
        if (b.spec_hash != a.spec_hash || b.n_total != a.n_total || b.chunk != a.chunk)
            throw InputError(s + ": from a different run than " + shards.front() + " (spec_hash " + b.spec_hash +
                             " vs " + a.spec_hash + ")");
    }
    std::vector<std::size_t> order(in.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](std::size_t x, std::size_t y) { return in[x]->layout().begin < in[y]->layout().begin; });
    std::size_t next = 0;
    for (std::size_t i : order) {
        const RunFileLayout& l = in[i]->layout();
        if (l.begin != next)
            throw InputError(shards[i] + ": rows [" + std::to_string(l.begin) + ", " + std::to_string(l.end) + ") " +
                             (l.begin < next ? "overlap rows of another shard"
                                             : "leave rows [" + std::to_string(next) + ", " + std::to_string(l.begin) +
                                                   ") uncovered"));
        next = l.end;
    }
    const std::size_t n = in.front()->layout().n_total;
    if (next != n)
        throw InputError("merge: the shards cover rows [0, " + std::to_string(next) + ") of " + std::to_string(n) +
                         "; rows [" + std::to_string(next) + ", " + std::to_string(n) + ") are missing");
    RunFileLayout L = in.front()->layout();
    L.begin = 0;
    L.end = n;
    detail::RunLock lock(out);
    if (fs::exists(out)) throw InputError(out + ": exists; remove it or choose another output");
    const std::string tmp = out + ".merge-tmp";
    std::error_code ec;
    fs::remove(tmp, ec);
    try {
        RunFileWriter w(tmp, L);
        w.set_flush_per_chunk(false);   // renamed into place only when complete
        for (std::size_t k = 0; k < L.n_chunks(); ++k) {
            const std::size_t b = L.chunk_begin(k), e = L.chunk_end(k);
            // Chunk-aligned shards: the compressed chunks are copied as stored.
            bool copied = false;
            for (std::size_t i : order)
                if (!copied && in[i]->layout().begin <= b && e <= in[i]->layout().end)
                    copied = w.copy_chunk_raw(k, *in[i]);
            if (copied) continue;
            RowBlock block;
            block.begin = b;
            block.end = e;
            block.columns.assign(L.columns.size(), {});
            block.outputs.assign(L.outputs.size(), {});
            for (std::size_t i : order) {
                const RunFileLayout& l = in[i]->layout();
                const std::size_t lo = std::max(b, l.begin), hi = std::min(e, l.end);
                if (lo >= hi) continue;
                RowBlock part = in[i]->read_rows(lo, hi);
                for (std::size_t c = 0; c < L.columns.size(); ++c)
                    block.columns[c].insert(block.columns[c].end(), part.columns[c].begin(), part.columns[c].end());
                for (std::size_t o = 0; o < L.outputs.size(); ++o)
                    block.outputs[o].insert(block.outputs[o].end(), part.outputs[o].begin(), part.outputs[o].end());
            }
            w.write_chunk(k, block);
        }
        w.mark_complete();
        w.close();
        fs::rename(tmp, out);
    } catch (...) {
        fs::remove(tmp, ec);
        throw;
    }
}

}   // namespace ketasim
