// NONMEM-style event tables: columns, units in the header, CMT resolution, errors naming
// path:line, column and value, and simulation of a table against the same Regimen built in code.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>

#include "ketasim/errors.hpp"
#include "ketasim/io.hpp"
#include "ketasim/simulate.hpp"

namespace ketasim {
namespace {

namespace fs = std::filesystem;

const Model& esketamine() {
    static const Model m = load_model(std::string(KETASIM_TEST_MODELS_DIR) + "/esketamine_nasal.toml");
    return m;
}

class EventTableTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        dir_ = fs::temp_directory_path() / ("ketasim_event_table_test_" + std::string(info->name()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::string write(const std::string& name, const std::string& content) {
        const std::string p = (dir_ / name).string();
        std::ofstream(p, std::ios::binary) << content;
        return p;
    }

    // Writes `csv` as t.csv; expects InputError containing "<path>:<line>" and every part.
    void expect_error(const std::string& csv, int line, std::initializer_list<const char*> parts,
                      const Model* model = nullptr) {
        const std::string p = write("t.csv", csv);
        EXPECT_THROW(load_event_table(p, model), InputError);
        try {
            load_event_table(p, model);
        } catch (const InputError& e) {
            const std::string msg = e.what();
            const std::string where = p + ":" + std::to_string(line) + ":";
            EXPECT_NE(msg.find(where), std::string::npos) << "'" << where << "' not in: " << msg;
            for (const char* part : parts)
                EXPECT_NE(msg.find(part), std::string::npos) << "'" << part << "' not in: " << msg;
        } catch (...) {
        }
    }

    fs::path dir_;
};

TEST_F(EventTableTest, DosesAndObservations) {
    const auto t = load_event_table(write("a.csv",
                                          "ID,TIME,AMT,CMT,EVID\n"
                                          "1,0,25,iv,1\n"
                                          "1,0.5,0,iv,0\n"
                                          "1,1,.,.,0\n"
                                          "1,24,30,oral,1\n"));
    ASSERT_EQ(t.regimen.events.size(), 2u);
    EXPECT_EQ(t.regimen.events[0].time, 0.0);
    EXPECT_EQ(t.regimen.events[0].amount, 25.0);
    EXPECT_EQ(t.regimen.events[0].route, "iv");
    EXPECT_FALSE(t.regimen.events[0].per_kg);
    EXPECT_EQ(t.regimen.events[0].duration, 0.0);
    EXPECT_EQ(t.regimen.events[0].device, 1);
    EXPECT_EQ(t.regimen.events[1].time, 24.0);
    EXPECT_EQ(t.regimen.events[1].route, "oral");   // without a model, CMT names a route
    EXPECT_EQ(t.observation_times, (std::vector<double>{0.5, 1.0}));
}

TEST_F(EventTableTest, ColumnNamesAreCaseInsensitiveAndOnlyTimeIsRequired) {
    const auto t = load_event_table(write("a.csv", "time,Amt\n0,10\n2,0\n3,\n"));
    ASSERT_EQ(t.regimen.events.size(), 1u);   // EVID absent: AMT > 0 is a dose, else an observation
    EXPECT_EQ(t.regimen.events[0].route, "iv");
    EXPECT_EQ(t.observation_times, (std::vector<double>{2.0, 3.0}));
    const auto obs_only = load_event_table(write("b.csv", "TIME\n1\n0.5\n1\n"));
    EXPECT_TRUE(obs_only.regimen.events.empty());
    EXPECT_EQ(obs_only.observation_times, (std::vector<double>{0.5, 1.0}));   // sorted, duplicates merged
}

TEST_F(EventTableTest, UnitsInTheHeader) {
    const auto t = load_event_table(write("a.csv",
                                          "TIME[min],AMT[mg/kg],DUR[min],EVID\n"
                                          "0,0.5,40,1\n"
                                          "2880,0.5,40,1\n"
                                          "90,0,0,0\n"));
    ASSERT_EQ(t.regimen.events.size(), 2u);
    EXPECT_EQ(t.regimen.events[0].duration, 40.0 / 60.0);   // exact, as written in code
    EXPECT_TRUE(t.regimen.events[0].per_kg);
    EXPECT_EQ(t.regimen.events[0].amount, 0.5);
    EXPECT_EQ(t.regimen.events[1].time, 48.0);
    EXPECT_EQ(t.observation_times, (std::vector<double>{1.5}));

    // 23 * (1.0 / 60.0) is one ulp away from 23.0 / 60.0; the reader divides.
    const auto m = load_event_table(write("m.csv", "TIME[min],AMT,DUR[min]\n31,1,23\n"));
    EXPECT_EQ(m.regimen.events[0].time, 31.0 / 60.0);
    EXPECT_EQ(m.regimen.events[0].duration, 23.0 / 60.0);

    const auto g = load_event_table(write("b.csv", "TIME[d],AMT[g]\n1,0.05\n"));
    EXPECT_EQ(g.regimen.events[0].time, 24.0);
    EXPECT_DOUBLE_EQ(g.regimen.events[0].amount, 50.0);
}

TEST_F(EventTableTest, RateGivesDuration) {
    const auto t = load_event_table(write("a.csv", "TIME,AMT,RATE[mg/min]\n0,35,0.875\n"));
    EXPECT_DOUBLE_EQ(t.regimen.events[0].duration, 40.0 / 60.0);
    const auto h = load_event_table(write("b.csv", "TIME,AMT,RATE\n0,20,40\n"));   // default mg/h
    EXPECT_DOUBLE_EQ(h.regimen.events[0].duration, 0.5);
    const auto kg = load_event_table(write("c.csv", "TIME,AMT[mg/kg],RATE[mg/kg/h]\n0,0.5,0.75\n"));
    EXPECT_DOUBLE_EQ(kg.regimen.events[0].duration, 2.0 / 3.0);
    EXPECT_TRUE(kg.regimen.events[0].per_kg);
    // RATE and DUR both given and consistent: DUR is used as written.
    const auto both = load_event_table(write("d.csv", "TIME,AMT,RATE,DUR[min]\n0,20,30,40\n"));
    EXPECT_EQ(both.regimen.events[0].duration, 40.0 / 60.0);
}

TEST_F(EventTableTest, IiAndAddlRepeat) {
    const auto t = load_event_table(write("a.csv", "TIME,AMT,II,ADDL,CMT\n1,10,12,2,iv\n"));
    ASSERT_EQ(t.regimen.events.size(), 3u);
    EXPECT_EQ(t.regimen.events[2].time, 25.0);
    const auto m = load_event_table(write("b.csv", "TIME,AMT,II[min],ADDL\n0,10,30,1\n"));
    EXPECT_EQ(m.regimen.events[1].time, 0.5);
}

TEST_F(EventTableTest, CmtByRouteCompartmentNameAndNumber) {
    const auto t = load_event_table(write("a.csv",
                                          "TIME,AMT,CMT\n"
                                          "0,28,intranasal\n"
                                          "1,5,liver\n"
                                          "2,5,4\n"
                                          "3,5,oral\n"),
                                    &esketamine());
    ASSERT_EQ(t.regimen.events.size(), 4u);
    EXPECT_EQ(t.regimen.events[0].route, "intranasal");
    EXPECT_TRUE(t.regimen.events[0].compartment.empty());
    EXPECT_EQ(t.regimen.events[1].compartment, "liver");
    EXPECT_EQ(t.regimen.events[2].compartment, "central");   // 4th compartment of the model
    EXPECT_EQ(t.regimen.events[3].route, "oral");            // a route name wins over a compartment name
    EXPECT_TRUE(t.regimen.events[3].compartment.empty());
    const auto num = load_event_table(write("b.csv", "TIME,AMT,CMT\n0,5,3\n"), &esketamine());
    EXPECT_EQ(num.regimen.events[0].compartment, "oral");   // numbers address compartments
}

TEST_F(EventTableTest, DeviceColumnAndNoDeviceLogicOtherwise) {
    const auto with =
        load_event_table(write("a.csv", "TIME[min],AMT,CMT,DEVICE\n0,28,intranasal,1\n5,28,intranasal,2\n"));
    EXPECT_EQ(with.regimen.events[1].device, 2);
    const auto without = load_event_table(write("b.csv", "TIME[min],AMT,CMT\n0,28,intranasal\n5,28,intranasal\n"));
    EXPECT_EQ(without.regimen.events[0].device, 1);
    EXPECT_EQ(without.regimen.events[1].device, 1);
}

TEST_F(EventTableTest, IdSelectsOneSubject) {
    const std::string p = write("a.csv", "ID,TIME,AMT,EVID\n1,0,10,1\n1,1,0,0\n2,0,20,1\n2,2,0,0\n2,4,0,0\n");
    const auto two = load_event_table(p, nullptr, 2);
    ASSERT_EQ(two.regimen.events.size(), 1u);
    EXPECT_EQ(two.regimen.events[0].amount, 20.0);
    EXPECT_EQ(two.observation_times, (std::vector<double>{2.0, 4.0}));
    // Regression (issue 8): without an ID the doses of every subject were given to one subject.
    try {
        load_event_table(p);
        ADD_FAILURE() << "a file of several subjects was read as one";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("several subjects (IDs 1, 2, ...)"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("--id N"), std::string::npos) << e.what();
    }
    // A file of one subject needs no ID.
    const auto one = load_event_table(write("b.csv", "ID,TIME,AMT,EVID\n7,0,10,1\n7,1,0,0\n"));
    EXPECT_EQ(one.regimen.events.size(), 1u);
    try {
        load_event_table(p, nullptr, 5);
        ADD_FAILURE() << "no error for a missing ID";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("no rows for ID 5"), std::string::npos) << e.what();
    }
}

TEST_F(EventTableTest, UnsortedTimesAreSorted) {
    const auto t = load_event_table(write("a.csv", "TIME,AMT\n24,2\n0,1\n12,3\n6,0\n3,0\n"));
    ASSERT_EQ(t.regimen.events.size(), 3u);
    EXPECT_EQ(t.regimen.events[0].amount, 1.0);
    EXPECT_EQ(t.regimen.events[1].amount, 3.0);
    EXPECT_EQ(t.regimen.events[2].amount, 2.0);
    EXPECT_EQ(t.observation_times, (std::vector<double>{3.0, 6.0}));
}

TEST_F(EventTableTest, CommentsBlankLinesQuotesCrlfAndExtraColumns) {
    const auto t = load_event_table(write("a.csv",
                                          "\xEF\xBB\xBF# provenance: hand-written\r\n"
                                          "\r\n"
                                          "\"ID\", TIME ,AMT,CMT,DV,WT\r\n"
                                          "  # a comment between rows\r\n"
                                          "1,0,10,\"iv\",.,70\r\n"
                                          "\r\n"
                                          "1,\"2\",0,\"a,b\",12.5,70\r\n"),
                                    nullptr, -1, {"WT"});
    EXPECT_EQ(t.covariate_columns, (std::vector<std::string>{"WT"}));
    ASSERT_EQ(t.regimen.events.size(), 1u);
    EXPECT_EQ(t.regimen.events[0].route, "iv");
    EXPECT_EQ(t.observation_times, (std::vector<double>{2.0}));
}

TEST_F(EventTableTest, ExampleDataFile) {
    const std::string p = std::string(KETASIM_TEST_DATA_DIR) + "/esketamine_56mg_events.csv";
    const auto t = load_event_table(p, &esketamine(), 1);
    const Regimen expected = Regimen::intranasal(56.0, {0.0});
    ASSERT_EQ(t.regimen.events.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(t.regimen.events[i].time, expected.events[i].time);
        EXPECT_EQ(t.regimen.events[i].amount, 28.0);
        EXPECT_EQ(t.regimen.events[i].device, static_cast<int>(i) + 1);
        EXPECT_EQ(t.regimen.events[i].route, "intranasal");
    }
    EXPECT_EQ(t.observation_times, (std::vector<double>{0, 20.0 / 60, 40.0 / 60, 1, 2, 4, 8, 24}));
}

// The same doses read from a table and built in code must simulate bit for bit the same.
TEST_F(EventTableTest, SimulatingTheTableEqualsSimulatingTheRegimen) {
    const Model& m = esketamine();
    const std::string p = std::string(KETASIM_TEST_DATA_DIR) + "/esketamine_56mg_events.csv";
    const auto t = load_event_table(p, &m, 1);
    const OutputGrid grid = OutputGrid::at(t.observation_times);
    const Trajectory from_csv = simulate(m, t.regimen, grid);
    const Trajectory from_code = simulate(m, Regimen::intranasal(56.0, {0.0}), grid);
    ASSERT_EQ(from_csv.time, from_code.time);
    ASSERT_EQ(from_csv.values.rows(), from_code.values.rows());
    ASSERT_EQ(from_csv.values.cols(), from_code.values.cols());
    EXPECT_TRUE(from_csv.values == from_code.values);
    EXPECT_GT(from_csv["C_plasma"].maxCoeff(), 0.0);
    EXPECT_EQ(from_csv.dose_total_mg, 56.0);

    // IV per kg over 40 min on days 0 and 2, plus a direct input into the liver by number.
    const auto iv = load_event_table(write("iv.csv",
                                           "TIME[h],AMT[mg/kg],DUR[min],CMT\n"
                                           "0,0.5,40,iv\n"
                                           "48,0.5,40,iv\n"
                                           "50,0.1,0,7\n"),
                                     &m);
    Regimen code = Regimen::iv_infusion(0.5, 40.0 / 60.0, {0.0, 48.0}, true);
    DoseEvent liver;
    liver.time = 50.0;
    liver.amount = 0.1;
    liver.per_kg = true;
    liver.compartment = "liver";
    code.add(liver);
    const OutputGrid g2 = OutputGrid::uniform(0.0, 72.0, 0.25);
    SimOptions opt;
    opt.include_event_times = true;
    Subject s;
    s.weight_kg = 82.0;
    const Trajectory a = simulate(m, iv.regimen, g2, opt, s);
    const Trajectory b = simulate(m, code, g2, opt, s);
    ASSERT_EQ(a.time, b.time);
    EXPECT_TRUE(a.values == b.values);
}

// ---------------------------------------------------------------- errors

TEST_F(EventTableTest, UnsupportedEvid) {
    expect_error("TIME,AMT,EVID\n0,10,1\n1,10,2\n", 3, {"column EVID", "value '2'", "not supported"});
    expect_error("TIME,AMT,EVID\n0,10,3\n", 2, {"column EVID", "value '3'", "reset"});
    expect_error("# c\nTIME,AMT,EVID\n0,10,4\n", 3, {"column EVID", "value '4'", "reset and dose"});
    expect_error("TIME,AMT,EVID\n0,10,7\n", 2, {"column EVID", "value '7'", "0 (observation) or 1 (dose)"});
    expect_error("TIME,AMT,EVID\n0,10,1.5\n", 2, {"column EVID", "value '1.5'", "whole number"});
}

TEST_F(EventTableTest, ModelledRateRejected) {
    expect_error("TIME,AMT,RATE\n0,10,-2\n", 2, {"column RATE", "value '-2'", "modelled duration", "DUR"});
    expect_error("TIME,AMT,RATE\n0,10,-1\n", 2, {"column RATE", "value '-1'", "modelled rate"});
    expect_error("TIME,AMT,RATE\n0,10,-3\n", 2, {"column RATE", "value '-3'", ">= 0"});
}

TEST_F(EventTableTest, RateAndDurDisagree) {
    expect_error("TIME,AMT,RATE,DUR\n0,20,40,1\n", 2, {"column RATE", "value '40'", "0.5 h", "DUR is 1 h"});
    expect_error("TIME,AMT[mg],RATE[mg/kg/h]\n0,20,40\n", 1, {"column RATE", "per kg", "AMT"});
    expect_error("TIME,AMT,RATE[mg]\n0,20,40\n", 1, {"column RATE", "RATE[mg]", "mg/h"});
}

TEST_F(EventTableTest, BadNumbers) {
    expect_error("TIME,AMT\n0,1.2.3\n", 2, {"column AMT", "value '1.2.3'", "not a finite number"});
    expect_error("TIME,AMT\n0,10\nabc,0\n", 3, {"column TIME", "value 'abc'", "not a finite number"});
    expect_error("TIME,AMT\n0,nan\n", 2, {"column AMT", "value 'nan'"});
    expect_error("ID,TIME,AMT\nx,0,10\n", 2, {"column ID", "value 'x'"});
    expect_error("TIME,AMT,DEVICE\n0,28,0\n", 2, {"column DEVICE", "value '0'", ">= 1"});
}

TEST_F(EventTableTest, MissingTimeColumnAndFieldCount) {
    expect_error("ID,AMT,CMT\n1,10,iv\n", 1, {"column TIME", "ID,AMT,CMT", "no TIME column"});
    expect_error("TIME,AMT\n0,10\n1,10,iv\n", 3, {"3 fields", "header has 2"});
    expect_error("TIME,AMT\n0\n", 2, {"1 fields", "header has 2"});
    expect_error("TIME,AMT,time\n0,1,2\n", 1, {"column TIME", "twice"});
    expect_error("TIME,AMT,CMT\n0,10,\"iv\n", 2, {"no closing quote"});
    const std::string empty = write("empty.csv", "# only a comment\n\n");
    EXPECT_THROW(load_event_table(empty), InputError);
    EXPECT_THROW(load_event_table((dir_ / "missing.csv").string()), InputError);
}

TEST_F(EventTableTest, NegativeTimeAndAmountRules) {
    expect_error("TIME,AMT\n0,10\n-1,0\n", 3, {"column TIME", "value '-1'", ">= 0"});
    expect_error("TIME,AMT,EVID\n0,,1\n", 2, {"column AMT", "dose row"});
    expect_error("TIME,AMT,EVID\n0,-5,1\n", 2, {"column AMT", "value '-5'", "> 0"});
    expect_error("TIME,AMT,EVID\n0,5,0\n", 2, {"column AMT", "value '5'", "observation"});
    expect_error("TIME,EVID\n0,1\n", 2, {"column AMT", "dose row"});
    expect_error("TIME,AMT,DUR\n0,5,-1\n", 2, {"column DUR", "value '-1'", ">= 0"});
}

TEST_F(EventTableTest, UnitErrorsInTheHeader) {
    expect_error("TIME[kg],AMT\n0,1\n", 1, {"column TIME", "TIME[kg]", "unknown unit"});
    expect_error("TIME[mg],AMT\n0,1\n", 1, {"column TIME", "TIME[mg]", "expected time"});
    expect_error("TIME,AMT[min]\n0,1\n", 1, {"column AMT", "AMT[min]", "expected amount"});
    expect_error("TIME,AMT,CMT[mg]\n0,1,iv\n", 1, {"column CMT", "takes no unit"});
    expect_error("TIME[min,AMT\n0,1\n", 1, {"TIME[min", "closing ']'"});
}

TEST_F(EventTableTest, CmtErrors) {
    expect_error("TIME,AMT,CMT\n0,10,2\n", 2, {"column CMT", "value '2'", "needs the model"});
    expect_error("TIME,AMT,CMT\n0,10,10\n", 2, {"column CMT", "value '10'", "1 to 9"}, &esketamine());
    expect_error("TIME,AMT,CMT\n0,10,0\n", 2, {"column CMT", "value '0'"}, &esketamine());
    expect_error("TIME,AMT,CMT\n0,10,nose\n", 2, {"column CMT", "value 'nose'", "intranasal", "central"},
                 &esketamine());
    expect_error("TIME,AMT,CMT,DUR\n0,28,intranasal,0.5\n", 2, {"column DUR", "value '0.5'", "intranasal", "iv"},
                 &esketamine());
}

TEST_F(EventTableTest, IiAddlAndSsErrors) {
    expect_error("TIME,AMT,II,ADDL\n0,10,0,2\n", 2, {"column II", "value '0'", "ADDL > 0"});
    expect_error("TIME,AMT,II,ADDL\n0,10,24,0\n", 2, {"column II", "value '24'", "SS 1"});
    expect_error("TIME,AMT,II,ADDL\n0,10,24,-1\n", 2, {"column ADDL", "value '-1'"});
    expect_error("TIME,AMT,II,ADDL\n0,10,24,1.5\n", 2, {"column ADDL", "value '1.5'", "whole number"});
    expect_error("TIME,AMT,SS\n0,10,1\n", 2, {"column II", "steady-state row"});
    expect_error("TIME,AMT,SS,II\n0,10,2,12\n", 2, {"column SS", "value '2'", "not supported"});
    expect_error("TIME,AMT,SS,II\n0,0,1,12\n", 2, {"column SS", "observation"});
    // Regimen::validate()'s rule, reported on the CSV line.
    expect_error("TIME,AMT,DUR,SS,II\n0,10,3,1,2\n", 2, {"line 2", "longer than the steady-state interval"});
}

// SS=1 with II: a steady-state dose (DoseEvent::steady_state, interval II); with ADDL the
// copies are plain doses (NONMEM).
TEST_F(EventTableTest, SteadyStateRows) {
    const auto t = load_event_table(write("ss.csv", "TIME,AMT,SS,II[min],ADDL\n2,10,1,720,1\n"));
    ASSERT_EQ(t.regimen.events.size(), 2u);
    EXPECT_TRUE(t.regimen.events[0].steady_state);
    EXPECT_EQ(t.regimen.events[0].interval, 12.0);
    EXPECT_FALSE(t.regimen.events[1].steady_state);
    EXPECT_EQ(t.regimen.events[1].time, 14.0);
}

// Overlapping infusions are legal, as in NONMEM (rates add; see robustness_test.cpp).
TEST_F(EventTableTest, OverlappingInfusionsAreAccepted) {
    EXPECT_EQ(load_event_table(write("t.csv", "TIME,AMT,DUR\n0,10,1\n5,10,1\n0.5,10,1\n")).regimen.events.size(), 3u);
}

// Regression (issue 9): a misspelt column was ignored, giving zero doses (AMNT) or a bolus
// instead of an infusion (DURATION, RAET). Unknown columns are errors naming the closest one.
TEST_F(EventTableTest, UnknownColumnsNameTheClosestKnownOne) {
    expect_error("TIME,AMNT\n0,35\n", 1, {"column AMNT", "not a known column", "did you mean AMT?"});
    expect_error("TIME,AMT,DURATION\n0,35,0.5\n", 1, {"column DURATION", "did you mean DUR?"});
    expect_error("TIME,AMT,RAET\n0,35,70\n", 1, {"column RAET", "did you mean RATE?"});
    expect_error("TIME,AMT,XYZZY\n0,35,1\n", 1, {"column XYZZY", "not a known column", "columns are ID, TIME"});
    // Covariates are accepted only when the caller names them (the populations code reads them).
    expect_error("TIME,AMT,WT\n0,35,70\n", 1, {"column WT", "not a known column"});
    const auto t = load_event_table(write("c.csv", "TIME,AMT,WT,AGE\n0,35,70,40\n"), nullptr, -1, {"WT", "AGE"});
    EXPECT_EQ(t.covariate_columns, (std::vector<std::string>{"WT", "AGE"}));
    expect_error("TIME,AMT,WGT\n0,35,70\n", 1, {"column WGT"});
}

}   // namespace
}   // namespace ketasim
