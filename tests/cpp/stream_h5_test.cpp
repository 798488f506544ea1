// Streamed run files: values equal the in-memory population run; identical for any thread count;
// a stopped run resumes to the same values; shards merge to the unsharded file; the size estimate;
// a second writer and foreign files are refused; chunks compressed in the workers are stored
// byte for byte as HDF5's own filter pipeline stores them.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/stream_h5.hpp"
#include "ketasim/errors.hpp"
#include "ketasim/io.hpp"
#include "ketasim/population.hpp"
#include "ketasim/runspec.hpp"

using namespace ketasim;
namespace fs = std::filesystem;

namespace {

class StreamH5 : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("ketasim_stream_" + std::to_string(::getpid()) + "_" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        std::ifstream in(std::string(KETASIM_TEST_DATA_DIR) + "/run/iv_population.toml");
        std::ostringstream ss;
        ss << in.rdbuf();
        text_ = ss.str();
    }
    void TearDown() override { fs::remove_all(dir_); }
    RunSpec spec(const std::string& name) const {
        RunSpec s = parse_run_spec(text_, "iv_population.toml", std::string(KETASIM_TEST_DATA_DIR) + "/run");
        s.out = (dir_ / name).string();
        return s;
    }
    static detail::RowBlock all_rows(const std::string& path) {
        detail::RunFileReader r(path);
        EXPECT_TRUE(r.complete());
        return r.read_rows(r.layout().begin, r.layout().end);
    }
    static void expect_same(const detail::RowBlock& a, const detail::RowBlock& b) {
        ASSERT_EQ(a.begin, b.begin);
        ASSERT_EQ(a.end, b.end);
        ASSERT_EQ(a.columns.size(), b.columns.size());
        ASSERT_EQ(a.outputs.size(), b.outputs.size());
        // Bit-identical, NaN (an undefined metric) equal to NaN.
        auto same = [](const std::vector<double>& x, const std::vector<double>& y) {
            if (x.size() != y.size()) return false;
            for (std::size_t i = 0; i < x.size(); ++i)
                if (!(x[i] == y[i] || (std::isnan(x[i]) && std::isnan(y[i])))) return false;
            return true;
        };
        for (std::size_t c = 0; c < a.columns.size(); ++c)
            EXPECT_TRUE(same(a.columns[c], b.columns[c])) << "column " << c;
        for (std::size_t o = 0; o < a.outputs.size(); ++o)
            EXPECT_TRUE(same(a.outputs[o], b.outputs[o])) << "output " << o;
    }
    fs::path dir_;
    std::string text_;
};

}   // namespace

TEST_F(StreamH5, ValuesEqualTheInMemoryRun) {
    const RunSpec s = spec("a.h5");
    const RunReport rep = execute_run(s, RunControl{});
    EXPECT_TRUE(rep.complete);
    EXPECT_EQ(rep.points, 50u);
    EXPECT_EQ(rep.computed, 50u);
    const detail::RowBlock rows = all_rows(s.out);

    const Model model = load_library_model(s.model);
    const Regimen regimen = load_regimen(s.regimen);
    PopulationSpec ps;
    ps.n = s.n;
    ps.seed = s.seed;
    ps.covariates = load_covariate_distributions(s.covariates);
    const PopulationSource source(model, ps, regimen.per_kg());
    PopulationRunOptions ro;
    ro.outputs = s.outputs;
    ro.keep_trajectories = true;
    MemorySink sink(true);
    run_population(model, regimen, OutputGrid::uniform(0, s.t_end_h, s.dt_h), source, 0, 50, s.sim, ro, sink);
    detail::RowBlock mem;
    mem.begin = 0;
    mem.end = 50;
    mem.columns = sink.columns;
    std::vector<double> traj;
    for (const auto& tr : sink.trajectories)
        traj.insert(traj.end(), tr.values.row(0).data(), tr.values.row(0).data() + tr.values.cols());
    mem.outputs.push_back(traj);
    expect_same(rows, mem);

    detail::RunFileReader r(s.out);
    EXPECT_EQ(r.layout().time.size(), 121u);   // 5 d hourly
    EXPECT_EQ(r.layout().dose_time.size(), 6u);
    EXPECT_EQ(r.layout().outputs, std::vector<std::string>{"C_plasma"});
    bool has_seed = false, has_rtol = false;
    for (const auto& a : r.layout().int_attrs) has_seed = has_seed || (a.first == "seed" && a.second == 7);
    for (const auto& a : r.layout().number_attrs) has_rtol = has_rtol || a.first == "rtol";
    EXPECT_TRUE(has_seed);    // random effects and weights were drawn
    EXPECT_FALSE(has_rtol);   // the exact solver has no tolerance
    for (auto d : r.chunks_done()) EXPECT_EQ(d, 1);
}

