// The consolidating symptom models madrs_v2 (the default, models/pd/madrs.toml) and madrs_v3
// (models/pd/madrs_v3.toml; docs/symptom_model.md): the structure chosen in the model file (errors for
// unknown structures and for parameters of another structure), v1 as v2's special case k_cons = 0
// and v2 as v3's special case n_cons = 1, single-dose behaviour in kind, consolidation across
// sessions, bounds for extreme inputs, the typical-patient part of the calibration refit, and the
// calibration rows reproduced by each file's population (reference section 4).
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "ketasim/ketasim.hpp"
#include "ketasim/population.hpp"
#include "tolerances.hpp"

namespace ketasim {
namespace {

using test::close_enough;

// ---- named tolerances for this file (why each value) -----------------------------------------
// Typical-patient targets on the 1-min grid the fit used: the fit drives residuals to ~1e-10
// points; 0.05 points allows only for the file's 6 significant digits.
constexpr double kTargetAtol = 0.05;   // MADRS points
// Peak time of the drug effect, "~24 h": rounding of the file values moves it by minutes.
constexpr double kPeakTimeAtol = 0.5;   // h
// Refit versus file values: the file keeps 6 significant digits.
constexpr double kRefitRtol = 1e-4;

std::string models_dir() { return KETASIM_TEST_MODELS_DIR; }
Model clements() { return load_model(models_dir() + "/ketamine_iv_clements.toml"); }
// The library files of the two consolidating structures.
const char* const kV2File = "madrs";   // the default symptom model
const char* const kV3File = "madrs_v3";
SymptomModel lib(const std::string& name) { return SymptomModel::from_parameters(load_library_pd(name, models_dir())); }
SymptomModel v2() { return lib(kV2File); }
SymptomModel v3() { return lib(kV3File); }
AcuteEffectModel acute() { return AcuteEffectModel::from_parameters(load_library_pd("acute_effects", models_dir())); }

template <class F>
std::string input_error(F f) {
    try {
        f();
    } catch (const InputError& e) {
        return e.what();
    }
    return "";
}

double at(const SymptomCurve& c, const std::vector<double>& v, double t) { return interpolate(c.time, v.data(), t); }

// A course of IV 0.5 mg/kg sessions on `days`, typical 70 kg patient, the calibration's settings.
CourseResult iv_days(const SymptomModel& m, const std::vector<double>& days, double follow_up_h,
                     double dt_h = 1.0 / 60.0, double mg_per_kg = 0.5) {
    CourseOptions o;
    o.models_dir = models_dir();
    o.follow_up_h = follow_up_h;
    o.dt_h = dt_h;
    return run_course(iv_course_on_days(clements(), days, mg_per_kg), acute(), m, o);
}

// ---- structure selection -----------------------------------------------------------------------

const char* kV1Text = R"(name = "s"
structure = "madrs_v1"
[parameters.baseline]
value = 32.0
unit = "MADRS points"
description = "d"
source = "s"
[parameters.ec50]
value = 150.0
unit = "ng/mL"
description = "d"
source = "s"
[parameters.hill]
value = 1.0
unit = "1"
description = "d"
source = "s"
[parameters.emax_p]
value = 1.0
unit = "1"
description = "d"
source = "s"
[parameters.placebo_max]
value = 0.28
unit = "1"
description = "d"
source = "s"
[parameters.k_placebo]
value = 0.17
unit = "1/h"
description = "d"
source = "s"
[parameters.k_on]
value = 0.25
unit = "1/h"
description = "d"
source = "s"
[parameters.k_off]
value = 0.01
unit = "1/h"
description = "d"
source = "s"
[parameters.k_tr]
value = 0.16
unit = "1/h"
description = "d"
source = "s"
)";

const char* kConsTables = R"([parameters.k_cons]
value = 0.002
unit = "1/h"
description = "d"
source = "s"
[parameters.k_off_c]
value = 0.003
unit = "1/h"
description = "d"
source = "s"
)";

