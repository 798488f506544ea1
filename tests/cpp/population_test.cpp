// Populations: random streams, parallel_for, variability blocks in model files, covariates, the
// population source and run (thread/chunk/range invariance), IOV against a closed form, summaries.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <set>
#include <tuple>

#include "ketasim/ketasim.hpp"
#include "tolerances.hpp"

using namespace ketasim;

namespace {

Model library(const std::string& name) { return load_library_model(name, KETASIM_TEST_MODELS_DIR); }

struct Moments {
    double mean = 0, var = 0;
};
Moments moments(const std::vector<double>& x) {
    Moments m;
    for (double v : x) m.mean += v;
    m.mean /= static_cast<double>(x.size());
    for (double v : x) m.var += (v - m.mean) * (v - m.mean);
    m.var /= static_cast<double>(x.size() - 1);
    return m;
}

// |sample mean - mu| and |sample variance - sigma2| within kSampleSigmas standard errors.
void expect_normal_sample(const std::vector<double>& x, double mu, double sigma2, const std::string& what) {
    const Moments m = moments(x);
    const double n = static_cast<double>(x.size());
    EXPECT_NEAR(m.mean, mu, test::kSampleSigmas * std::sqrt(sigma2 / n)) << what;
    EXPECT_NEAR(m.var, sigma2, test::kSampleSigmas * sigma2 * std::sqrt(2.0 / (n - 1))) << what;
}

std::string model_with_variability(const std::string& block) {
    return R"(
name = "t"
[parameters.V]
value = 10
unit = "L"
source = "test"
[parameters.k]
value = 0.5
unit = "1/h"
source = "test"
[parameters.F]
value = 0.5
unit = "1"
source = "test"
[[compartments]]
name = "central"
volume = "V"
[[flows]]
from = "central"
rate = "k"
[routes.iv]
kind = "iv"
[[routes.iv.branches]]
target = "central"
fraction = "F"
[[outputs]]
name = "C_plasma"
compartment = "central"
)" + block;
}

}   // namespace

// ---- random streams ------------------------------------------------------------------------------

TEST(RandomStream, SameKeySameNumbersOtherKeysOtherNumbers) {
    RandomStream a(42, 0, 7, 0, StreamKind::iiv), b(42, 0, 7, 0, StreamKind::iiv);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
    // Every component of the key changes the stream.
    const std::uint64_t base = RandomStream(42, 0, 7, 0, StreamKind::iiv).next_u64();
    EXPECT_NE(RandomStream(43, 0, 7, 0, StreamKind::iiv).next_u64(), base);
    EXPECT_NE(RandomStream(42, 1, 7, 0, StreamKind::iiv).next_u64(), base);
    EXPECT_NE(RandomStream(42, 0, 8, 0, StreamKind::iiv).next_u64(), base);
    EXPECT_NE(RandomStream(42, 0, 7, 1, StreamKind::iiv).next_u64(), base);
    EXPECT_NE(RandomStream(42, 0, 7, 0, StreamKind::iov).next_u64(), base);
    // Swapped components are not the same key.
    EXPECT_NE(RandomStream(7, 0, 42, 0, StreamKind::iiv).next_u64(), base);
}

TEST(RandomStream, NormalsHaveMeanZeroVarianceOneAndUniformsStayInside) {
    RandomStream r(1, 0, 0, 0, StreamKind::iiv);
    std::vector<double> z(20000);
    for (auto& v : z) v = r.normal();
    expect_normal_sample(z, 0.0, 1.0, "normal()");
    // One normal per subject stream (the first draw of many keys) is normal too: streams of
    // consecutive subjects are not correlated into a narrow distribution.
    std::vector<double> first(20000);
    for (std::size_t i = 0; i < first.size(); ++i) first[i] = RandomStream(1, 0, i, 0, StreamKind::iiv).normal();
    expect_normal_sample(first, 0.0, 1.0, "first draw of consecutive subjects");
    for (int i = 0; i < 100000; ++i) {
        const double u = r.uniform();
        ASSERT_GT(u, 0.0);
        ASSERT_LT(u, 1.0);
    }
}

// ---- parallel_for --------------------------------------------------------------------------------

TEST(ParallelFor, EveryIndexExactlyOnceForAnyThreadsAndChunk) {
    for (int threads : {1, 2, 3, 8})
        for (std::size_t chunk : {1u, 3u, 16u, 1000u}) {
            std::vector<std::atomic<int>> hits(257);
            ParallelOptions o;
            o.threads = threads;
            o.chunk = chunk;
            parallel_for(5, 257, o, [&](std::size_t b, std::size_t e) {
                for (std::size_t i = b; i < e; ++i) hits[i].fetch_add(1);
            });
            for (std::size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i].load(), i < 5 ? 0 : 1) << i;
        }
}

TEST(ParallelFor, ErrorOfTheLowestFailingChunkWhateverTheThreadCount) {
    for (int threads : {1, 2, 4}) {
        ParallelOptions o;
        o.threads = threads;
        o.chunk = 2;
        try {
            parallel_for(0, 100, o, [&](std::size_t b, std::size_t) {
                if (b >= 40) throw InputError("fail at " + std::to_string(b));
            });
            FAIL() << "no error";
        } catch (const InputError& e) {
            EXPECT_STREQ(e.what(), "fail at 40") << threads;
        }
    }
}

