// Regimen API (schedules, intranasal devices, validation), parse_number_list and regimen TOML.
#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>
#include <limits>
#include <string>

#include "ketasim/errors.hpp"
#include "ketasim/io.hpp"
#include "ketasim/regimen.hpp"

namespace ketasim {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// Checks that `fn` throws InputError whose message contains every one of `parts`.
template <class Fn>
void expect_input_error(Fn fn, std::initializer_list<const char*> parts) {
    try {
        fn();
        ADD_FAILURE() << "expected InputError, nothing thrown";
    } catch (const InputError& e) {
        const std::string msg = e.what();
        for (const char* p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
    } catch (const std::exception& e) {
        ADD_FAILURE() << "expected InputError, got: " << e.what();
    }
}

void expect_toml_error(const std::string& toml, std::initializer_list<const char*> parts) {
    EXPECT_THROW(parse_regimen(toml, "reg.toml"), InputError) << toml;
    expect_input_error([&] { parse_regimen(toml, "reg.toml"); }, parts);
}

DoseEvent iv_dose(double amount, double duration_h, double time_h = 0.0) {
    DoseEvent e;
    e.amount = amount;
    e.duration = duration_h;
    e.time = time_h;
    return e;
}

// ---------------------------------------------------------------- Regimen API

TEST(RegimenApi, AddRepeatedGivesAddlExtraDosesEveryII) {
    Regimen r;
    r.add_repeated(iv_dose(10, 0, 2.0), 12.0, 3);
    ASSERT_EQ(r.events.size(), 4u);
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(r.events[i].time, 2.0 + 12.0 * i);
        EXPECT_EQ(r.events[i].amount, 10.0);
    }
    Regimen single;
    single.add_repeated(iv_dose(10, 0), 0.0, 0);   // ADDL 0 needs no interval
    EXPECT_EQ(single.events.size(), 1u);
}

TEST(RegimenApi, AddRepeatedRejectsNegativeAddlAndZeroInterval) {
    Regimen r;
    expect_input_error([&] { r.add_repeated(iv_dose(10, 0), 24.0, -1); }, {"ADDL", "-1"});
    expect_input_error([&] { r.add_repeated(iv_dose(10, 0), 0.0, 2); }, {"II", "> 0"});
    expect_input_error([&] { r.add_repeated(iv_dose(10, 0), kNaN, 2); }, {"II"});
}

TEST(RegimenApi, AddOnDaysUsesTimeAsTimeOfDay) {
    Regimen r;
    r.add_on_days(iv_dose(0.5, 40.0 / 60.0, 9.0), {0, 2, 4.5});
    ASSERT_EQ(r.events.size(), 3u);
    EXPECT_EQ(r.events[0].time, 9.0);
    EXPECT_EQ(r.events[1].time, 9.0 + 48.0);
    EXPECT_EQ(r.events[2].time, 9.0 + 108.0);
    EXPECT_EQ(r.events[2].duration, 40.0 / 60.0);
    expect_input_error([&] { r.add_on_days(iv_dose(1, 0), {1, -2}); }, {"days", "-2"});
}

TEST(RegimenApi, IntranasalSplitsIntoDevicesSpacedApart) {
    const Regimen r = Regimen::intranasal(84.0, {0.0, 72.0});
    ASSERT_EQ(r.events.size(), 6u);
    for (int s = 0; s < 2; ++s)
        for (int d = 0; d < 3; ++d) {
            const DoseEvent& e = r.events[static_cast<std::size_t>(3 * s + d)];
            EXPECT_EQ(e.amount, 28.0);
            EXPECT_EQ(e.route, "intranasal");
            EXPECT_EQ(e.device, d + 1);
            EXPECT_EQ(e.time, 72.0 * s + d * (5.0 / 60.0));
            EXPECT_FALSE(e.per_kg);
            EXPECT_EQ(e.duration, 0.0);
        }
    const Regimen custom = Regimen::intranasal(50.0, {1.0}, 25.0, 0.25, "nasal_racemic");
    ASSERT_EQ(custom.events.size(), 2u);
    EXPECT_EQ(custom.events[1].time, 1.25);
    EXPECT_EQ(custom.events[1].route, "nasal_racemic");
    EXPECT_EQ(custom.events[1].device, 2);
}

TEST(RegimenApi, IntranasalRejectsPartialDevicesAndBadValues) {
    expect_input_error([] { Regimen::intranasal(70.0, {0.0}); }, {"70", "28", "whole number"});
    expect_input_error([] { Regimen::intranasal(0.0, {0.0}); }, {"total dose", "> 0"});
    expect_input_error([] { Regimen::intranasal(56.0, {0.0}, 0.0); }, {"mg_per_device"});
    expect_input_error([] { Regimen::intranasal(56.0, {0.0}, 28.0, -1.0); }, {"spacing"});
}

// Overlapping infusions are legal (rates add, as in NONMEM; robustness_test.cpp checks the
// numbers): validate() accepts them, into one route, one compartment or both.
TEST(RegimenApi, ValidateAcceptsOverlappingInfusions) {
    EXPECT_NO_THROW(Regimen::iv_infusion(0.5, 1.0, {0.0, 0.5}, true).validate());
    Regimen mixed = Regimen::iv_infusion(10, 1.0, {0.0});
    DoseEvent c = iv_dose(10, 1.0, 0.5);
    c.compartment = "central";
    mixed.add(c);
    mixed.add(iv_dose(5, 0.0, 0.2));
    EXPECT_NO_THROW(mixed.validate());
}

TEST(RegimenApi, ValidateRejectsZeroNegativeAndNaNValues) {
    auto one = [](DoseEvent e) {
        Regimen r;
        r.add(iv_dose(1, 0));
        r.add(e);
        return r;
    };
    expect_input_error([&] { one(iv_dose(0, 0)).validate(); }, {"dose[1].amount", "0", "> 0"});
    expect_input_error([&] { one(iv_dose(-3, 0)).validate(); }, {"dose[1].amount", "-3"});
    expect_input_error([&] { one(iv_dose(kNaN, 0)).validate(); }, {"dose[1].amount", "nan"});
    expect_input_error([&] { one(iv_dose(1, -1)).validate(); }, {"dose[1].duration", "-1"});
    expect_input_error([&] { one(iv_dose(1, kNaN)).validate(); }, {"dose[1].duration"});
    expect_input_error([&] { one(iv_dose(1, 0, -2)).validate(); }, {"dose[1].time", "-2"});
    expect_input_error([&] { one(iv_dose(1, 0, kNaN)).validate(); }, {"dose[1].time"});
    DoseEvent d0 = iv_dose(1, 0);
    d0.device = 0;
    expect_input_error([&] { one(d0).validate(); }, {"dose[1].device", "0"});
    DoseEvent nowhere = iv_dose(1, 0);
    nowhere.route.clear();
    expect_input_error([&] { one(nowhere).validate(); }, {"dose[1]", "route or a compartment"});
}

TEST(RegimenApi, SortedAndLastTime) {
    Regimen r;
    r.add(iv_dose(1, 0.5, 10.0)).add(iv_dose(1, 0, 2.0));
    const auto s = r.sorted();
    EXPECT_EQ(s[0].time, 2.0);
    EXPECT_EQ(s[1].time, 10.0);
    EXPECT_EQ(r.last_time(), 10.5);
    EXPECT_EQ(Regimen{}.last_time(), 0.0);
}

TEST(ParseNumberList, AcceptsDaysPrefixAndSpaces) {
    EXPECT_EQ(parse_number_list("days 0,2,4,7", "days"), (std::vector<double>{0, 2, 4, 7}));
    EXPECT_EQ(parse_number_list(" 0, 2.5 ,11", "days"), (std::vector<double>{0, 2.5, 11}));
    EXPECT_EQ(parse_number_list("3", "days"), (std::vector<double>{3}));
}

TEST(ParseNumberList, RejectsBadItems) {
    expect_input_error([] { parse_number_list("0,x,4", "--days"); }, {"--days", "'x'", "not a number"});
    expect_input_error([] { parse_number_list("0,,4", "--days"); }, {"--days", "empty item"});
    expect_input_error([] { parse_number_list("", "--days"); }, {"--days"});
    expect_input_error([] { parse_number_list("1,inf", "--days"); }, {"--days", "inf"});
}

// ---------------------------------------------------------------- regimen TOML

TEST(RegimenToml, IvOnDaysPerKg) {
    const Regimen r = parse_regimen(R"(
[[dose]]
route = "iv"
amount = "0.5 mg/kg"
duration = "40 min"
time = "9 h"
days = [0, 2, 4, 7, 9, 11]
)",
                                    "reg.toml");
    const Regimen expected = Regimen::iv_infusion(0.5, 40.0 / 60.0, {9, 57, 105, 177, 225, 273}, true);
    ASSERT_EQ(r.events.size(), expected.events.size());
    for (std::size_t i = 0; i < r.events.size(); ++i) {
        EXPECT_EQ(r.events[i].time, expected.events[i].time);
        EXPECT_EQ(r.events[i].duration, expected.events[i].duration);   // exact: "40 min" == 40.0 / 60.0
        EXPECT_EQ(r.events[i].amount, 0.5);
        EXPECT_TRUE(r.events[i].per_kg);
        EXPECT_EQ(r.events[i].route, "iv");
        EXPECT_TRUE(r.events[i].compartment.empty());
    }
}

