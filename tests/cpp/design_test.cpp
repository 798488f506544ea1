// Designs: Sobol' points against Joe & Kuo's published sequence, Latin hypercube stratification
// and index-range invariance, inverse CDFs against closed forms, factor parsing and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "ketasim/design.hpp"
#include "ketasim/errors.hpp"
#include "ketasim/io.hpp"
#include "ketasim/model.hpp"
#include "tolerances.hpp"

namespace ks = ketasim;

TEST(Sobol, FirstPointsEqualJoeKuo) {
    // The first 8 points in 3 dimensions of the Joe-Kuo new-joe-kuo-6.21201 sequence (Gray-code
    // order; as printed by scipy.stats.qmc.Sobol(3, scramble=False).random(8)). Dyadic values:
    // exact equality.
    const double want[8][3] = {{0, 0, 0},
                               {0.5, 0.5, 0.5},
                               {0.75, 0.25, 0.25},
                               {0.25, 0.75, 0.75},
                               {0.375, 0.375, 0.625},
                               {0.875, 0.875, 0.125},
                               {0.625, 0.125, 0.875},
                               {0.125, 0.625, 0.375}};
    const ks::SobolSequence s(3);
    for (int i = 0; i < 8; ++i) {
        double x[3];
        s.point(static_cast<std::uint64_t>(i), x);
        for (int j = 0; j < 3; ++j) EXPECT_EQ(x[j], want[i][j]) << i << "," << j;
    }
    // Dimensions 61-64 of point 5 and 41-45 of point 15 (same source).
    const ks::SobolSequence s64(64);
    double x[64];
    s64.point(5, x);
    EXPECT_EQ(x[60], 0.625);
    EXPECT_EQ(x[61], 0.875);
    EXPECT_EQ(x[62], 0.375);
    EXPECT_EQ(x[63], 0.625);
    s64.point(15, x);
    const double w15[5] = {0.6875, 0.9375, 0.1875, 0.0625, 0.5625};
    for (int j = 0; j < 5; ++j) EXPECT_EQ(x[40 + j], w15[j]) << j;
}

TEST(Sobol, EveryDyadicBoxOfAPowerOfTwoHoldsOnePoint) {
    // (0, m, 1)-net property per coordinate: the first 2^m points put exactly one point in each
    // interval [k/2^m, (k+1)/2^m) of every dimension (Sobol' 1967).
    const ks::SobolSequence s(64);
    const int m = 10;
    std::vector<std::set<long>> seen(64);
    double x[64];
    for (std::uint64_t i = 0; i < (1u << m); ++i) {
        s.point(i, x);
        for (int j = 0; j < 64; ++j) EXPECT_TRUE(seen[j].insert(static_cast<long>(std::floor(x[j] * (1 << m)))).second);
    }
}

TEST(Sobol, DigitalShiftIsSeededAndOffTheOrigin) {
    const ks::SobolSequence a(4, true, 7), b(4, true, 7), c(4, true, 8);
    double xa[4], xb[4], xc[4];
    a.point(0, xa);
    b.point(0, xb);
    c.point(0, xc);
    for (int j = 0; j < 4; ++j) {
        EXPECT_EQ(xa[j], xb[j]);
        EXPECT_GT(xa[j], 0.0);
    }
    EXPECT_NE(xa[0], xc[0]);
}

TEST(Sobol, BadDimensionsAndIndex) {
    EXPECT_THROW(ks::SobolSequence(0), ks::InputError);
    EXPECT_THROW(ks::SobolSequence(65), ks::InputError);
    double x[1];
    EXPECT_THROW(ks::SobolSequence(1).point(std::uint64_t{1} << 32, x), ks::InputError);
}

namespace {
std::vector<ks::Factor> unit_factors(int d) {
    std::vector<ks::Factor> f;
    for (int j = 0; j < d; ++j) f.push_back({"x" + std::to_string(j), {ks::DistributionKind::uniform, 0.0, 1.0}});
    return f;
}
}   // namespace