TEST(ParallelFor, ProgressCanCancelAndZeroThreadsMeansAllCores) {
    ParallelOptions o;
    o.threads = 2;
    o.chunk = 1;
    o.progress = [](std::size_t, std::size_t) { return false; };
    EXPECT_THROW(parallel_for(0, 1000000, o,
                              [](std::size_t, std::size_t) {
                                  volatile double x = 0;
                                  for (int i = 0; i < 2000; ++i) x = x + std::sqrt(static_cast<double>(i));
                              }),
                 RunCancelled);
    EXPECT_GE(resolve_thread_count(0), 1);
    EXPECT_EQ(resolve_thread_count(3), 3);
    setenv("SLURM_CPUS_PER_TASK", "5", 1);
    EXPECT_EQ(resolve_thread_count(0), 5);
    setenv("SLURM_CPUS_PER_TASK", "garbage", 1);
    EXPECT_GE(resolve_thread_count(0), 1);
    unsetenv("SLURM_CPUS_PER_TASK");
    ParallelOptions bad;
    bad.threads = -1;
    EXPECT_THROW(bad.validate(), InputError);
    bad.threads = 1;
    bad.chunk = 0;
    EXPECT_THROW(bad.validate(), InputError);
}

// ---- model files -------------------------------------------------------------------------------

TEST(ModelVariability, EsketamineCarriesPerezRuixoIivWithTheLogNormalConvention) {
    const Model m = library("esketamine_nasal");
    ASSERT_EQ(m.variability.size(), 3u);
    const VariabilityBlock& b = m.variability[0];
    ASSERT_EQ(b.parameters[0], "ka_n");
    // omega^2 = ln(1 + CV^2): 61.5 % -> 0.3208 (nlmixr2lib's comment rounds it to 0.319).
    EXPECT_NEAR(b.omega(0, 0), std::log1p(0.615 * 0.615), 1e-15);
    EXPECT_NEAR(b.omega(1, 1), 0.0730, 1e-4);   // Vc 27.5 %: nlmixr2lib 0.0730 (3 significant digits)
    EXPECT_EQ(m.variability[2].distribution, EtaDistribution::logit);
    EXPECT_NEAR(m.variability[2].omega(0, 0), 0.708 * 0.708, 1e-15);
    EXPECT_EQ(m.covariate_names(), (std::vector<std::string>{"age", "asian", "japanese"}));
    ASSERT_EQ(m.residual_error.size(), 2u);
    EXPECT_DOUBLE_EQ(m.residual_error[0].exponential, 0.276);
    // Racemic models: an assumed block, declared so.
    const Model c = library("ketamine_iv_clements");
    ASSERT_EQ(c.variability.size(), 1u);
    EXPECT_TRUE(c.variability[0].assumed);
    EXPECT_EQ(c.covariate_names(), (std::vector<std::string>{"weight"}));
}

