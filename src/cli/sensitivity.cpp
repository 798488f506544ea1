// `ketasim sensitivity`: Sobol' first-order and total-effect indices of one metric of a PK run.
// Translation only: factor parsing, sampling, estimators and intervals are the library's
// (include/ketasim/design.hpp, include/ketasim/sensitivity.hpp).
#include <CLI/CLI.hpp>
#include <cmath>
#include <iostream>

#include "cli/commands.hpp"
#include "ketasim/ketasim.hpp"

namespace ketasim::cli {

CLI::App* add_sensitivity_command(CLI::App& app, SensitivityCliOptions& o) {
    auto* s = app.add_subcommand("sensitivity",
                                 "Sobol' indices (first order S1, total effect ST) of one metric over factors with "
                                 "distributions; Saltelli sampling, bootstrap intervals (docs/sensitivity.md)");
    s->add_option("model", o.model, "Library name or .toml model file")->required();
    s->add_option("--regimen", o.regimen, "Regimen TOML file ([[dose]] entries)")->required();
    s->add_option("--factor", o.factors,
                  "NAME=KIND(ARGS), repeatable: uniform(lower, upper), loguniform(lower, upper), normal(mean, sd), "
                  "lognormal(median, cv); normal/lognormal take lower=, upper= (truncation). NAME is a model "
                  "parameter (bare numbers in its file unit), weight (kg), age (years) or dose (total mg)")
        ->required();
    s->add_option("--metric", o.metric, "Metric of the registry (ketasim simulate prints them)")->capture_default_str();
    s->add_option("--output", o.output, "Output the metric is computed on (default: the model's first)");
    s->add_option("--n", o.n,
                  "Base sample rows; the model runs n (factors + 2) times (a power of 2 keeps the Sobol' balance)")
        ->capture_default_str();
    s->add_option("--seed", o.seed, "Seed of the bootstrap (and of --scramble), in [0, 2^63 - 1]")
        ->capture_default_str();
    s->add_option("--bootstrap", o.bootstrap, "Bootstrap resamples for the intervals (0 = none)")
        ->capture_default_str();
    s->add_option("--confidence", o.confidence, "Confidence level of the intervals, in (0, 1)")->capture_default_str();
    s->add_flag("--scramble", o.scramble, "Random digital shift of the Sobol' sample (seeded by --seed)");
    s->add_option("--t-end", o.t_end, "End of the simulation, e.g. '24 h'")->capture_default_str();
    s->add_option("--dt", o.dt, "Output step, e.g. '1 min'")->capture_default_str();
    s->add_option("--threshold", o.threshold, "Concentration threshold (output unit) for the time_* metrics");
    s->add_option("--weight", o.weight, "Body weight, kg, of every run (unless a factor)")->capture_default_str();
    s->add_option("--age", o.age, "Age, years, of every run (unless a factor)")->capture_default_str();
    s->add_option("--threads", o.threads, "Worker threads; 0 = all cores ($SLURM_CPUS_PER_TASK when set)")
        ->capture_default_str();
    return s;
}

int run_sensitivity_cli(const SensitivityCliOptions& o, const std::string& models_dir) {
    if (o.n < 2) throw InputError(ErrorContext{"", 0, "--n", std::to_string(o.n), "must be >= 2 (base sample rows)"});
    if (o.seed < 0) throw InputError(ErrorContext{"", 0, "--seed", std::to_string(o.seed), "must be in [0, 2^63 - 1]"});
    if (o.bootstrap < 0)
        throw InputError(ErrorContext{"", 0, "--bootstrap", std::to_string(o.bootstrap), "must be >= 0"});
    const Model model = load_library_model(o.model, models_dir);
    const Regimen regimen = load_regimen(o.regimen);
    std::vector<Factor> factors;
    std::vector<std::string> covariates;
    for (const auto& text : o.factors) {
        factors.push_back(parse_factor(text, "--factor", &model));
        if (factors.back().name == "weight" || factors.back().name == "age") covariates.push_back(factors.back().name);
    }
    require_covariates_used(model, regimen.per_kg(), covariates, "--factor");
    PkSensitivitySpec spec;
    spec.base.weight_kg = o.weight;
    spec.base.age_years = o.age;
    spec.output = o.output;
    spec.metric = o.metric;
    if (!std::isnan(o.threshold)) spec.metric_options.threshold = o.threshold;
    SensitivityOptions so;
    so.n = static_cast<std::size_t>(o.n);
    so.seed = static_cast<std::uint64_t>(o.seed);
    so.bootstrap = static_cast<std::size_t>(o.bootstrap);
    so.confidence = o.confidence;
    so.scramble = o.scramble;
    so.parallel.threads = o.threads;
    const OutputGrid grid = OutputGrid::uniform(0.0, parse_quantity(o.t_end, Dimension::time, "--t-end"),
                                                parse_quantity(o.dt, Dimension::time, "--dt"));
    const SobolIndices r = pk_sensitivity(model, regimen, grid, SimOptions{}, factors, spec, so);

    const std::string output = o.output.empty() ? model.outputs.at(0).name : o.output;
    std::cout << model.title << "\nregimen: " << o.regimen << "; Sobol' indices of " << output << "." << o.metric
              << "\nSaltelli sampling, n = " << r.n << " (" << r.evaluations << " runs); S1 Saltelli 2010, ST Jansen; "
              << "+/- = " << fmt_num(100 * o.confidence) << " % bootstrap interval (" << o.bootstrap
              << " resamples, seed " << o.seed << ")\nmean " << fmt_num(r.mean, 4) << ", variance "
              << fmt_num(r.variance, 4) << "\n\n";
    std::vector<std::vector<std::string>> rows = {{"factor", "unit", "S1", "+/-", "ST", "+/-"}};
    for (std::size_t i = 0; i < r.names.size(); ++i)
        rows.push_back({r.names[i], factor_unit(r.names[i], &model), fmt_num(r.S1[i], 3), fmt_num(r.S1_conf[i], 2),
                        fmt_num(r.ST[i], 3), fmt_num(r.ST_conf[i], 2)});
    std::cout << format_table(rows);
    return 0;
}

}   // namespace ketasim::cli
