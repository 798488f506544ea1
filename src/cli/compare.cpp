// `ketasim compare`: the flagship IV versus intranasal comparison.
#include <cmath>
#include <iomanip>
#include <iostream>
#include <limits>
#include <sstream>

#include "cli/commands.hpp"
#include "ketasim/ketasim.hpp"

namespace ketasim::cli {

std::string fmt_num(double v, int precision) {
    if (std::isnan(v)) return "-";
    std::ostringstream os;
    if (v != 0 && (std::fabs(v) >= 1e5 || std::fabs(v) < 1e-3))
        os << std::setprecision(precision) << v;
    else
        os << std::fixed << std::setprecision(std::fabs(v) >= 100 ? 0 : (std::fabs(v) >= 10 ? 1 : 2)) << v;
    return os.str();
}

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> w;
    for (const auto& r : rows)
        for (std::size_t i = 0; i < r.size(); ++i) {
            if (w.size() <= i) w.push_back(0);
            w[i] = std::max(w[i], r[i].size());
        }
    std::ostringstream os;
    for (std::size_t k = 0; k < rows.size(); ++k) {
        for (std::size_t i = 0; i < rows[k].size(); ++i) {
            if (i == 0)
                os << std::left << std::setw(static_cast<int>(w[i])) << rows[k][i];
            else
                os << "  " << std::right << std::setw(static_cast<int>(w[i])) << rows[k][i];
        }
        os << "\n";
        if (k == 0) {
            std::size_t total = 0;
            for (auto x : w) total += x + 2;
            os << std::string(total - 2, '-') << "\n";
        }
    }
    return os.str();
}

std::vector<std::vector<std::string>> metrics_rows(const Trajectory& tr, const std::map<std::string, Metrics>& ms,
                                                   const std::vector<std::string>& metric_names) {
    std::vector<std::vector<std::string>> rows = {{"output", "unit"}};
    std::vector<std::size_t> idx;
    for (const auto& n : metric_names) {
        idx.push_back(metric_index(n));
        const MetricInfo& info = metric_registry()[idx.back()];
        // The output's own unit is in the "unit" column; others relative to it ("unit*h") or fixed ("h").
        rows[0].push_back(n + (info.unit == MetricUnit::output ? "" : " [" + metric_unit(info, "unit") + "]"));
    }
    for (std::size_t k = 0; k < tr.names.size(); ++k) {
        const auto it = ms.find(tr.names[k]);
        if (it == ms.end()) continue;
        std::vector<std::string> r = {tr.names[k], tr.units[k]};
        for (std::size_t i : idx) r.push_back(fmt_num(metric_value(it->second, i)));
        rows.push_back(r);
    }
    return rows;
}

