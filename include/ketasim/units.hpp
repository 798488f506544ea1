#pragma once
// Units: every parameter and quantity carries a unit string; values are converted to the
// canonical internal units (time h, amount mg, volume L, flow L/h, rate 1/h, concentration
// ng/mL) once, at load time.
//
// This is the ONE quantity parser of ketasim: model, regimen and PD files, event-table headers,
// CLI flags and the Python API (through the bindings) all call parse_quantity()/parse_dose(),
// so "23 min" is the same double everywhere. A bare number is never given a unit: "40" is an
// error naming the expected dimension (minutes or hours would be a guess). See docs/design.md
// ("Units") for why this is a hand table and not udunits2 or pint.
#include <string>
#include <vector>

namespace ketasim {

enum class Dimension { time, amount, volume, flow, rate, fraction, concentration, dimensionless };

const char* to_string(Dimension d);

struct UnitInfo {
    Dimension dimension = Dimension::dimensionless;
    double factor = 1.0;   // canonical = value * factor
    bool per_kg = false;   // value is per kg body weight (L/kg, mg/kg, L/h/kg)

    // value * factor, but divides by 60, 3600, 1000, ... instead of multiplying by their rounded
    // reciprocals, so "40 min" is the same double as 40.0 / 60.0 written in code.
    double to_canonical(double value) const;
};

// Parses a unit string such as "L", "L/kg", "mL/min/kg", "1/min", "h", "minutes", "mg/kg", "1".
// Throws InputError naming the unit and the accepted set. Molar units (nmol/mL) are refused:
// the molar mass differs per analyte (ketamine 237.7, norketamine 223.7 g/mol), and a unit
// string alone cannot say which analyte it is for.
UnitInfo parse_unit(const std::string& unit);

// The accepted unit names of one dimension, for messages: "h, hr, hour, hours, min, ...".
// `per_kg` selects the per-kg units (mg/kg) instead of the absolute ones (mg).
std::string accepted_units(Dimension d, bool per_kg = false);

// Parses a quantity such as "40 min", "24 h", "1.5 d" (the whole text: "40 min extra" is an
// error) into the canonical unit of `expected`. Throws InputError naming `what`, the text and
// the rule, with structured fields key = what, value = text. `default_unit` is applied to a bare
// number; new code passes none (a bare number is then an error).
double parse_quantity(const std::string& text, Dimension expected, const std::string& what,
                      const std::string& default_unit = "");

// A dose: "56 mg", "0.5 g", "500 ug" (amount in mg) or "0.5 mg/kg" (per_kg). The one dose
// parser of the CLI (--dose), regimen files (amount) and Python (Regimen.*).
struct Dose {
    double amount = 0.0;   // mg, or mg/kg when per_kg
    bool per_kg = false;
};
Dose parse_dose(const std::string& text, const std::string& what, bool allow_per_kg = true);

// Dimension from its name ("time", "amount", ...), InputError otherwise.
Dimension dimension_from_string(const std::string& name);

// The name in `candidates` closest to `name` (edit distance, case-insensitive), or "" when none
// is within a third of the name's length: for "unknown key 'AMNT' (did you mean 'AMT'?)".
std::string closest_name(const std::string& name, const std::vector<std::string>& candidates);

}   // namespace ketasim
