// Regimen files: [[dose]] entries, see docs/formats.md ("Regimen files (TOML)") and
// models/regimens/*.toml. Every error names file:line, dose[i].key, the value and the rule.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "io/toml_util.hpp"
#include "core/text.hpp"
#include "ketasim/io.hpp"
#include "ketasim/units.hpp"

namespace ketasim {

namespace {
using detail::fmt;

// Reads one [[dose]] table; `where` is "file:line: dose[i]" without the key.
class DoseReader {
public:
    DoseReader(const toml::table& t, std::string file, std::size_t index)
        : t_(t), file_(std::move(file)), path_("dose[" + std::to_string(index) + "]") {}

    std::string loc(const std::string& key) const {
        const toml::node* n = key.empty() ? nullptr : t_.get(key);
        return detail::at_line(file_, n ? *n : static_cast<const toml::node&>(t_)) + ": " + path_ +
               (key.empty() ? "" : "." + key);
    }
    [[noreturn]] void fail(const std::string& key, const std::string& msg) const {
        const toml::node* n = key.empty() ? nullptr : t_.get(key);
        ErrorContext c;
        c.file = file_;
        c.line = static_cast<int>((n ? n->source() : t_.source()).begin.line);
        c.key = path_ + (key.empty() ? "" : "." + key);
        c.rule = msg;
        throw InputError(loc(key) + ": " + msg, c);
    }
    bool has(const std::string& key) const { return t_.get(key) != nullptr; }

    std::string string(const std::string& key) const {
        const toml::node* n = t_.get(key);
        if (auto s = n->value_exact<std::string>()) return *s;
        fail(key, "value " + describe(*n) + " must be a string");
    }

    // A quantity with a unit of dimension `dim` ("40 min", "0.5 mg/kg"), read by the one quantity
    // parser (units.hpp). A bare number is rejected for amounts as for times: a file that says
    // amount = 0.5 could mean mg or mg/kg, as duration = 40 could mean minutes or hours.
    double quantity(const std::string& key, Dimension dim, bool allow_per_kg, bool* per_kg = nullptr) const {
        const toml::node* n = t_.get(key);
        const std::string example = dim == Dimension::time ? "\"40 min\"" : "\"0.5 mg/kg\" or \"56 mg\"";
        auto s = n->value_exact<std::string>();
        if (!s) {
            if (n->is_number())
                fail(key,
                     "value " + describe(*n) + " is a bare number; write it with its unit as a string, e.g. " + key +
                         " = " +
                         (dim == Dimension::time ? "\"" + describe(*n) + " min\"" : "\"" + describe(*n) + " mg\""));
            fail(key, "value " + describe(*n) + " must be a string with a unit, e.g. " + example);
        }
        try {
            if (dim == Dimension::amount) {
                const Dose d = parse_dose(*s, key, allow_per_kg);
                if (per_kg) *per_kg = d.per_kg;
                return d.amount;
            }
            if (per_kg) *per_kg = false;
            return parse_quantity(*s, dim, key);
        } catch (const InputError& e) {
            fail(key, "value '" + *s + "' " + e.context().rule);
        }
    }

    static std::string describe(const toml::node& n) {
        std::ostringstream os;
        if (n.is_string())
            os << "'" << *n.value_exact<std::string>() << "'";
        else if (n.is_array())
            os << "(an array)";
        else if (n.is_table())
            os << "(a table)";
        else if (n.is_number())
            os << fmt(*n.value<double>());
        else if (n.is_boolean())
            os << (*n.value_exact<bool>() ? "true" : "false");
        else
            os << "(a date or time)";
        return os.str();
    }

