// Population PK runs: subjects from a PopulationSource, simulated by parallel_for in chunks, metrics
// per output from the metric registry, blocks of columns to a sink.
#include <cmath>
#include <mutex>

#include "core/text.hpp"
#include "ketasim/errors.hpp"
#include "ketasim/pd.hpp"
#include "ketasim/population.hpp"
#include "solve/inputs.hpp"

namespace ketasim {

void PopulationRunOptions::validate() const {
    for (std::size_t i = 0; i < outputs.size(); ++i)
        if (outputs[i].empty()) throw InputError("outputs[" + std::to_string(i) + "]: empty output name");
    metric_options.validate();
    parallel.validate();
    if (residual_error && !keep_trajectories)
        throw InputError("residual_error: observations are trajectories; set keep_trajectories as well");
}

namespace {

// Session (occasion) of every dose event, 1-based, by group_sessions' rule.
std::vector<std::uint64_t> occasions_of(const Regimen& regimen) {
    const std::vector<double> starts = group_sessions(regimen);
    std::vector<std::uint64_t> occ(regimen.events.size(), 1);
    for (std::size_t e = 0; e < regimen.events.size(); ++e) {
        std::uint64_t k = 0;
        while (k + 1 < starts.size() && regimen.events[e].time >= starts[k + 1]) ++k;
        occ[e] = k + 1;
    }
    return occ;
}

void add_residual_error(Trajectory& tr, const Model& model, const PopulationSpec& spec, std::size_t subject) {
    RandomStream rng(spec.seed, spec.replicate, subject, 0, StreamKind::residual);
    for (const auto& r : model.residual_error) {
        if (!tr.has(r.output)) continue;
        auto row = tr.values.row(tr.index(r.output));
        for (Eigen::Index j = 0; j < row.size(); ++j) {
            const double e1 = rng.normal(), e2 = rng.normal(), e3 = rng.normal();
            row(j) = row(j) * std::exp(r.exponential * e1) * (1.0 + r.proportional * e2) + r.additive * e3;
        }
    }
}

// Subject i's trajectory on `regimen` and `grid`. With per-occasion random effects the doses of
// each occasion are simulated with that occasion's parameters and the outputs added (the model is
// linear in its inputs: drug absorbed from occasion k's depot uses occasion k's values).
Trajectory simulate_subject(const PopulationSource& source, std::size_t i, const Subject& s,
                            const std::vector<double>& overrides, LinearSystem& sys, const Regimen& regimen,
                            const OutputGrid& grid, const SimOptions& effective) {
    const ParameterLayout& layout = source.layout();
    if (!source.has_occasion_effects()) {
        detail::select_outputs(sys, effective.outputs);
        return detail::simulate_system(sys, regimen, grid, effective);
    }
    const std::vector<std::uint64_t> occ = occasions_of(regimen);
    std::uint64_t n_occ = 1;
    for (auto k : occ) n_occ = std::max(n_occ, k);
    Trajectory tr;
    for (std::uint64_t k = 1; k <= n_occ; ++k) {
        Regimen part;
        for (std::size_t d = 0; d < regimen.events.size(); ++d)
            if (occ[d] == k) part.events.push_back(regimen.events[d]);
        Subject sk = s;
        source.occasion_effects(i, k, sk);
        LinearSystem sys_k = layout.compile(sk, overrides.data());
        detail::select_outputs(sys_k, effective.outputs);
        Trajectory tk = detail::simulate_system(sys_k, part, grid, effective);
        if (k == 1) {
            tr = std::move(tk);
        } else {
            tr.values += tk.values;
            tr.dose_total_mg += tk.dose_total_mg;
        }
    }
    return tr;
}

// The runner shared by populations on one regimen and datasets (a regimen and grid per subject):
// `regimen_of(i)` / `grid_of(i)` give subject i's; `id_of(i)` (dataset IDs) adds an `ID` column.
template <class RegimenOf, class GridOf>
void run_subjects(const Model& model, const PopulationSource& source, std::size_t begin, std::size_t end,
                  const SimOptions& sim, const PopulationRunOptions& options, ResultSink& sink, RegimenOf regimen_of,
                  GridOf grid_of, const std::vector<long>* ids) {
    options.validate();
    sim.validate();
    if (end < begin || end > source.size())
        throw InputError("subject range [" + std::to_string(begin) + ", " + std::to_string(end) +
                         ") is not within the population of " + std::to_string(source.size()));
    SimOptions effective = sim;
    if (effective.outputs.empty()) effective.outputs = options.outputs;
    // Names and units of the outputs, from the typical subject.
    const ParameterLayout& layout = source.layout();
    LinearSystem typical = layout.compile(Subject{});
    detail::select_outputs(typical, effective.outputs);
    const std::vector<std::string> out_names = typical.output_names, out_units = typical.output_units;
    effective.outputs = out_names;

    std::vector<std::string> names = {"subject"}, units = {""};
    if (ids) {
        names.push_back("ID");
        units.push_back("");
    }
    for (std::size_t k = 0; k < source.describe_names().size(); ++k) {
        names.push_back(source.describe_names()[k]);
        units.push_back(source.describe_units()[k]);
    }
    const std::size_t n_desc = source.describe_names().size();
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
        std::vector<double> overrides, desc(n_desc);
        for (std::size_t i = b; i < e; ++i) {
            const std::size_t r = i - b;
            const std::string who = ids ? "ID " + std::to_string((*ids)[i]) : "subject " + std::to_string(i);
            try {
                const Regimen& regimen = regimen_of(i);
                MetricOptions mo = options.metric_options;
                if (std::isnan(mo.last_dose_time)) mo.last_dose_time = regimen.last_time();
                Subject s = source.subject(i, overrides);
                LinearSystem sys = layout.compile(s, overrides.data());
                // Metrics only: computed while the solver propagates, no trajectory stored.
                const bool metrics_only = !options.keep_trajectories && !source.has_occasion_effects();
                Trajectory tr;
                std::vector<Metrics> metrics;
                if (metrics_only) {
                    detail::select_outputs(sys, effective.outputs);
                    metrics = detail::simulate_metrics(sys, regimen, grid_of(i), effective, mo);
                } else {
                    tr = simulate_subject(source, i, s, overrides, sys, regimen, grid_of(i), effective);
                    for (std::size_t o = 0; o < out_names.size(); ++o)
                        metrics.push_back(
                            compute_metrics(tr.time, tr.values.row(static_cast<Eigen::Index>(o)).data(), mo));
                }
                source.describe(s, sys, desc.data());
                std::size_t c = 0;
                block.columns[c++][r] = static_cast<double>(i);
                if (ids) block.columns[c++][r] = static_cast<double>((*ids)[i]);
                for (std::size_t k = 0; k < n_desc; ++k) block.columns[c++][r] = desc[k];
                for (const Metrics& m : metrics)
                    for (std::size_t k = 0; k < reg.size(); ++k) block.columns[c++][r] = metric_value(m, k);
                if (options.keep_trajectories) {
                    if (options.residual_error) add_residual_error(tr, model, source.spec(), i);
                    block.trajectories.push_back(std::move(tr));
                }
            } catch (const InputError& ex) {
                throw InputError(who + ": " + ex.what());
            } catch (const SolverError& ex) {
                throw SolverError(who + ": " + ex.what());
            }
        }
        deliver(sink, sink_mutex, std::move(block));
    };
    parallel_for(begin, end, options.parallel, chunk);
}

}   // namespace