TEST_F(StreamH5, IdenticalForAnyThreadCount) {
    RunControl one, two;
    one.threads = 1;
    two.threads = 2;
    execute_run(spec("t1.h5"), one);
    execute_run(spec("t2.h5"), two);
    expect_same(all_rows((dir_ / "t1.h5").string()), all_rows((dir_ / "t2.h5").string()));
}

TEST_F(StreamH5, StoppedRunResumesToTheSameValues) {
    execute_run(spec("full.h5"), RunControl{});
    const RunSpec s = spec("part.h5");
    RunControl stop;
    stop.threads = 2;
    int chunks = 0;
    stop.stop = [&] { return ++chunks >= 2; };   // as a SIGTERM after the second chunk
    const RunReport r1 = execute_run(s, stop);
    EXPECT_FALSE(r1.complete);
    {
        detail::RunFileReader r(s.out);
        EXPECT_FALSE(r.complete());
        std::size_t done = 0;
        for (auto d : r.chunks_done()) done += d;
        EXPECT_LT(done, r.layout().n_chunks());
    }
    // Not resumable without --resume; a second stop keeps the file resumable too.
    EXPECT_THROW(execute_run(s, RunControl{}), InputError);
    RunControl resume;
    resume.resume = true;
    const RunReport r2 = execute_run(s, resume);
    EXPECT_TRUE(r2.complete);
    EXPECT_EQ(r2.resumed + r2.computed, 50u);
    EXPECT_EQ(r2.resumed, r1.computed);
    expect_same(all_rows(s.out), all_rows((dir_ / "full.h5").string()));
    // Complete: resuming again does nothing, running again is refused.
    EXPECT_TRUE(execute_run(s, resume).complete);
    EXPECT_THROW(execute_run(s, RunControl{}), InputError);
}

TEST_F(StreamH5, ResumeRefusesAnotherSpec) {
    const RunSpec s = spec("x.h5");
    RunControl stop;
    stop.stop = [] { return true; };
    execute_run(s, stop);
    RunSpec other = s;
    other.text += "\n# changed\n";
    RunControl resume;
    resume.resume = true;
    try {
        execute_run(other, resume);
        FAIL();
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("different spec"), std::string::npos) << e.what();
    }
}

TEST_F(StreamH5, SecondWriterFails) {
    const RunSpec s = spec("busy.h5");
    detail::RunLock held(s.out);
    try {
        execute_run(s, RunControl{});
        FAIL();
    } catch (const IoError& e) {
        EXPECT_NE(std::string(e.what()).find("another ketasim run (pid " + std::to_string(::getpid())),
                  std::string::npos)
            << e.what();
    }
    EXPECT_FALSE(fs::exists(s.out));
}