TEST(LatinHypercube, EachStratumHitOncePerDimension) {
    for (std::size_t n : {1u, 2u, 7u, 64u, 1000u, 4097u}) {
        const ks::LatinHypercubeDesign lhs(unit_factors(5), n, 42);
        std::vector<std::vector<int>> hits(5, std::vector<int>(n, 0));
        double u[5];
        for (std::size_t i = 0; i < n; ++i) {
            lhs.point(i, u);
            for (int j = 0; j < 5; ++j) {
                ASSERT_TRUE(u[j] > 0 && u[j] < 1);
                hits[j][static_cast<std::size_t>(std::floor(u[j] * static_cast<double>(n)))]++;
            }
        }
        for (int j = 0; j < 5; ++j)
            for (std::size_t k = 0; k < n; ++k)
                EXPECT_EQ(hits[j][k], 1) << "n " << n << " dim " << j << " stratum " << k;
    }
}

TEST(LatinHypercube, PointsDependOnIndexAndSeedOnly) {
    const ks::LatinHypercubeDesign a(unit_factors(3), 500, 1), b(unit_factors(3), 500, 1), c(unit_factors(3), 500, 2);
    double x[3], y[3], z[3];
    int differ = 0;
    // Any order of evaluation (a range from the end, another from the start) gives the same points.
    for (std::size_t i = 500; i-- > 0;) {
        a.point(i, x);
        b.point(499 - i, y);
        b.point(i, y);
        c.point(i, z);
        for (int j = 0; j < 3; ++j) EXPECT_EQ(x[j], y[j]);
        differ += x[0] != z[0];
    }
    EXPECT_GT(differ, 490);
    // Not the identity permutation: the strata of two dimensions are not in lockstep.
    int same = 0;
    for (std::size_t i = 0; i < 500; ++i) {
        a.point(i, x);
        same += std::floor(x[0] * 500) == std::floor(x[1] * 500);
    }
    EXPECT_LT(same, 20);
}

TEST(Distribution, InverseCdfsAgainstClosedForms) {
    // Normal quantiles: z_0.975 = 1.959963984540054, z_0.8413447460685429 = 1 (Phi(1)).
    EXPECT_NEAR(ks::normal_quantile(0.975), 1.959963984540054, 1e-14);
    EXPECT_NEAR(ks::normal_quantile(0.8413447460685429), 1.0, 1e-13);
    EXPECT_NEAR(ks::normal_quantile(1e-10), -6.361340902404056, 1e-12);
    EXPECT_NEAR(ks::normal_quantile(1 - 1e-10), 6.361340889697422, 1e-6);   // 1 - p rounds in double
    for (double p : {1e-300, 1e-8, 0.01, 0.3, 0.5, 0.77, 0.99})
        EXPECT_NEAR(ks::normal_cdf(ks::normal_quantile(p)), p, 1e-14 * std::max(p, 1e-14));
    ks::Distribution u{ks::DistributionKind::uniform, 2.0, 6.0};
    EXPECT_EQ(u.quantile(0.25), 3.0);
    ks::Distribution lu{ks::DistributionKind::log_uniform, 1.0, 100.0};
    EXPECT_NEAR(lu.quantile(0.5), 10.0, 1e-12);
    ks::Distribution n{ks::DistributionKind::normal, 70.0, 15.0};
    EXPECT_NEAR(n.quantile(0.975), 70 + 15 * 1.959963984540054, 1e-12);
    // log-normal: median at u = 0.5; sd of the log sqrt(log(1 + cv^2)).
    ks::Distribution ln{ks::DistributionKind::lognormal, 20.0, 0.3};
    EXPECT_NEAR(ln.quantile(0.5), 20.0, 1e-12);
    EXPECT_NEAR(ln.quantile(0.8413447460685429), 20.0 * std::exp(std::sqrt(std::log(1.09))), 1e-11);
    // Truncated normal to [60, 80]: u = 0 and 1 are the bounds, u = 0.5 the mean (symmetric).
    ks::Distribution t{ks::DistributionKind::normal, 70.0, 15.0, 60.0, 80.0};
    EXPECT_NEAR(t.quantile(0.0), 60.0, 1e-9);
    EXPECT_NEAR(t.quantile(1.0), 80.0, 1e-9);
    EXPECT_NEAR(t.quantile(0.5), 70.0, 1e-12);
    // An unbounded side at u = 0 is an error, not -inf.
    EXPECT_THROW(n.quantile(0.0), ks::InputError);
}

