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

}  // namespace

void run_population(const Model& model, const Regimen& regimen, const OutputGrid& grid, const PopulationSource& source,
                    std::size_t begin, std::size_t end, const SimOptions& sim, const PopulationRunOptions& options,
                    ResultSink& sink) {
    options.validate();
    sim.validate();
    grid.validate();
    regimen.validate();
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
    for (std::size_t k = 0; k < source.describe_names().size(); ++k) {
        names.push_back(source.describe_names()[k]);
        units.push_back(source.describe_units()[k]);
    }
    const std::size_t n_desc = source.describe_names().size();
    const auto& reg = metric_registry();
    for (std::size_t o = 0; o < out_names.size(); ++o)
        for (const auto& m : reg) {
            names.push_back(out_names[o] + "." + m.name);
            units.push_back(metric_unit(m, out_units[o]));
        }
    sink.start(names, units, begin, end);

    MetricOptions mo = options.metric_options;
    if (std::isnan(mo.last_dose_time)) mo.last_dose_time = regimen.last_time();
    const bool iov = source.has_occasion_effects();
    std::vector<std::uint64_t> occ;
    std::uint64_t n_occ = 1;
    if (iov) {
        occ = occasions_of(regimen);
        for (auto k : occ) n_occ = std::max(n_occ, k);
    }
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
            try {
                Subject s = source.subject(i, overrides);
                LinearSystem sys = layout.compile(s, overrides.data());
                Trajectory tr;
                if (!iov) {
                    detail::select_outputs(sys, effective.outputs);
                    tr = detail::simulate_system(sys, regimen, grid, effective);
                } else {
                    // Occasion effects by superposition: the model is linear in its inputs, so the
                    // doses of each occasion are simulated with that occasion's parameters and the
                    // outputs added (drug absorbed from occasion k's depot uses occasion k's values).
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
                }
                source.describe(s, sys, desc.data());
                std::size_t c = 0;
                block.columns[c++][r] = static_cast<double>(i);
                for (std::size_t k = 0; k < n_desc; ++k) block.columns[c++][r] = desc[k];
                for (std::size_t o = 0; o < out_names.size(); ++o) {
                    const Metrics m = compute_metrics(tr.time, tr.values.row(static_cast<Eigen::Index>(o)).data(), mo);
                    for (std::size_t k = 0; k < reg.size(); ++k) block.columns[c++][r] = metric_value(m, k);
                }
                if (options.keep_trajectories) {
                    if (options.residual_error) add_residual_error(tr, model, source.spec(), i);
                    block.trajectories.push_back(std::move(tr));
                }
            } catch (const InputError& ex) {
                throw InputError("subject " + std::to_string(i) + ": " + ex.what());
            } catch (const SolverError& ex) {
                throw SolverError("subject " + std::to_string(i) + ": " + ex.what());
            }
        }
        std::lock_guard<std::mutex> lock(sink_mutex);
        sink.write(std::move(block));
    };
    parallel_for(begin, end, options.parallel, chunk);
}

}  // namespace ketasim
