// `ketasim compare`: the flagship IV versus intranasal comparison.
#include <cmath>
#include <iomanip>
#include <iostream>
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

int run_compare(const CompareOptions& o) {
    struct ArmSpec {
        std::string name, label, model;
        Regimen regimen;
        std::string regimen_text;
    };
    const double iv_mg = 0.5 * o.weight_kg;
    std::vector<ArmSpec> specs;
    specs.push_back({"iv_racemic", "IV racemic ketamine", o.iv_model, Regimen::iv_infusion(0.5, 40.0 / 60.0, {0.0}, true),
                     "racemic ketamine 0.5 mg/kg (" + fmt_num(iv_mg) + " mg) IV over 40 min at t = 0"});
    specs.push_back({"in_esketamine", "IN esketamine", o.esketamine_model, Regimen::intranasal(o.esketamine_mg, {0.0}),
                     "esketamine " + fmt_num(o.esketamine_mg) + " mg intranasal as 28 mg devices 5 min apart"});
    specs.push_back({"in_racemic", "IN racemic ketamine", o.racemic_in_model,
                     Regimen::intranasal(o.racemic_in_mg, {0.0}, o.racemic_in_mg, 0.0),
                     "racemic ketamine " + fmt_num(o.racemic_in_mg) + " mg intranasal at t = 0 (one dose event)"});

    const OutputGrid grid = OutputGrid::uniform(0.0, o.t_end_h, o.dt_h);
    SimOptions sim;
    Subject subj;
    subj.weight_kg = o.weight_kg;
    std::vector<Model> models;
    models.reserve(specs.size());
    for (const auto& s : specs) models.push_back(load_library_model(s.model, o.models_dir));

    MetricOptions mo;
    mo.threshold = o.threshold;
    const std::vector<double> at = {0.25, 2.0 / 3.0, 1.0, 2.0, 4.0, 8.0, 24.0};
    for (double t : at)
        if (t <= o.t_end_h + 1e-9) mo.at_times.push_back(t);

    std::vector<ResultArm> arms;
    // Metrics as rows, one column per (arm, analyte): fits a terminal.
    std::vector<std::string> labels = {"metric"};
    std::vector<std::vector<std::string>> cols;
    for (std::size_t i = 0; i < specs.size(); ++i) {
        const Model& m = models[i];
        Trajectory tr = simulate(m, specs[i].regimen, grid, sim, subj);
        std::map<std::string, Metrics> ms;
        for (const auto& out : tr.names) {
            MetricOptions moo = mo;
            moo.last_dose_time = specs[i].regimen.last_time();
            ms[out] = compute_metrics(tr, out, moo);
        }
        for (const auto& out : m.outputs) {
            const Metrics& x = ms.at(out.name);
            labels.push_back(specs[i].label + (out.name == "C_plasma" ? "" : ": " + out.analyte));
            std::vector<std::string> c = {fmt_num(x.cmax), fmt_num(x.tmax * 60.0), fmt_num(x.auc_0_t),
                                          fmt_num(x.auc_0_inf), fmt_num(x.half_life)};
            for (double v : x.c_at) c.push_back(fmt_num(v));
            c.push_back(fmt_num(x.time_to_threshold * 60.0));
            c.push_back(fmt_num(x.time_above * 60.0));
            cols.push_back(c);
        }
        ResultArm arm;
        arm.name = specs[i].name;
        arm.model = &models[i];
        arm.regimen_text = specs[i].regimen_text;
        arm.subjects.push_back(std::move(tr));
        arm.subject_info.push_back(subj);
        arm.metrics.push_back(ms);
        arms.push_back(std::move(arm));
    }

    std::cout << "ketasim " << version() << ": IV versus intranasal ketamine, one typical " << fmt_num(o.weight_kg)
              << " kg adult, 0-" << fmt_num(o.t_end_h) << " h (exact solver, output every " << fmt_num(o.dt_h * 60.0)
              << " min)\n\n";
    for (const auto& s : specs) std::cout << "  " << s.label << ": " << s.regimen_text << "  [model " << s.model << "]\n";
    std::vector<std::string> names = {"Cmax (ng/mL)", "Tmax (min)", "AUC0-t (ng*h/mL)", "AUC0-inf (ng*h/mL)",
                                      "apparent t1/2 (h)"};
    for (double t : mo.at_times) names.push_back("C at " + fmt_num(t * 60.0) + " min (ng/mL)");
    names.push_back("time to reach " + fmt_num(o.threshold) + " ng/mL (min)");
    names.push_back("time above " + fmt_num(o.threshold) + " ng/mL (min)");
    std::vector<std::vector<std::string>> rows = {labels};
    for (std::size_t r = 0; r < names.size(); ++r) {
        std::vector<std::string> row = {names[r]};
        for (const auto& c : cols) row.push_back(c[r]);
        rows.push_back(row);
    }
    std::cout << "\n" << format_table(rows) << "\n";
    std::cout << "Concentrations in plasma, ng/mL; racemic columns are total (R+S) ketamine, esketamine columns the S-enantiomer\n"
                 "(a racemic dose holds half its mass as S-ketamine). Threshold " << fmt_num(o.threshold)
              << " ng/mL: lower end of the dissociative plasma range\n"
                 "(Krystal 1994, via Zanos 2018 Table 1). t1/2: log-linear fit over the last third after Tmax, so an\n"
                 "apparent terminal half-life within the window, not the true terminal phase. Effect-site curves (Ce) are in the file.\n";
    RunInfo info;
    info.options = sim;
    info.command = o.command;
    write_results(o.out, arms, info);
    std::cout << "\nFull curves written to " << o.out << "\n";
    return 0;
}

}  // namespace ketasim::cli