void run_population(const Model& model, const Regimen& regimen, const OutputGrid& grid, const PopulationSource& source,
                    std::size_t begin, std::size_t end, const SimOptions& sim, const PopulationRunOptions& options,
                    ResultSink& sink) {
    grid.validate();
    regimen.validate();
    run_subjects(
        model, source, begin, end, sim, options, sink, [&](std::size_t) -> const Regimen& { return regimen; },
        [&](std::size_t) -> const OutputGrid& { return grid; }, nullptr);
}

SubjectTable dataset_subject_table(const Dataset& data) {
    if (data.covariate_headers.empty()) return SubjectTable{};
    std::vector<std::string> headers = data.covariate_headers;
    headers.push_back("ID");
    const std::size_t nc = data.covariate_headers.size();
    std::vector<double> values;
    values.reserve(data.subjects.size() * (nc + 1));
    for (std::size_t i = 0; i < data.subjects.size(); ++i) {
        values.insert(values.end(), data.covariates.begin() + static_cast<std::ptrdiff_t>(i * nc),
                      data.covariates.begin() + static_cast<std::ptrdiff_t>((i + 1) * nc));
        values.push_back(static_cast<double>(data.subjects[i].id));
    }
    return subject_table_from_columns(headers, values, data.source);
}

PopulationSpec dataset_population_spec(const Dataset& data, std::uint64_t seed, bool variability) {
    PopulationSpec spec;
    spec.seed = seed;
    spec.variability = variability;
    spec.table = dataset_subject_table(data);
    if (spec.table.rows() == 0) spec.n = data.subjects.size();
    return spec;
}