TEST(RegimenToml, ExampleFileMatchesTheSixSessionSchedule) {
    const Regimen r = load_regimen(std::string(KETASIM_TEST_MODELS_DIR) + "/regimens/iv_6_sessions.toml");
    const Regimen expected = Regimen::iv_infusion(0.5, 40.0 / 60.0, {0, 48, 96, 168, 216, 264}, true);
    ASSERT_EQ(r.events.size(), 6u);
    for (std::size_t i = 0; i < 6; ++i) {
        EXPECT_EQ(r.events[i].time, expected.events[i].time);
        EXPECT_EQ(r.events[i].duration, expected.events[i].duration);
        EXPECT_EQ(r.events[i].amount, expected.events[i].amount);
        EXPECT_EQ(r.events[i].per_kg, expected.events[i].per_kg);
    }
}

// "23 min" must be 23.0 / 60.0 exactly (23 * (1.0 / 60.0) is one ulp off), so a file and the
// same regimen written in code simulate identically.
TEST(RegimenToml, MinutesConvertExactlyAsInCode) {
    const Regimen r = parse_regimen(
        "[[dose]]\nroute = \"iv\"\namount = \"1 mg\"\nduration = \"23 min\"\ntime = \"31 min\"\n", "reg.toml");
    EXPECT_EQ(r.events[0].duration, 23.0 / 60.0);
    EXPECT_EQ(r.events[0].time, 31.0 / 60.0);
}