TEST_F(StreamH5, ShardsMergeToTheUnshardedFile) {
    execute_run(spec("all.h5"), RunControl{});
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < 3; ++i) {
        RunControl c;
        c.shard = Shard{i, 3};
        parts.push_back(execute_run(spec("sh.h5"), c).path);
    }
    EXPECT_EQ(parts[1], (dir_ / "sh.shard-1-of-3.h5").string());
    const std::string merged = (dir_ / "merged.h5").string();
    merge_run_files(merged, {parts[2], parts[0], parts[1]});   // any order
    expect_same(all_rows(merged), all_rows((dir_ / "all.h5").string()));
    detail::RunFileReader a((dir_ / "all.h5").string()), m(merged);
    EXPECT_EQ(a.layout().spec_hash, m.layout().spec_hash);
    EXPECT_EQ(a.layout().text_attrs, m.layout().text_attrs);
    EXPECT_EQ(a.layout().int_attrs, m.layout().int_attrs);

    // Chunk-aligned shards: the merge copies compressed chunks as stored, checksums included.
    {
        detail::RunFileReader s1(parts[1]);
        detail::RunFileLayout L = a.layout();
        detail::RunFileWriter w((dir_ / "raw.h5").string(), L);
        const std::size_t k = (s1.layout().begin - L.begin) / L.chunk;
        EXPECT_TRUE(w.copy_chunk_raw(k, s1));
        EXPECT_FALSE(w.copy_chunk_raw(0, s1));   // not in that shard
    }
    auto merge_error = [&](const std::vector<std::string>& in) {
        try {
            merge_run_files((dir_ / "bad.h5").string(), in);
        } catch (const InputError& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    EXPECT_NE(merge_error({parts[0], parts[2]}).find("uncovered"), std::string::npos);
    EXPECT_NE(merge_error({parts[0], parts[1]}).find("are missing"), std::string::npos);
    EXPECT_NE(merge_error({parts[0], parts[1], parts[1], parts[2]}).find("overlap"), std::string::npos);
    EXPECT_FALSE(fs::exists(dir_ / "bad.h5"));
}

TEST_F(StreamH5, EstimateWithinTwentyPercent) {
    RunSpec s = spec("big.h5");
    s.n = 400;
    s.text += "\n# n = 400\n";
    const RunEstimate e = estimate_run(s, RunControl{});
    EXPECT_EQ(e.points, 400u);
    execute_run(s, RunControl{});
    const double real = static_cast<double>(fs::file_size(s.out));
    EXPECT_NEAR(e.output_bytes / real, 1.0, 0.2) << e.output_bytes << " vs " << real;
    EXPECT_GT(e.peak_memory_bytes, 0.0);
    RunControl c;
    s.memory_budget_bytes = 1.0;
    const RunEstimate tight = estimate_run(s, c);
    EXPECT_THROW(check_estimate(tight, c), InputError);
    c.allow_over_budget = true;
    EXPECT_NO_THROW(check_estimate(tight, c));
}

TEST_F(StreamH5, ReaderRefusesOtherFiles) {
    const std::string p = (dir_ / "x.h5").string();
    std::ofstream(p) << "not hdf5";
    EXPECT_THROW(detail::RunFileReader{p}, IoError);
    EXPECT_THROW(detail::RunFileReader{(dir_ / "missing.h5").string()}, IoError);
}

// The writer filters chunks itself (Fletcher-32, shuffle, deflate) and stores them with
// H5Dwrite_chunk. Reference: the same values written through H5Dwrite into a dataset with the
// same creation properties, i.e. through HDF5's own filters. Every stored chunk must be the
// same bytes (edge chunks padded alike), and the values must read back.
class EncodedChunks : public ::testing::TestWithParam<std::tuple<int, std::size_t>> {};

TEST_P(EncodedChunks, StoredAsHdf5sOwnPipelineStoresThem) {
    const auto [level, chunk] = GetParam();
    const fs::path dir = fs::temp_directory_path() / ("ketasim_encoded_" + std::to_string(::getpid()) + "_" +
                                                      std::to_string(level) + "_" + std::to_string(chunk));
    fs::remove_all(dir);
    fs::create_directories(dir);
    detail::RunFileLayout L;
    L.n_total = 23;
    L.begin = 0;
    L.end = 23;   // not a multiple of the chunk: the last HDF5 chunk is an edge chunk
    L.chunk = chunk;
    L.columns = {"subject", "x"};
    L.column_units = {"", "mg"};
    L.outputs = {"y"};
    L.output_units = {"ng/mL"};
    L.time = {0.0, 0.5, 1.0, 2.0, 4.0};
    L.compression = level;
    const std::size_t N = L.rows(), T = L.time.size();
    std::vector<double> x(N), y(N * T);
    for (std::size_t i = 0; i < N; ++i) x[i] = 70.0 + std::sin(1.0 + static_cast<double>(i)) * 13.0;
    for (std::size_t i = 0; i < N * T; ++i)
        y[i] = 100.0 * std::exp(-0.1 * static_cast<double>(i % T)) + 1e-3 * static_cast<double>(i);
    const std::string path = (dir / "run.h5").string();
    {
        detail::RunFileWriter w(path, L);
        for (std::size_t k = L.n_chunks(); k-- > 0;) {   // any order
            detail::RowBlock b;
            b.begin = L.chunk_begin(k);
            b.end = L.chunk_end(k);
            std::vector<double> ids, xs, ys;
            for (std::size_t r = b.begin; r < b.end; ++r) {
                ids.push_back(static_cast<double>(r));
                xs.push_back(x[r]);
                for (std::size_t j = 0; j < T; ++j) ys.push_back(y[r * T + j]);
            }
            b.columns = {ids, xs};
            b.outputs = {ys};
            w.write_chunk(k, b);
        }
        w.mark_complete();
    }
    detail::RunFileReader reader(path);
    EXPECT_TRUE(reader.complete());
    const detail::RowBlock back = reader.read_rows(0, N);
    EXPECT_EQ(back.columns[1], x);
    EXPECT_EQ(back.outputs[0], y);
    for (std::size_t r = 0; r < N; ++r) EXPECT_EQ(back.columns[0][r], static_cast<double>(r));

    const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    const std::string ref_path = (dir / "ref.h5").string();
    const hid_t g = H5Fcreate(ref_path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    ASSERT_GE(g, 0);
    std::vector<std::int64_t> ids(N);
    for (std::size_t i = 0; i < N; ++i) ids[i] = static_cast<std::int64_t>(i);
    struct Case {
        const char* name;
        hid_t ftype, mtype;
        const void* data;
        int rank;
    };
    const Case cases[] = {{"subject", H5T_STD_I64LE, H5T_NATIVE_INT64, ids.data(), 1},
                          {"x", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, x.data(), 1},
                          {"y", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, y.data(), 2}};
    std::size_t compared = 0;
    for (const Case& c : cases) {
        const hid_t ds = H5Dopen2(f, c.name, H5P_DEFAULT);
        ASSERT_GE(ds, 0) << c.name;
        const hid_t dcpl = H5Dget_create_plist(ds);
        const hid_t space = H5Dget_space(ds);
        const hid_t ref = H5Dcreate2(g, c.name, c.ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        ASSERT_GE(ref, 0);
        ASSERT_GE(H5Dwrite(ref, c.mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, c.data), 0);
        hsize_t cdims[2] = {0, 0};
        ASSERT_EQ(H5Pget_chunk(dcpl, 2, cdims), c.rank);
        EXPECT_EQ(H5Pget_nfilters(dcpl), level > 0 ? 3 : 1);
        for (hsize_t r = 0; r < N; r += cdims[0]) {
            const hsize_t at[2] = {r, 0};
            hsize_t n1 = 0, n2 = 0;
            ASSERT_GE(H5Dget_chunk_storage_size(ds, at, &n1), 0);
            ASSERT_GE(H5Dget_chunk_storage_size(ref, at, &n2), 0);
            std::vector<char> a(n1), b(n2);
            std::uint32_t m1 = 9, m2 = 9;
            ASSERT_GE(H5Dread_chunk(ds, H5P_DEFAULT, at, &m1, a.data()), 0);
            ASSERT_GE(H5Dread_chunk(ref, H5P_DEFAULT, at, &m2, b.data()), 0);
            EXPECT_EQ(m1, m2);
            EXPECT_EQ(a, b) << c.name << " chunk at row " << r;
            ++compared;
        }
        H5Dclose(ref);
        H5Sclose(space);
        H5Pclose(dcpl);
        H5Dclose(ds);
    }
    EXPECT_GT(compared, 3u);
    H5Fclose(g);
    H5Fclose(f);
    fs::remove_all(dir);
}

// Levels 0 (Fletcher-32 only), 1 and 4; chunks of 1 row (a 1-element HDF5 chunk is not
// shuffled), 4 rows and 7 rows (23 = 3 x 7 + 2: an edge chunk of 2 rows).
INSTANTIATE_TEST_SUITE_P(LevelsAndChunks, EncodedChunks,
                         ::testing::Combine(::testing::Values(0, 1, 4),
                                            ::testing::Values(std::size_t{1}, std::size_t{4}, std::size_t{7})));

// A course design over schedules: one row per point with the schedule its factor chose, equal
// (bit for bit) to the same typical patients in single-schedule course runs (a subject table of
// those points' weights, no random effects); per-session columns past the shorter schedule's
// last session are NaN.
TEST_F(StreamH5, CourseDesignPointsEqualSingleScheduleRuns) {
    const std::string course = "[course]\nweeks = 1\nfollow_up = \"2 d\"\nmetrics_only = true\n";
    const std::string design_text =
        "[design]\nkind = \"lhs\"\nn = 6\nseed = 3\n"
        "factors = [\"schedule=choice(iv-2x-weekly, iv-3x-weekly)\", \"weight=uniform(50 kg, 110 kg)\"]\n" +
        course + "[run]\nout = \"design.h5\"\nchunk = 4\n";
    const RunSpec ds = parse_run_spec(design_text, "design.toml", dir_.string());
    const RunReport rep = execute_run(ds, RunControl{});
    ASSERT_TRUE(rep.complete);
    detail::RunFileReader dr(ds.out);
    const detail::RunFileLayout& L = dr.layout();
    const detail::RowBlock rows = dr.read_rows(0, 6);
    ASSERT_EQ(L.columns[0], "point");
    ASSERT_EQ(L.columns[1], "schedule");
    ASSERT_EQ(L.columns[2], "weight");
    bool has_choices = false;
    for (const auto& a : L.text_attrs)
        has_choices = has_choices || (a.first == "schedule_choices" && a.second == "iv-2x-weekly, iv-3x-weekly");
    EXPECT_TRUE(has_choices);
    const char* names[] = {"iv-2x-weekly", "iv-3x-weekly"};
    auto col = [&](const detail::RunFileLayout& lay, const std::string& n) {
        const auto it = std::find(lay.columns.begin(), lay.columns.end(), n);
        EXPECT_NE(it, lay.columns.end()) << n;
        return static_cast<std::size_t>(it - lay.columns.begin());
    };
    std::size_t seen[2] = {0, 0};
    for (std::size_t s = 0; s < 2; ++s) {
        std::vector<std::size_t> pts;
        std::ostringstream csv;
        csv.precision(17);
        csv << "weight[kg]\n";
        for (std::size_t r = 0; r < 6; ++r)
            if (rows.columns[1][r] == static_cast<double>(s)) {
                pts.push_back(r);
                csv << rows.columns[2][r] << "\n";
            }
        seen[s] = pts.size();
        if (pts.empty()) continue;
        const std::string table = (dir_ / ("w" + std::to_string(s) + ".csv")).string();
        std::ofstream(table) << csv.str();
        const std::string single = "schedule = \"" + std::string(names[s]) +
                                   "\"\n[population]\nvariability = false\ntable = \"" + table + "\"\n" + course +
                                   "[run]\nout = \"single" + std::to_string(s) + ".h5\"\n";
        const RunSpec ss = parse_run_spec(single, "single.toml", dir_.string());
        ASSERT_TRUE(execute_run(ss, RunControl{}).complete);
        detail::RunFileReader sr(ss.out);
        const detail::RowBlock srows = sr.read_rows(0, pts.size());
        // Every course column of the single run, at the same rows of the design.
        const std::size_t first = col(sr.layout(), "sessions_given");
        for (std::size_t c = first; c < sr.layout().columns.size(); ++c) {
            const std::size_t dc = col(L, sr.layout().columns[c]);
            for (std::size_t k = 0; k < pts.size(); ++k) {
                const double a = rows.columns[dc][pts[k]], b = srows.columns[c][k];
                EXPECT_TRUE(a == b || (std::isnan(a) && std::isnan(b)))
                    << sr.layout().columns[c] << " point " << pts[k] << ": " << a << " vs " << b;
            }
        }
        // Sessions the schedule does not have: NaN in the design.
        for (std::size_t c = first; c < L.columns.size(); ++c) {
            if (std::find(sr.layout().columns.begin(), sr.layout().columns.end(), L.columns[c]) !=
                sr.layout().columns.end())
                continue;
            for (std::size_t p : pts) EXPECT_TRUE(std::isnan(rows.columns[c][p])) << L.columns[c];
        }
        EXPECT_EQ(rows.columns[col(L, "sessions_given")][pts[0]], s == 0 ? 2.0 : 3.0);
    }
    EXPECT_EQ(seen[0], 3u);   // a Latin hypercube of 6 points: each half of [0, 1) three times
    EXPECT_EQ(seen[1], 3u);
}
