#include "ketasim/model.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <type_traits>
#include <set>
#include <sstream>

#include "core/text.hpp"
#include "ketasim/errors.hpp"

namespace ketasim {

namespace {
using detail::fmt;

std::string where(const Model& m) {
    return "model '" + m.name + "'" + (m.source_path.empty() ? "" : " (" + m.source_path + ")");
}

}   // namespace

const char* to_string(RouteKind k) {
    switch (k) {
        case RouteKind::iv:
            return "iv";
        case RouteKind::intranasal:
            return "intranasal";
        case RouteKind::oral:
            return "oral";
        case RouteKind::im:
            return "im";
        case RouteKind::sc:
            return "sc";
    }
    return "?";
}

RouteKind route_kind_from_string(const std::string& s, const std::string& w) {
    if (s == "iv") return RouteKind::iv;
    if (s == "intranasal") return RouteKind::intranasal;
    if (s == "oral") return RouteKind::oral;
    if (s == "im") return RouteKind::im;
    if (s == "sc") return RouteKind::sc;
    throw InputError(w + ": unknown route kind '" + s + "' (accepted: iv, intranasal, oral, im, sc)");
}

const Parameter& Model::parameter(const std::string& n) const {
    for (const auto& p : parameters)
        if (p.name == n) return p;
    throw InputError(where(*this) + ": unknown parameter '" + n + "'");
}

bool Model::has_parameter(const std::string& n) const {
    return std::any_of(parameters.begin(), parameters.end(), [&](const Parameter& p) { return p.name == n; });
}

const Route& Model::route(const std::string& n) const {
    for (const auto& r : routes)
        if (r.name == n) return r;
    std::string names;
    for (const auto& r : routes) names += (names.empty() ? "" : ", ") + r.name;
    throw InputError(where(*this) + ": unknown route '" + n + "' (this model has: " + names + ")");
}

bool Model::has_route(const std::string& n) const {
    return std::any_of(routes.begin(), routes.end(), [&](const Route& r) { return r.name == n; });
}

int Model::compartment_index(const std::string& n) const {
    for (std::size_t i = 0; i < compartments.size(); ++i)
        if (compartments[i].name == n) return static_cast<int>(i);
    return -1;
}

std::vector<std::string> Model::route_names() const {
    std::vector<std::string> out;
    for (const auto& r : routes) out.push_back(r.name);
    return out;
}

void Model::validate() const {
    const std::string w = where(*this);
    if (name.empty()) throw InputError("model: 'name' is empty; every model needs a name");
    std::set<std::string> seen;
    for (const auto& p : parameters) {
        const std::string f = w + ": parameters." + p.name;
        if (!seen.insert(p.name).second) throw InputError(f + ": defined twice");
        if (!std::isfinite(p.value)) throw InputError(f + ": value " + fmt(p.value) + " is not finite");
        // A NaN bound makes every comparison false (the range check is off); an infinite
        // exponent or reference weight zeroes or blows up the parameter for every subject.
        auto finite = [&](const char* key, double v) {
            if (!std::isfinite(v)) throw InputError(f + "." + key + ": " + fmt(v) + " must be a finite number");
        };
        finite("lower", p.lower);
        finite("upper", p.upper);
        finite("allometric_exponent", p.allometric_exponent);
        finite("age_slope", p.age_slope);
        finite("age_reference", p.age_reference);
        if (!(std::isfinite(p.reference_weight_kg) && p.reference_weight_kg > 0))
            throw InputError(f + ".reference_weight: " + fmt(p.reference_weight_kg) + " kg must be finite and > 0");
        if (!(p.lower <= p.upper))
            throw InputError(f + ": range [" + fmt(p.lower) + ", " + fmt(p.upper) +
                             "] is empty (lower must be <= upper)");
        if (p.value < p.lower || p.value > p.upper)
            throw InputError(f + ": value " + fmt(p.value) + " is outside its range [" + fmt(p.lower) + ", " +
                             fmt(p.upper) + "]");
        const Dimension d = p.unit_info.dimension;
        if ((d == Dimension::volume) && !(p.value > 0))
            throw InputError(f + ": value " + fmt(p.value) + " " + p.unit + " must be > 0 (a volume)");
        if ((d == Dimension::flow || d == Dimension::rate || d == Dimension::time) && p.value < 0)
            throw InputError(f + ": value " + fmt(p.value) + " " + p.unit + " must be >= 0");
        if (d == Dimension::fraction && (p.value * p.unit_info.factor < 0 || p.value * p.unit_info.factor > 1))
            throw InputError(f + ": value " + fmt(p.value) + " " + p.unit + " must be a fraction in [0, 1]");
        if (p.source.empty())
            throw InputError(f + ": 'source' is missing; every parameter cites its source or says 'calibrated'");
    }
    auto need = [&](const std::string& param, std::initializer_list<Dimension> dims, const std::string& field) {
        if (!has_parameter(param))
            throw InputError(w + ": " + field + " names parameter '" + param + "', which is not defined");
        const Dimension d = parameter(param).unit_info.dimension;
        if (std::find(dims.begin(), dims.end(), d) == dims.end())
            throw InputError(w + ": " + field + " = '" + param + "' has unit '" + parameter(param).unit + "' (" +
                             to_string(d) + "), which does not fit here");
    };
    std::set<std::string> cseen;
    if (compartments.empty()) throw InputError(w + ": no compartments");
    for (const auto& c : compartments) {
        if (!cseen.insert(c.name).second) throw InputError(w + ": compartment '" + c.name + "' defined twice");
        if (c.name == "eliminated" || c.name == "unabsorbed")
            throw InputError(w + ": compartment name '" + c.name + "' is reserved for the sinks");
        if (!c.volume.empty()) need(c.volume, {Dimension::volume}, "compartments." + c.name + ".volume");
    }
    for (std::size_t i = 0; i < flows.size(); ++i) {
        const auto& fl = flows[i];
        const std::string f = "flows[" + std::to_string(i) + "]";
        if (compartment_index(fl.from) < 0)
            throw InputError(w + ": " + f + ".from = '" + fl.from + "' is not a compartment");
        if (!fl.to.empty() && compartment_index(fl.to) < 0)
            throw InputError(w + ": " + f + ".to = '" + fl.to + "' is not a compartment");
        if (fl.to == fl.from) throw InputError(w + ": " + f + " goes from '" + fl.from + "' to itself");
        need(fl.rate, {Dimension::rate, Dimension::flow}, f + ".rate");
        const bool is_flow = parameter(fl.rate).unit_info.dimension == Dimension::flow;
        if (is_flow && compartments[compartment_index(fl.from)].volume.empty())
            throw InputError(w + ": " + f + ": a flow in L/h needs a volume on '" + fl.from + "'");
        if (fl.bidirectional) {
            if (!is_flow || fl.to.empty() || compartments[compartment_index(fl.to)].volume.empty())
                throw InputError(w + ": " + f +
                                 ": bidirectional needs a flow (L/h) between two compartments with volumes");
        }
    }
    std::set<std::string> rseen;
    for (const auto& r : routes) {
        const std::string f = "routes." + r.name;
        if (!rseen.insert(r.name).second) throw InputError(w + ": route '" + r.name + "' defined twice");
        if (r.branches.empty()) throw InputError(w + ": " + f + ": no branches");
        for (std::size_t b = 0; b < r.branches.size(); ++b) {
            const auto& br = r.branches[b];
            const std::string bf = f + ".branch[" + std::to_string(b) + "]";
            if (compartment_index(br.target) < 0)
                throw InputError(w + ": " + bf + ".target = '" + br.target + "' is not a compartment");
            for (const auto& fr : br.fraction) need(fr, {Dimension::fraction}, bf + ".fraction");
            if (!br.device_factor.empty()) need(br.device_factor, {Dimension::fraction}, bf + ".device_factor");
            if (!br.duration.empty()) need(br.duration, {Dimension::time}, bf + ".duration");
            if (!br.lag.empty()) need(br.lag, {Dimension::time}, bf + ".lag");
        }
    }
    std::set<std::string> oseen;
    for (const auto& o : outputs) {
        if (!oseen.insert(o.name).second) throw InputError(w + ": output '" + o.name + "' defined twice");
        const int ci = compartment_index(o.compartment);
        if (ci < 0)
            throw InputError(w + ": outputs." + o.name + ".compartment = '" + o.compartment + "' is not a compartment");
        if (compartments[ci].volume.empty())
            throw InputError(w + ": outputs." + o.name + ": compartment '" + o.compartment +
                             "' has no volume, so no concentration");
    }
    if (effect_site) {
        if (!oseen.count(effect_site->driver))
            throw InputError(w + ": effect_site.driver = '" + effect_site->driver + "' is not an output");
        if (oseen.count(effect_site->name))
            throw InputError(w + ": effect_site.name = '" + effect_site->name + "' clashes with an output");
        need(effect_site->ke0, {Dimension::rate}, "effect_site.ke0");
    }
}

void Subject::validate() const {
    if (!(std::isfinite(weight_kg) && weight_kg > 0 && weight_kg < 1000))
        throw InputError("subject.weight_kg: " + fmt(weight_kg) + " must be in (0, 1000) kg");
    if (!(std::isfinite(age_years) && age_years >= 0 && age_years < 150))
        throw InputError("subject.age_years: " + fmt(age_years) + " must be in [0, 150)");
    for (const auto& kv : parameters)
        if (!std::isfinite(kv.second))
            throw InputError("subject.parameters." + kv.first + ": " + fmt(kv.second) + " is not finite");
    for (const auto& kv : covariates)
        if (!(kv.second == 0.0 || kv.second == 1.0))
            throw InputError("subject.covariates." + kv.first + ": " + fmt(kv.second) + " must be 0 or 1 (a flag)");
    for (std::size_t i = 0; i < eta.size(); ++i)
        if (!std::isfinite(eta[i]))
            throw InputError("subject.eta[" + std::to_string(i) + "]: " + fmt(eta[i]) + " is not finite");
}

const char* to_string(EtaDistribution d) {
    switch (d) {
        case EtaDistribution::lognormal:
            return "lognormal";
        case EtaDistribution::normal:
            return "normal";
        case EtaDistribution::logit:
            return "logit";
    }
    return "?";
}

int Model::parameter_index(const std::string& n) const {
    for (std::size_t i = 0; i < parameters.size(); ++i)
        if (parameters[i].name == n) return static_cast<int>(i);
    return -1;
}

bool Model::uses_covariate(const std::string& n) const {
    return std::any_of(covariates.begin(), covariates.end(), [&](const CovariateSpec& c) { return c.name == n; });
}

std::vector<std::string> Model::covariate_names() const {
    std::vector<std::string> out;
    for (const auto& c : covariates) out.push_back(c.name);
    return out;
}

int eta_count(const Model& model) {
    int n = 0;
    for (const auto& b : model.variability) n += static_cast<int>(b.parameters.size());
    return n;
}

namespace {

// Checks an override (file units) against the parameter's range and dimension.
void check_override(const Parameter& p, double v) {
    if (!std::isfinite(v)) throw InputError("parameter '" + p.name + "': value " + fmt(v) + " is not finite");
    if (v < p.lower || v > p.upper)
        throw InputError("parameter '" + p.name + "': value " + fmt(v) + " is outside its range [" + fmt(p.lower) +
                         ", " + fmt(p.upper) + "]");
    const Dimension d = p.unit_info.dimension;
    if (d == Dimension::volume && !(v > 0))
        throw InputError("parameter '" + p.name + "': value " + fmt(v) + " " + p.unit + " must be > 0");
    if ((d == Dimension::flow || d == Dimension::rate || d == Dimension::time) && v < 0)
        throw InputError("parameter '" + p.name + "': value " + fmt(v) + " " + p.unit + " must be >= 0");
    if (d == Dimension::fraction && (v * p.unit_info.factor < 0 || v * p.unit_info.factor > 1))
        throw InputError("parameter '" + p.name + "': value " + fmt(v) + " must be a fraction in [0, 1]");
}

// File value (after override) -> canonical for this subject: age slope, then the per-kg and
// allometric weight scaling. `v` already carries covariate factors and random effects.
double to_canonical(const Parameter& p, double v, const Subject& s) {
    double c = v * p.unit_info.factor;
    if (p.unit_info.per_kg) c *= s.weight_kg;
    if (p.allometric_exponent != 0.0) c *= std::pow(s.weight_kg / p.reference_weight_kg, p.allometric_exponent);
    if (p.unit_info.dimension == Dimension::volume && !(c > 0))
        throw InputError("parameter '" + p.name + "' resolves to " + fmt(c) + " L for this subject; must be > 0");
    if ((p.unit_info.dimension == Dimension::flow || p.unit_info.dimension == Dimension::rate) && c < 0)
        throw InputError("parameter '" + p.name + "' resolves to " + fmt(c) + " for this subject (age " +
                         fmt(s.age_years) + " y); must be >= 0");
    if (!std::isfinite(c))
        throw InputError("parameter '" + p.name + "' resolves to " + fmt(c) + " for this subject; must be finite");
    return c;
}

double age_adjusted(const Parameter& p, double v, const Subject& s) {
    if (p.age_slope != 0.0) v += p.age_slope * std::max(0.0, s.age_years - p.age_reference);
    return v;
}

}   // namespace

double resolve_parameter(const Parameter& p, const Subject& s) {
    double v = p.value;
    auto it = s.parameters.find(p.name);
    if (it != s.parameters.end()) {
        v = it->second;
        check_override(p, v);
    }
    return to_canonical(p, age_adjusted(p, v, s), s);
}

ParameterLayout::ParameterLayout(const Model& model) : model_(&model) {
    for (const auto& p : model.parameters) names_.push_back(p.name);
    for (const auto& b : model.variability)
        for (const auto& name : b.parameters) {
            const int k = index(name);
            if (k < 0)
                throw InputError("model '" + model.name + "': variability names unknown parameter '" + name + "'");
            etas_.push_back({k, n_eta_++, b.distribution});
        }
    for (const auto& e : model.covariate_effects) {
        const int k = index(e.parameter);
        if (k < 0)
            throw InputError("model '" + model.name + "': covariate effect names unknown parameter '" + e.parameter +
                             "'");
        flags_.push_back({k, e.covariate, e.factor});
    }
    plan_structure();
}

int ParameterLayout::index(const std::string& name) const {
    for (std::size_t i = 0; i < names_.size(); ++i)
        if (names_[i] == name) return static_cast<int>(i);
    return -1;
}

int ParameterLayout::require(const std::string& name, const std::string& w) const {
    const int k = index(name);
    if (k >= 0) return k;
    std::string all;
    for (const auto& n : names_) all += (all.empty() ? "" : ", ") + n;
    throw InputError(w + ": '" + name + "' is not a parameter of model '" + model_->name + "' (parameters: " + all +
                     ")");
}

void ParameterLayout::resolve(const Subject& s, const double* overrides, double* out) const {
    const auto& ps = model_->parameters;
    const std::size_t n = ps.size();
    for (std::size_t i = 0; i < n; ++i) {
        double v = ps[i].value;
        if (overrides) {
            if (!std::isnan(overrides[i])) {
                v = overrides[i];
                check_override(ps[i], v);
            }
        } else if (!s.parameters.empty()) {
            auto it = s.parameters.find(ps[i].name);
            if (it != s.parameters.end()) {
                v = it->second;
                check_override(ps[i], v);
            }
        }
        out[i] = age_adjusted(ps[i], v, s);
    }
    for (const auto& f : flags_) {
        auto it = s.covariates.find(f.covariate);
        if (it != s.covariates.end() && it->second == 1.0) out[f.parameter] *= f.factor;
    }
    if (!s.eta.empty()) {
        if (static_cast<int>(s.eta.size()) != n_eta_)
            throw InputError("subject.eta: " + std::to_string(s.eta.size()) + " random effects given; model '" +
                             model_->name + "' declares " + std::to_string(n_eta_));
        for (const auto& e : etas_) {
            double& v = out[e.parameter];
            const double eta = s.eta[static_cast<std::size_t>(e.eta)];
            switch (e.distribution) {
                case EtaDistribution::lognormal:
                    v *= std::exp(eta);
                    break;
                case EtaDistribution::normal:
                    v += eta;
                    break;
                case EtaDistribution::logit: {
                    // The file value is checked to lie in (0, 1) for logit blocks at load time.
                    const double x = std::log(v / (1.0 - v)) + eta;
                    v = 1.0 / (1.0 + std::exp(-x));
                    break;
                }
            }
        }
    }
    for (std::size_t i = 0; i < n; ++i) out[i] = to_canonical(ps[i], out[i], s);
}

std::vector<double> resolve_parameters(const Model& model, const Subject& subject) {
    ParameterLayout layout(model);
    std::vector<double> v(layout.size());
    layout.resolve(subject, nullptr, v.data());
    return v;
}

std::vector<double> ResolvedRoute::fractions(int device) const {
    std::vector<double> f(branches.size(), 0.0);
    double taken = 0.0;
    for (std::size_t i = 0; i < branches.size(); ++i) {
        if (branches[i].remainder) continue;
        f[i] = branches[i].fraction * (device > 1 ? branches[i].device_factor : 1.0);
        taken += f[i];
    }
    for (std::size_t i = 0; i < branches.size(); ++i)
        if (branches[i].remainder) f[i] = std::max(0.0, 1.0 - taken) * branches[i].fraction;
    return f;
}

const ResolvedRoute& LinearSystem::route(const std::string& n) const {
    for (const auto& r : routes)
        if (r.name == n) return r;
    std::string names;
    for (const auto& r : routes) names += (names.empty() ? "" : ", ") + r.name;
    throw InputError("unknown route '" + n + "' (this model has: " + names + ")");
}

double LinearSystem::value(const std::string& n) const {
    for (std::size_t i = 0; i < parameter_names.size(); ++i)
        if (parameter_names[i] == n) return parameter_values[i];
    throw InputError("compiled system: no parameter '" + n + "'");
}

namespace {
// Everything a ParameterLayout is planned from (its constructor and plan_structure() read these
// fields and nothing else of the model; resolve() and compile() read the parameters' values,
// units, bounds and scaling, and the model's name, live through the layout's model pointer), as
// one string: strings length-prefixed, numbers and flags as their bytes, every list with its
// size. Two models with the same key get the same layout. A field that plan_structure() or the
// constructor starts to read must be added here (tests/cpp/model_toml_test.cpp, LayoutCache).
class StructureKey {
public:
    explicit StructureKey(std::string& out) : k_(out) { k_.clear(); }
    template <class T>
    void raw(const T& v) {
        static_assert(std::is_trivially_copyable<T>::value, "bytes of a plain value");
        char b[sizeof(T)];
        std::memcpy(b, &v, sizeof(T));
        k_.append(b, sizeof(T));
    }
    void str(const std::string& s) {
        raw(s.size());
        k_.append(s);
    }
    void model(const Model& m) {
        raw(m.parameters.size());
        for (const auto& p : m.parameters) {
            str(p.name);
            raw(p.unit_info.dimension);
        }
        raw(m.variability.size());
        for (const auto& b : m.variability) {
            raw(b.distribution);
            raw(b.parameters.size());
            for (const auto& n : b.parameters) str(n);
        }
        raw(m.covariate_effects.size());
        for (const auto& e : m.covariate_effects) {
            str(e.parameter);
            str(e.covariate);
            raw(e.factor);
        }
        raw(m.compartments.size());
        for (const auto& c : m.compartments) {
            str(c.name);
            str(c.volume);
        }
        raw(m.flows.size());
        for (const auto& f : m.flows) {
            str(f.from);
            str(f.to);
            str(f.rate);
            raw(f.bidirectional);
        }
        raw(m.outputs.size());
        for (const auto& o : m.outputs) {
            str(o.name);
            str(o.compartment);
        }
        raw(m.effect_site.has_value());
        if (m.effect_site) {
            str(m.effect_site->name);
            str(m.effect_site->driver);
            str(m.effect_site->ke0);
        }
        raw(m.routes.size());
        for (const auto& r : m.routes) {
            str(r.name);
            raw(r.kind);
            raw(r.branches.size());
            for (const auto& b : r.branches) {
                str(b.target);
                raw(b.remainder);
                raw(b.fraction.size());
                for (const auto& f : b.fraction) str(f);
                str(b.device_factor);
                str(b.duration);
                str(b.lag);
            }
        }
    }

private:
    std::string& k_;
};
}   // namespace

const ParameterLayout& detail::cached_layout(const Model& model) {
    // Per thread, the layouts of the last few models compiled (a Model's fields are public and
    // may change between calls, so an entry is used only when the model at that address still
    // has the structure it was planned from). Building a layout (name lookups, the prototype
    // system) was 4.5 us of a 27 us simulate(Model, ...) call (issue 12); the key is one pass
    // over the model's names without allocation.
    struct Entry {
        const Model* model;
        std::string key;
        std::unique_ptr<ParameterLayout> layout;
    };
    constexpr std::size_t kEntries = 8;
    thread_local std::vector<Entry> cache;
    thread_local std::string key;
    StructureKey(key).model(model);
    for (std::size_t i = 0; i < cache.size(); ++i)
        if (cache[i].model == &model && cache[i].key == key) {
            if (i > 0) std::swap(cache[i], cache[0]);   // most recent first
            return *cache[0].layout;
        }
    auto layout = std::make_unique<ParameterLayout>(model);
    if (cache.size() == kEntries) cache.pop_back();
    cache.insert(cache.begin(), Entry{&model, key, std::move(layout)});
    return *cache[0].layout;
}

LinearSystem compile(const Model& model, const Subject& subject) {
    for (const auto& kv : subject.parameters)
        if (!model.has_parameter(kv.first))
            throw InputError("model '" + model.name + "': subject sets unknown parameter '" + kv.first + "'");
    for (const auto& kv : subject.covariates)
        if (!model.uses_covariate(kv.first)) {
            std::string used;
            for (const auto& c : model.covariates) used += (used.empty() ? "" : ", ") + c.name;
            throw InputError("model '" + model.name + "': covariate '" + kv.first +
                             "' is not used by this model (it uses: " + (used.empty() ? "none" : used) + ")");
        }
    return detail::cached_layout(model).compile(subject);
}

void ParameterLayout::plan_structure() {
    const Model& model = *model_;
    LinearSystem& sys = proto_;
    auto idx = [&](const std::string& n) { return index(n); };
    const int nc = static_cast<int>(model.compartments.size());
    const int n = nc + 2 + (model.effect_site ? 1 : 0);
    sys.A = Eigen::MatrixXd::Zero(n, n);
    for (const auto& c : model.compartments) {
        sys.state_names.push_back(c.name);
        sys.state_kinds.push_back(StateKind::compartment);
    }
    sys.eliminated = nc;
    sys.unabsorbed = nc + 1;
    sys.state_names.push_back("eliminated");
    sys.state_names.push_back("unabsorbed");
    sys.state_kinds.push_back(StateKind::sink);
    sys.state_kinds.push_back(StateKind::sink);
    auto volume = [&](int ci) { return idx(model.compartments[static_cast<std::size_t>(ci)].volume); };
    // A(row, col) += sign * scale * v[num] / v[den] (den < 0: no division).
    for (const auto& fl : model.flows) {
        const int from = model.compartment_index(fl.from);
        const int to = fl.to.empty() ? sys.eliminated : model.compartment_index(fl.to);
        const bool is_flow = model.parameter(fl.rate).unit_info.dimension == Dimension::flow;
        const int den = is_flow ? volume(from) : -1;
        a_terms_.push_back({from, from, idx(fl.rate), den, -1.0});
        a_terms_.push_back({to, from, idx(fl.rate), den, 1.0});
        if (fl.bidirectional) {
            a_terms_.push_back({to, to, idx(fl.rate), volume(to), -1.0});
            a_terms_.push_back({from, to, idx(fl.rate), volume(to), 1.0});
        }
    }
    const int no = static_cast<int>(model.outputs.size()) + (model.effect_site ? 1 : 0);
    sys.C = Eigen::MatrixXd::Zero(no, n);
    for (std::size_t i = 0; i < model.outputs.size(); ++i) {
        const int ci = model.compartment_index(model.outputs[i].compartment);
        c_terms_.push_back({static_cast<int>(i), ci, volume(ci)});   // 1000 / V: mg/L -> ng/mL
        sys.output_names.push_back(model.outputs[i].name);
        sys.output_units.push_back("ng/mL");
    }
    if (model.effect_site) {
        const auto& es = *model.effect_site;
        sys.effect = nc + 2;
        sys.state_names.push_back(es.name);
        sys.state_kinds.push_back(StateKind::effect);
        for (std::size_t i = 0; i < model.outputs.size(); ++i)
            if (model.outputs[i].name == es.driver) effect_driver_ = static_cast<int>(i);
        ke0_ = idx(es.ke0);
        sys.C(no - 1, sys.effect) = 1.0;
        sys.output_names.push_back(es.name);
        sys.output_units.push_back("ng/mL");
    }
    for (const auto& r : model.routes) {
        ResolvedRoute rr;
        rr.name = r.name;
        rr.kind = r.kind;
        for (const auto& b : r.branches) {
            ResolvedBranch rb;
            rb.target = model.compartment_index(b.target);
            rb.remainder = b.remainder;
            BranchTerms bt;
            for (const auto& f : b.fraction) bt.fraction.push_back(idx(f));
            bt.device_factor = b.device_factor.empty() ? -1 : idx(b.device_factor);
            bt.duration = b.duration.empty() ? -1 : idx(b.duration);
            bt.lag = b.lag.empty() ? -1 : idx(b.lag);
            branch_terms_.push_back(std::move(bt));
            rr.branches.push_back(rb);
        }
        sys.routes.push_back(rr);
    }
    sys.parameter_names = names_;
}

LinearSystem ParameterLayout::compile(const Subject& subject, const double* overrides) const {
    subject.validate();
    LinearSystem sys = proto_;
    sys.weight_kg = subject.weight_kg;
    sys.parameter_values.resize(names_.size());
    resolve(subject, overrides, sys.parameter_values.data());
    const double* v = sys.parameter_values.data();
    for (const auto& t : a_terms_) sys.A(t.row, t.col) += t.sign * v[t.num] / (t.den >= 0 ? v[t.den] : 1.0);
    for (const auto& t : c_terms_) sys.C(t.output, t.state) = 1000.0 / v[t.volume];
    if (sys.effect >= 0) {
        const double ke0 = v[ke0_];
        sys.A.row(sys.effect) += ke0 * sys.C.row(effect_driver_);
        sys.A(sys.effect, sys.effect) -= ke0;
    }
    std::size_t k = 0;
    for (auto& rr : sys.routes) {
        for (auto& rb : rr.branches) {
            const BranchTerms& bt = branch_terms_[k++];
            for (int f : bt.fraction) rb.fraction *= v[f];
            if (bt.device_factor >= 0) rb.device_factor = v[bt.device_factor];
            if (bt.duration >= 0) rb.duration = v[bt.duration];
            if (bt.lag >= 0) rb.lag = v[bt.lag];
        }
        double total = 0;
        for (double f : rr.fractions(1)) total += f;
        if (total > 1.0 + 1e-12)
            throw InputError("model '" + model_->name + "': route '" + rr.name + "' sends " + fmt(total) +
                             " of a dose to its branches; the fractions must add up to <= 1");
    }
    return sys;
}

}   // namespace ketasim