TEST(ModelVariability, BadBlocksAreErrorsNamingLineValueAndRule) {
    auto err = [](const std::string& block) {
        try {
            parse_model(model_with_variability(block), "m.toml");
        } catch (const InputError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(err("[[variability]]\nparameters=['V','k']\nvariance=[[0.1,0.2],[0.2,0.1]]\nsource='x'\n")
                  .find("not positive definite"),
              std::string::npos);
    EXPECT_NE(err("[[variability]]\nparameters=['V']\ncv_percent=[1500]\nsource='x'\n").find("must be in (0, 1000) %"),
              std::string::npos);
    EXPECT_NE(err("[[variability]]\nparameters=['V']\ncv_percent=[0]\nsource='x'\n").find("cv_percent[0] = 0"),
              std::string::npos);
    EXPECT_NE(err("[[variability]]\nparameters=['Vx']\ncv_percent=[20]\nsource='x'\n").find("'Vx' is not a parameter"),
              std::string::npos);
    EXPECT_NE(
        err("[[variability]]\nparameters=['F']\ncv_percent=[20]\nsource='x'\n").find("use distribution = \"logit\""),
        std::string::npos);
    EXPECT_NE(err("[[variability]]\nparameters=['V']\ncv_percent=[20]\n").find("source: required"), std::string::npos);
    EXPECT_NE(err("[[variability]]\nparameters=['V']\ncv_percent=[20]\nsd=[1]\nsource='x'\n").find("exactly one of"),
              std::string::npos);
    EXPECT_NE(err("[[variability]]\nparameters=['V']\nvariance=[nan]\nsource='x'\n").find("must be finite"),
              std::string::npos);
    EXPECT_NE(err("[[variability]]\nparameters=['V']\ncv_percent=[20]\nsource='x'\n[[variability]]\nparameters=['V']\n"
                  "cv_percent=[10]\nsource='x'\n")
                  .find("has a random effect at the subject level already"),
              std::string::npos);
    EXPECT_NE(
        err("[[variability]]\nparameters=['V']\ncv_percent=[20]\nsource='x'\nlevel='visit'\n").find("not a level"),
        std::string::npos);
    EXPECT_NE(err("[covariates.weight]\nunit='kg'\n").find("declared but not used"), std::string::npos);
    EXPECT_NE(err("[covariates.smoker]\nunit='flag'\n").find("declared but not used"), std::string::npos);
    EXPECT_NE(
        err("[[covariate_effects]]\nparameter='k'\ncovariate='smoker'\nfactor=2\nsource='x'\n").find("not declared"),
        std::string::npos);
    EXPECT_NE(err("[covariates.smoker]\nunit='flag'\n[[covariate_effects]]\nparameter='k'\ncovariate='smoker'\n"
                  "factor=-2\nsource='x'\n")
                  .find("must be finite and > 0"),
              std::string::npos);
    EXPECT_NE(err("[[residual_error]]\noutput='C'\nproportional_percent=10\nsource='x'\n").find("not an output"),
              std::string::npos);
    EXPECT_NE(err("[[variabilty]]\nparameters=['V']\n").find("unknown key"), std::string::npos);
}

// ---- parameters by index, covariates and random effects -------------------------------------------

TEST(ParameterLayout, CompileMatchesTheNamedPathAndAppliesEffectsInTheDocumentedOrder) {
    const Model m = library("esketamine_nasal");
    const ParameterLayout layout(m);
    Subject s;
    s.age_years = 70;
    s.parameters["Vc"] = 150;
    const LinearSystem a = compile(m, s), b = layout.compile(s);
    EXPECT_EQ(a.A, b.A);
    EXPECT_EQ(a.C, b.C);
    EXPECT_DOUBLE_EQ(a.value("Qh"), 151 - 2.19 * 10);
    // Flags: Asian kel x0.36; Japanese FRn x1.34 before the logit random effect.
    s.covariates["asian"] = 1;
    s.covariates["japanese"] = 1;
    const LinearSystem f = layout.compile(s);
    EXPECT_DOUBLE_EQ(f.value("kel"), 1.11 * 0.36);
    EXPECT_DOUBLE_EQ(f.value("FRn"), 0.54 * 1.34);
    // Random effects: lognormal multiplies by exp(eta); logit acts on logit(FRn x 1.34).
    s.eta.assign(static_cast<std::size_t>(layout.eta_count()), 0.0);
    s.eta[0] = 0.5;                                                  // ka_n
    s.eta[static_cast<std::size_t>(layout.eta_count() - 1)] = 2.0;   // FRn (logit)
    const LinearSystem g = layout.compile(s);
    EXPECT_NEAR(g.value("ka_n"), 2.93 * std::exp(0.5), 1e-12);
    const double p = 0.54 * 1.34, x = std::log(p / (1 - p)) + 2.0;
    EXPECT_NEAR(g.value("FRn"), 1 / (1 + std::exp(-x)), 1e-15);
    EXPECT_LT(g.value("FRn"), 1.0);
    // A covariate the model does not use is an error naming the ones it uses.
    Subject w;
    w.covariates["smoker"] = 1;
    try {
        compile(m, w);
        FAIL();
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("it uses: age, asian, japanese"), std::string::npos) << e.what();
    }
}

// compile(model, subject) reuses a per-thread layout while the model keeps the structure it was
// built from (issue 12: building the layout was 4.5 us of a 27 us simulate(Model, ...) call). Every
// compile must still equal a fresh layout's, whatever came before: other subjects, a value changed
// in place, the structure changed in place, a copy of the model at another address.
TEST(ParameterLayout, CachedLayoutFollowsSubjectsValuesAndStructure) {
    Model m = library("esketamine_nasal");
    const auto same = [&m](const Subject& s, const char* when) {
        const LinearSystem a = compile(m, s), b = ParameterLayout(m).compile(s);
        EXPECT_EQ(a.A, b.A) << when;
        EXPECT_EQ(a.C, b.C) << when;
        EXPECT_EQ(a.parameter_values, b.parameter_values) << when;
        EXPECT_EQ(a.parameter_names, b.parameter_names) << when;
        return a;
    };
    Subject typical, other;
    other.parameters["Vc"] = 150;
    other.weight_kg = 90;
    other.age_years = 70;
    LinearSystem first;
    for (int k = 0; k < 3; ++k) {
        first = same(typical, "typical");
        EXPECT_NE(same(other, "override").C, first.C);
    }
    // A value changed in place (the layout reads values live).
    const int vc = m.parameter_index("Vc");
    ASSERT_GE(vc, 0);
    m.parameters[static_cast<std::size_t>(vc)].value *= 2;
    const LinearSystem doubled = same(typical, "value changed");
    EXPECT_NE(doubled.C, first.C);
    EXPECT_DOUBLE_EQ(doubled.value("Vc"), 2 * first.value("Vc"));
    // The structure changed in place: the compartment with volume Vc takes a new parameter.
    Parameter v2 = m.parameters[static_cast<std::size_t>(vc)];
    v2.name = "Vc2";
    v2.value *= 3;
    m.parameters.push_back(v2);
    int central = -1;
    for (std::size_t c = 0; c < m.compartments.size(); ++c)
        if (m.compartments[c].volume == "Vc") central = static_cast<int>(c);
    ASSERT_GE(central, 0);
    m.compartments[static_cast<std::size_t>(central)].volume = "Vc2";
    const LinearSystem moved = same(typical, "structure changed");
    EXPECT_NE(moved.C, doubled.C);
    EXPECT_EQ(moved.parameter_names.back(), "Vc2");
    // Another model object (a copy: another address) with the same structure.
    const Model copy = m;
    const LinearSystem c = compile(copy, typical);
    EXPECT_EQ(c.A, moved.A);
    EXPECT_EQ(c.C, moved.C);
    // Through simulate(Model, ...): the override is applied on every call, not the last one's.
    const Regimen r = Regimen::intranasal(56.0, {0.0});
    const OutputGrid g = OutputGrid::uniform(0, 4, 0.5);
    const Trajectory t1 = simulate(m, r, g, {}, typical), t2 = simulate(m, r, g, {}, other),
                     t3 = simulate(m, r, g, {}, typical);
    EXPECT_EQ(t1.values, t3.values);
    EXPECT_NE(t1.values, t2.values);
}

// ---- population source --------------------------------------------------------------------------

TEST(PopulationSource, DrawnEtasFollowTheModelCovarianceIncludingCorrelation) {
    const Model m = library("ketamine_iv_clements");
    PopulationSpec spec;
    spec.n = 6000;
    spec.seed = 2024;
    const PopulationSource src(m, spec);
    std::vector<double> e0(spec.n), e1(spec.n);
    std::vector<double> ov;
    for (std::size_t i = 0; i < spec.n; ++i) {
        const Subject s = src.subject(i, ov);
        e0[i] = s.eta[0];
        e1[i] = s.eta[1];
    }
    expect_normal_sample(e0, 0.0, 0.084, "eta V1");
    expect_normal_sample(e1, 0.0, 0.064, "eta k10");
    double cov = 0;
    for (std::size_t i = 0; i < spec.n; ++i) cov += e0[i] * e1[i];
    cov /= static_cast<double>(spec.n - 1);
    // Standard error of a sample covariance of a bivariate normal: sqrt((s11 s22 + s12^2) / n).
    EXPECT_NEAR(cov, -0.061, test::kSampleSigmas * std::sqrt((0.084 * 0.064 + 0.061 * 0.061) / spec.n));
    // Subject i is the same whoever asks and in whatever order.
    const Subject again = src.subject(17, ov);
    const Subject other = PopulationSource(m, spec).subject(17, ov);
    EXPECT_EQ(again.eta, other.eta);
}

TEST(PopulationSource, CovariateDistributionsAndTheirErrors) {
    const Model m = library("ketamine_iv_clements");
    PopulationSpec spec;
    spec.n = 5000;
    spec.seed = 3;
    spec.covariates.push_back(parse_covariate_distribution(
        "weight",
        {{"distribution", "normal"}, {"mean", "80 kg"}, {"sd", "15 kg"}, {"lower", "40 kg"}, {"upper", "160 kg"}},
        "covariates.weight"));
    const PopulationSource src(m, spec);
    std::vector<double> w(spec.n), ov;
    for (std::size_t i = 0; i < spec.n; ++i) w[i] = src.subject(i, ov).weight_kg;
    for (double x : w) ASSERT_TRUE(x >= 40 && x <= 160);
    // Truncation at +-2.67 SD barely moves the moments: mean 80, variance 0.96 x 225 (truncated normal).
    EXPECT_NEAR(moments(w).mean, 80.0, test::kSampleSigmas * 15 / std::sqrt(5000.0));

    auto err = [&](const std::string& name, std::map<std::string, std::string> f, const std::string& model = "") {
        try {
            PopulationSpec s2;
            s2.n = 1;
            s2.covariates.push_back(parse_covariate_distribution(name, f, "covariates." + name));
            PopulationSource(model.empty() ? m : library(model), s2);
        } catch (const InputError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(err("weight", {{"distribution", "normal"}, {"mean", "80"}, {"sd", "15 kg"}, {"lower", "40 kg"}})
                  .find("needs its unit, kg"),
              std::string::npos);
    EXPECT_NE(err("weight", {{"distribution", "normal"}, {"mean", "80 kg"}, {"sd", "15 kg"}, {"lower", "400 kg"}})
                  .find("holds no mass"),
              std::string::npos);
    EXPECT_NE(err("weight", {{"distribution", "normal"}, {"mean", "80 kg"}, {"sd", "15 kg"}}).find("lower bound"),
              std::string::npos);
    EXPECT_NE(err("weight", {{"distribution", "gamma"}}).find("not a distribution"), std::string::npos);
    EXPECT_NE(err("weight", {{"distribution", "normal"}, {"mean", "80 kg"}, {"sdev", "1 kg"}}).find("not a field"),
              std::string::npos);
    EXPECT_NE(err("sex", {{"distribution", "bernoulli"}, {"p", "1.5"}}).find("probability"), std::string::npos);
    // Weight on esketamine: not used by the model.
    EXPECT_NE(err("weight", {{"distribution", "fixed"}, {"value", "80 kg"}}, "esketamine_nasal")
                  .find("does not use covariate 'weight' (it uses: age, asian, japanese)"),
              std::string::npos);
    PopulationSpec zero;
    EXPECT_THROW(PopulationSource(m, zero), InputError);
    PopulationSpec big_seed;
    big_seed.n = 1;
    big_seed.seed = kMaxSeed + 1;
    EXPECT_THROW(PopulationSource(m, big_seed), InputError);
}

TEST(PopulationSource, SubjectTableRowsSetCovariatesAndParametersByName) {
    const Model m = library("ketamine_iv_clements");
    PopulationSpec spec;
    spec.table = parse_subject_table("ID,WT[kg],k10[1/min]\n1,60,0.02\n2,90,0.01\n", "subjects.csv");
    spec.variability = false;
    const PopulationSource src(m, spec);
    ASSERT_EQ(src.size(), 2u);
    std::vector<double> ov;
    const Subject s = src.subject(1, ov);
    EXPECT_EQ(s.weight_kg, 90);
    const LinearSystem sys = src.layout().compile(s, ov.data());
    EXPECT_DOUBLE_EQ(sys.value("k10"), 0.01 * 60);
    auto err = [&](const std::string& csv, const std::string& model = "ketamine_iv_clements") {
        try {
            PopulationSpec s2;
            s2.table = parse_subject_table(csv, "subjects.csv");
            PopulationSource(library(model), s2);
        } catch (const InputError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(err("WT,k10[1/min]\n60,0.02\n").find("WT[kg]"), std::string::npos);
    EXPECT_NE(err("WT[kg],k10[1/h]\n60,0.02\n").find("write the header as k10[1/min]"), std::string::npos);
    EXPECT_NE(err("WT[kg],CLX[L/h]\n60,1\n").find("column 'CLX': not a covariate"), std::string::npos);
    EXPECT_NE(err("AGE[years]\n60\n").find("column 'age': not a covariate"), std::string::npos);
    EXPECT_NE(err("WT[kg]\n-60\n").find("must be in (0, 1000)"), std::string::npos);
    EXPECT_NE(err("WT[kg]\nabc\n").find("not a finite number"), std::string::npos);
    EXPECT_NE(err("WT[kg]\n").find("no rows"), std::string::npos);
}

// ---- population runs ----------------------------------------------------------------------------

namespace {
MemorySink run(const Model& m, const PopulationSource& src, std::size_t b, std::size_t e, int threads,
               std::size_t chunk, bool keep = false) {
    const Regimen reg = Regimen::intranasal(56, {0.0, 72.0});
    PopulationRunOptions o;
    o.outputs = {"C_plasma"};
    o.parallel.threads = threads;
    o.parallel.chunk = chunk;
    o.keep_trajectories = keep;
    MemorySink sink(keep);
    run_population(m, reg, OutputGrid::uniform(0, 120, 0.25), src, b, e, SimOptions{}, o, sink);
    return sink;
}
}   // namespace

TEST(PopulationRun, BitIdenticalForAnyThreadCountChunkSizeAndIndexRange) {
    const Model m = library("esketamine_nasal");
    PopulationSpec spec;
    spec.n = 40;
    spec.seed = 11;
    spec.covariates.push_back(
        parse_covariate_distribution("asian", {{"distribution", "bernoulli"}, {"p", "0.3"}}, "asian"));
    const PopulationSource src(m, spec);
    const MemorySink one = run(m, src, 0, 40, 1, 16);
    const MemorySink two = run(m, src, 0, 40, 2, 3);
    const MemorySink lo = run(m, src, 0, 17, 2, 1), hi = run(m, src, 17, 40, 1, 5);
    ASSERT_EQ(one.names, two.names);
    // Bit for bit (NaN included: a metric that is undefined is undefined in every run).
    auto same_bits = [](const std::vector<double>& a, const std::vector<double>& b) {
        return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
    };
    for (std::size_t c = 0; c < one.columns.size(); ++c) {
        EXPECT_TRUE(same_bits(one.columns[c], two.columns[c])) << one.names[c];
        std::vector<double> joined = lo.columns[c];
        joined.insert(joined.end(), hi.columns[c].begin(), hi.columns[c].end());
        EXPECT_TRUE(same_bits(one.columns[c], joined)) << one.names[c];
    }
    // Subjects differ (variability is on) and the Cmax column is finite and positive.
    const auto& cmax = one.column("C_plasma.cmax");
    EXPECT_NE(cmax[0], cmax[1]);
    for (double c : cmax) EXPECT_TRUE(std::isfinite(c) && c > 0);
    // Typical subjects (variability off) all equal the single-subject simulation.
    PopulationSpec typical = spec;
    typical.variability = false;
    typical.covariates.clear();
    const PopulationSource tsrc(m, typical);
    const MemorySink t = run(m, tsrc, 0, 3, 1, 1);
    SimOptions only_plasma;
    only_plasma.outputs = {"C_plasma"};
    const Trajectory tr =
        simulate(m, Regimen::intranasal(56, {0.0, 72.0}), OutputGrid::uniform(0, 120, 0.25), only_plasma);
    EXPECT_EQ(t.column("C_plasma.cmax")[2], compute_metrics(tr, "C_plasma").cmax);
}

TEST(PopulationRun, OccasionEffectsMatchTheOneCompartmentClosedFormPerDose) {
    const Model m = load_model(std::string(KETASIM_TEST_DATA_DIR) + "/iov_model.toml");
    PopulationSpec spec;
    spec.n = 3;
    spec.seed = 5;
    const PopulationSource src(m, spec);
    Regimen reg;
    for (double t : {0.0, 24.0}) {
        DoseEvent e;
        e.time = t;
        e.amount = 100.0;
        e.route = "oral";
        reg.add(e);
    }
    PopulationRunOptions o;
    o.keep_trajectories = true;
    MemorySink sink(true);
    const OutputGrid grid = OutputGrid::uniform(0, 48, 0.5);
    run_population(m, reg, grid, src, 0, 3, SimOptions{}, o, sink);
    std::vector<double> ov;
    for (std::size_t i = 0; i < 3; ++i) {
        const Subject s = src.subject(i, ov);
        double ka[3];
        double cl = 0;
        for (std::uint64_t k = 1; k <= 2; ++k) {
            Subject sk = s;
            src.occasion_effects(i, k, sk);
            const LinearSystem sys = src.layout().compile(sk);
            ka[k] = sys.value("ka");
            cl = sys.value("CL");
        }
        EXPECT_NE(ka[1], ka[2]);
        const double V = 100, ke = cl / V;
        const Trajectory& tr = sink.trajectories[i];
        for (std::size_t j = 0; j < grid.times.size(); ++j) {
            const double t = grid.times[j];
            double c = 0;
            for (int k = 1; k <= 2; ++k) {
                const double td = t - 24.0 * (k - 1);
                if (td < 0) continue;
                c += 100.0 * ka[k] / (V * (ka[k] - ke)) * (std::exp(-ke * td) - std::exp(-ka[k] * td)) * 1000.0;
            }
            EXPECT_NEAR(tr.values(0, static_cast<Eigen::Index>(j)), c, test::kExactRtol * c + test::kConcAtol)
                << "subject " << i << " t " << t;
        }
    }
}

// ---- summaries --------------------------------------------------------------------------------

TEST(Summaries, PercentileWilsonAndKaplanMeierAgainstHandValues) {
    // NumPy: np.percentile([1, 2, 3, 4, 5], [10, 25, 50]) = [1.4, 2.0, 3.0].
    EXPECT_DOUBLE_EQ(percentile({5, 1, 4, 2, 3}, 10), 1.4);
    EXPECT_DOUBLE_EQ(percentile({5, 1, 4, 2, 3}, 25), 2.0);
    EXPECT_DOUBLE_EQ(percentile({5, 1, 4, 2, 3, NAN}, 50), 3.0);
    EXPECT_TRUE(std::isnan(percentile({NAN}, 50)));
    // Wilson 95 % for 7/10, by hand from the score formula: centre (0.7 + z^2/20) / (1 + z^2/10)
    // = 0.6445, half-width 0.2477: (0.3968, 0.8922). For 0/20 the upper limit is z^2/(n + z^2) = 0.1611.
    const Proportion p = wilson_interval(7, 10);
    EXPECT_NEAR(p.lower, 0.3968, 1e-4);
    EXPECT_NEAR(p.upper, 0.8922, 1e-4);
    const Proportion z = wilson_interval(0, 20);
    EXPECT_EQ(z.lower, 0.0);
    EXPECT_NEAR(z.upper, 0.1611, 1e-4);
    // Kaplan-Meier: events at 1, 3 (x2), censored at 2 and 4, event at 5; n = 6.
    // S(1) = 5/6; at 3, 4 at risk, 2 events: S = 5/6 * 2/4 = 5/12; at 5, 1 at risk: S = 0.
    const KaplanMeier km = kaplan_meier({1, 2, 3, 3, 4, 5}, {true, false, true, true, false, true});
    ASSERT_EQ(km.time, (std::vector<double>{0, 1, 3, 5}));
    EXPECT_NEAR(km.survival[1], 5.0 / 6, 1e-15);
    EXPECT_NEAR(km.survival[2], 5.0 / 12, 1e-15);
    EXPECT_EQ(km.survival[3], 0.0);
    EXPECT_EQ(km.median, 3.0);
    EXPECT_EQ(km.events, 4u);
    EXPECT_TRUE(std::isnan(kaplan_meier({1, 2}, {false, false}).median));
}

// ---- treatment courses in a population ----------------------------------------------------------

namespace {
struct CourseFixture {
    Model model = library("ketamine_iv_clements");
    PdParameterSet acute = load_library_pd("acute_effects", KETASIM_TEST_MODELS_DIR);
    PdParameterSet madrs = load_library_pd("madrs", KETASIM_TEST_MODELS_DIR);
    CourseSpec spec = iv_course_on_days(model, {0, 2, 4, 7, 9, 11});
};

MemorySink course_run(const CourseFixture& f, const PopulationSource& src, std::size_t b, std::size_t e, int threads,
                      std::size_t chunk, bool stop = false, int max_sessions = 0) {
    CoursePopulationOptions o;
    o.course.dt_h = 5.0 / 60.0;   // coarser than the 1-min default: the invariances do not depend on it
    o.course.follow_up_h = 14 * 24.0;
    o.parallel.threads = threads;
    o.parallel.chunk = chunk;
    o.stop_at_remission = stop;
    o.max_sessions = max_sessions;
    MemorySink sink;
    run_course_population(f.spec, f.acute, f.madrs, src, b, e, o, sink);
    return sink;
}
}   // namespace

TEST(CoursePopulation, BitIdenticalForAnyThreadCountChunkAndRange) {
    const CourseFixture f;
    PopulationSpec spec;
    spec.n = 12;
    spec.seed = 99;
    const PopulationSource src(f.model, spec, true);
    const MemorySink a = course_run(f, src, 0, 12, 1, 16), b = course_run(f, src, 0, 12, 2, 1);
    const MemorySink lo = course_run(f, src, 0, 5, 2, 2), hi = course_run(f, src, 5, 12, 1, 3);
    for (std::size_t c = 0; c < a.columns.size(); ++c) {
        std::vector<double> joined = lo.columns[c];
        joined.insert(joined.end(), hi.columns[c].begin(), hi.columns[c].end());
        ASSERT_EQ(std::memcmp(a.columns[c].data(), b.columns[c].data(), a.columns[c].size() * sizeof(double)), 0)
            << a.names[c];
        ASSERT_EQ(std::memcmp(a.columns[c].data(), joined.data(), joined.size() * sizeof(double)), 0) << a.names[c];
    }
    // PD parameters vary between patients (assumed variability in models/pd) and baseline MADRS is
    // the drawn one.
    const auto& base = a.column("baseline");
    EXPECT_NE(base[0], base[1]);
    EXPECT_EQ(a.column("baseline_madrs"), base);
}

TEST(CoursePopulation, TypicalPatientEqualsRunCourseAndRatesCountThePatients) {
    const CourseFixture f;
    PopulationSpec spec;
    spec.n = 2;
    spec.variability = false;
    const PopulationSource src(f.model, spec, true);
    const MemorySink s = course_run(f, src, 0, 2, 1, 1);
    CourseOptions co;
    co.dt_h = 5.0 / 60.0;
    co.follow_up_h = 14 * 24.0;
    const CourseResult r =
        run_course(f.spec, AcuteEffectModel::from_parameters(f.acute), SymptomModel::from_parameters(f.madrs), co);
    for (std::size_t k = 0; k < r.sessions.size(); ++k) {
        const std::string i = std::to_string(k + 1);
        EXPECT_EQ(s.column("madrs_24h." + i)[1], r.sessions[k].madrs_after_24h);
        EXPECT_EQ(s.column("response." + i)[0], r.sessions[k].response ? 1.0 : 0.0);
        EXPECT_EQ(s.column("peak_dissociation." + i)[0], r.sessions[k].acute.peak_diss);
    }
    // Rates: a population of identical patients has rates of 0 or 1.
    const CoursePopulationSummary sum = summarize_course_population(s, 6);
    for (const auto& p : sum.response) EXPECT_TRUE(p.estimate == 0.0 || p.estimate == 1.0);
}

TEST(CoursePopulation, StoppingAtRemissionTruncatesEachCourseAndKeepsEarlierSessions) {
    const CourseFixture f;
    PopulationSpec spec;
    spec.n = 30;
    spec.seed = 5;
    const PopulationSource src(f.model, spec, true);
    const MemorySink full = course_run(f, src, 0, 30, 2, 4);
    const MemorySink stop = course_run(f, src, 0, 30, 2, 4, true);
    const MemorySink four = course_run(f, src, 0, 30, 2, 4, false, 4);
    int stopped = 0;
    for (std::size_t i = 0; i < 30; ++i) {
        const double first_rem = full.column("sessions_to_remission")[i];
        const double given = stop.column("sessions_given")[i];
        if (std::isnan(first_rem)) {
            EXPECT_EQ(given, 6.0);
        } else {
            EXPECT_EQ(given, first_rem);
            stopped += given < 6;
        }
        // Sessions up to the stop are the same course (later doses cannot change the past).
        for (int k = 1; k <= static_cast<int>(given); ++k) {
            const std::string s = "madrs_24h." + std::to_string(k);
            EXPECT_NEAR(stop.column(s)[i], full.column(s)[i], 1e-9) << i << " " << s;
        }
        EXPECT_EQ(four.column("sessions_given")[i], 4.0);
    }
    EXPECT_GT(stopped, 0);
    EXPECT_EQ(four.names.size(), full.names.size() - 2 * 6);
    const CoursePopulationSummary s = summarize_course_population(stop, 6);
    // Cumulative remission never falls.
    for (std::size_t k = 1; k < s.ever_remitted.size(); ++k)
        EXPECT_GE(s.ever_remitted[k].estimate, s.ever_remitted[k - 1].estimate);
}

// Parameter-uncertainty bands (course_rate_bands): replicate k is exactly a direct course population
// on draw_pd_uncertainty(set, seed, k), and the band is the 2.5/97.5 % percentile of the K rates
// (closed form for K = 3: sorted r0 <= r1 <= r2, h = 2 p / 100, so P2.5 = r0 + 0.05 (r1 - r0) and
// P97.5 = r1 + 0.95 (r2 - r1)).
TEST(CoursePopulation, UncertaintyBandsArePercentilesOfDirectRunsOnTheDrawnSets) {
    const CourseFixture f;
    PopulationSpec spec;
    spec.n = 24;
    spec.seed = 7;
    const PopulationSource src(f.model, spec, true);
    CoursePopulationOptions o;
    o.course.dt_h = 0.25;
    o.course.follow_up_h = 48.0;
    o.max_sessions = 2;
    o.parallel.threads = 2;
    const MemorySink point = [&] {
        MemorySink s;
        run_course_population(f.spec, f.acute, f.madrs, src, 0, src.size(), o, s);
        return s;
    }();
    // K = 0: no bands.
    const CourseRateBands none = course_rate_bands(f.spec, f.acute, f.madrs, src, o);
    EXPECT_EQ(none.replicates, 0u);
    EXPECT_TRUE(none.response_plo.empty() && none.response.empty());
    o.uncertainty = 3;
    const CourseRateBands b = course_rate_bands(f.spec, f.acute, f.madrs, src, o);
    ASSERT_EQ(b.replicates, 3u);
    ASSERT_EQ(b.response_plo.size(), 2u);
    // The point run does not depend on K (the replicates are separate runs).
    MemorySink with_k;
    run_course_population(f.spec, f.acute, f.madrs, src, 0, src.size(), o, with_k);
    for (std::size_t c = 0; c < point.columns.size(); ++c)
        ASSERT_EQ(
            std::memcmp(point.columns[c].data(), with_k.columns[c].data(), point.columns[c].size() * sizeof(double)), 0)
            << point.names[c];
    bool differs = false;
    for (std::uint64_t k = 0; k < 3; ++k) {
        CoursePopulationOptions direct = o;
        direct.uncertainty = 0;
        MemorySink s;
        run_course_population(f.spec, f.acute, draw_pd_uncertainty(f.madrs, spec.seed, k), src, 0, src.size(), direct,
                              s);
        const CoursePopulationSummary sum = summarize_course_population(s, 2);
        for (std::size_t j = 0; j < 2; ++j) {
            EXPECT_EQ(b.response[k][j], sum.response[j].estimate) << k << " " << j;
            EXPECT_EQ(b.remission[k][j], sum.remission[j].estimate) << k << " " << j;
            differs |= b.response[k][j] != b.response[0][j];
        }
    }
    EXPECT_TRUE(differs);   // the drawn sets differ (the file's SEs are > 0)
    for (std::size_t j = 0; j < 2; ++j) {
        for (const auto& [rates, lo, hi] : {std::tuple{&b.response, b.response_plo[j], b.response_phi[j]},
                                            std::tuple{&b.remission, b.remission_plo[j], b.remission_phi[j]}}) {
            std::vector<double> r = {(*rates)[0][j], (*rates)[1][j], (*rates)[2][j]};
            std::sort(r.begin(), r.end());
            EXPECT_NEAR(lo, r[0] + 0.05 * (r[1] - r[0]), 1e-15) << j;
            EXPECT_NEAR(hi, r[1] + 0.95 * (r[2] - r[1]), 1e-15) << j;
        }
    }
    // Bad K, and K > 0 without a table to draw from, are input errors naming the field.
    o.uncertainty = -1;
    try {
        course_rate_bands(f.spec, f.acute, f.madrs, src, o);
        ADD_FAILURE() << "no error for uncertainty = -1";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("uncertainty: -1 must be >= 0"), std::string::npos) << e.what();
    }
    o.uncertainty = 2;
    const PdParameterSet v1 = load_library_pd("madrs_v1", KETASIM_TEST_MODELS_DIR);
    for (const bool bands : {true, false}) try {
            MemorySink s;
            if (bands)
                course_rate_bands(f.spec, f.acute, v1, src, o);
            else
                run_course_population(f.spec, f.acute, v1, src, 0, src.size(), o, s);
            ADD_FAILURE() << "no error without an [uncertainty] table";
        } catch (const InputError& e) {
            EXPECT_NE(std::string(e.what()).find("uncertainty = 2: "), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("madrs_v1.toml has no [uncertainty] table"), std::string::npos)
                << e.what();
        }
}

// ---- datasets: one subject per ID (issue 8) ------------------------------------------------------

namespace {
std::string dataset_error(const std::string& csv, const std::string& model = "esketamine_nasal") {
    try {
        const Model m = library(model);
        const Dataset d = parse_dataset(csv, "data.csv", m);
        const PopulationSource src(m, dataset_population_spec(d, 0, false), dataset_uses_weight(d));
    } catch (const InputError& e) {
        return e.what();
    }
    return "no error";
}
}   // namespace

// Each ID is simulated as its own subject: its own doses, its EVID 0 times as output times, its
// covariates; the same numbers as simulate() for that subject alone. An ID without EVID 0 rows
// takes the grid.
TEST(DatasetPopulation, EachIdIsItsOwnSubjectWithItsDosesTimesAndCovariates) {
    const Model m = library("esketamine_nasal");
    const std::string csv =
        "ID,TIME,AMT,CMT,EVID,AGE[years],ASIAN\n"
        "7,0,10,iv,1,45,0\n"
        "7,0.5,.,,0,45,0\n"
        "7,2,.,,0,45,0\n"
        "3,1,28,intranasal,1,75,1\n"   // ID 3 starts later in the file: subjects in order of appearance
        "3,1.5,.,,0,75,1\n"
        "3,4,.,,0,75,1\n"
        "3,12,.,,0,75,1\n"
        "7,6,.,,0,45,0\n"
        "5,0,20,iv,1,30,0\n";   // no EVID 0 rows: the grid
    const Dataset d = parse_dataset(csv, "data.csv", m);
    ASSERT_EQ(d.subjects.size(), 3u);
    EXPECT_EQ(d.subjects[0].id, 7);
    EXPECT_EQ(d.subjects[1].id, 3);
    EXPECT_EQ(d.covariate_headers, (std::vector<std::string>{"AGE[years]", "asian"}));
    const PopulationSource src(m, dataset_population_spec(d, 0, false), dataset_uses_weight(d));
    PopulationRunOptions o;
    o.outputs = {"C_plasma"};
    o.keep_trajectories = true;
    const OutputGrid grid = OutputGrid::uniform(0, 4, 1);
    for (int threads : {1, 2}) {
        o.parallel.threads = threads;
        o.parallel.chunk = 1;
        MemorySink sink(true);
        run_dataset_population(m, d, grid, src, 0, src.size(), SimOptions{}, o, sink);
        EXPECT_EQ(sink.column("ID"), (std::vector<double>{7, 3, 5}));
        const std::vector<std::vector<double>> times = {{0.5, 2, 6}, {1.5, 4, 12}, {0, 1, 2, 3, 4}};
        const std::vector<double> ages = {45, 75, 30}, asian = {0, 1, 0};
        for (std::size_t i = 0; i < 3; ++i) {
            Subject s;
            s.age_years = ages[i];
            s.covariates["asian"] = asian[i];
            SimOptions so;
            so.outputs = {"C_plasma"};
            const Trajectory want = simulate(m, d.subjects[i].regimen, OutputGrid::at(times[i]), so, s);
            const Trajectory& got = sink.trajectories[i];
            ASSERT_EQ(got.time, times[i]) << "ID " << d.subjects[i].id;
            for (std::size_t j = 0; j < times[i].size(); ++j)
                EXPECT_EQ(got.values(0, static_cast<Eigen::Index>(j)), want.values(0, static_cast<Eigen::Index>(j)))
                    << "ID " << d.subjects[i].id << " t = " << times[i][j];
            EXPECT_EQ(sink.column("C_plasma.cmax")[i], want.values.row(0).maxCoeff());
        }
        // The age covariate reached the parameters (hepatic flow falls above 60 years).
        EXPECT_NE(sink.column("age")[1], sink.column("age")[0]);
        // Long format: one row per ID and time.
        const LongTable t = long_format(sink.trajectories, {7, 3, 5});
        EXPECT_EQ(t.names, (std::vector<std::string>{"ID", "time", "C_plasma"}));
        EXPECT_EQ(t.columns[0], (std::vector<double>{7, 7, 7, 3, 3, 3, 5, 5, 5, 5, 5}));
        EXPECT_EQ(t.columns[1], (std::vector<double>{0.5, 2, 6, 1.5, 4, 12, 0, 1, 2, 3, 4}));
    }
}

TEST(DatasetPopulation, BadDatasetsAreErrorsNamingIdColumnAndCovariates) {
    auto has = [](const std::string& msg, const std::string& part) {
        EXPECT_NE(msg.find(part), std::string::npos) << "'" << part << "' not in: " << msg;
    };
    // An ID without a dose.
    has(dataset_error("ID,TIME,AMT,CMT,EVID\n1,0,10,iv,1\n2,0,.,,0\n2,1,.,,0\n"),
        "data.csv:3: ID: value '2' has no dose (no EVID 1 row with AMT > 0)");
    // A covariate the model does not use names the ones it does.
    has(dataset_error("ID,TIME,AMT,CMT,EVID,WT[kg]\n1,0,10,iv,1,70\n"),
        "column 'weight': not a covariate model 'esketamine_nasal' uses (covariates: age, asian, japanese)");
    // A column that is no covariate at all.
    has(dataset_error("ID,TIME,AMT,CMT,EVID,HT\n1,0,10,iv,1,170\n"), "column HT: value 'HT' is not a known column");
    // Covariates are per subject.
    has(dataset_error("ID,TIME,AMT,CMT,EVID,AGE[years]\n1,0,10,iv,1,40\n1,2,.,,0,41\n"),
        "data.csv:3: column AGE[years]: value '41' differs from 40 on line 2 of the same ID 1");
    // Units as in subject tables.
    has(dataset_error("ID,TIME,AMT,CMT,EVID,AGE\n1,0,10,iv,1,40\n"), "age needs its unit in the header, AGE[years]");
    // A file with one subject and no ID column is a dataset of one.
    EXPECT_EQ(dataset_error("TIME,AMT,CMT,EVID\n0,10,iv,1\n1,.,,0\n"), "no error");
    // The single-subject reader still refuses several IDs, now pointing at populations.
    try {
        parse_dataset("ID,TIME,AMT\n1,0,10\n", "x.csv", library("ketamine_iv_clements"));
    } catch (const InputError& e) {
        ADD_FAILURE() << e.what();
    }
}
