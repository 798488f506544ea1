#pragma once
// Units: every parameter and quantity carries a unit string; values are converted to the
// canonical internal units (time h, amount mg, volume L, flow L/h, rate 1/h, concentration
// ng/mL) once, at load time.
#include <string>

namespace ketasim {

enum class Dimension { time, amount, volume, flow, rate, fraction, concentration, dimensionless };

const char* to_string(Dimension d);

struct UnitInfo {
    Dimension dimension = Dimension::dimensionless;
    double factor = 1.0;   // canonical = value * factor
    bool per_kg = false;   // value is per kg body weight (L/kg, mg/kg, L/h/kg)
};

// Parses a unit string such as "L", "L/kg", "mL/min/kg", "1/min", "h", "min", "mg/kg", "1".
// Throws InputError naming the unit and the accepted set.
UnitInfo parse_unit(const std::string& unit);

// Parses a quantity such as "40 min", "24 h", "1.5 d", "0.5" (with default unit), into the
// canonical unit of `expected`. Throws InputError naming `what`, the text and the rule.
double parse_quantity(const std::string& text, Dimension expected, const std::string& what,
                      const std::string& default_unit = "");

}  // namespace ketasim
