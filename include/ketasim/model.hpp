#pragma once
// A model is data: parameters (value, unit, description, source), compartments, first-order
// flows, dosing routes and outputs. `compile()` turns it, for one subject, into a numeric
// linear system dx/dt = A x + u(t) in canonical units (mg, h).
#include <Eigen/Dense>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ketasim/units.hpp"

namespace ketasim {

struct Parameter {
    std::string name;
    double value = 0.0;        // as written in the model file, in `unit`
    std::string unit;          // as written ("L/kg", "1/min", ...)
    std::string description;
    std::string source;        // citation (paper, table) or "calibrated: ..."
    bool calibrated = false;
    double allometric_exponent = 0.0;    // value * (W / reference_weight)^exponent when != 0
    double reference_weight_kg = 70.0;
    double lower = -1e300, upper = 1e300;  // admissible range in file units (e.g. fractions)
    // Linear age effect in file units per year above age_reference (Perez-Ruixo: Qh -2.19 L/h
    // per year above 60); 0 = none.
    double age_slope = 0.0;
    double age_reference = 60.0;
    UnitInfo unit_info;        // resolved from `unit`
};

struct Compartment {
    std::string name;
    std::string volume;        // parameter name; empty for depots (amounts only)
    std::string description;
};

// A first-order transfer from -> to ("" = elimination to the `eliminated` sink). `rate` names a
// parameter: a rate constant (1/h) is used as is; a flow/clearance (L/h) is divided by the
// volume of `from`. With bidirectional = true (flows only) the reverse transfer Q/V_to is added.
struct Flow {
    std::string from, to, rate;
    bool bidirectional = false;
};

// One part of a dose: `fraction` (product of parameters; empty = 1) goes to `target`, as a bolus
// or zero-order over `duration`, after `lag`. A `remainder` branch takes (1 - sum of the other
// branches' fractions) times its own fraction (e.g. the swallowed part of a nasal dose). For
// multi-device nasal doses, `device_factor` multiplies the fraction of every device after the
// first in a session (Perez-Ruixo 2021: FRn x 0.62 for devices 2, 3, ...; not compounded).
// Whatever no branch takes is recorded in the `unabsorbed` sink, so mass balance is exact.
struct RouteBranch {
    std::string target;
    std::vector<std::string> fraction;
    bool remainder = false;
    std::string device_factor;
    std::string duration;   // parameter name, zero-order input; empty = bolus
    std::string lag;        // parameter name; empty = none
};

enum class RouteKind { iv, intranasal, oral, im, sc };
const char* to_string(RouteKind k);
RouteKind route_kind_from_string(const std::string& s, const std::string& where);

struct Route {
    std::string name;   // key used in regimens ("iv", "intranasal", ...)
    RouteKind kind = RouteKind::iv;
    std::vector<RouteBranch> branches;
    std::string description;
};

struct OutputSpec {
    std::string name;          // "C_plasma", "C_metabolite", ...
    std::string compartment;
    std::string analyte;       // "racemic ketamine", "esketamine", ...
    std::string description;
};

// Effect site (issue: pharmacodynamics): dCe/dt = ke0 (C_driver - Ce), a virtual state in ng/mL.
struct EffectSite {
    std::string name = "Ce";
    std::string driver = "C_plasma";   // output name
    std::string ke0;                   // parameter name (rate)
    // Parameter name (dimensionless, > 0): factor converting this Ce into racemic-equivalent
    // ng/mL, the scale the PD parameters (models/pd/*.toml) are calibrated on. Empty: not given
    // (PD on this model is then refused rather than guessed).
    std::string racemic_equivalent;
};

struct Model {
    std::string name;
    std::string title;
    std::string description;
    std::string analyte;
    std::string source_path;   // file it was loaded from ("" if built in code)
    std::string source_text;   // full TOML text (stored in result files)
    std::vector<Parameter> parameters;
    std::vector<Compartment> compartments;
    std::vector<Flow> flows;
    std::vector<Route> routes;
    std::vector<OutputSpec> outputs;
    std::optional<EffectSite> effect_site;

    const Parameter& parameter(const std::string& name) const;  // throws InputError if unknown
    bool has_parameter(const std::string& name) const;
    const Route& route(const std::string& name) const;          // throws InputError if unknown
    bool has_route(const std::string& name) const;
    int compartment_index(const std::string& name) const;       // -1 if unknown
    std::vector<std::string> route_names() const;

    // Structural checks: names unique and defined, units of the right dimension, values in
    // range. Throws InputError naming the model, field, value and rule.
    void validate() const;
};

// Per-subject values: body weight, age, and parameter overrides in the parameter's file unit.
struct Subject {
    double weight_kg = 70.0;
    double age_years = 40.0;
    std::map<std::string, double> parameters;
    void validate() const;
};

enum class StateKind { compartment, sink, effect };

struct ResolvedBranch {
    int target = -1;
    double fraction = 1.0;        // for device 1
    double device_factor = 1.0;   // fraction for device d >= 2: fraction * device_factor
    bool remainder = false;
    double duration = 0.0;        // h
    double lag = 0.0;             // h
};

struct ResolvedRoute {
    std::string name;
    RouteKind kind = RouteKind::iv;
    std::vector<ResolvedBranch> branches;
    // Fractions of a dose of the given device index, per branch (sums to <= 1).
    std::vector<double> fractions(int device) const;
};

// The numeric system for one subject. States: compartments (mg), then the sinks `eliminated`
// and `unabsorbed` (mg), then the effect site (ng/mL) if any. Outputs y = C x.
struct LinearSystem {
    Eigen::MatrixXd A;                      // n x n, 1/h
    std::vector<std::string> state_names;
    std::vector<StateKind> state_kinds;
    Eigen::MatrixXd C;                      // outputs x n (ng/mL per mg, or 1 for Ce)
    std::vector<std::string> output_names;
    std::vector<std::string> output_units;
    std::vector<ResolvedRoute> routes;
    std::map<std::string, double> values;   // resolved parameter values, canonical units
    int eliminated = -1, unabsorbed = -1, effect = -1;
    int size() const { return static_cast<int>(A.rows()); }
    const ResolvedRoute& route(const std::string& name) const;
};

LinearSystem compile(const Model& model, const Subject& subject = {});

// Parameter value in canonical units for this subject (weight, allometry, overrides applied).
double resolve_parameter(const Parameter& p, const Subject& subject);

}  // namespace ketasim