    const toml::table& table() const { return t_; }

private:
    const toml::table& t_;
    std::string file_;
    std::string path_;
};

}   // namespace

Regimen parse_regimen(const std::string& text, const std::string& file) {
    using namespace detail;
    const toml::table root = parse_toml(text, file);
    check_keys(root, {"dose", "name", "description"}, file, "");
    if (root.contains("name")) (void)get_string(root, "name", file, "regimen", false);
    if (root.contains("description")) (void)get_string(root, "description", file, "regimen", false);
    const toml::node* dn = root.get("dose");
    if (!dn) throw InputError(file + ": no doses: write one or more [[dose]] entries");
    const toml::array* doses = dn->as_array();
    if (doses && doses->empty())
        throw InputError(at_line(file, *dn) + ": dose: no doses: write one or more [[dose]] entries");
    if (!doses || !doses->is_array_of_tables())
        throw InputError(at_line(file, *dn) + ": dose: must be an array of tables ([[dose]] entries)");

    Regimen regimen;
    std::vector<std::string> origin;   // per expanded event: "dose[i], line L"
    std::vector<std::string> origin_loc;
    for (std::size_t i = 0; i < doses->size(); ++i) {
        const toml::table& t = *(*doses)[i].as_table();
        const DoseReader d(t, file, i);
        const std::string path = "dose[" + std::to_string(i) + "]";
        check_keys(t,
                   {"route", "compartment", "amount", "duration", "time", "days", "every", "addl", "device_mg",
                    "device_spacing"},
                   file, path);

        DoseEvent e;
        const bool has_route = d.has("route"), has_cmt = d.has("compartment");
        if (has_route && has_cmt)
            d.fail("compartment", "give either route or compartment, not both (route '" + d.string("route") + "')");
        if (!has_route && !has_cmt)
            d.fail("", "needs route = \"<model route>\" (e.g. \"iv\", \"intranasal\") or compartment = \"<name>\"");
        if (has_route) {
            e.route = d.string("route");
            if (e.route.empty()) d.fail("route", "value '' must name a route of the model");
        } else {
            e.compartment = d.string("compartment");
            if (e.compartment.empty()) d.fail("compartment", "value '' must name a compartment of the model");
        }

        if (!d.has("amount")) d.fail("", "amount is missing (e.g. amount = \"0.5 mg/kg\" or amount = \"56 mg\")");
        e.amount = d.quantity("amount", Dimension::amount, true, &e.per_kg);
        if (!(e.amount > 0))
            d.fail("amount", "value " + fmt(e.amount) + (e.per_kg ? " mg/kg" : " mg") + " must be > 0");

        if (d.has("duration")) {
            e.duration = d.quantity("duration", Dimension::time, false);
            if (e.duration < 0) d.fail("duration", "value " + fmt(e.duration) + " h must be >= 0 (0 = bolus)");
        }
        if (d.has("time")) {
            e.time = d.quantity("time", Dimension::time, false);
            if (e.time < 0) d.fail("time", "value " + fmt(e.time) + " h must be >= 0");
        }

        std::vector<double> days;
        if (d.has("days")) {
            const toml::node& n = *t.get("days");
            const toml::array* a = n.as_array();
            if (!a)
                d.fail("days", "value " + DoseReader::describe(n) + " must be an array of day numbers, e.g. [0, 2, 4]");
            if (a->empty()) d.fail("days", "value [] must list at least one day");
            std::set<double> seen;
            for (const auto& x : *a) {
                if (!x.is_number())
                    d.fail("days", "item " + DoseReader::describe(x) + " must be a day number (0 = first day)");
                const double v = *x.value<double>();
                if (!(std::isfinite(v) && v >= 0))
                    d.fail("days", "item " + fmt(v) + " must be a finite day number >= 0");
                if (!seen.insert(v).second) d.fail("days", "item " + fmt(v) + " is listed twice");
                days.push_back(v);
            }
        }

        double every = 0.0;
        long addl = 0;
        if (d.has("every")) {
            if (d.has("days"))
                d.fail("every",
                       "give either days or every/addl, not both (days repeat a dose on listed days; every/addl "
                       "repeat it at a fixed interval)");
            every = d.quantity("every", Dimension::time, false);
            if (!(every > 0)) d.fail("every", "value " + fmt(every) + " h must be > 0");
            if (!d.has("addl")) d.fail("every", "needs addl = <number of further doses>");
        }
        if (d.has("addl")) {
            const toml::node& n = *t.get("addl");
            if (!n.is_integer()) d.fail("addl", "value " + DoseReader::describe(n) + " must be a whole number >= 0");
            const std::int64_t v = *n.value_exact<std::int64_t>();
            if (v < 0 || v > 100000) d.fail("addl", "value " + std::to_string(v) + " must be between 0 and 100000");
            if (!d.has("every")) d.fail("addl", "needs every = \"<interval>\" (e.g. \"24 h\")");
            addl = static_cast<long>(v);
        }

        double device_mg = 0.0;
        if (d.has("device_spacing") && !d.has("device_mg"))
            d.fail("device_spacing", "needs device_mg (the mg per device)");
        if (d.has("device_mg")) {
            const toml::node& n = *t.get("device_mg");
            if (!n.is_number()) d.fail("device_mg", "value " + DoseReader::describe(n) + " must be a number of mg");
            device_mg = *n.value<double>();
            if (!(std::isfinite(device_mg) && device_mg > 0))
                d.fail("device_mg", "value " + fmt(device_mg) + " mg must be finite and > 0");
            if (has_cmt) d.fail("device_mg", "device splitting needs a route, not a compartment");
            if (e.per_kg)
                d.fail("device_mg", "amount " + fmt(e.amount) + " mg/kg cannot be split into " + fmt(device_mg) +
                                        " mg devices; give the amount in mg");
            if (d.has("duration"))
                d.fail("duration", "a device dose has no infusion duration (the route's absorption applies)");
            const double nd = e.amount / device_mg;
            if (std::fabs(nd - std::round(nd)) > 1e-9 || std::round(nd) < 1)
                d.fail("device_mg", "value " + fmt(device_mg) + ": amount " + fmt(e.amount) +
                                        " mg is not a whole number of " + fmt(device_mg) + " mg devices");
        }
        const double spacing =
            d.has("device_spacing") ? d.quantity("device_spacing", Dimension::time, false) : 5.0 / 60.0;
        if (spacing < 0) d.fail("device_spacing", "value " + fmt(spacing) + " h must be >= 0");

        // Session start times, then one event per start (or per device).
        Regimen part;
        try {
            if (device_mg > 0) {
                std::vector<double> starts;
                if (!days.empty()) {
                    for (double day : days) starts.push_back(e.time + 24.0 * day);
                } else {
                    for (long k = 0; k <= addl; ++k) starts.push_back(e.time + static_cast<double>(k) * every);
                }
                part = Regimen::intranasal(e.amount, starts, device_mg, spacing, e.route);
            } else if (!days.empty()) {
                part.add_on_days(e, days);
            } else if (d.has("every")) {
                part.add_repeated(e, every, static_cast<int>(addl));
            } else {
                part.add(e);
            }
        } catch (const InputError& err) {
            d.fail("", err.what());
        }
        const std::string label = path + ", line " + std::to_string(t.source().begin.line);
        for (const auto& ev : part.events) {
            regimen.add(ev);
            origin.push_back(label);
            origin_loc.push_back(d.loc(""));
        }
    }

    try {
        regimen.validate();
    } catch (const InputError& err) {
        // validate() counts expanded events; name the [[dose]] entries (and lines) they came from.
        ErrorContext c = err.context();
        const auto n = static_cast<long>(origin.size());
        if (c.index < 0 || c.index >= n) throw InputError(file + ": " + err.what(), c);
        std::string msg = origin_loc[static_cast<std::size_t>(c.index)] + (c.key.empty() ? "" : "." + c.key) + ": " +
                          (c.value.empty() ? "" : c.value + " ") + c.rule;
        if (c.other_index >= 0 && c.other_index < n)
            msg += " (the other infusion: " + origin[static_cast<std::size_t>(c.other_index)] + ")";
        c.file = file;
        throw InputError(msg, c);
    }
    return regimen;
}

Regimen load_regimen(const std::string& path) { return parse_regimen(detail::read_text_file(path), path); }

}   // namespace ketasim
