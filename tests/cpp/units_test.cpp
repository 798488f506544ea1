// parse_unit() and parse_quantity(): every accepted unit resolves to its dimension, canonical
// factor (time h, amount mg, volume L, flow L/h, rate 1/h, concentration ng/mL) and per-kg flag;
// errors name the offending text.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "ketasim/errors.hpp"
#include "ketasim/units.hpp"

namespace ketasim {
namespace {

struct Expected {
    const char* unit;
    Dimension dimension;
    double factor;
    bool per_kg;
};

// Factors written as arithmetic on exact constants so the comparison is to the ulp.
const std::vector<Expected> kUnits = {
    {"h", Dimension::time, 1.0, false},
    {"hr", Dimension::time, 1.0, false},
    {"min", Dimension::time, 1.0 / 60.0, false},
    {"s", Dimension::time, 1.0 / 3600.0, false},
    {"d", Dimension::time, 24.0, false},
    {"day", Dimension::time, 24.0, false},
    {"days", Dimension::time, 24.0, false},
    {"hour", Dimension::time, 1.0, false},
    {"hours", Dimension::time, 1.0, false},
    {"minute", Dimension::time, 1.0 / 60.0, false},
    {"minutes", Dimension::time, 1.0 / 60.0, false},
    {"seconds", Dimension::time, 1.0 / 3600.0, false},
    {"weeks", Dimension::time, 168.0, false},
    {"mg", Dimension::amount, 1.0, false},
    {"g", Dimension::amount, 1000.0, false},
    {"ug", Dimension::amount, 1e-3, false},
    {"mg/kg", Dimension::amount, 1.0, true},
    {"L", Dimension::volume, 1.0, false},
    {"mL", Dimension::volume, 1e-3, false},
    {"L/kg", Dimension::volume, 1.0, true},
    {"mL/kg", Dimension::volume, 1e-3, true},
    {"L/h", Dimension::flow, 1.0, false},
    {"L/min", Dimension::flow, 60.0, false},
    {"mL/min", Dimension::flow, 0.06, false},
    {"mL/h", Dimension::flow, 1e-3, false},
    {"L/h/kg", Dimension::flow, 1.0, true},
    {"L/min/kg", Dimension::flow, 60.0, true},
    {"mL/min/kg", Dimension::flow, 0.06, true},
    {"1/h", Dimension::rate, 1.0, false},
    {"/h", Dimension::rate, 1.0, false},
    {"1/min", Dimension::rate, 60.0, false},
    {"/min", Dimension::rate, 60.0, false},
    {"1/d", Dimension::rate, 1.0 / 24.0, false},
    {"1", Dimension::fraction, 1.0, false},
    {"fraction", Dimension::fraction, 1.0, false},
    {"%", Dimension::fraction, 0.01, false},
    {"ng/mL", Dimension::concentration, 1.0, false},
    {"ug/mL", Dimension::concentration, 1000.0, false},
    {"mg/L", Dimension::concentration, 1000.0, false},
    {"ug/L", Dimension::concentration, 1.0, false},
    {"dimensionless", Dimension::dimensionless, 1.0, false},
    {"score", Dimension::dimensionless, 1.0, false},
};

TEST(Units, EveryAcceptedUnit) {
    for (const auto& e : kUnits) {
        const UnitInfo u = parse_unit(e.unit);
        EXPECT_EQ(u.dimension, e.dimension) << e.unit << ": " << to_string(u.dimension);
        EXPECT_DOUBLE_EQ(u.factor, e.factor) << e.unit;
        EXPECT_EQ(u.per_kg, e.per_kg) << e.unit;
    }
}

TEST(Units, EveryDimensionIsCovered) {
    for (Dimension d : {Dimension::time, Dimension::amount, Dimension::volume, Dimension::flow, Dimension::rate,
                        Dimension::fraction, Dimension::concentration, Dimension::dimensionless}) {
        bool found = false;
        for (const auto& e : kUnits) found = found || e.dimension == d;
        EXPECT_TRUE(found) << to_string(d);
    }
}

TEST(Units, PerKgUnitsForVolumeFlowAndDose) {
    EXPECT_TRUE(parse_unit("L/kg").per_kg);
    EXPECT_TRUE(parse_unit("mL/min/kg").per_kg);
    EXPECT_TRUE(parse_unit("mg/kg").per_kg);
    EXPECT_FALSE(parse_unit("L").per_kg);
    // 10 mL/min/kg = 0.6 L/h per kg.
    EXPECT_DOUBLE_EQ(10 * parse_unit("mL/min/kg").factor, 0.6);
}

TEST(Units, Conversions) {
    EXPECT_DOUBLE_EQ(parse_unit("1/min").factor, 60.0);             // 1/min = 60/h
    EXPECT_DOUBLE_EQ(parse_unit("mL/min").factor, 0.06);            // 1 mL/min = 0.06 L/h
    EXPECT_DOUBLE_EQ(0.0109 * parse_unit("1/min").factor, 0.654);   // Clements k10
    EXPECT_DOUBLE_EQ(1500 * parse_unit("mL/min").factor, 90.0);
    EXPECT_DOUBLE_EQ(parse_unit("day").factor * parse_unit("1/d").factor, 1.0);
}

TEST(Units, WhitespaceInsideUnitsIsIgnored) {
    EXPECT_DOUBLE_EQ(parse_unit(" mL / min ").factor, 0.06);
    EXPECT_EQ(parse_unit("L / h / kg").dimension, Dimension::flow);
}

TEST(Units, ParseQuantity) {
    EXPECT_DOUBLE_EQ(parse_quantity("40 min", Dimension::time, "duration"), 2.0 / 3.0);
    EXPECT_DOUBLE_EQ(parse_quantity("40min", Dimension::time, "duration"), 2.0 / 3.0);
    EXPECT_DOUBLE_EQ(parse_quantity("1.5 d", Dimension::time, "interval"), 36.0);
    EXPECT_DOUBLE_EQ(parse_quantity("24 h", Dimension::time, "interval"), 24.0);
    EXPECT_DOUBLE_EQ(parse_quantity("0.5", Dimension::time, "duration", "h"), 0.5);
    EXPECT_DOUBLE_EQ(parse_quantity("30", Dimension::time, "duration", "min"), 0.5);
    EXPECT_DOUBLE_EQ(parse_quantity("0.5 g", Dimension::amount, "dose"), 500.0);
    EXPECT_DOUBLE_EQ(parse_quantity("2 ug/mL", Dimension::concentration, "threshold"), 2000.0);
    EXPECT_DOUBLE_EQ(parse_quantity("1e2 mg", Dimension::amount, "dose"), 100.0);
}

// Expects InputError whose message contains every one of `parts`.
void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
    try {
        f();
        ADD_FAILURE() << "no InputError";
    } catch (const InputError& e) {
        const std::string msg = e.what();
        for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
    }
}

TEST(Units, UnknownUnitNamesTheText) {
    expect_error([] { parse_unit("furlong/fortnight"); }, {"furlong/fortnight", "accepted"});
    expect_error([] { parse_unit(""); }, {"unknown unit"});
    expect_error([] { parse_unit("ML"); }, {"'ML'"});   // case matters: megalitre is not millilitre
    expect_error([] { parse_quantity("40 furlongs", Dimension::time, "infusion duration"); },
                 {"infusion duration", "furlongs"});
}

TEST(Units, WrongDimensionNamesTheTextAndBothDimensions) {
    expect_error([] { parse_quantity("5 mg", Dimension::time, "infusion duration"); },
                 {"infusion duration", "'5 mg'", "amount", "expected time"});
    expect_error([] { parse_quantity("2 L/kg", Dimension::volume, "volume"); }, {"'2 L/kg'", "per kg"});
    expect_error([] { parse_quantity("1 mg/kg", Dimension::amount, "dose"); }, {"'1 mg/kg'", "per kg"});
}

TEST(Units, QuantityWithoutNumberOrUnit) {
    expect_error([] { parse_quantity("min", Dimension::time, "duration"); }, {"duration", "'min'", "not a number"});
    expect_error([] { parse_quantity("40", Dimension::time, "duration"); }, {"duration", "'40'", "needs a unit"});
    expect_error([] { parse_quantity("inf h", Dimension::time, "duration"); }, {"duration", "'inf h'"});
}

// Regression (issue 9): "hours"/"minutes" were rejected while "days" was accepted.
TEST(Units, SpeltOutTimeUnits) {
    EXPECT_EQ(parse_quantity("40 minutes", Dimension::time, "duration"), 40.0 / 60.0);
    EXPECT_EQ(parse_quantity("2 hours", Dimension::time, "t"), 2.0);
    EXPECT_EQ(parse_quantity("1 hour", Dimension::time, "t"), 1.0);
    EXPECT_EQ(parse_quantity("2 weeks", Dimension::time, "t"), 336.0);
}

// Regression (issue 9): "23 min" converted to different doubles in two parsers; the one parser
// divides by 60 (the same double as 23.0 / 60.0 in code).
TEST(Units, MinutesConvertExactlyAsInCode) {
    for (int m = 1; m < 200; ++m)
        EXPECT_EQ(parse_quantity(std::to_string(m) + " min", Dimension::time, "t"), m / 60.0) << m;
    EXPECT_EQ(parse_quantity("500 ug", Dimension::amount, "dose"), 0.5);
}

// Regression (issue 9): the accepted units of a time option listed mg, L and mmHg.
TEST(Units, AcceptedUnitsArePerDimension) {
    const std::string t = accepted_units(Dimension::time);
    EXPECT_NE(t.find("min"), std::string::npos);
    for (const char* other : {"mg", "mmHg", "L", "ng/mL"}) EXPECT_EQ(t.find(other), std::string::npos) << other;
    expect_error([] { parse_quantity("5 mmHg", Dimension::time, "--dt"); }, {"--dt", "expected time (h, hr"});
    try {
        parse_quantity("5 mmHg", Dimension::time, "--dt");
    } catch (const InputError& e) {
        EXPECT_EQ(std::string(e.what()).find("mg/kg"), std::string::npos) << e.what();
    }
}

// Regression (issue 9): nmol/mL used ketamine's molar mass for every analyte.
TEST(Units, MolarUnitsAreRefused) {
    expect_error([] { parse_unit("nmol/mL"); }, {"nmol/mL", "molar", "per analyte"});
    expect_error([] { parse_quantity("1 nmol/mL", Dimension::concentration, "threshold"); },
                 {"threshold", "molar", "ng/mL"});
}

TEST(Units, BareNumbersAndTrailingText) {
    expect_error([] { parse_quantity("5", Dimension::time, "--dt"); }, {"--dt", "'5'", "needs a unit of time"});
    expect_error([] { parse_quantity("5 min extra", Dimension::time, "--dt"); }, {"--dt", "unknown unit 'min extra'"});
    expect_error([] { parse_quantity("nan h", Dimension::time, "--dt"); }, {"--dt", "'nan h'"});
    expect_error([] { parse_quantity("0x10 h", Dimension::time, "--dt"); }, {"--dt", "not a number"});
    try {
        parse_quantity("5", Dimension::time, "--dt");
    } catch (const InputError& e) {
        EXPECT_EQ(e.context().key, "--dt");
        EXPECT_EQ(e.context().value, "5");
    }
}

TEST(Units, ParseDose) {
    EXPECT_EQ(parse_dose("56 mg", "--dose").amount, 56.0);
    EXPECT_FALSE(parse_dose("56 mg", "--dose").per_kg);
    EXPECT_TRUE(parse_dose("0.5 mg/kg", "--dose").per_kg);
    EXPECT_EQ(parse_dose("0.5 g", "--dose").amount, 500.0);
    expect_error([] { parse_dose("35", "--dose"); }, {"--dose", "'35'", "needs a unit"});
    expect_error([] { parse_dose("35 mg extra", "--dose"); }, {"--dose", "unknown unit 'mg extra'"});
    expect_error([] { parse_dose("5 kg", "--dose"); }, {"--dose", "'5 kg'", "unknown unit 'kg'"});
    expect_error([] { parse_dose("5 L", "--dose"); }, {"--dose", "dimension volume"});
    expect_error([] { parse_dose("-5 mg", "--dose"); }, {"--dose", "'-5 mg'", "> 0"});
    expect_error([] { parse_dose("1 mg/kg", "total", false); }, {"total", "per kg"});
}

TEST(Units, ClosestName) {
    const std::vector<std::string> cols = {"ID", "TIME", "AMT", "RATE", "DUR", "CMT", "EVID", "II", "ADDL"};
    EXPECT_EQ(closest_name("AMNT", cols), "AMT");
    EXPECT_EQ(closest_name("RAET", cols), "RATE");
    EXPECT_EQ(closest_name("DURATION", cols), "DUR");
    EXPECT_EQ(closest_name("XYZZY", cols), "");
    EXPECT_EQ(closest_name("k_of", {"k_on", "k_off", "k_tr"}), "k_off");   // a tie goes to the prefix
}

}   // namespace
}   // namespace ketasim
