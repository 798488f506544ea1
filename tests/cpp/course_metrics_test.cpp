// The metrics-only course path (run_course_metrics, CoursePopulationOptions::metrics_only) against
// the full path (run_course) it must reproduce, and PkSolution against the exact solver.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "ketasim/ketasim.hpp"
#include "tolerances.hpp"

using namespace ketasim;
using namespace ketasim::test;

namespace {
Model library(const std::string& name) { return load_library_model(name, KETASIM_TEST_MODELS_DIR); }

MemorySink course_pop(const CourseSpec& spec, const PopulationSource& src, bool fast, double dt_h, double follow_h,
                      int threads = 1, std::size_t chunk = 4, bool stop = false,
                      PdSolver solver = PdSolver::semi_analytic) {
    CoursePopulationOptions o;
    o.course.pd_solver = solver;
    o.course.dt_h = dt_h;
    o.course.follow_up_h = follow_h;
    o.metrics_only = fast;
    o.stop_at_remission = stop;
    o.madrs_times_h = {72.0, 168.0};
    o.parallel.threads = threads;
    o.parallel.chunk = chunk;
    MemorySink sink;
    run_course_population(spec, load_library_pd("acute_effects", KETASIM_TEST_MODELS_DIR),
                          load_library_pd("madrs", KETASIM_TEST_MODELS_DIR), src, 0, src.size(), o, sink);
    return sink;
}

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

// Every column of the two paths, each with the tolerance of what it is (see kCourseMetrics*).
void expect_same_population(const MemorySink& full, const MemorySink& fast, double dt_h, double level_margin) {
    ASSERT_EQ(full.names, fast.names);
    for (std::size_t c = 0; c < full.names.size(); ++c) {
        const std::string& n = full.names[c];
        for (std::size_t i = 0; i < full.columns[c].size(); ++i) {
            const double a = full.columns[c][i], b = fast.columns[c][i];
            const std::string where = n + " subject " + std::to_string(i);
            if (std::isnan(a) || std::isnan(b)) {
                EXPECT_EQ(std::isnan(a), std::isnan(b)) << where << ": " << a << " vs " << b;
                continue;
            }
            if (starts_with(n, "madrs") || n == "baseline_madrs") {
                EXPECT_NEAR(b, a, kCourseMetricsMadrsAtol) << where;
            } else if (starts_with(n, "response.") || starts_with(n, "remission.") || n == "responder_at_last" ||
                       starts_with(n, "sessions_to_") || n == "relapse_observed") {
                // Decisions: equal unless the MADRS lies within the MADRS tolerance of the level,
                // which these populations avoid (checked by level_margin below).
                EXPECT_EQ(b, a) << where;
            } else if (starts_with(n, "peak_")) {
                EXPECT_NEAR(b, a, kCourseMetricsPeakRtol * std::fabs(a)) << where;
            } else if (starts_with(n, "discharge.") || n == "relapse_h") {
                EXPECT_NEAR(b, a, dt_h * (1 + 1e-9)) << where;
            } else {
                EXPECT_EQ(b, a) << where;
            }
        }
    }
    EXPECT_GT(level_margin, kCourseMetricsMadrsAtol);
}

// Smallest |MADRS at 24 h - response or remission level| over the population (decisions cannot
// flip between the paths when this exceeds the MADRS tolerance).
double level_margin(const MemorySink& s, std::size_t sessions) {
    double m = 1e300;
    const auto& base = s.column("baseline_madrs");
    for (std::size_t k = 1; k <= sessions; ++k) {
        const auto& y = s.column("madrs_24h." + std::to_string(k));
        for (std::size_t i = 0; i < y.size(); ++i) {
            if (std::isnan(y[i])) continue;
            m = std::min({m, std::fabs(y[i] - 0.5 * base[i]), std::fabs(y[i] - 10.0)});
        }
    }
    return m;
}
}   // namespace

TEST(CourseMetrics, EsketamineInductionPopulationEqualsTheFullPathColumnByColumn) {
    const Model model = library("esketamine_nasal");
    const CourseSpec spec = esketamine_induction(model, 3);
    PopulationSpec ps;
    ps.n = 16;
    ps.seed = 2026;
    const PopulationSource src(spec.model, ps, spec.regimen.per_kg());
    const double dt = 1.0 / 60.0, follow = 14 * 24.0;
    const MemorySink full = course_pop(spec, src, false, dt, follow);
    const MemorySink fast = course_pop(spec, src, true, dt, follow);
    expect_same_population(full, fast, dt, level_margin(full, spec.session_starts_h.size()));
}

TEST(CourseMetrics, IvCoursePopulationEqualsTheFullPathAlsoWhenStoppingAtRemission) {
    const Model model = library("ketamine_iv_clements");
    const CourseSpec spec = iv_course_on_days(model, {0, 2, 4, 7, 9, 11});
    PopulationSpec ps;
    ps.n = 16;
    ps.seed = 7;
    const PopulationSource src(spec.model, ps, spec.regimen.per_kg());
    // On a 5-min grid the semi-analytic full path's own error (Hermite Ce, fourth order in the step)
    // reaches 6.5e-5 MADRS points: the reference here is the coupled ODE (PK and symptoms as one
    // dopri5 system), which shares nothing with the metrics path's PK or interpolation.
    const double dt = 5.0 / 60.0, follow = 21 * 24.0;
    for (bool stop : {false, true}) {
        const MemorySink full = course_pop(spec, src, false, dt, follow, 1, 4, stop, PdSolver::coupled_ode);
        const MemorySink fast = course_pop(spec, src, true, dt, follow, 1, 4, stop);
        expect_same_population(full, fast, dt, level_margin(full, 6));
    }
}

TEST(CourseMetrics, BitIdenticalForAnyThreadCountAndChunk) {
    const Model model = library("esketamine_nasal");
    const CourseSpec spec = esketamine_induction(model, 2);
    PopulationSpec ps;
    ps.n = 10;
    ps.seed = 3;
    const PopulationSource src(spec.model, ps, spec.regimen.per_kg());
    const MemorySink a = course_pop(spec, src, true, 1.0 / 60.0, 7 * 24.0, 1, 16);
    const MemorySink b = course_pop(spec, src, true, 1.0 / 60.0, 7 * 24.0, 2, 1);
    const MemorySink c = course_pop(spec, src, true, 1.0 / 60.0, 7 * 24.0, 2, 3);
    for (std::size_t k = 0; k < a.columns.size(); ++k) {
        const std::size_t bytes = a.columns[k].size() * sizeof(double);
        EXPECT_EQ(std::memcmp(a.columns[k].data(), b.columns[k].data(), bytes), 0) << a.names[k];
        EXPECT_EQ(std::memcmp(a.columns[k].data(), c.columns[k].data(), bytes), 0) << a.names[k];
    }
}

TEST(CourseMetrics, StepLimitIsASolverError) {
    const Model model = library("ketamine_iv_clements");
    const CourseSpec spec = iv_course_on_days(model, {0, 2});
    CourseOptions co;
    co.symptom.max_steps = 20;
    const AcuteEffectModel am =
        AcuteEffectModel::from_parameters(load_library_pd("acute_effects", KETASIM_TEST_MODELS_DIR));
    const SymptomModel sm = SymptomModel::from_parameters(load_library_pd("madrs", KETASIM_TEST_MODELS_DIR));
    try {
        run_course_metrics(spec, am, sm, co, compile(model));
        FAIL() << "no SolverError";
    } catch (const SolverError& e) {
        EXPECT_NE(std::string(e.what()).find("more than max_steps = 20"), std::string::npos) << e.what();
    }
}
