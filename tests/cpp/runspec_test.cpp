// Run specs: parsing (fields, unknown keys with the closest name, unsupported sections), shards.
#include <gtest/gtest.h>

#include <set>

#include "ketasim/errors.hpp"
#include "ketasim/runspec.hpp"

using namespace ketasim;

namespace {

const char* kSpec = R"(
model = "ketamine_iv_clements"
regimen = "regimens/iv.toml"
[population]
n = 100
seed = 42
[outputs]
names = ["C_plasma"]
trajectories = true
t_end = "2 d"
dt = "30 min"
[run]
out = "out/result.h5"
chunk = 16
threads = 2
memory_budget = "2 GiB"
)";

std::string error_of(const std::string& text) {
    try {
        parse_run_spec(text, "spec.toml", "/base");
    } catch (const InputError& e) {
        return e.what();
    }
    return "";
}

}   // namespace

TEST(RunSpec, ParsesEveryField) {
    const RunSpec s = parse_run_spec(kSpec, "spec.toml", "/base");
    EXPECT_EQ(s.model, "ketamine_iv_clements");   // a library name stays a name
    EXPECT_EQ(s.regimen, "/base/regimens/iv.toml");
    EXPECT_EQ(s.n, 100u);
    EXPECT_EQ(s.seed, 42u);
    EXPECT_EQ(s.outputs, std::vector<std::string>{"C_plasma"});
    EXPECT_TRUE(s.trajectories);
    EXPECT_DOUBLE_EQ(s.t_end_h, 48.0);
    EXPECT_DOUBLE_EQ(s.dt_h, 0.5);
    EXPECT_EQ(s.out, "/base/out/result.h5");
    EXPECT_EQ(s.chunk, 16u);
    EXPECT_EQ(s.threads, 2);
    EXPECT_DOUBLE_EQ(s.memory_budget_bytes, 2.0 * 1073741824.0);
    EXPECT_EQ(s.sim.solver, SolverKind::exact);
    EXPECT_EQ(s.text, kSpec);
}

TEST(RunSpec, UnknownKeyNamesTheClosest) {
    std::string t = kSpec;
    t.replace(t.find("trajectories"), 12, "trajectory");
    const std::string e = error_of(t);
    EXPECT_NE(e.find("spec.toml:9"), std::string::npos) << e;
    EXPECT_NE(e.find("outputs.trajectory: unknown key (did you mean 'trajectories'?)"), std::string::npos) << e;
    EXPECT_NE(error_of(std::string(kSpec) + "\n[sovler]\nkind = \"ode\"\n").find("did you mean 'solver'"),
              std::string::npos);
}

TEST(RunSpec, RejectsBadValues) {
    auto with = [&](const std::string& from, const std::string& to) {
        std::string t = kSpec;
        t.replace(t.find(from), from.size(), to);
        return error_of(t);
    };
    EXPECT_NE(with("n = 100", "n = 0").find("population.n: value 0 must be in [1,"), std::string::npos);
    EXPECT_NE(with("seed = 42", "seed = -1").find("population.seed"), std::string::npos);
    EXPECT_NE(with("chunk = 16", "chunk = 0").find("run.chunk"), std::string::npos);
    EXPECT_NE(with("\"2 GiB\"", "\"2 GB/s\"").find("run.memory_budget"), std::string::npos);
    EXPECT_NE(with("\"2 GiB\"", "\"2 Gib\"").find("did you mean 'GiB'"), std::string::npos);
    EXPECT_NE(with("out/result.h5", "out/result.csv").find("must end in .h5"), std::string::npos);
    EXPECT_NE(with("dt = \"30 min\"", "dt = \"30\"").find("outputs.dt"), std::string::npos);
    EXPECT_NE(
        error_of(std::string(kSpec) + "[solver]\nkind = \"exact\"\nrtol = 1e-6\n").find("apply to kind = \"ode\""),
        std::string::npos);
    EXPECT_NE(error_of(std::string(kSpec) + "[design]\nkind = \"sobol\"\n").find("[population] or [design], not both"),
              std::string::npos);
    EXPECT_NE(error_of("schedule = \"iv-3x-weekly\"\n" + std::string(kSpec)).find("regimen and schedule are exclusive"),
              std::string::npos);
    std::string no_run = kSpec;
    no_run.erase(no_run.find("[run]"));
    EXPECT_NE(error_of(no_run).find("[run]: required"), std::string::npos);
}

TEST(RunSpec, OdeSolverSettings) {
    const RunSpec s =
        parse_run_spec(std::string(kSpec) + "[solver]\nkind = \"ode\"\nrtol = 1e-9\natol = 1e-12\n", "s", "");
    EXPECT_EQ(s.sim.solver, SolverKind::ode);
    EXPECT_DOUBLE_EQ(s.sim.rtol, 1e-9);
    EXPECT_DOUBLE_EQ(s.sim.atol, 1e-12);
}

TEST(Shards, ParseAndRejects) {
    const Shard s = parse_shard("2/3");
    EXPECT_EQ(s.index, 2u);
    EXPECT_EQ(s.count, 3u);
    for (const char* bad : {"3/3", "1", "/3", "1/", "-1/3", "1/0", "a/b", "1/3x", "1//3"})
        EXPECT_THROW(parse_shard(bad), InputError) << bad;
}