const char* kExponentTable = R"([parameters.n_cons]
value = 4.0
unit = "1"
description = "d"
source = "s"
)";

std::string replace(std::string s, const std::string& a, const std::string& b) {
    s.replace(s.find(a), a.size(), b);
    return s;
}

TEST(SymptomStructure, ChosenInTheFile) {
    const SymptomModel m1 = SymptomModel::from_parameters(parse_pd_parameters(kV1Text, "s.toml"));
    EXPECT_EQ(m1.structure, SymptomStructure::madrs_v1);
    EXPECT_EQ(m1.k_cons, 0.0);
    const std::string v2text = replace(kV1Text, "madrs_v1", "madrs_v2") + kConsTables;
    const SymptomModel m2 = SymptomModel::from_parameters(parse_pd_parameters(v2text, "s.toml"));
    EXPECT_EQ(m2.structure, SymptomStructure::madrs_v2);
    EXPECT_EQ(m2.k_cons, 0.002);
    EXPECT_EQ(m2.k_off_c, 0.003);
    EXPECT_EQ(m2.n_cons, 1.0);
    const std::string v3text = replace(kV1Text, "madrs_v1", "madrs_v3") + kConsTables + kExponentTable;
    const SymptomModel m3 = SymptomModel::from_parameters(parse_pd_parameters(v3text, "s.toml"));
    EXPECT_EQ(m3.structure, SymptomStructure::madrs_v3);
    EXPECT_EQ(m3.k_cons, 0.002);
    EXPECT_EQ(m3.n_cons, 4.0);
    EXPECT_STREQ(to_string(m3.structure), "madrs_v3");
}

