#pragma once
// Dose events and schedules. Times are in hours and amounts in mg (or mg/kg with per_kg) at the
// API; text input (TOML, CSV, CLI) accepts explicit units and is converted on reading.
#include <cstddef>
#include <string>
#include <vector>

namespace ketasim {

// Bounds on what a regimen may ask for, checked before anything is allocated. 1e7 events is
// about 1 GB of DoseEvent plus the solver's breakpoints, and far beyond any clinical regimen
// (daily doses for 100 years are 36,500 events); a larger request is almost surely a unit slip.
constexpr std::size_t kMaxDoseEvents = 10'000'000;
// Devices per intranasal session: clinical sessions use 1-3 (Spravato) up to ~10 sprays; 100
// leaves room for studies with small sprays while rejecting e.g. mg_per_device = 1e-9.
constexpr long kMaxDevicesPerSession = 100;
// An intranasal dose means the session's total, given as devices: Spravato's 28 mg devices, one
// every 5 min (label). Used by Regimen::intranasal, the CLI (--route intranasal --dose "56 mg") and
// Python (Regimen.intranasal), so "56 mg" is two 28 mg devices 5 min apart everywhere.
inline constexpr double kNasalDeviceMg = 28.0;
inline constexpr double kNasalDeviceSpacingH = 5.0 / 60.0;

struct DoseEvent {
    double time = 0.0;     // h
    double amount = 0.0;   // mg, or mg/kg when per_kg
    bool per_kg = false;
    std::string route = "iv";   // a route of the model; ignored when `compartment` is set
    std::string compartment;    // direct input into a compartment (NONMEM CMT), bypassing routes
    double duration = 0.0;      // h, zero-order infusion (iv or compartment doses); 0 = bolus
    int device = 1;             // 1-based device index within one intranasal session
    // Steady state (NONMEM SS=1 with II): at `time` the state is reset to the periodic steady
    // state of this dose repeated every `interval` h forever (trough, just before the dose), then
    // the dose is given. Doses before the last steady-state time are ignored (SS=1 resets);
    // steady-state doses at that same time are superposed. The sinks (`eliminated`,
    // `unabsorbed`) only record mass and restart from 0 at the reset. Computed exactly by both
    // solvers (see docs/design.md, "Steady state"). The dose's inputs, route lags and
    // absorption included, must end within one interval (NONMEM allows longer infusions; ketasim
    // does not, to keep the trough free of running inputs).
    bool steady_state = false;
    double interval = 0.0;   // h (II); only with steady_state, then > 0

    double amount_mg(double weight_kg) const { return per_kg ? amount * weight_kg : amount; }
};

class Regimen {
public:
    std::vector<DoseEvent> events;

    Regimen& add(const DoseEvent& e);
    // Adds `e` and `addl` further copies every `ii` hours (NONMEM II/ADDL).
    Regimen& add_repeated(const DoseEvent& e, double ii, int addl);
    // Adds `e` at 24 h * day for each listed day (plus e.time as the time of day).
    Regimen& add_on_days(const DoseEvent& e, const std::vector<double>& days);
    Regimen& merge(const Regimen& other);

    // IV infusion of `amount` (mg, or mg/kg) over `duration_h` at each start time.
    static Regimen iv_infusion(double amount, double duration_h, const std::vector<double>& times, bool per_kg = false);
    static Regimen iv_bolus(double amount_mg, const std::vector<double>& times);
    // One intranasal session per start time: total_mg given as devices of mg_per_device,
    // `spacing_h` apart (Spravato: 28 mg devices, 5 min apart).
    static Regimen intranasal(double total_mg, const std::vector<double>& times, double mg_per_device = kNasalDeviceMg,
                              double spacing_h = kNasalDeviceSpacingH, const std::string& route = "intranasal");

    std::vector<DoseEvent> sorted() const;
    bool per_kg() const;        // any dose in mg/kg: the subject's weight matters
    double last_time() const;   // latest dose start (or infusion end) in h, 0 if empty
    // At most kMaxDoseEvents events; finite, non-negative values; device >= 1; a steady-state
    // dose has a finite interval > 0 and a duration <= interval, and only such a dose has an
    // interval. O(n). Overlapping
    // infusions are allowed (rates add, as in NONMEM). Throws InputError naming the event
    // index, field, value and rule.
    void validate() const;
};

// Parses "days 0,2,4,7" or "0,2,4" into a list of numbers.
std::vector<double> parse_number_list(const std::string& text, const std::string& what);

}   // namespace ketasim