// Every index in exactly one shard, shards in order, whole chunks, as equal as possible.
TEST(Shards, RangesCoverExactlyOnce) {
    for (std::size_t chunk : {1u, 4u, 16u})
        for (std::size_t n : {1u, 2u, 7u, 100u, 101u})
            for (std::size_t count : {1u, 2u, 3u, 7u, 16u}) {
                std::size_t next = 0, lo = n, hi = 0;
                for (std::size_t i = 0; i < count; ++i) {
                    std::size_t b = 0, e = 0;
                    shard_range(n, Shard{i, count}, b, e, chunk);
                    EXPECT_EQ(b, next) << n << " " << count << " " << i;
                    EXPECT_TRUE(b % chunk == 0 || b == n);
                    if (e < n) {
                        lo = std::min(lo, (e - b) / chunk);
                        hi = std::max(hi, (e - b) / chunk);
                    }
                    next = e;
                }
                EXPECT_EQ(next, n);
                if (hi >= lo) {
                    EXPECT_LE(hi - lo, 1u) << n << " " << count << " " << chunk;
                }
            }
}

TEST(Shards, FileNames) {
    EXPECT_EQ(shard_path("/d/out.h5", Shard{1, 3}), "/d/out.shard-1-of-3.h5");
    EXPECT_EQ(shard_path("/d/out.h5", Shard{0, 1}), "/d/out.h5");
}

// [design] instead of [population]: kind, n, seed, shift and the factors in their written order.
TEST(RunSpec, DesignTable) {
    std::string spec = kSpec;
    const auto pop = spec.find("[population]");
    const auto next = spec.find("[outputs]");
    ASSERT_NE(pop, std::string::npos);
    ASSERT_NE(next, std::string::npos);
    spec.replace(pop, next - pop,
                 "[design]\nkind = \"lhs\"\nn = 64\nseed = 9\n"
                 "factors = [\"weight=uniform(50 kg, 110 kg)\", \"k10=uniform(0.01, 0.1)\"]\n\n");
    const RunSpec s = parse_run_spec(spec, "s.toml", "");
    EXPECT_TRUE(s.is_design());
    EXPECT_EQ(s.design_kind, "lhs");
    EXPECT_EQ(s.design_n, 64u);
    EXPECT_EQ(s.design_seed, 9u);
    ASSERT_EQ(s.design_factors.size(), 2u);
    EXPECT_EQ(s.design_factors[0].first, "weight");   // written order, not sorted
    EXPECT_EQ(s.design_factors[1].second, "uniform(0.01, 0.1)");
    auto error_with = [&](const std::string& from, const std::string& to) {
        std::string t = spec;
        t.replace(t.find(from), from.size(), to);
        try {
            parse_run_spec(t, "s.toml", "").validate();
        } catch (const InputError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(error_with("kind = \"lhs\"", "kind = \"grid\"").find("must be \"sobol\" or \"lhs\""), std::string::npos);
    EXPECT_NE(error_with("n = 64", "n = 0").find("design.n"), std::string::npos);
    EXPECT_NE(error_with("seed = 9", "shift = true").find("design.shift: applies to kind"), std::string::npos);
    EXPECT_NE(error_with("\"weight=uniform(50 kg, 110 kg)\", ", "\"weight\", ").find("NAME=KIND(ARGS)"),
              std::string::npos);
    EXPECT_NE(error_with("factors = [", "factor = [").find("did you mean 'factors'"), std::string::npos);
}

TEST(RunSpec, CourseDesignOverSchedules) {
    const std::string spec = R"TOML(
[design]
kind = "sobol"
n = 8
factors = ["schedule=choice(iv-2x-weekly, iv-3x-weekly)", "weight=uniform(50 kg, 110 kg)"]
[course]
weeks = 1
[run]
out = "c.h5"
)TOML";
    const RunSpec s = parse_run_spec(spec, "s.toml", "");
    EXPECT_TRUE(s.is_design());
    EXPECT_TRUE(s.has_schedule_factor());
    EXPECT_TRUE(s.is_course());   // a course run without schedule = NAME
    EXPECT_TRUE(s.schedule.empty());
    EXPECT_EQ(s.course_weeks, 1);
    auto error_with = [&](const std::string& from, const std::string& to) {
        std::string t = spec;
        t.replace(t.find(from), from.size(), to);
        try {
            parse_run_spec(t, "s.toml", "").validate();
        } catch (const InputError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(error_with("[design]", "schedule = \"iv-2x-weekly\"\n[design]").find("both set the schedule"),
              std::string::npos);
    EXPECT_NE(error_with("\"weight=", "\"dose=uniform(10 mg, 50 mg)\", \"weight=")
                  .find("design.factors: dose: a course's doses come from its schedule"),
              std::string::npos);
    EXPECT_NE(error_with("[design]", "regimen = \"r.toml\"\n[design]").find("regimen and schedule are exclusive"),
              std::string::npos);
    // Without the schedule factor a design is a PK design again: [course] does not apply.
    EXPECT_NE(error_with("\"schedule=choice(iv-2x-weekly, iv-3x-weekly)\", ", "").find("[course]: applies with"),
              std::string::npos);
}