TEST(RegimenToml, EveryAddlAmountInMg) {
    const Regimen r = parse_regimen(
        "[[dose]]\nroute = \"oral\"\namount = \"50 mg\"\nevery = \"12 h\"\naddl = 3\ntime = \"30 min\"\n", "reg.toml");
    ASSERT_EQ(r.events.size(), 4u);
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(r.events[i].time, 0.5 + 12.0 * i);
        EXPECT_EQ(r.events[i].amount, 50.0);
        EXPECT_FALSE(r.events[i].per_kg);
        EXPECT_EQ(r.events[i].duration, 0.0);
    }
}

TEST(RegimenToml, AmountUnitsGAndUg) {
    const Regimen r = parse_regimen(
        "[[dose]]\nroute = \"iv\"\namount = \"0.1 g\"\n[[dose]]\nroute = \"iv\"\namount = \"500 ug\"\ntime = \"1 h\"\n",
        "reg.toml");
    ASSERT_EQ(r.events.size(), 2u);
    EXPECT_DOUBLE_EQ(r.events[0].amount, 100.0);
    EXPECT_DOUBLE_EQ(r.events[1].amount, 0.5);
}

TEST(RegimenToml, IntranasalDevicesOnDays) {
    const Regimen r = parse_regimen(R"(
[[dose]]
route = "intranasal"
amount = "84 mg"
device_mg = 28
time = "8 h"
days = [0, 3]
)",
                                    "reg.toml");
    const Regimen expected = Regimen::intranasal(84.0, {8.0, 80.0});
    ASSERT_EQ(r.events.size(), expected.events.size());
    for (std::size_t i = 0; i < r.events.size(); ++i) {
        EXPECT_EQ(r.events[i].time, expected.events[i].time);
        EXPECT_EQ(r.events[i].device, expected.events[i].device);
        EXPECT_EQ(r.events[i].amount, 28.0);
        EXPECT_EQ(r.events[i].route, "intranasal");
    }
}

TEST(RegimenToml, DeviceSpacingAndEvery) {
    const Regimen r = parse_regimen(
        "[[dose]]\nroute = \"intranasal\"\namount = \"56 mg\"\ndevice_mg = 28\ndevice_spacing = \"10 min\"\n"
        "every = \"24 h\"\naddl = 1\n",
        "reg.toml");
    ASSERT_EQ(r.events.size(), 4u);
    EXPECT_EQ(r.events[1].time, 10.0 / 60.0);
    EXPECT_EQ(r.events[2].time, 24.0);
    EXPECT_EQ(r.events[3].time, 24.0 + 10.0 / 60.0);
    EXPECT_EQ(r.events[3].device, 2);
}