std::size_t dataset_index(const Dataset& data, long id) {
    for (std::size_t i = 0; i < data.subjects.size(); ++i)
        if (data.subjects[i].id == id) return i;
    throw InputError(ErrorContext{data.source, 0, "ID", std::to_string(id), "has no rows in the file"});
}

bool dataset_uses_weight(const Dataset& data) {
    for (const auto& s : data.subjects)
        if (s.regimen.per_kg()) return true;
    return false;
}

void run_dataset_population(const Model& model, const Dataset& data, const OutputGrid& grid,
                            const PopulationSource& source, std::size_t begin, std::size_t end, const SimOptions& sim,
                            const PopulationRunOptions& options, ResultSink& sink) {
    if (source.size() != data.subjects.size())
        throw InputError(data.source + ": the population has " + std::to_string(source.size()) +
                         " subjects but the dataset " + std::to_string(data.subjects.size()) +
                         " IDs; build it with dataset_population_spec()");
    // Output times: a subject's EVID 0 rows, else the common grid.
    std::vector<OutputGrid> grids(data.subjects.size());
    bool need_grid = false;
    std::vector<long> ids;
    for (std::size_t i = 0; i < data.subjects.size(); ++i) {
        ids.push_back(data.subjects[i].id);
        if (data.subjects[i].observation_times.empty()) {
            need_grid = true;
            continue;
        }
        grids[i] = OutputGrid::at(data.subjects[i].observation_times);
        try {
            grids[i].validate();
        } catch (const InputError& e) {
            throw InputError(data.source + ": ID " + std::to_string(ids[i]) +
                             ": observation times (EVID 0): " + e.what());
        }
    }
    if (need_grid) grid.validate();
    run_subjects(
        model, source, begin, end, sim, options, sink,
        [&](std::size_t i) -> const Regimen& { return data.subjects[i].regimen; },
        [&](std::size_t i) -> const OutputGrid& {
            return data.subjects[i].observation_times.empty() ? grid : grids[i];
        },
        &ids);
}

LongTable long_format(const std::vector<Trajectory>& trajectories, const std::vector<long>& ids) {
    LongTable t;
    if (!ids.empty() && ids.size() != trajectories.size())
        throw InputError("long_format: " + std::to_string(ids.size()) + " IDs for " +
                         std::to_string(trajectories.size()) + " trajectories");
    t.names = {ids.empty() ? "subject" : "ID", "time"};
    t.units = {"", "h"};
    if (!trajectories.empty()) {
        t.names.insert(t.names.end(), trajectories.front().names.begin(), trajectories.front().names.end());
        t.units.insert(t.units.end(), trajectories.front().units.begin(), trajectories.front().units.end());
    }
    t.columns.assign(t.names.size(), {});
    for (std::size_t i = 0; i < trajectories.size(); ++i) {
        const Trajectory& tr = trajectories[i];
        if (tr.names != trajectories.front().names)
            throw InputError("long_format: trajectory " + std::to_string(i) + " has other outputs than the first");
        for (std::size_t j = 0; j < tr.time.size(); ++j) {
            t.columns[0].push_back(ids.empty() ? static_cast<double>(i) : static_cast<double>(ids[i]));
            t.columns[1].push_back(tr.time[j]);
            for (std::size_t o = 0; o < tr.names.size(); ++o)
                t.columns[2 + o].push_back(tr.values(static_cast<Eigen::Index>(o), static_cast<Eigen::Index>(j)));
        }
    }
    return t;
}

}   // namespace ketasim