TEST(Factor, ParsesKindsArgumentsAndUnits) {
    const ks::Model m = ks::load_library_model("esketamine_nasal", KETASIM_TEST_MODELS_DIR);
    const ks::Factor a = ks::parse_factor("ka_n=uniform(1, 5)", "--factor", &m);
    EXPECT_EQ(a.name, "ka_n");
    EXPECT_EQ(a.distribution.a, 1.0);
    EXPECT_EQ(a.distribution.b, 5.0);
    const ks::Factor w =
        ks::parse_factor("weight = normal(mean=70 kg, sd=15 kg, lower=40 kg, upper=150 kg)", "--factor", &m);
    EXPECT_EQ(w.distribution.kind, ks::DistributionKind::normal);
    EXPECT_EQ(w.distribution.lower, 40.0);
    const ks::Factor l = ks::parse_factor("Qh", "lognormal(median=151, cv=30%)", "factors['Qh']", &m);
    EXPECT_DOUBLE_EQ(l.distribution.b, 0.3);
    const ks::Factor d = ks::parse_factor("dose=loguniform(0.014 g, 84 mg)", "--factor", &m);
    EXPECT_DOUBLE_EQ(d.distribution.a, 14.0);
    // A parameter value with a unit is converted to the parameter's file unit.
    const ks::Parameter& ka = m.parameter("ka_n");
    const double per_h = ka.unit_info.to_canonical(1.0);   // file unit in 1/h
    const ks::Factor k = ks::parse_factor("ka_n=uniform(1 1/h, 2 1/h)", "--factor", &m);
    EXPECT_NEAR(k.distribution.a * per_h, 1.0, 1e-12);
}

