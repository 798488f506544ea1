// Model files: every library model loads and validates; malformed files and bad values give an
// error naming the file, the key (and line), the value and the rule.
#include <gtest/gtest.h>

#include <string>

#include "ketasim/ketasim.hpp"

using namespace ketasim;

namespace {

const std::string kModels = KETASIM_TEST_MODELS_DIR;

const char* kMinimal = R"(name = "one_cmt"
[parameters.V]
value = 10
unit = "L"
source = "test"
[parameters.k]
value = 0.5
unit = "1/h"
source = "test"
[[compartments]]
name = "central"
volume = "V"
[[flows]]
from = "central"
rate = "k"
[routes.iv]
[[routes.iv.branches]]
target = "central"
[[outputs]]
name = "C_plasma"
compartment = "central"
)";

std::string replace(std::string s, const std::string& from, const std::string& to) {
    const auto pos = s.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    if (pos != std::string::npos) s.replace(pos, from.size(), to);
    return s;
}

// Expects parse_model to throw InputError whose message contains every fragment.
void expect_error(const std::string& text, std::initializer_list<std::string> fragments) {
    try {
        parse_model(text, "bad.toml");
        ADD_FAILURE() << "no error for:\n" << text;
    } catch (const InputError& e) {
        const std::string msg = e.what();
        for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
    }
}

}   // namespace

TEST(ModelToml, EveryLibraryModelLoadsWithSourcesAndUnits) {
    const auto entries = list_models(kModels);
    ASSERT_GE(entries.size(), 4u);
    for (const auto& e : entries) {
        const Model m = load_library_model(e.name, kModels);
        EXPECT_EQ(m.name, e.name);
        EXPECT_FALSE(m.outputs.empty());
        for (const auto& p : m.parameters) {
            EXPECT_FALSE(p.source.empty()) << e.name << "." << p.name;
            EXPECT_FALSE(p.unit.empty()) << e.name << "." << p.name;
            EXPECT_FALSE(p.description.empty()) << e.name << "." << p.name;
        }
    }
}

TEST(ModelToml, EveryLibraryModelStatesItsRacemicEquivalenceWithASource) {
    // PD needs the Ce -> racemic-equivalent factor from the model file (never guessed from names).
    for (const auto& e : list_models(kModels)) {
        const Model m = load_library_model(e.name, kModels);
        ASSERT_TRUE(m.effect_site) << e.name;
        ASSERT_FALSE(m.effect_site->racemic_equivalent.empty()) << e.name;
        const Parameter& p = m.parameter(m.effect_site->racemic_equivalent);
        const bool esketamine = e.name.find("esketamine") != std::string::npos;
        EXPECT_EQ(p.value, esketamine ? 2.0 : 1.0) << e.name;
        // 2 for esketamine is an assumption and says so; 1 for racemic ketamine is the definition.
        EXPECT_EQ(p.source.rfind(esketamine ? "assumed:" : "definition:", 0), 0u) << e.name << ": " << p.source;
    }
}

TEST(ModelToml, RacemicEquivalentMustNameADimensionlessPositiveParameter) {
    const std::string es = std::string(kMinimal) + R"([effect_site]
ke0 = "k"
racemic_equivalent = "R"
)";
    expect_error(es, {"bad.toml", "effect_site.racemic_equivalent", "'R'", "not defined"});
    const std::string with_r = replace(es, "[[compartments]]", R"([parameters.R]
value = 0
unit = "dimensionless"
source = "test"
[[compartments]])");
    expect_error(with_r, {"parameters.R", "racemic_equivalent", "value 0", "> 0"});
    expect_error(replace(with_r, "value = 0\nunit = \"dimensionless\"", "value = 2\nunit = \"1/h\""),
                 {"parameters.R", "dimensionless"});
    const Model ok = parse_model(replace(with_r, "value = 0\nunit", "value = 2\nunit"), "ok.toml");
    EXPECT_EQ(ok.effect_site->racemic_equivalent, "R");
}

