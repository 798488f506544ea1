// Result files: the HDF5 layout read back with the plain HDF5 API (as h5py would), CSV, and no
// half-written file on failure.
#include <gtest/gtest.h>
#include <H5Cpp.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "ketasim/ketasim.hpp"

using namespace ketasim;
namespace fs = std::filesystem;

namespace {

const std::string kModels = KETASIM_TEST_MODELS_DIR;

std::string read_str_attr(const H5::H5Object& obj, const std::string& name) {
    H5::Attribute a = obj.openAttribute(name);
    std::string s;
    a.read(a.getStrType(), s);
    return s;
}

struct Fixture {
    Model model = load_library_model("esketamine_nasal", kModels);
    Regimen regimen = Regimen::intranasal(56, {0.0});
    Trajectory tr = simulate(model, regimen, OutputGrid::uniform(0, 6, 0.25));
    ResultArm arm() const {
        ResultArm a;
        a.name = "esk";
        a.model = &model;
        a.regimen_text = "56 mg";
        a.subjects = {tr, tr};
        a.subject_info = {Subject{}, Subject{}};
        a.subject_info[1].weight_kg = 90;
        std::map<std::string, Metrics> ms;
        ms["C_plasma"] = compute_metrics(tr, "C_plasma");
        a.metrics = {ms, ms};
        return a;
    }
};

fs::path tmpdir() {
    fs::path d = fs::temp_directory_path() / ("ketasim_results_test_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
}

}   // namespace

TEST(ResultsIo, Hdf5LayoutReadsBack) {
    Fixture f;
    const std::string path = (tmpdir() / "one.h5").string();
    write_hdf5(path, {f.arm()}, RunInfo{});
    EXPECT_FALSE(fs::exists(path + ".part"));
    H5::H5File file(path, H5F_ACC_RDONLY);
    H5::Group root = file.openGroup("/");
    EXPECT_EQ(read_str_attr(root, "complete"), "yes");
    EXPECT_EQ(read_str_attr(root, "model_name"), "esketamine_nasal");
    EXPECT_EQ(read_str_attr(root, "model_toml"), f.model.source_text);
    EXPECT_EQ(read_str_attr(root, "solver"), "exact");

    H5::DataSet time = file.openDataSet("/time");
    EXPECT_EQ(read_str_attr(time, "units"), "h");
    std::vector<double> t(f.tr.time.size());
    time.read(t.data(), H5::PredType::NATIVE_DOUBLE);
    EXPECT_EQ(t, f.tr.time);

    H5::DataSet c = file.openDataSet("/outputs/C_plasma");
    EXPECT_EQ(read_str_attr(c, "units"), "ng/mL");
    hsize_t dims[2];
    c.getSpace().getSimpleExtentDims(dims);
    ASSERT_EQ(dims[0], 2u);
    ASSERT_EQ(dims[1], f.tr.time.size());
    std::vector<double> v(dims[0] * dims[1]);
    c.read(v.data(), H5::PredType::NATIVE_DOUBLE);
    for (std::size_t j = 0; j < dims[1]; ++j) {
        EXPECT_EQ(v[j], f.tr.values(0, static_cast<Eigen::Index>(j)));
        EXPECT_EQ(v[dims[1] + j], f.tr.values(0, static_cast<Eigen::Index>(j)));
    }
    H5::DataSet cmax = file.openDataSet("/metrics/C_plasma/cmax");
    EXPECT_EQ(read_str_attr(cmax, "units"), "ng/mL");
    H5::DataSet auc = file.openDataSet("/metrics/C_plasma/auc_0_t");
    EXPECT_EQ(read_str_attr(auc, "units"), "ng/mL*h");
    H5::DataSet w = file.openDataSet("/subjects/weight_kg");
    double wv[2];
    w.read(wv, H5::PredType::NATIVE_DOUBLE);
    EXPECT_EQ(wv[1], 90.0);
}

TEST(ResultsIo, EveryRegistryMetricIsWrittenWithItsUnitAndCAtWithItsTimes) {
    Fixture f;
    ResultArm a = f.arm();
    MetricOptions mo;
    mo.at_times = {0.5, 1.0};
    std::map<std::string, Metrics> ms;
    ms["C_plasma"] = compute_metrics(f.tr, "C_plasma", mo);
    a.metrics = {ms, ms};
    a.at_times = mo.at_times;
    const std::string path = (tmpdir() / "registry.h5").string();
    write_hdf5(path, {a}, RunInfo{});
    H5::H5File file(path, H5F_ACC_RDONLY);
    H5::Group g = file.openGroup("/metrics/C_plasma");
    ASSERT_EQ(g.getNumObjs(), metric_registry().size() + 1);   // + c_at
    for (std::size_t q = 0; q < metric_registry().size(); ++q) {
        const MetricInfo& info = metric_registry()[q];
        H5::DataSet ds = g.openDataSet(info.name);
        EXPECT_EQ(read_str_attr(ds, "units"), metric_unit(info, "ng/mL")) << info.name;
        double v[2];
        ds.read(v, H5::PredType::NATIVE_DOUBLE);
        const double want = metric_value(ms["C_plasma"], q);
        if (std::isnan(want))
            EXPECT_TRUE(std::isnan(v[1])) << info.name;
        else
            EXPECT_EQ(v[1], want) << info.name;
    }
    H5::DataSet c = g.openDataSet("c_at");
    hsize_t dims[2];
    c.getSpace().getSimpleExtentDims(dims);
    EXPECT_EQ(dims[0], 2u);
    EXPECT_EQ(dims[1], 2u);
    double cv[4], tv[2];
    c.read(cv, H5::PredType::NATIVE_DOUBLE);
    c.openAttribute("at_times").read(H5::PredType::NATIVE_DOUBLE, tv);
    EXPECT_EQ(tv[0], 0.5);
    EXPECT_EQ(tv[1], 1.0);
    EXPECT_EQ(cv[3], ms["C_plasma"].c_at[1]);
}

TEST(ResultsIo, TextIsWrittenWholeOrNotAtAll) {
    const fs::path d = tmpdir();
    const std::string path = (d / "table.csv").string();
    write_text_atomically(path, "a,b\n1,2\n");
    std::ifstream in(path);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(all, "a,b\n1,2\n");
    EXPECT_FALSE(fs::exists(path + ".part"));
    // Missing directory: IoError naming it, nothing created.
    EXPECT_THROW(write_text_atomically((d / "no_such_dir" / "x.csv").string(), "x"), IoError);
    // The target is a directory: the rename fails; the temporary is removed.
    const fs::path sub = d / "a_directory.csv";
    fs::create_directories(sub / "inside");
    EXPECT_THROW(write_text_atomically(sub.string(), "x"), IoError);
    EXPECT_FALSE(fs::exists(sub.string() + ".part"));
    // A full device (Linux /dev/full): the stream error is detected, not reported as written.
    if (fs::exists("/dev/full")) {
        const fs::path link = d / "full.csv.part";
        // The temporary is path + ".part"; make it a link to /dev/full so the write hits ENOSPC.
        fs::remove(link);
        fs::create_symlink("/dev/full", link);
        std::string big(1 << 16, 'x');
        EXPECT_THROW(write_text_atomically((d / "full.csv").string(), big), IoError);
        EXPECT_FALSE(fs::exists(d / "full.csv"));
        EXPECT_FALSE(fs::is_symlink(link));
    }
}

TEST(ResultsIo, SeveralArmsUnderArms) {
    Fixture f;
    ResultArm a = f.arm(), b = f.arm();
    b.name = "other";
    const std::string path = (tmpdir() / "two.h5").string();
    write_hdf5(path, {a, b}, RunInfo{});
    H5::H5File file(path, H5F_ACC_RDONLY);
    EXPECT_NO_THROW(file.openDataSet("/arms/esk/outputs/C_metabolite"));
    EXPECT_NO_THROW(file.openDataSet("/arms/other/time"));
}

TEST(ResultsIo, FailedWriteLeavesNothing) {
    Fixture f;
    const fs::path d = tmpdir();
    const std::string missing_dir = (d / "no_such_dir" / "x.h5").string();
    EXPECT_THROW(write_hdf5(missing_dir, {f.arm()}, RunInfo{}), IoError);
    EXPECT_FALSE(fs::exists(d / "no_such_dir"));
    const std::string p = (d / "empty.h5").string();
    EXPECT_THROW(write_hdf5(p, {}, RunInfo{}), InputError);
    EXPECT_FALSE(fs::exists(p));
    EXPECT_FALSE(fs::exists(p + ".part"));
    ResultArm bad = f.arm();
    bad.subjects[1].time.push_back(99.0);   // inconsistent grids
    EXPECT_THROW(write_hdf5(p, {bad}, RunInfo{}), InputError);
    EXPECT_FALSE(fs::exists(p));
    EXPECT_THROW(write_results((d / "x.txt").string(), {f.arm()}, RunInfo{}), InputError);
    EXPECT_FALSE(fs::exists(d / "x.txt"));
}

TEST(ResultsIo, OverwriteReplacesWholeFile) {
    Fixture f;
    const std::string path = (tmpdir() / "over.h5").string();
    write_hdf5(path, {f.arm()}, RunInfo{});
    ResultArm single = f.arm();
    single.subjects.resize(1);
    single.subject_info.resize(1);
    single.metrics.resize(1);
    write_hdf5(path, {single}, RunInfo{});
    H5::H5File file(path, H5F_ACC_RDONLY);
    hsize_t dims[2];
    file.openDataSet("/outputs/C_plasma").getSpace().getSimpleExtentDims(dims);
    EXPECT_EQ(dims[0], 1u);
}

TEST(ResultsIo, CsvHasUnitsAndValues) {
    Fixture f;
    const std::string path = (tmpdir() / "one.csv").string();
    write_csv(path, {f.arm()});
    std::ifstream in(path);
    std::string header, first;
    std::getline(in, header);
    std::getline(in, first);
    EXPECT_EQ(header, "arm,subject,time [h],C_plasma [ng/mL],C_metabolite [ng/mL],Ce [ng/mL]");
    EXPECT_EQ(first.substr(0, 8), "esk,0,0,");
    std::size_t lines = 2;
    for (std::string l; std::getline(in, l);) ++lines;
    EXPECT_EQ(lines, 1 + 2 * f.tr.time.size());
}