TEST(Factor, BadInputNamesFlagValueAndRule) {
    const ks::Model m = ks::load_library_model("esketamine_nasal", KETASIM_TEST_MODELS_DIR);
    auto msg = [&](const std::string& text) {
        try {
            ks::parse_factor(text, "--factor", &m);
        } catch (const ks::InputError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(msg("ka_n=uniform(5, 1)").find("upper = 1 must be > lower (5)"), std::string::npos)
        << msg("ka_n=uniform(5, 1)");
    EXPECT_NE(msg("nope=uniform(1, 2)").find("neither a parameter"), std::string::npos);
    EXPECT_NE(msg("ka_n=gamma(1, 2)").find("is not a distribution"), std::string::npos);
    EXPECT_NE(msg("ka_n=uniform(1)").find("needs upper"), std::string::npos);
    EXPECT_NE(msg("ka_n=uniform(1, 2, 3)").find("takes 2 arguments"), std::string::npos);
    EXPECT_NE(msg("ka_n=normal(1, -2)").find("sd = -2 must be > 0"), std::string::npos);
    EXPECT_NE(msg("ka_n=loguniform(0, 2)").find("must be > 0 (log scale)"), std::string::npos);
    EXPECT_NE(msg("ka_n=uniform(1 L, 2)").find("has unit 'L'"), std::string::npos);
    EXPECT_NE(msg("ka_n=uniform(a, 2)").find("is not a number"), std::string::npos);
    EXPECT_NE(msg("ka_n=normal(1, 1, lower=50, upper=60)").find("no probability mass"), std::string::npos);
    EXPECT_NE(msg("ka_n=uniform(1, 2, lower=0)").find("gives 'lower' twice"), std::string::npos);
    try {
        ks::Distribution{ks::DistributionKind::uniform, 0.0, 1.0, 0.0, 1.0}.validate("x");
        FAIL();
    } catch (const ks::InputError& e) {
        EXPECT_NE(std::string(e.what()).find("truncate only normal and lognormal"), std::string::npos) << e.what();
    }
    EXPECT_NE(msg("ka_n uniform(1, 2)").find("NAME=KIND(ARGS)"), std::string::npos);
    EXPECT_NE(msg("ka_n=lognormal(1, cv=3 L)").find("is a fraction"), std::string::npos);
}

TEST(SobolDesign, SkipsTheOriginAndMapsThroughDistributions) {
    std::vector<ks::Factor> f = {{"cl", {ks::DistributionKind::lognormal, 20.0, 0.3}},
                                 {"w", {ks::DistributionKind::uniform, 40.0, 120.0}}};
    const ks::SobolDesign d(f, 7);
    double x[2];
    d.point(0, x);   // sequence point 1 = (0.5, 0.5): the medians
    EXPECT_NEAR(x[0], 20.0, 1e-12);
    EXPECT_EQ(x[1], 80.0);
    EXPECT_THROW(d.point(7, x), ks::InputError);
    const ks::SobolDesign origin(f, 2, 0);
    EXPECT_THROW(origin.point(0, x), ks::InputError);   // log-normal at u = 0
}

// ---- choice (the schedule factor of course designs) ---------------------------------------------

TEST(Choice, UnitIntervalMapsToEqualStrata) {
    const ks::Factor f = ks::parse_factor("schedule=CHOICE(iv-2x-weekly, iv-3x-weekly, esketamine-induction)", "f");
    ASSERT_EQ(f.distribution.kind, ks::DistributionKind::choice);
    ASSERT_EQ(f.distribution.choices,
              (std::vector<std::string>{"iv-2x-weekly", "iv-3x-weekly", "esketamine-induction"}));
    const ks::Distribution& d = f.distribution;
    // [0, 1/3) -> 0, [1/3, 2/3) -> 1, [2/3, 1] -> 2 (u = 1, the closed end, in the last stratum).
    EXPECT_EQ(d.quantile(0.0), 0.0);
    EXPECT_EQ(d.quantile(std::nextafter(1.0 / 3.0, 0.0)), 0.0);
    EXPECT_EQ(d.quantile(1.0 / 3.0), 1.0);
    EXPECT_EQ(d.quantile(0.5), 1.0);
    EXPECT_EQ(d.quantile(std::nextafter(2.0 / 3.0, 1.0)), 2.0);
    EXPECT_EQ(d.quantile(1.0), 2.0);
    EXPECT_THROW(d.quantile(1.5), ks::InputError);
    const ks::Factor one = ks::parse_factor("schedule=choice(iv-days)", "f");
    EXPECT_EQ(one.distribution.quantile(0.99), 0.0);
    EXPECT_EQ(ks::factor_unit("schedule", nullptr), "1");
}

TEST(Choice, StratifiedDesignsBalanceTheChoices) {
    // A Latin hypercube of 3m points hits each third of [0, 1) m times, so each of 3 choices
    // exactly m times; a Sobol sequence of 2^k points (skip 0) each quarter 2^(k-2) times.
    const ks::Factor c3 = ks::parse_factor("schedule=choice(a, b, c)", "f");
    const ks::Factor c4 = ks::parse_factor("schedule=choice(a, b, c, d)", "f");
    const ks::Factor w{"weight", {ks::DistributionKind::uniform, 40.0, 120.0}};
    const ks::LatinHypercubeDesign lhs({w, c3}, 30, 11);
    std::vector<int> n3(3, 0), n4(4, 0);
    double x[2];
    for (std::size_t i = 0; i < 30; ++i) {
        lhs.point(i, x);
        ++n3.at(static_cast<std::size_t>(x[1]));
    }
    EXPECT_EQ(n3, (std::vector<int>{10, 10, 10}));
    const ks::SobolDesign sob({c4, w}, 64, 0);
    for (std::size_t i = 0; i < 64; ++i) {
        sob.point(i, x);
        ++n4.at(static_cast<std::size_t>(x[0]));
    }
    EXPECT_EQ(n4, (std::vector<int>{16, 16, 16, 16}));
}

TEST(Choice, BadInputNamesFieldValueAndRule) {
    auto message = [](const std::string& text) {
        try {
            ks::parse_factor(text, "design.factors");
        } catch (const ks::InputError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(message("schedule=choice()").find("lists no schedule"), std::string::npos)
        << message("schedule=choice()");
    EXPECT_NE(message("schedule=choice(a, , b)").find("has an empty name"), std::string::npos);
    EXPECT_NE(message("schedule=choice(a, a)").find("'a' is given twice"), std::string::npos);
    EXPECT_NE(message("weight=choice(a, b)").find("choice(...) is for the schedule factor only"), std::string::npos);
    EXPECT_NE(message("schedule=uniform(0, 1)").find("must look like choice(NAME, NAME, ...)"), std::string::npos);
    EXPECT_NE(message("schedule=uniform(0, 1)").find("design.factors schedule"), std::string::npos);
}
