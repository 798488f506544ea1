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
    double value = 0.0;   // as written in the model file, in `unit`
    std::string unit;     // as written ("L/kg", "1/min", ...)
    std::string description;
    std::string source;   // citation (paper, table) or "calibrated: ..."
    bool calibrated = false;
    double allometric_exponent = 0.0;   // value * (W / reference_weight)^exponent when != 0
    double reference_weight_kg = 70.0;
    double lower = -1e300, upper = 1e300;   // admissible range in file units (e.g. fractions)
    // Linear age effect in file units per year above age_reference (Perez-Ruixo: Qh -2.19 L/h
    // per year above 60); 0 = none.
    double age_slope = 0.0;
    double age_reference = 60.0;
    UnitInfo unit_info;   // resolved from `unit`
};

struct Compartment {
    std::string name;
    std::string volume;   // parameter name; empty for depots (amounts only)
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
    std::string name;   // "C_plasma", "C_metabolite", ...
    std::string compartment;
    std::string analyte;   // "racemic ketamine", "esketamine", ...
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

// ---- population layer of a model file (docs/populations.md) ------------------------------------

// How a random effect eta acts on a parameter P (after covariates, in the parameter's file unit):
// lognormal P * exp(eta); normal P + eta (file unit); logit 1 / (1 + exp(-(logit(P) + eta))).
enum class EtaDistribution { lognormal, normal, logit };
const char* to_string(EtaDistribution d);

// One block of random effects with a full covariance `omega` (variance of eta on its own scale:
// log for lognormal, logit for logit, the file unit squared for normal). `cv_percent` in a model
// file means the exact log-normal convention omega^2 = ln(1 + CV^2). Per-subject (IIV) or drawn
// anew for every occasion (IOV; an occasion = one dosing session).
struct VariabilityBlock {
    std::vector<std::string> parameters;
    EtaDistribution distribution = EtaDistribution::lognormal;
    Eigen::MatrixXd omega;
    bool per_occasion = false;
    std::string source;
    bool assumed = false;      // not from a publication: the file says why
    bool calibrated = false;   // fitted by this project to stated targets (source "calibrated: ...")
    int line = 0;              // line of the block in its file (messages)
};

// A covariate the model uses. Built in: `weight` (kg; per-kg units, allometric exponents) and
// `age` (years; age slopes). Any other name is a 0/1 flag used by covariate effects (`sex`:
// 1 = female; `japanese`, ...). Declared covariates must be used and used ones declared.
struct CovariateSpec {
    std::string name;
    std::string unit;   // "kg", "years" or "flag"
    std::string description;
    double reference = 0.0;   // typical value (70 kg, 40 years, 0 for flags)
    int line = 0;
};

// Flag covariate effect: the parameter is multiplied by `factor` when the flag is 1.
struct CovariateEffect {
    std::string parameter, covariate;
    double factor = 1.0;
    std::string source;
    int line = 0;
};

// Residual (measurement) error on an output, eps_k ~ N(0, 1) independent:
// y_obs = y exp(exponential eps1) (1 + proportional eps2) + additive eps3 (combined when several
// are given). Only applied when a run asks for observations; typical curves stay noise-free.
struct ResidualError {
    std::string output;
    double proportional = 0.0;   // SD as a fraction (27.6 % -> 0.276)
    double additive = 0.0;       // SD in ng/mL
    double exponential = 0.0;    // SD on the log scale (log-transform-both-sides models)
    std::string source;
    int line = 0;
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
    std::vector<CovariateSpec> covariates;
    std::vector<CovariateEffect> covariate_effects;
    std::vector<VariabilityBlock> variability;
    std::vector<ResidualError> residual_error;

    const Parameter& parameter(const std::string& name) const;   // throws InputError if unknown
    bool has_parameter(const std::string& name) const;
    const Route& route(const std::string& name) const;   // throws InputError if unknown
    bool has_route(const std::string& name) const;
    int compartment_index(const std::string& name) const;   // -1 if unknown
    int parameter_index(const std::string& name) const;     // -1 if unknown
    bool uses_covariate(const std::string& name) const;     // declared in [covariates]
    std::vector<std::string> covariate_names() const;
    std::vector<std::string> route_names() const;

