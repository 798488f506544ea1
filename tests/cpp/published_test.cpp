// Each model in models/ against published values. Tolerances are stated with their reason.
// Values fitted or derived from the same source are "consistency" checks; values from other
// studies are independent predictions.
#include <gtest/gtest.h>

#include <cmath>

#include "ketasim/ketasim.hpp"

using namespace ketasim;

namespace {

const std::string kModels = KETASIM_TEST_MODELS_DIR;

// Perez-Ruixo 2021 Table 4 values are population simulations (means over simulated subjects with
// between-subject variability); we simulate the typical subject. nlmixr2lib's encoding of the
// same model reproduces them within ~4% (vignette errata); we allow 8%.
constexpr double kTable4Rtol = 0.08;
// Zarate 2006 is a mean over patients of unknown weight, with ketamine clearance CV ~30% between
// subjects: a typical-subject prediction within 25% is consistent.
constexpr double kIndependentRtol = 0.25;

struct Exposure {
    double cmax, auc24, cmax_met, auc24_met;
};

Exposure esketamine(double mg) {
    const Model m = load_library_model("esketamine_nasal", kModels);
    const Trajectory tr = simulate(m, Regimen::intranasal(mg, {0.0}), OutputGrid::uniform(0, 24, 1.0 / 60));
    const Metrics a = compute_metrics(tr, "C_plasma"), b = compute_metrics(tr, "C_metabolite");
    return {a.cmax, a.auc_0_t, b.cmax, b.auc_0_t};
}

double auc_inf_per_mg(const Model& m, const Regimen& r, double mg) {
    const Trajectory tr = simulate(m, r, OutputGrid::uniform(0, 240, 0.05));
    return compute_metrics(tr, "C_plasma").auc_0_inf / mg;
}

}   // namespace

TEST(Published, EsketamineTable4CaucasianAdults) {
    // Perez-Ruixo 2021 Table 4, 18-60 y Caucasian (as transcribed in the nlmixr2lib vignette).
    struct Row {
        double mg, cmax, auc24, cmax_met;
    };
    for (const Row& r : {Row{28, 43.8, 147.3, 59.1}, Row{56, 72.5, 254.7, 119.7}, Row{84, 101.0, 362.2, 180.0}}) {
        const Exposure e = esketamine(r.mg);
        EXPECT_NEAR(e.cmax, r.cmax, kTable4Rtol * r.cmax) << r.mg << " mg esketamine Cmax";
        EXPECT_NEAR(e.auc24, r.auc24, kTable4Rtol * r.auc24) << r.mg << " mg esketamine AUC0-24";
        EXPECT_NEAR(e.cmax_met, r.cmax_met, kTable4Rtol * r.cmax_met) << r.mg << " mg noresketamine Cmax";
    }
}

TEST(Published, NoresketamineAucOverpredictionIsTheDocumentedOne) {
    // Known limitation of the published parameter set (nlmixr2lib vignette errata): noresketamine
    // AUC0-24 is over-predicted by 1.38-1.46x in the Caucasian strata. If this ratio moved, the
    // model encoding changed.
    const Exposure e = esketamine(56);
    const double ratio = e.auc24_met / 516.3;
    EXPECT_GT(ratio, 1.30);
    EXPECT_LT(ratio, 1.50);
}

TEST(Published, EsketamineAbsoluteBioavailability) {
    // Perez-Ruixo 2021 abstract: F 54% at 56 mg, 51% at 84 mg (consistency: same parameters).
    // AUC ratio against an IV dose in the same model; 1 percentage point for rounding in the abstract.
    const Model m = load_library_model("esketamine_nasal", kModels);
    const double iv = auc_inf_per_mg(m, Regimen::iv_infusion(28, 0.5, {0.0}), 28);
    EXPECT_NEAR(auc_inf_per_mg(m, Regimen::intranasal(56, {0.0}), 56) / iv, 0.54, 0.01);
    EXPECT_NEAR(auc_inf_per_mg(m, Regimen::intranasal(84, {0.0}), 84) / iv, 0.51, 0.01);
}

