#include "ketasim/units.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>

#include "ketasim/errors.hpp"

namespace ketasim {

const char* to_string(Dimension d) {
    switch (d) {
        case Dimension::time: return "time";
        case Dimension::amount: return "amount";
        case Dimension::volume: return "volume";
        case Dimension::flow: return "flow";
        case Dimension::rate: return "rate";
        case Dimension::fraction: return "fraction";
        case Dimension::concentration: return "concentration";
        case Dimension::dimensionless: return "dimensionless";
    }
    return "?";
}

namespace {

std::string strip(const std::string& s) {
    std::string out;
    for (char c : s)
        if (!std::isspace(static_cast<unsigned char>(c))) out += c;
    return out;
}

const std::map<std::string, UnitInfo>& unit_table() {
    // canonical: h, mg, L, L/h, 1/h, ng/mL
    static const std::map<std::string, UnitInfo> table = {
        {"h", {Dimension::time, 1.0, false}},
        {"hr", {Dimension::time, 1.0, false}},
        {"min", {Dimension::time, 1.0 / 60.0, false}},
        {"s", {Dimension::time, 1.0 / 3600.0, false}},
        {"d", {Dimension::time, 24.0, false}},
        {"day", {Dimension::time, 24.0, false}},
        {"days", {Dimension::time, 24.0, false}},
        {"mg", {Dimension::amount, 1.0, false}},
        {"g", {Dimension::amount, 1000.0, false}},
        {"ug", {Dimension::amount, 1e-3, false}},
        {"mg/kg", {Dimension::amount, 1.0, true}},
        {"L", {Dimension::volume, 1.0, false}},
        {"mL", {Dimension::volume, 1e-3, false}},
        {"L/kg", {Dimension::volume, 1.0, true}},
        {"mL/kg", {Dimension::volume, 1e-3, true}},
        {"L/h", {Dimension::flow, 1.0, false}},
        {"L/min", {Dimension::flow, 60.0, false}},
        {"mL/min", {Dimension::flow, 0.06, false}},
        {"mL/h", {Dimension::flow, 1e-3, false}},
        {"L/h/kg", {Dimension::flow, 1.0, true}},
        {"L/min/kg", {Dimension::flow, 60.0, true}},
        {"mL/min/kg", {Dimension::flow, 0.06, true}},
        {"1/h", {Dimension::rate, 1.0, false}},
        {"/h", {Dimension::rate, 1.0, false}},
        {"1/min", {Dimension::rate, 60.0, false}},
        {"/min", {Dimension::rate, 60.0, false}},
        {"1/d", {Dimension::rate, 1.0 / 24.0, false}},
        {"1", {Dimension::fraction, 1.0, false}},
        {"fraction", {Dimension::fraction, 1.0, false}},
        {"%", {Dimension::fraction, 0.01, false}},
        {"ng/mL", {Dimension::concentration, 1.0, false}},
        {"ug/mL", {Dimension::concentration, 1000.0, false}},
        {"mg/L", {Dimension::concentration, 1000.0, false}},
        {"nmol/mL", {Dimension::concentration, 237.7, false}},   // ketamine base MW 237.7 g/mol
        {"dimensionless", {Dimension::dimensionless, 1.0, false}},
        {"score", {Dimension::dimensionless, 1.0, false}},
        {"mmHg", {Dimension::dimensionless, 1.0, false}},
    };
    return table;
}

std::string accepted_units() {
    std::string s;
    for (const auto& kv : unit_table()) s += (s.empty() ? "" : ", ") + kv.first;
    return s;
}

}  // namespace

UnitInfo parse_unit(const std::string& unit) {
    const std::string u = strip(unit);
    auto it = unit_table().find(u);
    if (it == unit_table().end())
        throw InputError("unknown unit '" + unit + "' (accepted: " + accepted_units() + ")");
    return it->second;
}

double parse_quantity(const std::string& text, Dimension expected, const std::string& what,
                      const std::string& default_unit) {
    const char* begin = text.c_str();
    char* end = nullptr;
    const double v = std::strtod(begin, &end);
    if (end == begin || !std::isfinite(v))
        throw InputError(what + ": '" + text + "' is not a number with a unit (e.g. '40 min')");
    std::string unit = strip(std::string(end));
    if (unit.empty()) unit = default_unit;
    if (unit.empty())
        throw InputError(what + ": '" + text + "' needs a unit of " + to_string(expected));
    UnitInfo info;
    try {
        info = parse_unit(unit);
    } catch (const InputError& e) {
        throw InputError(what + ": " + e.what());
    }
    if (info.dimension != expected || info.per_kg)
        throw InputError(what + ": '" + text + "' has unit '" + unit + "' of dimension " +
                         to_string(info.dimension) + (info.per_kg ? " per kg" : "") +
                         ", expected " + to_string(expected));
    return v * info.factor;
}

}  // namespace ketasim