    // Structural checks: names unique and defined, units of the right dimension, values in
    // range. Throws InputError naming the model, field, value and rule.
    void validate() const;
};

// Per-subject values: body weight, age, flag covariates, parameter overrides in the parameter's
// file unit, and random effects. Applied to each parameter in this order (docs/populations.md):
// file value -> override -> age slope -> flag covariate factors -> random effects (eta, in the
// order of the model's variability blocks) -> unit conversion, per-kg and allometric scaling.
struct Subject {
    double weight_kg = 70.0;
    double age_years = 40.0;
    std::map<std::string, double> covariates;   // flag covariates (0/1) by name
    std::map<std::string, double> parameters;
    // Random effects: eta[k] for the k-th parameter entry of the model's variability blocks
    // (blocks in file order, parameters in block order); empty = typical subject. IOV blocks take
    // their eta from `occasion_eta` (same layout, IIV entries ignored) when set.
    std::vector<double> eta;
    void validate() const;
};

enum class StateKind { compartment, sink, effect };

struct ResolvedBranch {
    int target = -1;
    double fraction = 1.0;        // for device 1
    double device_factor = 1.0;   // fraction for device d >= 2: fraction * device_factor
    bool remainder = false;
    double duration = 0.0;   // h
    double lag = 0.0;        // h
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
    Eigen::MatrixXd A;   // n x n, 1/h
    std::vector<std::string> state_names;
    std::vector<StateKind> state_kinds;
    Eigen::MatrixXd C;   // outputs x n (ng/mL per mg, or 1 for Ce)
    std::vector<std::string> output_names;
    std::vector<std::string> output_units;
    std::vector<ResolvedRoute> routes;
    std::vector<std::string> parameter_names;   // the model's parameters, in file order
    std::vector<double> parameter_values;       // resolved for this subject, canonical units
    double weight_kg = 70.0;                    // the subject it was compiled for (mg/kg doses)
    int eliminated = -1, unabsorbed = -1, effect = -1;
    double value(const std::string& parameter) const;   // canonical units; InputError if unknown
    int size() const { return static_cast<int>(A.rows()); }
    const ResolvedRoute& route(const std::string& name) const;
};

LinearSystem compile(const Model& model, const Subject& subject = {});

// A model's parameters by index, computed once per model: name -> index, the random effects and
// covariate effects of each parameter, and the parameter indices compile() needs. Populations and
// sweeps resolve and compile every subject through one layout, with no name lookups per subject.
// The layout refers to `model`, which must outlive it.
class ParameterLayout {
public:
    explicit ParameterLayout(const Model& model);
    const Model& model() const { return *model_; }
    std::size_t size() const { return names_.size(); }
    const std::vector<std::string>& names() const { return names_; }
    int index(const std::string& name) const;   // -1 if unknown
    // Index of a parameter; InputError naming `where`, the name and the closest parameter names.
    int require(const std::string& name, const std::string& where) const;
    int eta_count() const { return n_eta_; }

    // Canonical values (size()) for a subject. `overrides` (size(), file units, NaN = none) replaces
    // Subject::parameters when given, so no name is looked up. Throws InputError for values out of
    // range (naming the parameter, value and rule).
    void resolve(const Subject& subject, const double* overrides, double* out) const;
    LinearSystem compile(const Subject& subject, const double* overrides = nullptr) const;

    struct EtaTerm {
        int parameter, eta;
        EtaDistribution distribution;
    };
    struct FlagTerm {
        int parameter;
        std::string covariate;
        double factor;
    };

private:
    void plan_structure();
    struct ATerm {
        int row, col, num, den;
        double sign;
    };
    struct CTerm {
        int output, state, volume;
    };
    struct BranchTerms {
        std::vector<int> fraction;
        int device_factor = -1, duration = -1, lag = -1;
    };
    const Model* model_;
    std::vector<std::string> names_;
    LinearSystem proto_;   // structure (names, sizes, routes) without the subject's numbers
    std::vector<ATerm> a_terms_;
    std::vector<CTerm> c_terms_;
    std::vector<BranchTerms> branch_terms_;
    int ke0_ = -1, effect_driver_ = -1;
    int n_eta_ = 0;
    std::vector<EtaTerm> etas_;
    std::vector<FlagTerm> flags_;
};

namespace detail {
// The ParameterLayout of `model`, built once per thread and model and reused while the model at
// that address keeps the structure it was built from (names, flows, routes, ... ; values may
// change: the layout reads them live). compile(model, subject) uses it. The reference is valid
// until the next call on this thread.
const ParameterLayout& cached_layout(const Model& model);
}   // namespace detail

// Parameter value in canonical units for this subject (weight, allometry, overrides applied;
// no random effects: those need the model's variability blocks, see resolve_parameters()).
double resolve_parameter(const Parameter& p, const Subject& subject);

// Every parameter of the model for this subject, in canonical units and file order, with
// covariate effects and the subject's random effects applied (the order documented at Subject).
std::vector<double> resolve_parameters(const Model& model, const Subject& subject);

// Number of random effects (entries of Subject::eta) the model's variability blocks declare.
int eta_count(const Model& model);

}   // namespace ketasim