TEST(Published, EsketamineLabelTmaxAndHalfLife) {
    // Spravato label: Tmax 20-40 min after the last spray of a session; terminal t1/2 7-12 h.
    const Model m = load_library_model("esketamine_nasal", kModels);
    const Regimen r = Regimen::intranasal(84, {0.0});
    const Trajectory tr = simulate(m, r, OutputGrid::uniform(0, 72, 1.0 / 60));
    MetricOptions mo;
    mo.terminal_start = 24.0;
    const Metrics x = compute_metrics(tr, "C_plasma", mo);
    const double after_last = (x.tmax - r.sorted().back().time) * 60.0;
    EXPECT_GE(after_last, 20.0);
    EXPECT_LE(after_last, 40.0);
    EXPECT_GE(x.half_life, 7.0);
    EXPECT_LE(x.half_life, 12.0);
}

TEST(Published, ClementsPredictsZarateEndOfInfusionConcentration) {
    // Independent prediction: 0.5 mg/kg over 40 min gives plasma Cmax 185 ng/mL (Zarate 2006,
    // via Zanos 2018 Table 1). Not used to fit anything.
    const Model m = load_library_model("ketamine_iv_clements", kModels);
    const Trajectory tr =
        simulate(m, Regimen::iv_infusion(0.5, 40.0 / 60, {0.0}, true), OutputGrid::uniform(0, 4, 1.0 / 60));
    const Metrics x = compute_metrics(tr, "C_plasma");
    EXPECT_NEAR(x.cmax, 185.0, kIndependentRtol * 185.0);
    EXPECT_NEAR(x.tmax, 40.0 / 60, 1e-9);
}

TEST(Published, ClementsClearanceAndVolumeWithinKampMetaAnalysis) {
    // Kamp 2020 meta-analysis (independent of Clements): CL 79 L/h (69-90), V 252 L (200-304) at 70 kg.
    const Model m = load_library_model("ketamine_iv_clements", kModels);
    const LinearSystem s = compile(m, Subject{});
    const double V1 = s.value("V1"), CL = s.value("k10") * V1;
    const double Vss = V1 * (1 + s.value("k12") / s.value("k21"));
    EXPECT_GE(CL, 69.0);
    EXPECT_LE(CL, 90.0);
    EXPECT_GE(Vss, 200.0);
    EXPECT_LE(Vss, 304.0);
}

TEST(Published, RacemicTerminalHalfLivesWithinPublishedRange) {
    // Terminal half-life of racemic ketamine: ~2 h (Yanagihara 2003, "~120 min", n=3) to 5.2-6.1 h
    // (chiral IV study, Anesthesiology 135:326). The lower bound is approximate (n=3), so 10% below
    // it is allowed: both IV models must fall inside 1.8-6.1 h (Domino gives 1.91 h).
    for (const std::string name : {"ketamine_iv_clements", "ketamine_iv_domino"}) {
        const Model m = load_library_model(name, kModels);
        const LinearSystem s = compile(m, Subject{});
        const int nc = static_cast<int>(m.compartments.size());
        Eigen::EigenSolver<Eigen::MatrixXd> es(s.A.topLeftCorner(nc, nc));
        double slowest = 1e300;
        for (int i = 0; i < nc; ++i) slowest = std::min(slowest, -es.eigenvalues()[i].real());
        const double t_half = std::log(2.0) / slowest;
        EXPECT_GE(t_half, 1.8) << name;
        EXPECT_LE(t_half, 6.1) << name;
    }
}

TEST(Published, RacemicIntranasalBioavailabilityIsTheCitedOne) {
    // Consistency: the nasal and swallowed branches were derived so that total F = 0.45
    // (Yanagihara 2003); the simulated AUC ratio must give it back to numerical precision.
    const Model m = load_library_model("ketamine_intranasal_racemic", kModels);
    const double iv = auc_inf_per_mg(m, Regimen::iv_bolus(25, {0.0}), 25);
    const double in = auc_inf_per_mg(m, Regimen::intranasal(25, {0.0}, 25, 0.0), 25);
    EXPECT_NEAR(in / iv, 0.45, 1e-3);   // 1e-3: AUC extrapolation over a 240 h grid at 3 min steps
}
