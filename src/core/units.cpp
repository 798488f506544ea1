#include "ketasim/units.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>

#include "core/text.hpp"
#include "ketasim/errors.hpp"

namespace ketasim {

const char* to_string(Dimension d) {
    switch (d) {
        case Dimension::time:
            return "time";
        case Dimension::amount:
            return "amount";
        case Dimension::volume:
            return "volume";
        case Dimension::flow:
            return "flow";
        case Dimension::rate:
            return "rate";
        case Dimension::fraction:
            return "fraction";
        case Dimension::concentration:
            return "concentration";
        case Dimension::dimensionless:
            return "dimensionless";
    }
    return "?";
}

Dimension dimension_from_string(const std::string& s) {
    for (Dimension d : {Dimension::time, Dimension::amount, Dimension::volume, Dimension::flow, Dimension::rate,
                        Dimension::fraction, Dimension::concentration, Dimension::dimensionless})
        if (s == to_string(d)) return d;
    throw InputError("dimension '" + s +
                     "' is not known (accepted: time, amount, volume, flow, rate, fraction, concentration, "
                     "dimensionless)");
}

double UnitInfo::to_canonical(double value) const {
    if (factor < 1.0) {
        const double inv = 1.0 / factor;
        if (inv == std::round(inv)) return value / inv;
    }
    return value * factor;
}

namespace {

using detail::trim;

std::string strip(const std::string& s) {
    std::string out;
    for (char c : s)
        if (!std::isspace(static_cast<unsigned char>(c))) out += c;
    return out;
}

struct Entry {
    const char* name;
    UnitInfo info;
};

// canonical: h, mg, L, L/h, 1/h, ng/mL. In display order (messages list them per dimension).
const std::vector<Entry>& unit_list() {
    static const std::vector<Entry> list = {
        {"h", {Dimension::time, 1.0, false}},
        {"hr", {Dimension::time, 1.0, false}},
        {"hrs", {Dimension::time, 1.0, false}},
        {"hour", {Dimension::time, 1.0, false}},
        {"hours", {Dimension::time, 1.0, false}},
        {"min", {Dimension::time, 1.0 / 60.0, false}},
        {"mins", {Dimension::time, 1.0 / 60.0, false}},
        {"minute", {Dimension::time, 1.0 / 60.0, false}},
        {"minutes", {Dimension::time, 1.0 / 60.0, false}},
        {"s", {Dimension::time, 1.0 / 3600.0, false}},
        {"sec", {Dimension::time, 1.0 / 3600.0, false}},
        {"second", {Dimension::time, 1.0 / 3600.0, false}},
        {"seconds", {Dimension::time, 1.0 / 3600.0, false}},
        {"d", {Dimension::time, 24.0, false}},
        {"day", {Dimension::time, 24.0, false}},
        {"days", {Dimension::time, 24.0, false}},
        {"week", {Dimension::time, 168.0, false}},
        {"weeks", {Dimension::time, 168.0, false}},
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
        {"ug/L", {Dimension::concentration, 1.0, false}},
        {"dimensionless", {Dimension::dimensionless, 1.0, false}},
        {"score", {Dimension::dimensionless, 1.0, false}},
    };
    return list;
}

const std::map<std::string, UnitInfo>& unit_table() {
    static const std::map<std::string, UnitInfo> table = [] {
        std::map<std::string, UnitInfo> t;
        for (const auto& e : unit_list()) t[e.name] = e.info;
        return t;
    }();
    return table;
}

std::string all_units() {
    std::string s;
    for (Dimension d : {Dimension::time, Dimension::amount, Dimension::volume, Dimension::flow, Dimension::rate,
                        Dimension::fraction, Dimension::concentration, Dimension::dimensionless}) {
        std::string part = accepted_units(d, false);
        const std::string pk = accepted_units(d, true);
        if (!pk.empty()) part += ", " + pk;
        s += (s.empty() ? "" : "; ") + std::string(to_string(d)) + ": " + part;
    }
    return s;
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Splits "<number><unit>" into the number and the trimmed unit text; InputError when there is
// no finite number at the start.
std::pair<double, std::string> split_number(const std::string& text, const std::string& what,
                                            const std::string& example) {
    const std::string t = trim(text);
    const char* begin = t.c_str();
    char* end = nullptr;
    // strtod also reads "inf", "nan" and hex ("0x1p3"): only plain decimal numbers are quantities.
    const bool starts_like_number = !t.empty() && (std::isdigit(static_cast<unsigned char>(t[0])) || t[0] == '.' ||
                                                   ((t[0] == '-' || t[0] == '+') && t.size() > 1 &&
                                                    (std::isdigit(static_cast<unsigned char>(t[1])) || t[1] == '.')));
    const double v = starts_like_number ? std::strtod(begin, &end) : 0.0;
    const bool hex = t.find("0x") != std::string::npos || t.find("0X") != std::string::npos;
    if (!starts_like_number || end == begin || hex)
        throw InputError(ErrorContext{"", 0, what, text, "is not a number with a unit (e.g. " + example + ")"});
    if (!std::isfinite(v)) throw InputError(ErrorContext{"", 0, what, text, "must be finite"});
    return {v, trim(std::string(end))};
}

}   // namespace

std::string accepted_units(Dimension d, bool per_kg) {
    std::string s;
    for (const auto& e : unit_list())
        if (e.info.dimension == d && e.info.per_kg == per_kg) s += (s.empty() ? "" : ", ") + std::string(e.name);
    return s;
}

UnitInfo parse_unit(const std::string& unit) {
    const std::string u = strip(unit);
    auto it = unit_table().find(u);
    if (it != unit_table().end()) return it->second;
    if (lower(u).find("mol") != std::string::npos)
        throw InputError(ErrorContext{"", 0, "", unit,
                                      "is a molar unit, which is not accepted: the molar mass differs per analyte "
                                      "(ketamine 237.7, norketamine 223.7 g/mol) and ketasim does not guess it; give "
                                      "a mass unit (ng/mL, mg/L)"});
    throw InputError("unknown unit '" + unit + "' (accepted: " + all_units() + ")",
                     ErrorContext{"", 0, "", unit, "is not a known unit"});
}

double parse_quantity(const std::string& text, Dimension expected, const std::string& what,
                      const std::string& default_unit) {
    const std::string example =
        expected == Dimension::time
            ? "'40 min'"
            : "'1 " + accepted_units(expected).substr(0, accepted_units(expected).find(',')) + "'";
    auto [v, unit] = split_number(text, what, example);
    const std::string accepted = std::string(to_string(expected)) + " (" + accepted_units(expected) + ")";
    if (unit.empty()) unit = default_unit;
    if (unit.empty())
        throw InputError(what + ": '" + text + "' needs a unit of " + accepted +
                             "; a bare number is not given a unit (e.g. " + example + ")",
                         ErrorContext{"", 0, what, text, "needs a unit of " + accepted});
    UnitInfo info;
    try {
        info = parse_unit(unit);
    } catch (const InputError&) {
        if (lower(unit).find("mol") != std::string::npos)
            throw InputError(ErrorContext{"", 0, what, text,
                                          "has a molar unit '" + unit +
                                              "', which is not accepted: the molar mass differs per analyte; give " +
                                              accepted});
        throw InputError(what + ": '" + text + "' has an unknown unit '" + unit + "', expected " + accepted,
                         ErrorContext{"", 0, what, text, "has an unknown unit '" + unit + "', expected " + accepted});
    }
    if (info.dimension != expected || info.per_kg) {
        const std::string rule = "has unit '" + unit + "' of dimension " + to_string(info.dimension) +
                                 (info.per_kg ? " per kg" : "") + ", expected " + accepted;
        throw InputError(what + ": '" + text + "' " + rule, ErrorContext{"", 0, what, text, rule});
    }
    return info.to_canonical(v);
}

Dose parse_dose(const std::string& text, const std::string& what, bool allow_per_kg) {
    const std::string accepted = allow_per_kg ? "mg, g, ug or mg/kg" : "mg, g or ug";
    const std::string example = allow_per_kg ? "'56 mg' or '0.5 mg/kg'" : "'56 mg'";
    auto [v, unit] = split_number(text, what, example);
    auto fail = [&](const std::string& rule) -> Dose {
        throw InputError(what + ": '" + text + "' " + rule, ErrorContext{"", 0, what, text, rule});
    };
    if (unit.empty())
        return fail("needs a unit (" + accepted + "); a bare number is not given one (e.g. " + example + ")");
    UnitInfo info;
    try {
        info = parse_unit(unit);
    } catch (const InputError&) {
        return fail("has an unknown unit '" + unit + "', expected a dose in " + accepted);
    }
    if (info.dimension != Dimension::amount)
        return fail("has unit '" + unit + "' of dimension " + to_string(info.dimension) + ", expected a dose in " +
                    accepted);
    if (info.per_kg && !allow_per_kg) return fail("is per kg; give the dose in " + accepted);
    if (!(v > 0)) return fail("must be > 0");
    return Dose{info.to_canonical(v), info.per_kg};
}

std::string closest_name(const std::string& name, const std::vector<std::string>& candidates) {
    const std::string a = lower(name);
    std::string best;
    std::size_t best_d = std::string::npos;
    for (const auto& c : candidates) {
        const std::string b = lower(c);
        // Levenshtein distance with adjacent transpositions counted as one edit (RAET -> RATE).
        std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
        for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
        for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
        for (std::size_t i = 1; i <= a.size(); ++i)
            for (std::size_t j = 1; j <= b.size(); ++j) {
                d[i][j] =
                    std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
            }
        // On a tie, a candidate the name is a prefix of (k_of -> k_off) beats a substitution (k_on).
        const bool prefix = b.compare(0, a.size(), a) == 0 || a.compare(0, b.size(), b) == 0;
        const std::size_t dist = 2 * d[a.size()][b.size()] - (prefix ? 1 : 0);
        if (dist < best_d) {
            best_d = dist;
            best = c;
        }
    }
    // DURATION -> DUR is a prefix, not a near miss in edits: accept a candidate the name starts with.
    if (best_d > 2 * std::max<std::size_t>(1, a.size() / 3)) {
        for (const auto& c : candidates)
            if (c.size() >= 2 && a.compare(0, c.size(), lower(c)) == 0) return c;
        return "";
    }
    return best;
}

}   // namespace ketasim