TEST(ModelToml, MinimalModelParsesAndCompiles) {
    const Model m = parse_model(kMinimal, "min.toml");
    const LinearSystem s = compile(m);
    EXPECT_DOUBLE_EQ(s.A(0, 0), -0.5);
    EXPECT_DOUBLE_EQ(s.A(s.eliminated, 0), 0.5);
    EXPECT_DOUBLE_EQ(s.C(0, 0), 100.0);   // 1000 / 10 L: mg -> ng/mL
}

TEST(ModelToml, SyntaxErrorNamesFileAndLine) {
    expect_error(replace(kMinimal, "value = 10", "value = = 10"), {"bad.toml:3", "syntax"});
}

TEST(ModelToml, WrongTypeNamesKeyAndLine) {
    expect_error(replace(kMinimal, "value = 10", "value = \"ten\""), {"bad.toml:3", "parameters.V.value", "number"});
}

TEST(ModelToml, NegativeVolumeRejected) {
    expect_error(replace(kMinimal, "value = 10", "value = -10"), {"parameters.V", "-10", "> 0"});
}

TEST(ModelToml, NanRateRejected) {
    expect_error(replace(kMinimal, "value = 0.5", "value = nan"), {"parameters.k", "not finite"});
}

TEST(ModelToml, NegativeRateRejected) {
    expect_error(replace(kMinimal, "value = 0.5", "value = -0.5"), {"parameters.k", "-0.5", ">= 0"});
}

TEST(ModelToml, UnknownUnitRejected) {
    expect_error(replace(kMinimal, "unit = \"1/h\"", "unit = \"furlongs\""),
                 {"bad.toml:8", "parameters.k.unit", "furlongs"});
}

TEST(ModelToml, UnitOfWrongDimensionForVolume) {
    expect_error(replace(kMinimal, "unit = \"L\"", "unit = \"1/h\""), {"compartments.central.volume", "V"});
}

TEST(ModelToml, MissingSourceRejected) {
    expect_error(replace(kMinimal, "unit = \"L\"\nsource = \"test\"", "unit = \"L\""), {"parameters.V", "source"});
}

TEST(ModelToml, UnknownKeyRejected) {
    expect_error(replace(kMinimal, "unit = \"L\"", "unit = \"L\"\nvalu = 3"),
                 {"bad.toml:", "parameters.V.valu", "unknown key"});
}

TEST(ModelToml, FlowToUnknownCompartment) {
    expect_error(replace(kMinimal, "from = \"central\"", "from = \"centrl\""), {"flows[0].from", "centrl"});
}

TEST(ModelToml, RouteTargetUnknown) {
    expect_error(replace(kMinimal, "target = \"central\"", "target = \"gut\""), {"routes.iv", "gut"});
}

TEST(ModelToml, UnknownRouteKind) {
    expect_error(replace(kMinimal, "[routes.iv]", "[routes.iv]\nkind = \"rectal\""), {"rectal", "iv, intranasal"});
}

TEST(ModelToml, FractionAboveOne) {
    std::string t = replace(kMinimal, "target = \"central\"", "target = \"central\"\nfraction = \"F\"");
    t = replace(t, "[[compartments]]",
                "[parameters.F]\nvalue = 1.5\nunit = \"1\"\nsource = \"test\"\n[[compartments]]");
    expect_error(t, {"parameters.F", "1.5", "[0, 1]"});
}

TEST(ModelToml, MissingFileNamesPath) {
    try {
        load_model("/nonexistent/model.toml");
        FAIL();
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/model.toml"), std::string::npos);
    }
}

TEST(ModelToml, UnknownLibraryNameListsTheLibrary) {
    try {
        load_library_model("ketamine_iv_nosuch", kModels);
        FAIL();
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("ketamine_iv_clements"), std::string::npos);
    }
}

TEST(ModelToml, SubjectOverrideOfUnknownParameterRejected) {
    const Model m = parse_model(kMinimal, "min.toml");
    Subject s;
    s.parameters["kk"] = 1.0;
    EXPECT_THROW(compile(m, s), InputError);
    s.parameters.clear();
    s.parameters["k"] = -1.0;
    EXPECT_THROW(compile(m, s), InputError);
    s.parameters.clear();
    s.weight_kg = std::nan("");
    EXPECT_THROW(compile(m, s), InputError);
}