TEST(RegimenToml, CompartmentDose) {
    const Regimen r = parse_regimen(
        "name = \"x\"\ndescription = \"direct input\"\n[[dose]]\ncompartment = \"central\"\namount = \"20 mg\"\n"
        "duration = \"0 min\"\n",
        "reg.toml");
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].compartment, "central");
    EXPECT_EQ(r.events[0].duration, 0.0);
}

// Every error names the file and line, dose[i].key and the offending value.
TEST(RegimenTomlErrors, UnknownKey) {
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"10 mg\"\nduraton = \"40 min\"\n",
                      {"reg.toml:4", "dose[0].duraton", "unknown key", "duration"});
    expect_toml_error("[[doses]]\nroute = \"iv\"\n", {"reg.toml", "doses", "unknown key"});
}

TEST(RegimenTomlErrors, WrongTypes) {
    expect_toml_error("[[dose]]\nroute = 3\namount = \"10 mg\"\n",
                      {"reg.toml:2", "dose[0].route", "3", "must be a string"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = true\n", {"reg.toml:3", "dose[0].amount", "true"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"10 mg\"\ndays = \"0,2\"\n",
                      {"reg.toml:4", "dose[0].days", "'0,2'", "array"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"10 mg\"\ndays = [0, \"2\"]\n",
                      {"reg.toml:4", "dose[0].days", "'2'", "day number"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"10 mg\"\nevery = \"24 h\"\naddl = 2.5\n",
                      {"reg.toml:5", "dose[0].addl", "2.5", "whole number"});
    expect_toml_error("[[dose]]\nroute = \"intranasal\"\namount = \"56 mg\"\ndevice_mg = \"28 mg\"\n",
                      {"reg.toml:4", "dose[0].device_mg", "'28 mg'", "number of mg"});
    expect_toml_error("dose = 3\n", {"reg.toml:1", "dose", "array of tables"});
}

TEST(RegimenTomlErrors, BadUnits) {
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"10 mg\"\nduration = \"40 kg\"\n",
                      {"reg.toml:4", "dose[0].duration", "40 kg", "unknown unit 'kg'", "expected time"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"10 mg\"\nduration = \"40 mg\"\n",
                      {"reg.toml:4", "dose[0].duration", "'40 mg'", "amount", "expected time"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"10 mg\"\nduration = 40\n",
                      {"reg.toml:4", "dose[0].duration", "40", "unit"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"0.5\"\n",
                      {"reg.toml:3", "dose[0].amount", "'0.5'", "needs a unit"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"0.5 L/kg\"\n",
                      {"reg.toml:3", "dose[0].amount", "'0.5 L/kg'", "expected a dose"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"lots\"\n",
                      {"reg.toml:3", "dose[0].amount", "'lots'", "not a number"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"1 mg\"\ntime = \"1 mg/kg\"\n",
                      {"reg.toml:4", "dose[0].time", "'1 mg/kg'", "expected time"});
}

TEST(RegimenTomlErrors, NegativeZeroAndNaNValues) {
    // A bare number is not given a unit, for amounts as for times (mg or mg/kg would be a guess).
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = -5\n", {"reg.toml:3", "dose[0].amount", "-5", "bare number"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = 35\n",
                      {"reg.toml:3", "dose[0].amount", "35", "bare number", "amount = \"35 mg\""});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"0 mg\"\n", {"reg.toml:3", "dose[0].amount", "0", "> 0"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = nan\n",
                      {"reg.toml:3", "dose[0].amount", "nan", "bare number"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"nan mg\"\n", {"reg.toml:3", "dose[0].amount", "nan mg"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"35 mg extra\"\n",
                      {"reg.toml:3", "unknown unit 'mg extra'"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"nan mg\"\n",
                      {"reg.toml:3", "dose[0].amount", "nan mg", "not a number"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"1 mg\"\nduration = \"-40 min\"\n",
                      {"reg.toml:4", "dose[0].duration", ">= 0"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"1 mg\"\ntime = \"-1 h\"\n",
                      {"reg.toml:4", "dose[0].time", "-1", ">= 0"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"1 mg\"\ndays = [0, -2]\n",
                      {"reg.toml:4", "dose[0].days", "-2", ">= 0"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"1 mg\"\ndays = [0, nan]\n",
                      {"reg.toml:4", "dose[0].days", "nan"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"1 mg\"\nevery = \"0 h\"\naddl = 1\n",
                      {"reg.toml:4", "dose[0].every", "> 0"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"1 mg\"\nevery = \"1 h\"\naddl = -1\n",
                      {"reg.toml:5", "dose[0].addl", "-1"});
    expect_toml_error("[[dose]]\nroute = \"intranasal\"\namount = \"56 mg\"\ndevice_mg = 0\n",
                      {"reg.toml:4", "dose[0].device_mg", "0", "> 0"});
}

TEST(RegimenTomlErrors, DaysAndEveryBothGiven) {
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"1 mg\"\ndays = [0, 2]\nevery = \"24 h\"\naddl = 2\n",
                      {"reg.toml:5", "dose[0].every", "days", "not both"});
}

TEST(RegimenTomlErrors, EveryAndAddlGoTogether) {
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"1 mg\"\nevery = \"24 h\"\n",
                      {"reg.toml:4", "dose[0].every", "addl"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\namount = \"1 mg\"\naddl = 3\n",
                      {"reg.toml:4", "dose[0].addl", "every"});
}

TEST(RegimenTomlErrors, DeviceSplitRules) {
    expect_toml_error("[[dose]]\nroute = \"intranasal\"\namount = \"70 mg\"\ndevice_mg = 28\n",
                      {"reg.toml:4", "dose[0].device_mg", "28", "70", "whole number of 28 mg devices"});
    expect_toml_error("[[dose]]\nroute = \"intranasal\"\namount = \"1 mg/kg\"\ndevice_mg = 28\n",
                      {"reg.toml:4", "dose[0].device_mg", "mg/kg"});
    expect_toml_error("[[dose]]\nroute = \"intranasal\"\namount = \"56 mg\"\ndevice_spacing = \"5 min\"\n",
                      {"reg.toml:4", "dose[0].device_spacing", "device_mg"});
    expect_toml_error("[[dose]]\ncompartment = \"nasal\"\namount = \"56 mg\"\ndevice_mg = 28\n",
                      {"reg.toml:4", "dose[0].device_mg", "compartment"});
    expect_toml_error("[[dose]]\nroute = \"intranasal\"\namount = \"56 mg\"\ndevice_mg = 28\nduration = \"5 min\"\n",
                      {"reg.toml:5", "dose[0].duration", "device"});
}

TEST(RegimenTomlErrors, RouteAndCompartment) {
    expect_toml_error("[[dose]]\nroute = \"iv\"\ncompartment = \"central\"\namount = \"1 mg\"\n",
                      {"reg.toml:3", "dose[0].compartment", "not both"});
    expect_toml_error("[[dose]]\namount = \"1 mg\"\n", {"reg.toml:1", "dose[0]", "route"});
    expect_toml_error("[[dose]]\nroute = \"\"\namount = \"1 mg\"\n", {"reg.toml:2", "dose[0].route", "''"});
    expect_toml_error("[[dose]]\nroute = \"iv\"\n", {"reg.toml:1", "dose[0]", "amount is missing"});
}

TEST(RegimenTomlErrors, SecondEntryIsNamedByItsIndexAndLine) {
    expect_toml_error(
        "[[dose]]\nroute = \"iv\"\namount = \"1 mg\"\n\n[[dose]]\nroute = \"iv\"\namount = \"2 mg\"\nduration = \"3 "
        "kg\"\n",
        {"reg.toml:8", "dose[1].duration", "3 kg"});
}

TEST(RegimenToml, OverlappingInfusionsAreAccepted) {
    const std::string toml = R"([[dose]]
route = "iv"
amount = "0.5 mg/kg"
duration = "40 min"
days = [0, 2]

[[dose]]
route = "iv"
amount = "0.2 mg/kg"
duration = "1 h"
time = "48.5 h"
)";
    EXPECT_EQ(parse_regimen(toml, "reg.toml").events.size(), 3u);
    // Within one entry: infusions longer than the repeat interval.
    EXPECT_EQ(
        parse_regimen("[[dose]]\nroute = \"iv\"\namount = \"1 mg\"\nduration = \"2 h\"\nevery = \"1 h\"\naddl = 2\n",
                      "reg.toml")
            .events.size(),
        3u);
}

TEST(RegimenTomlErrors, SyntaxEmptyAndMissingFile) {
    expect_toml_error("[[dose]\nroute = \"iv\"\n", {"reg.toml:1", "TOML syntax error"});
    expect_toml_error("name = \"empty\"\n", {"reg.toml", "[[dose]]"});
    expect_toml_error("dose = []\n", {"reg.toml:1", "no doses"});
    expect_input_error([] { load_regimen("/nonexistent/dir/reg.toml"); }, {"/nonexistent/dir/reg.toml", "cannot open"});
}

}   // namespace
}   // namespace ketasim