int run_compare(const CompareOptions& o) {
    // The arms are the library's (flagship_arms()); this command only runs and prints them.
    FlagshipOptions fo;
    fo.weight_kg = o.weight_kg;
    fo.esketamine_mg = o.esketamine_mg;
    fo.racemic_in_mg = o.racemic_in_mg;
    fo.iv_model = o.iv_model;
    fo.esketamine_model = o.esketamine_model;
    fo.racemic_in_model = o.racemic_in_model;
    const std::vector<ArmSpec> specs = flagship_arms(fo);

    const OutputGrid grid = OutputGrid::uniform(0.0, o.t_end_h, o.dt_h);
    SimOptions sim;
    Subject subj;
    subj.weight_kg = o.weight_kg;
    std::vector<Model> models;
    models.reserve(specs.size());
    for (const auto& s : specs) models.push_back(load_library_model(s.model, o.models_dir));

    MetricOptions mo;   // last_dose_time: each trajectory's own
    mo.threshold = o.threshold;
    const std::vector<double> at = {0.25, 2.0 / 3.0, 1.0, 2.0, 4.0, 8.0, 24.0};
    for (double t : at)
        if (t <= o.t_end_h + 1e-9) mo.at_times.push_back(t);
    // Rows of the table: these registry metrics (metrics.hpp), then C at the times, then the
    // threshold metrics; each labelled with its registry name and unit.
    const std::vector<std::string> head = {"cmax", "tmax", "auc_0_t", "auc_0_inf", "half_life"};
    const std::vector<std::string> tail = {"time_to_threshold", "time_above"};

    std::vector<ResultArm> arms;
    // Metrics as rows, one column per (arm, analyte): fits a terminal.
    std::vector<std::string> labels = {"metric"};
    std::vector<std::vector<std::string>> cols;
    for (std::size_t i = 0; i < specs.size(); ++i) {
        const Model& m = models[i];
        Trajectory tr = simulate(m, specs[i].regimen, grid, sim, subj);
        // The threshold is a racemic-ketamine concentration: the parent drug (C_plasma, Ce) is
        // compared on the racemic-equivalent scale (C x the model file's factor, 2 for
        // esketamine), as ks.course and ks.flagship do, i.e. C with threshold / factor. A
        // metabolite has no threshold (its rows print n/a).
        MetricOptions parent = mo;
        parent.threshold = racemic_threshold_for(m, o.threshold);
        MetricOptions other = mo;
        other.threshold = std::numeric_limits<double>::quiet_NaN();
        std::map<std::string, Metrics> ms;
        for (const auto& out : tr.names)
            ms[out] = compute_metrics(tr, out, out == "C_plasma" || out == "Ce" ? parent : other);
        for (const auto& out : m.outputs) {
            const Metrics& x = ms.at(out.name);
            labels.push_back(specs[i].short_label + (out.name == "C_plasma" ? "" : ": " + out.analyte));
            std::vector<std::string> c;
            for (const auto& n : head) c.push_back(fmt_num(metric_value(x, metric_index(n))));
            for (double v : x.c_at) c.push_back(fmt_num(v));
            for (const auto& n : tail)
                c.push_back(out.name == "C_plasma" ? fmt_num(metric_value(x, metric_index(n))) : "n/a");
            cols.push_back(c);
        }
        ResultArm arm;
        arm.name = specs[i].name;
        arm.model = &models[i];
        arm.regimen_text = specs[i].description;
        arm.subjects.push_back(std::move(tr));
        arm.subject_info.push_back(subj);
        arm.metrics.push_back(ms);
        arm.at_times = mo.at_times;
        arms.push_back(std::move(arm));
    }

    std::cout << "ketasim " << version() << ": IV versus intranasal ketamine, one typical " << fmt_num(o.weight_kg)
              << " kg adult, 0-" << fmt_num(o.t_end_h) << " h (exact solver, output every " << fmt_num(o.dt_h * 60.0)
              << " min)\n\n";
    for (const auto& s : specs)
        std::cout << "  " << s.short_label << ": " << s.description << "  [model " << s.model << "]\n";
    const std::string unit = "ng/mL";
    auto row_name = [&](const std::string& n) {
        return n + " (" + metric_unit(metric_registry()[metric_index(n)], unit) + ")";
    };
    std::vector<std::string> names;
    for (const auto& n : head) names.push_back(row_name(n));
    for (double t : mo.at_times) names.push_back("c_at " + fmt_num(t * 60.0) + " min (" + unit + ")");
    for (const auto& n : tail) names.push_back(row_name(n));
    std::vector<std::vector<std::string>> rows = {labels};
    for (std::size_t r = 0; r < names.size(); ++r) {
        std::vector<std::string> row = {names[r]};
        for (const auto& c : cols) row.push_back(c[r]);
        rows.push_back(row);
    }
    std::cout << "\n" << format_table(rows) << "\n";
    std::cout
        << "Concentrations in plasma, ng/mL; racemic columns are total (R+S) ketamine, esketamine columns the "
           "S-enantiomer\n"
           "(a racemic dose holds half its mass as S-ketamine). Threshold "
        << fmt_num(o.threshold)
        << " ng/mL: lower end of the dissociative plasma range\n"
           "(Krystal 1994, via Zanos 2018 Table 1), a racemic concentration: the threshold rows compare the "
           "racemic-equivalent\n"
           "concentration (C x the model file's racemic_equivalent factor: 2 for esketamine, so 50 ng/mL of "
           "S-ketamine),\n"
           "the scale of `ketasim course`; metabolites have no threshold (n/a). half_life: log-linear fit over the "
           "last third after tmax, so an\n"
           "apparent terminal half-life within the window, not the true terminal phase. Effect-site curves (Ce) are in "
           "the file.\n";
    RunInfo info;
    info.options = sim;
    info.command = o.command;
    write_results(o.out, arms, info);
    std::cout << "\nFull curves written to " << o.out << "\n";
    return 0;
}

}   // namespace ketasim::cli
