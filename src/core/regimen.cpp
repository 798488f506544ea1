#include "ketasim/regimen.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "core/text.hpp"
#include "ketasim/errors.hpp"

namespace ketasim {

namespace {
using detail::fmt;
}   // namespace

namespace {
// Checked before any allocation, so a request for billions of events fails at once, not after
// gigabytes (issue 9: mg_per_device = 1e-9 asked for 5.6e10 events).
void check_room(std::size_t have, double more, const std::string& what) {
    if (static_cast<double>(have) + more > static_cast<double>(kMaxDoseEvents))
        throw InputError(what + ": " + fmt(more) + " more dose events (on top of " + std::to_string(have) +
                         ") is more than the maximum of " + std::to_string(kMaxDoseEvents) + " per regimen");
}
}   // namespace

Regimen& Regimen::add(const DoseEvent& e) {
    check_room(events.size(), 1, "add");
    events.push_back(e);
    return *this;
}

Regimen& Regimen::add_repeated(const DoseEvent& e, double ii, int addl) {
    if (addl < 0) throw InputError("ADDL: " + std::to_string(addl) + " must be >= 0");
    if (addl > 0 && !(std::isfinite(ii) && ii > 0)) throw InputError("II: " + fmt(ii) + " h must be > 0 when ADDL > 0");
    check_room(events.size(), static_cast<double>(addl) + 1, "ADDL " + std::to_string(addl));
    for (int i = 0; i <= addl; ++i) {
        DoseEvent c = e;
        c.time = e.time + i * ii;
        if (i > 0) {   // NONMEM SS=1 with ADDL: the steady state is reached once, the copies are plain doses
            c.steady_state = false;
            c.interval = 0.0;
        }
        events.push_back(c);
    }
    return *this;
}

Regimen& Regimen::add_on_days(const DoseEvent& e, const std::vector<double>& days) {
    check_room(events.size(), static_cast<double>(days.size()), "days");
    for (double d : days) {
        if (!(std::isfinite(d) && d >= 0)) throw InputError("days: " + fmt(d) + " must be a day number >= 0");
        DoseEvent c = e;
        c.time = e.time + 24.0 * d;
        events.push_back(c);
    }
    return *this;
}

Regimen& Regimen::merge(const Regimen& other) {
    check_room(events.size(), static_cast<double>(other.events.size()), "merge");
    events.insert(events.end(), other.events.begin(), other.events.end());
    return *this;
}

Regimen Regimen::iv_infusion(double amount, double duration_h, const std::vector<double>& times, bool per_kg) {
    check_room(0, static_cast<double>(times.size()), "iv_infusion");
    Regimen r;
    for (double t : times) {
        DoseEvent e;
        e.time = t;
        e.amount = amount;
        e.per_kg = per_kg;
        e.route = "iv";
        e.duration = duration_h;
        r.add(e);
    }
    return r;
}

Regimen Regimen::iv_bolus(double amount_mg, const std::vector<double>& times) {
    return iv_infusion(amount_mg, 0.0, times, false);
}

Regimen Regimen::intranasal(double total_mg, const std::vector<double>& times, double mg_per_device, double spacing_h,
                            const std::string& route) {
    if (!(mg_per_device > 0)) throw InputError("intranasal: mg_per_device " + fmt(mg_per_device) + " must be > 0");
    if (!(total_mg > 0)) throw InputError("intranasal: total dose " + fmt(total_mg) + " mg must be > 0");
    if (!(spacing_h >= 0)) throw InputError("intranasal: device spacing " + fmt(spacing_h) + " h must be >= 0");
    if (!std::isfinite(total_mg)) throw InputError("intranasal: total dose " + fmt(total_mg) + " mg must be finite");
    const double nd = total_mg / mg_per_device;
    // Before lround (undefined past LONG_MAX) and before allocating anything.
    if (!(nd <= kMaxDevicesPerSession + 0.5))
        throw InputError("intranasal: total dose " + fmt(total_mg) + " mg in " + fmt(mg_per_device) +
                         " mg devices is " + fmt(nd) + " devices per session; the maximum is " +
                         std::to_string(kMaxDevicesPerSession));
    const long n = std::lround(nd);
    if (std::fabs(nd - static_cast<double>(n)) > 1e-9 || n < 1)
        throw InputError("intranasal: total dose " + fmt(total_mg) + " mg is not a whole number of " +
                         fmt(mg_per_device) + " mg devices");
    check_room(0, static_cast<double>(n) * static_cast<double>(times.size()), "intranasal");
    Regimen r;
    r.events.reserve(static_cast<std::size_t>(n) * times.size());
    for (double t : times)
        for (long d = 0; d < n; ++d) {
            DoseEvent e;
            e.time = t + d * spacing_h;
            e.amount = mg_per_device;
            e.route = route;
            e.device = static_cast<int>(d + 1);
            r.add(e);
        }
    return r;
}

bool Regimen::per_kg() const {
    for (const auto& e : events)
        if (e.per_kg) return true;
    return false;
}

std::vector<DoseEvent> Regimen::sorted() const {
    std::vector<DoseEvent> s = events;
    std::stable_sort(s.begin(), s.end(), [](const DoseEvent& a, const DoseEvent& b) { return a.time < b.time; });
    return s;
}

double Regimen::last_time() const {
    double t = 0;
    for (const auto& e : events) t = std::max(t, e.time + e.duration);
    return t;
}

void Regimen::validate() const {
    // O(n): one pass, no pairwise checks. Overlapping infusions into one place are legal (as in
    // NONMEM their rates add) and handled by both solvers, so they need no check here.
    if (events.size() > kMaxDoseEvents)
        throw InputError("regimen: " + std::to_string(events.size()) + " dose events is more than the maximum of " +
                         std::to_string(kMaxDoseEvents) + " per regimen");
    // Messages say "dose[i]..."; the fields (index, key, value, rule) let file readers name the
    // line the event came from without parsing the message.
    auto fail = [](std::size_t i, const std::string& key, const std::string& value, const std::string& rule) {
        ErrorContext c;
        c.key = key;
        c.value = value;
        c.rule = rule;
        c.index = static_cast<long>(i);
        throw InputError("dose[" + std::to_string(i) + "]" + (key.empty() ? "" : "." + key) + ": " +
                             (value.empty() ? "" : value + " ") + rule,
                         c);
    };
    for (std::size_t i = 0; i < events.size(); ++i) {
        const auto& e = events[i];
        if (!(std::isfinite(e.time) && e.time >= 0)) fail(i, "time", fmt(e.time) + " h", "must be finite and >= 0");
        if (!(std::isfinite(e.amount) && e.amount > 0))
            fail(i, "amount", fmt(e.amount) + (e.per_kg ? " mg/kg" : " mg"), "must be finite and > 0");
        if (!(std::isfinite(e.duration) && e.duration >= 0))
            fail(i, "duration", fmt(e.duration) + " h", "must be finite and >= 0 (0 = bolus)");
        if (e.device < 1) fail(i, "device", std::to_string(e.device), "must be >= 1");
        if (e.route.empty() && e.compartment.empty()) fail(i, "", "", "needs a route or a compartment");
        if (e.steady_state) {
            if (!(std::isfinite(e.interval) && e.interval > 0))
                fail(i, "interval", fmt(e.interval) + " h", "must be finite and > 0 for a steady-state dose (II)");
            if (e.duration > e.interval)
                fail(i, "duration", fmt(e.duration) + " h",
                     "is longer than the steady-state interval " + fmt(e.interval) +
                         " h (infusions longer than the interval are not supported at steady state)");
        } else if (e.interval != 0.0) {
            fail(
                i, "interval", fmt(e.interval) + " h",
                "given for a dose that is not steady state (set steady_state, or use add_repeated for repeated doses)");
        }
    }
}

std::vector<double> parse_number_list(const std::string& text, const std::string& what) {
    std::string s = text;
    const std::string prefix = "days";
    auto pos = s.find_first_not_of(" \t");
    if (pos != std::string::npos && s.compare(pos, prefix.size(), prefix) == 0) s = s.substr(pos + prefix.size());
    std::vector<double> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
        const auto a = item.find_first_not_of(" \t");
        if (a == std::string::npos) throw InputError(what + ": empty item in '" + text + "'");
        const auto b = item.find_last_not_of(" \t");
        const std::string tok = item.substr(a, b - a + 1);
        char* end = nullptr;
        const double v = std::strtod(tok.c_str(), &end);
        if (*end != '\0' || !std::isfinite(v))
            throw InputError(what + ": '" + tok + "' in '" + text + "' is not a number");
        out.push_back(v);
    }
    if (out.empty()) throw InputError(what + ": '" + text + "' lists no numbers");
    return out;
}

}   // namespace ketasim