TEST(SymptomStructure, UnknownMissingAndForeignParametersAreErrors) {
    // Unknown structure: the message names the file, line, value and the valid names.
    std::string msg = input_error([&] {
        SymptomModel::from_parameters(parse_pd_parameters(replace(kV1Text, "madrs_v1", "madrs_v9"), "s.toml"));
    });
    EXPECT_NE(msg.find("s.toml:2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'madrs_v9'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("madrs_v1, madrs_v2, madrs_v3"), std::string::npos) << msg;
    // Missing structure.
    msg = input_error([&] {
        SymptomModel::from_parameters(
            parse_pd_parameters(replace(kV1Text, "structure = \"madrs_v1\"\n", ""), "s.toml"));
    });
    EXPECT_NE(msg.find("structure: required key is missing"), std::string::npos) << msg;
    // A v2 parameter in a v1 file is an error, not ignored.
    msg = input_error(
        [&] { SymptomModel::from_parameters(parse_pd_parameters(std::string(kV1Text) + kConsTables, "s.toml")); });
    EXPECT_NE(msg.find("parameters.k_cons"), std::string::npos) << msg;
    EXPECT_NE(msg.find("not a parameter of this PD model"), std::string::npos) << msg;
    // A v2 file without its consolidation parameters.
    msg = input_error([&] {
        SymptomModel::from_parameters(parse_pd_parameters(replace(kV1Text, "madrs_v1", "madrs_v2"), "s.toml"));
    });
    EXPECT_NE(msg.find("parameters.k_cons: required parameter is missing"), std::string::npos) << msg;
    // v1 set in code with a v2 value.
    SymptomModel bad;
    bad.k_cons = 0.1;
    msg = input_error([&] { bad.validate(); });
    EXPECT_NE(msg.find("k_cons = 0.1: must be 0 for structure madrs_v1"), std::string::npos) << msg;
    msg = input_error([&] { symptom_structure_from_string("v2"); });
    EXPECT_NE(msg.find("accepted: madrs_v1, madrs_v2, madrs_v3"), std::string::npos) << msg;
    // The exponent of madrs_v3 in a madrs_v2 file is an error, not ignored; a v3 file needs it.
    msg = input_error([&] {
        SymptomModel::from_parameters(
            parse_pd_parameters(replace(kV1Text, "madrs_v1", "madrs_v2") + kConsTables + kExponentTable, "s.toml"));
    });
    EXPECT_NE(msg.find("parameters.n_cons"), std::string::npos) << msg;
    EXPECT_NE(msg.find("not a parameter of this PD model"), std::string::npos) << msg;
    msg = input_error([&] {
        SymptomModel::from_parameters(
            parse_pd_parameters(replace(kV1Text, "madrs_v1", "madrs_v3") + kConsTables, "s.toml"));
    });
    EXPECT_NE(msg.find("parameters.n_cons: required parameter is missing"), std::string::npos) << msg;
    // n_cons out of its range [1, 10] (below 1 the production rate P^n has an infinite slope at
    // P = 0; above 10 nothing is consolidated at any plausible P): file and code.
    for (const char* v : {"0.5", "11.0"}) {   // (a non-finite value is the parser's error)
        msg = input_error([&] {
            SymptomModel::from_parameters(
                parse_pd_parameters(replace(kV1Text, "madrs_v1", "madrs_v3") + kConsTables +
                                        replace(kExponentTable, "value = 4.0", std::string("value = ") + v),
                                    "s.toml"));
        });
        EXPECT_NE(msg.find("n_cons.value = "), std::string::npos) << v << ": " << msg;
        EXPECT_NE(msg.find("must be in [1, 10]"), std::string::npos) << v << ": " << msg;
    }
    SymptomModel nan3 = v3();
    nan3.n_cons = std::nan("");
    msg = input_error([&] { nan3.validate(); });
    EXPECT_NE(msg.find("n_cons = nan: must be in [1, 10] for structure madrs_v3"), std::string::npos) << msg;
    SymptomModel bad3 = v2();
    bad3.n_cons = 2.0;   // a v2 model with a v3 exponent
    msg = input_error([&] { bad3.validate(); });
    EXPECT_NE(msg.find("n_cons = 2: must be 1 for structures madrs_v1 and madrs_v2"), std::string::npos) << msg;
    // The acute-effect file has no structures.
    const std::string acute_text =
        "name = \"a\"\nstructure = \"madrs_v2\"\n[parameters.diss_emax]\nvalue = 100.0\n"
        "unit = \"% of maximal effect\"\ndescription = \"d\"\nsource = \"s\"\n";
    msg = input_error([&] { AcuteEffectModel::from_parameters(parse_pd_parameters(acute_text, "a.toml")); });
    EXPECT_NE(msg.find("a.toml:2: structure = 'madrs_v2'"), std::string::npos) << msg;
}

// v1 is v2 with k_cons = 0: the same equations, so bit-identical curves.
TEST(SymptomStructure, V1IsV2WithoutConsolidation) {
    const SymptomModel m1 = SymptomModel::from_parameters(load_library_pd("madrs_v1", models_dir()));
    SymptomModel m2 = m1;
    m2.structure = SymptomStructure::madrs_v2;
    const CourseResult a = iv_days(m1, {0, 2, 4}, 72.0, 0.25);
    const CourseResult b = iv_days(m2, {0, 2, 4}, 72.0, 0.25);
    EXPECT_EQ(a.symptoms.madrs, b.symptoms.madrs);
    for (double c : b.symptoms.C) ASSERT_EQ(c, 0.0);
}

// v2 is v3 with n_cons = 1: the same equations, so bit-identical curves.
TEST(SymptomStructure, V2IsV3WithExponentOne) {
    const SymptomModel m2 = v2();
    SymptomModel m3 = m2;
    m3.structure = SymptomStructure::madrs_v3;
    m3.n_cons = 1.0;
    const CourseResult a = iv_days(m2, {0, 2, 4}, 72.0, 0.25);
    const CourseResult b = iv_days(m3, {0, 2, 4}, 72.0, 0.25);
    EXPECT_EQ(a.symptoms.madrs, b.symptoms.madrs);
    EXPECT_EQ(a.symptoms.C, b.symptoms.C);
}

// ---- behaviour -----------------------------------------------------------------------------------

void single_dose_onset_peak_and_fading(const SymptomModel& m, const char* what) {
    const CourseResult r = iv_days(m, {0}, 21 * 24.0);
    const SymptomCurve& c = r.symptoms;
    auto diff = [&](double t) { return at(c, c.madrs_control, t) - at(c, c.madrs, t); };
    EXPECT_NEAR(at(c, c.madrs, 24.0) - m.baseline, -16.5, kTargetAtol);   // Murrough 2013 (fitted)
    double best = -1, t_best = 0;
    for (std::size_t i = 0; i < c.time.size(); ++i)
        if (c.madrs_control[i] - c.madrs[i] > best) {
            best = c.madrs_control[i] - c.madrs[i];
            t_best = c.time[i];
        }
    EXPECT_NEAR(t_best, 24.0, kPeakTimeAtol);                    // fitted
    EXPECT_GT(diff(40.0 / 60.0), 0.0);                           // superior from 40 min (check)
    EXPECT_GE(diff(4.0), 2.0);                                   // visible within hours (check)
    EXPECT_NEAR(diff(264.0), 0.1 * (16.5 - 8.8), kTargetAtol);   // "lost" by day 11 (fitted)
    EXPECT_LT(diff(336.0), 0.1 * best);                          // faded by 2 weeks (check)
    std::printf(
        "[ %s single dose ] drug-control difference: 4 h %.2f, 24 h %.2f, day 7 %.2f, day 11 %.2f, "
        "day 14 %.2f points\n",
        what, diff(4), diff(24), diff(168), diff(264), diff(336));
}

TEST(SymptomModelV2, SingleDoseOnsetPeakAndFading) { single_dose_onset_peak_and_fading(v2(), "v2"); }
TEST(SymptomModelV3, SingleDoseOnsetPeakAndFading) { single_dose_onset_peak_and_fading(v3(), "v3"); }

// The point of the structure: sessions given before the fast state has decayed build up the
// consolidated one, so six sessions hold the benefit longer than the single-state model does
// (v1: 3.6 days after the last session). How much longer is the calibration's business: with the
// fitted values the typical patient gains little (3.9 d); the population's responders reach the
// reference's 18 d (median 20.4 d) through the fitted spread of durability between patients
// (docs/calibration.md section 2).
TEST(SymptomModelV2, RepeatedSessionsConsolidate) {
    const SymptomModel m2 = v2();
    const SymptomModel m1 = SymptomModel::from_parameters(load_library_pd("madrs_v1", models_dir()));
    const std::vector<double> six = {0, 2, 4, 7, 9, 11};
    const CourseResult r2 = iv_days(m2, six, 60 * 24.0, 0.25);
    const CourseResult r1 = iv_days(m1, six, 60 * 24.0, 0.25);
    const double rel2 = r2.clinical.relapse_after_last_h, rel1 = r1.clinical.relapse_after_last_h;
    std::printf("[ v2 consolidation ] typical patient, 6 sessions: relapse %.1f d (v1 %.1f d) after the last session\n",
                rel2 / 24, rel1 / 24);
    ASSERT_TRUE(std::isfinite(rel1));
    EXPECT_TRUE(std::isnan(rel2) || rel2 > rel1);
    // The consolidated state grows with the number of sessions and outlasts the fast one.
    const CourseResult one = iv_days(m2, {0}, 60 * 24.0, 0.25);
    const double c1 = *std::max_element(one.symptoms.C.begin(), one.symptoms.C.end());
    const double c6 = *std::max_element(r2.symptoms.C.begin(), r2.symptoms.C.end());
    std::printf("[ v2 consolidation ] max C: one session %.3f, six sessions %.3f\n", c1, c6);
    EXPECT_GT(c6, 1.5 * c1);
}

// The point of madrs_v3: consolidation that grows faster than linearly with repeated drive. One
// dose keeps P low and builds little C; six sessions keep P higher for 12 days and build much more,
// far more than v2's ratio (about 2), so the typical patient holds the benefit longer than in v2.
TEST(SymptomModelV3, RepeatedSessionsConsolidateMoreThanLinearly) {
    const SymptomModel m3 = v3();
    const SymptomModel m2 = v2();
    const std::vector<double> six = {0, 2, 4, 7, 9, 11};
    const CourseResult r3 = iv_days(m3, six, 60 * 24.0, 0.25);
    const CourseResult r2 = iv_days(m2, six, 60 * 24.0, 0.25);
    const CourseResult one = iv_days(m3, {0}, 60 * 24.0, 0.25);
    const double c1 = *std::max_element(one.symptoms.C.begin(), one.symptoms.C.end());
    const double c6 = *std::max_element(r3.symptoms.C.begin(), r3.symptoms.C.end());
    const double rel3 = r3.clinical.relapse_after_last_h, rel2 = r2.clinical.relapse_after_last_h;
    std::printf(
        "[ v3 consolidation ] max C: one session %.4f, six sessions %.3f; typical patient relapse %.1f d "
        "(v2 %.1f d)\n",
        c1, c6, rel3 / 24, rel2 / 24);
    EXPECT_GT(c6, 5.0 * c1);
    ASSERT_TRUE(std::isfinite(rel2));
    EXPECT_TRUE(std::isnan(rel3) || rel3 > rel2);
}

void bounded_for_extreme_inputs(SymptomModel m) {
    auto check = [&](const CourseResult& r, const char* what) {
        const SymptomCurve& c = r.symptoms;
        for (std::size_t i = 0; i < c.time.size(); ++i) {
            ASSERT_TRUE(std::isfinite(c.madrs[i])) << what;
            ASSERT_GE(c.madrs[i], 0.0) << what;
            ASSERT_LE(c.madrs[i], m.baseline + 1e-12) << what;
            for (const auto* v : {&c.P, &c.C, &c.E}) {
                ASSERT_GE((*v)[i], 0.0) << what;
                ASSERT_LE((*v)[i], 1.0) << what;
            }
        }
    };
    for (double b : {0.0, 32.0, 60.0}) {
        m.baseline = b;
        check(iv_days(m, {0}, 48.0, 0.1, 1e-9), "zero dose");
        check(iv_days(m, {0}, 48.0, 0.1, 10.0), "20x dose (the schedule's maximum, 10 mg/kg)");
    }
    m.baseline = 60;
    std::vector<double> days;
    for (int k = 0; k < 100; ++k) days.push_back(2.0 * k);   // 100 sessions, every other day
    const CourseResult many = iv_days(m, days, 48.0, 0.25, 10.0);
    check(many, "100 sessions of 10 mg/kg");
    // Saturation, not growth: E approaches but does not pass 1.
    EXPECT_GT(many.symptoms.E.back(), 0.5);
}

TEST(SymptomModelV2, BoundedForExtremeInputs) { bounded_for_extreme_inputs(v2()); }
TEST(SymptomModelV3, BoundedForExtremeInputs) {
    bounded_for_extreme_inputs(v3());
    SymptomModel steep = v3();
    steep.n_cons = 10.0;   // the exponent's bounds
    bounded_for_extreme_inputs(steep);
    steep.n_cons = 1.0;
    bounded_for_extreme_inputs(steep);
}

// ---- calibration: the typical-patient stage refits to the file -----------------------------------
// scripts/calibrate_madrs.py stage A: given the file's k_cons, k_off_c and fixed values, (k_on,
// k_off, k_tr) solve three residuals on a single IV 0.5 mg/kg dose (run_course, 70 kg, 1-min
// grid, 14 days), from (1, 0.01, 0.1) /h by Levenberg-Marquardt on the logs:
//   r1 = MADRS change at 24 h + 16.5                                  (Murrough 2013)
//   r2 = (1/k_tr) d/dt[control - ketamine](24 h)                       (drug effect peaks at 24 h)
//      = baseline [(1 - pl) (P + C - PC - E) - pl' E / k_tr](24 h)
//   r3 = (control - ketamine)(day 11) - 0.1 * (16.5 - 8.8)             (superiority lost by days 10-12)
void typical_stage_refit_reproduces_file(const SymptomModel& file, const char* what) {
    EXPECT_TRUE(
        close_enough(file.placebo_max, (8.8 / 32.0) / (1.0 - std::exp(-24.0 * file.k_placebo)), kRefitRtol, 0.0));
    auto residuals = [&](const Eigen::Vector3d& x) {
        SymptomModel q = file;
        q.k_on = std::exp(x[0]);
        q.k_off = std::exp(x[1]);
        q.k_tr = std::exp(x[2]);
        const CourseResult r = iv_days(q, {0}, 14 * 24.0);
        const SymptomCurve& c = r.symptoms;
        const double pl = at(c, c.placebo, 24.0);
        const double dpl = q.placebo_max * q.k_placebo * std::exp(-q.k_placebo * 24.0);
        const double P = at(c, c.P, 24.0), C = at(c, c.C, 24.0), E = at(c, c.E, 24.0);
        Eigen::Vector3d res;
        res[0] = at(c, c.madrs, 24.0) - q.baseline + 16.5;
        res[1] = q.baseline * ((1.0 - pl) * (P + C - P * C - E) - dpl * E / q.k_tr);
        res[2] = at(c, c.madrs_control, 264.0) - at(c, c.madrs, 264.0) - 0.1 * (16.5 - 8.8);
        return res;
    };
    Eigen::Vector3d x(std::log(1.0), std::log(0.01), std::log(0.1));
    double lambda = 1e-3;
    Eigen::Vector3d r = residuals(x);
    for (int it = 0; it < 100 && r.norm() > 1e-9; ++it) {
        Eigen::Matrix3d J;
        for (int j = 0; j < 3; ++j) {
            Eigen::Vector3d y = x;
            y[j] += 1e-6;
            J.col(j) = (residuals(y) - r) / 1e-6;
        }
        Eigen::Matrix3d A = J.transpose() * J;
        A.diagonal() *= 1.0 + lambda;
        const Eigen::Vector3d dx = A.ldlt().solve(-J.transpose() * r);
        const Eigen::Vector3d r_new = residuals(x + dx);
        if (r_new.norm() < r.norm()) {
            x += dx;
            r = r_new;
            lambda *= 0.3;
        } else {
            lambda *= 10.0;
        }
    }
    std::printf("[ %s typical fit ] k_on %.6g, k_off %.6g, k_tr %.6g /h; residuals %.1e %.1e %.1e\n", what,
                std::exp(x[0]), std::exp(x[1]), std::exp(x[2]), r[0], r[1], r[2]);
    EXPECT_LT(r.norm(), 1e-6);
    EXPECT_TRUE(close_enough(file.k_on, std::exp(x[0]), kRefitRtol, 0.0)) << std::exp(x[0]);
    EXPECT_TRUE(close_enough(file.k_off, std::exp(x[1]), kRefitRtol, 0.0)) << std::exp(x[1]);
    EXPECT_TRUE(close_enough(file.k_tr, std::exp(x[2]), kRefitRtol, 0.0)) << std::exp(x[2]);
}

TEST(SymptomCalibrationV2, TypicalStageRefitReproducesFile) { typical_stage_refit_reproduces_file(v2(), "v2"); }
// madrs_v3's k_cons sits on the boundary of the region where stage A has a solution
// (docs/calibration.md section 2a), where the Levenberg-Marquardt refit from (1, 0.01, 0.1) /h
// converges too slowly for a unit test (the Jacobian is nearly singular there; the script's refit,
// `calibrate_madrs.py --model madrs_v3`, does it). Here: the file's values meet the three
// stage-A rows, to the rounding of its 6 significant digits.
TEST(SymptomCalibrationV3, TypicalStageRowsMetByTheFile) {
    const SymptomModel q = v3();
    EXPECT_TRUE(close_enough(q.placebo_max, (8.8 / 32.0) / (1.0 - std::exp(-24.0 * q.k_placebo)), kRefitRtol, 0.0));
    const CourseResult r = iv_days(q, {0}, 14 * 24.0);
    const SymptomCurve& c = r.symptoms;
    const double pl = at(c, c.placebo, 24.0);
    const double dpl = q.placebo_max * q.k_placebo * std::exp(-q.k_placebo * 24.0);
    const double P = at(c, c.P, 24.0), C = at(c, c.C, 24.0), E = at(c, c.E, 24.0);
    const double r1 = at(c, c.madrs, 24.0) - q.baseline + 16.5;
    const double r2 = q.baseline * ((1.0 - pl) * (P + C - P * C - E) - dpl * E / q.k_tr);
    const double r3 = at(c, c.madrs_control, 264.0) - at(c, c.madrs, 264.0) - 0.1 * (16.5 - 8.8);
    std::printf("[ v3 typical rows ] residuals %.1e %.1e %.1e points\n", r1, r2, r3);
    EXPECT_LT(std::fabs(r1), kTargetAtol);
    EXPECT_LT(std::fabs(r2), kTargetAtol);
    EXPECT_LT(std::fabs(r3), kTargetAtol);
}

// ---- calibration: the population rows ------------------------------------------------------------
// The calibration rows of reference section 4 on the file's values, simulated as
// scripts/calibrate_madrs.py does (ketamine_iv_clements with its PK variability, 300 patients,
// seed 2026, 15-min PK grid; the population is deterministic for a seed, whatever the threads).
// Rates use the library's thresholds (response: fall >= 50 %; remission: MADRS <= 10).
struct Rows {
    double resp24, rem24, resp72, rem72, resp168, rem168, resp_six, relapse_d;
};

Rows simulate_rows(const std::string& file) {
    const Model model = clements();
    const PdParameterSet acute_set = load_library_pd("acute_effects", models_dir());
    const PdParameterSet madrs_set = load_library_pd(file, models_dir());
    PopulationSpec spec;
    spec.n = 300;
    spec.seed = 2026;
    auto run = [&](const std::vector<double>& days, double follow_up_h, std::vector<double> at) {
        const CourseSpec course = iv_course_on_days(model, days);
        const PopulationSource src(course.model, spec, course.regimen.per_kg());
        CoursePopulationOptions o;
        o.course.dt_h = 0.25;
        o.course.follow_up_h = follow_up_h;
        o.madrs_times_h = std::move(at);
        o.parallel.threads = 2;
        MemorySink sink;
        run_course_population(course, acute_set, madrs_set, src, 0, spec.n, o, sink);
        return sink;
    };
    const MemorySink one = run({0}, 8 * 24.0, {72.0, 168.0});
    const auto& base = one.column("baseline_madrs");
    auto rate = [&](const std::vector<double>& y, bool response) {
        double k = 0;
        for (std::size_t i = 0; i < y.size(); ++i) k += response ? y[i] <= 0.5 * base[i] : y[i] <= 10.0;
        return k / static_cast<double>(y.size());
    };
    Rows r{};
    r.resp24 = rate(one.column("madrs_24h.1"), true);
    r.rem24 = rate(one.column("madrs_24h.1"), false);
    r.resp72 = rate(one.column("madrs_at.72"), true);
    r.rem72 = rate(one.column("madrs_at.72"), false);
    r.resp168 = rate(one.column("madrs_at.168"), true);
    r.rem168 = rate(one.column("madrs_at.168"), false);
    const MemorySink six = run({0, 2, 4, 7, 9, 11}, 45 * 24.0, {});
    const CoursePopulationSummary sum = summarize_course_population(six, 6);
    r.resp_six = sum.response.back().estimate;
    r.relapse_d = sum.relapse_h.median / 24.0;
    return r;
}

// Every row within its stated tolerance: `k_se` standard errors of the trial estimate (binomial at
// n = 368 for Han 2016, n = 24 for Murrough 2013; 0.3 on the log scale for the median relapse).
void rows_within_tolerance(const Rows& r, double k_se, double k_se_rem24) {
    auto se = [](double p, double n) { return std::sqrt(p * (1 - p) / n); };
    EXPECT_LT(std::fabs(r.resp24 - 0.522), k_se * se(0.522, 368));
    EXPECT_LT(std::fabs(r.rem24 - 0.206), k_se_rem24 * se(0.206, 368));
    EXPECT_LT(std::fabs(r.resp72 - 0.479), k_se * se(0.479, 368));
    EXPECT_LT(std::fabs(r.rem72 - 0.238), k_se * se(0.238, 368));
    EXPECT_LT(std::fabs(r.resp168 - 0.398), k_se * se(0.398, 368));
    EXPECT_LT(std::fabs(r.rem168 - 0.262), k_se * se(0.262, 368));
    EXPECT_LT(std::fabs(r.resp_six - 0.708), k_se * se(0.708, 24));
    EXPECT_LT(std::fabs(std::log(r.relapse_d / 18.0)), k_se * 0.3);
}

void print_rows(const Rows& r, const char* what) {
    std::printf(
        "[ %s calibration rows ] response/remission 24 h %.3f/%.3f, 72 h %.3f/%.3f, day 7 %.3f/%.3f; six "
        "sessions: response %.3f, median relapse %.2f d\n",
        what, r.resp24, r.rem24, r.resp72, r.rem72, r.resp168, r.rem168, r.resp_six, r.relapse_d);
}

TEST(SymptomCalibrationV2, PopulationReproducesTheCalibrationRows) {
    const Rows r = simulate_rows(kV2File);
    print_rows(r, "v2");
    // 1. The file reproduces the simulated rows that docs/calibration.md reports (the script's
    //    hard-threshold column; rates are counts of 300 patients: half a patient of slack).
    const double half = 0.5 / 300.0;
    EXPECT_NEAR(r.resp24, 0.523, half);
    EXPECT_NEAR(r.rem24, 0.267, half);
    EXPECT_NEAR(r.resp72, 0.490, half);
    EXPECT_NEAR(r.rem72, 0.250, half);
    EXPECT_NEAR(r.resp168, 0.427, half);
    EXPECT_NEAR(r.rem168, 0.210, half);
    EXPECT_NEAR(r.resp_six, 0.813, half);
    EXPECT_NEAR(r.relapse_d, 20.37, 0.01);
    // 2. Every row within 3 SE (its stated tolerance), remission at 24 h included (+2.9 SE, the
    //    largest; before the durability spread was fitted it was +3.1 SE, held within 3.5).
    rows_within_tolerance(r, 3.0, 3.0);
}

// madrs_v3 (docs/calibration.md section 2a): holds the relapse row (-0.8 SE) but not remission at
// 24 h (+4.1 SE, held within 4.5 SE as a known misfit: why v2 stays the default).
TEST(SymptomCalibrationV3, PopulationReproducesTheCalibrationRows) {
    const Rows r = simulate_rows(kV3File);
    print_rows(r, "v3");
    const double half = 0.5 / 300.0;
    EXPECT_NEAR(r.resp24, 0.543, half);
    EXPECT_NEAR(r.rem24, 0.293, half);
    EXPECT_NEAR(r.resp72, 0.453, half);
    EXPECT_NEAR(r.rem72, 0.260, half);
    EXPECT_NEAR(r.resp168, 0.357, half);
    EXPECT_NEAR(r.rem168, 0.217, half);
    EXPECT_NEAR(r.resp_six, 0.910, half);
    EXPECT_NEAR(r.relapse_d, 14.14, 0.01);
    rows_within_tolerance(r, 3.0, 4.5);
    // The relapse row is held within 1 SE (v2: -2.4 SE).
    EXPECT_LT(std::fabs(std::log(r.relapse_d / 18.0)), 0.3);
}

}   // namespace
}   // namespace ketasim
