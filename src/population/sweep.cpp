// Sweeps on the run layer's executor: points decoded from a design by index (nothing
// materialized), simulated by parallel_for in chunks, metrics of the registry per output, blocks
// of columns to a sink. Each point is computed alone and written to its own slot, so results are
// bitwise identical for any thread count, chunk size or index range.
#include "ketasim/sweep.hpp"

#include <cmath>
#include <mutex>

#include "core/text.hpp"
#include "ketasim/errors.hpp"
#include "solve/inputs.hpp"

namespace ketasim {

namespace {

// One point: simulate and compute the metrics of `outs` (empty = every output of the trajectory).
Trajectory simulate_point(const Model& model, const SweepPoint& point, const OutputGrid& grid,
                          const SimOptions& options) {
    // Grid and options were validated once by run_sweep; the subject and regimen are per point
    // and are validated by compile() and build_inputs().
    return detail::simulate_prevalidated(model, point.regimen, grid, options, point.subject);
}

// The metrics of `outs` (names; empty = every output) at one point, in that order. Without
// `keep`, they are computed while the solver propagates (detail::simulate_metrics: no trajectory
// is stored); with it, on the trajectory, which is moved into *keep.
std::vector<Metrics> point_metrics(const Model& model, const SweepPoint& point, const OutputGrid& grid,
                                   const SimOptions& options, const MetricOptions& mo,
                                   const std::vector<std::string>& outs, Trajectory* keep) {
    std::vector<Metrics> out;
    if (!keep) {
        LinearSystem sys = compile(model, point.subject);
        detail::select_outputs(sys, options.outputs);
        std::vector<std::size_t> rows;
        for (const auto& name : outs) {
            std::size_t k = 0;
            while (k < sys.output_names.size() && sys.output_names[k] != name) ++k;
            rows.push_back(k);
        }
        bool all_found = true;
        for (std::size_t k : rows) all_found = all_found && k < sys.output_names.size();
        if (all_found) {
            const std::vector<Metrics> all = detail::simulate_metrics(sys, point.regimen, grid, options, mo);
            if (outs.empty()) return all;
            for (std::size_t k : rows) out.push_back(all[k]);
            return out;
        }
        // An unknown name: the trajectory path names it (InputError).
    }
    Trajectory tr = simulate_point(model, point, grid, options);
    for (const auto& name : outs.empty() ? tr.names : outs) out.push_back(compute_metrics(tr, name, mo));
    if (keep) *keep = std::move(tr);
    return out;
}

MetricOptions point_metric_options(const SweepOptions& sweep, const SweepPoint& point) {
    MetricOptions mo = sweep.metric_options;
    // The automatic terminal window starts after the last dose of *this* point's regimen.
    if (mo.last_dose_time == 0.0) mo.last_dose_time = point.regimen.last_time();
    return mo;
}

// Metrics only: record (and so propagate) just the outputs they are computed on.
SimOptions effective_options(const SimOptions& options, const SweepOptions& sweep) {
    SimOptions effective = options;
    if (!sweep.keep_trajectories && !sweep.outputs.empty() && options.outputs.empty())
        effective.outputs = sweep.outputs;
    return effective;
}

// parallel_for's RunCancelled as the sweep's own (its message names the sweep).
template <class F>
void as_sweep(F&& f) {
    try {
        f();
    } catch (const SweepCancelled&) {
        throw;
    } catch (const RunCancelled& e) {
        std::string m = e.what();
        const std::string run = "run cancelled";
        if (m.compare(0, run.size(), run) == 0) m = "sweep cancelled" + m.substr(run.size());
        throw SweepCancelled(m);
    }
}

}   // namespace

void SweepOptions::validate() const {
    ParallelOptions p = parallel();
    try {
        p.validate();
    } catch (const InputError& e) {
        throw InputError(std::string("SweepOptions.") + e.what());
    }
    for (std::size_t i = 0; i < outputs.size(); ++i)
        if (outputs[i].empty()) throw InputError("SweepOptions.outputs[" + std::to_string(i) + "]: empty output name");
    metric_options.validate();
}

ParallelOptions SweepOptions::parallel() const {
    ParallelOptions p;
    p.threads = threads;
    p.chunk = chunk;
    p.progress = progress;
    return p;
}

SweepSource::SweepSource(const Subject& base, const Regimen& regimen, const DesignSource& design)
    : base_(base), regimen_(regimen), design_(&design) {
    for (const auto& name : design.names()) {
        if (name == "weight") {
            slots_.push_back(Slot::weight);
        } else if (name == "age") {
            slots_.push_back(Slot::age);
        } else if (name == "schedule") {
            // A choice of schedules changes the whole course: only course design runs take it.
            throw InputError(
                "sweep: factor 'schedule' (a choice of schedules) applies to course design runs only "
                "(a run spec with schedule and [course]); a PK sweep or sensitivity run has one regimen");
        } else if (name == "dose") {
            slots_.push_back(Slot::dose);
            if (regimen.events.empty()) throw InputError("sweep: 'dose' needs a regimen with a positive total dose");
        } else {
            slots_.push_back(Slot::parameter);
        }
    }
}

SweepPoint SweepSource::point(std::size_t i) const {
    std::vector<double> values(design_->dimensions());
    design_->point(i, values.data());
    return point(i, values.data());
}

SweepPoint SweepSource::point(std::size_t i, const double* values) const {
    SweepPoint p{base_, regimen_};
    double dose = -1.0;
    const auto& names = design_->names();
    for (std::size_t j = 0; j < slots_.size(); ++j) {
        const double v = values[j];
        if (!std::isfinite(v))
            throw InputError("sweep point " + std::to_string(i) + ": " + names[j] + " = " + detail::fmt(v) +
                             " must be finite");
        switch (slots_[j]) {
            case Slot::weight:
                p.subject.weight_kg = v;
                break;   // Subject::validate() checks the range
            case Slot::age:
                p.subject.age_years = v;
                break;
            case Slot::dose:
                if (!(v > 0))
                    throw InputError("sweep point " + std::to_string(i) + ": dose = " + detail::fmt(v) +
                                     " mg must be > 0");
                dose = v;
                break;
            case Slot::parameter:
                p.subject.parameters[names[j]] = v;
                break;
        }
    }
    if (dose > 0) {
        double total = 0.0;
        for (const auto& e : regimen_.events) total += e.amount_mg(p.subject.weight_kg);
        if (!(total > 0)) throw InputError("sweep: 'dose' needs a regimen with a positive total dose");
        for (auto& e : p.regimen.events) e.amount *= dose / total;
    }
    return p;
}

void run_sweep(const Model& model, const SweepSource& source, std::size_t begin, std::size_t end,
               const OutputGrid& grid, const SimOptions& options, const SweepOptions& sweep, ResultSink& sink) {
    sweep.validate();
    options.validate();
    grid.validate();
    if (end < begin || end > source.size())
        throw InputError("sweep: point range [" + std::to_string(begin) + ", " + std::to_string(end) +
                         ") is not within the design's " + std::to_string(source.size()) + " points");
    const SimOptions effective = effective_options(options, sweep);
    // Output names and units from the typical subject (the point's own system has the same).
    LinearSystem typical = compile(model, source.base_subject());
    detail::select_outputs(typical, sweep.outputs);
    const std::vector<std::string> out_names = typical.output_names, out_units = typical.output_units;

    const std::size_t k = source.design().dimensions();
    std::vector<std::string> names = source.design().names(), units;
    for (const auto& n : names) units.push_back(factor_unit(n, &model));
    const auto& reg = metric_registry();
    append_metric_columns(out_names, out_units, names, units);
    sink.start(names, units, begin, end);

    std::mutex sink_mutex;
    auto chunk = [&](std::size_t b, std::size_t e) {
        ColumnBlock block;
        block.begin = b;
        block.end = e;
        block.names = &names;
        block.columns.assign(names.size(), std::vector<double>(e - b));
        std::vector<double> x(k);
        for (std::size_t i = b; i < e; ++i) {
            const std::size_t r = i - b;
            source.design().point(i, x.data());
            const SweepPoint p = source.point(i, x.data());
            Trajectory tr;
            std::vector<Metrics> metrics;
            const MetricOptions mo = point_metric_options(sweep, p);
            try {
                metrics =
                    point_metrics(model, p, grid, effective, mo, out_names, sweep.keep_trajectories ? &tr : nullptr);
            } catch (const InputError& ex) {
                throw InputError("sweep point " + std::to_string(i) + ": " + ex.what());
            } catch (const SolverError& ex) {
                throw SolverError("sweep point " + std::to_string(i) + ": " + ex.what());
            }
            std::size_t c = 0;
            for (std::size_t j = 0; j < k; ++j) block.columns[c++][r] = x[j];
            for (const Metrics& m : metrics)
                for (std::size_t q = 0; q < reg.size(); ++q) block.columns[c++][r] = metric_value(m, q);
            if (sweep.keep_trajectories) block.trajectories.push_back(std::move(tr));
        }
        deliver(sink, sink_mutex, std::move(block));
    };
    as_sweep([&] { parallel_for(begin, end, sweep.parallel(), chunk); });
}

SweepResult run_sweep(const Model& model, const std::vector<SweepPoint>& points, const OutputGrid& grid,
                      const SimOptions& options, const SweepOptions& sweep) {
    sweep.validate();
    options.validate();
    grid.validate();
    const SimOptions effective = effective_options(options, sweep);
    const std::size_t n = points.size();
    SweepResult result;
    result.metrics.resize(n);
    if (sweep.keep_trajectories) result.trajectories.resize(n);
    as_sweep([&] {
        parallel_for(0, n, sweep.parallel(), [&](std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) {
                const MetricOptions mo = point_metric_options(sweep, points[i]);
                if (!sweep.keep_trajectories && !sweep.outputs.empty()) {   // metrics only, by name
                    const std::vector<Metrics> m =
                        point_metrics(model, points[i], grid, effective, mo, sweep.outputs, nullptr);
                    for (std::size_t q = 0; q < m.size(); ++q) result.metrics[i][sweep.outputs[q]] = m[q];
                    continue;
                }
                Trajectory tr = simulate_point(model, points[i], grid, effective);
                const std::vector<std::string>& outs = sweep.outputs.empty() ? tr.names : sweep.outputs;
                for (const auto& name : outs) result.metrics[i][name] = compute_metrics(tr, name, mo);
                if (sweep.keep_trajectories) result.trajectories[i] = std::move(tr);
            }
        });
    });
    return result;
}

}   // namespace ketasim
