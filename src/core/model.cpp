#include "ketasim/model.hpp"

#include <algorithm>
#include <cmath>
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

}  // namespace

const char* to_string(RouteKind k) {
    switch (k) {
        case RouteKind::iv: return "iv";
        case RouteKind::intranasal: return "intranasal";
        case RouteKind::oral: return "oral";
        case RouteKind::im: return "im";
        case RouteKind::sc: return "sc";
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
    return std::any_of(parameters.begin(), parameters.end(),
                       [&](const Parameter& p) { return p.name == n; });
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
            throw InputError(f + ": range [" + fmt(p.lower) + ", " + fmt(p.upper) + "] is empty (lower must be <= upper)");
        if (p.value < p.lower || p.value > p.upper)
            throw InputError(f + ": value " + fmt(p.value) + " is outside its range [" + fmt(p.lower) +
                             ", " + fmt(p.upper) + "]");
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
            throw InputError(w + ": " + field + " = '" + param + "' has unit '" + parameter(param).unit +
                             "' (" + to_string(d) + "), which does not fit here");
    };
    std::set<std::string> cseen;
    if (compartments.empty()) throw InputError(w + ": no compartments");
    for (const auto& c : compartments) {
        if (!cseen.insert(c.name).second)
            throw InputError(w + ": compartment '" + c.name + "' defined twice");
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
                throw InputError(w + ": " + f + ": bidirectional needs a flow (L/h) between two compartments with volumes");
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
        if (ci < 0) throw InputError(w + ": outputs." + o.name + ".compartment = '" + o.compartment + "' is not a compartment");
        if (compartments[ci].volume.empty())
            throw InputError(w + ": outputs." + o.name + ": compartment '" + o.compartment + "' has no volume, so no concentration");
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
}

double resolve_parameter(const Parameter& p, const Subject& s) {
    double v = p.value;
    auto it = s.parameters.find(p.name);
    if (it != s.parameters.end()) {
        v = it->second;
        if (v < p.lower || v > p.upper)
            throw InputError("parameter '" + p.name + "': value " + fmt(v) + " is outside its range [" +
                             fmt(p.lower) + ", " + fmt(p.upper) + "]");
        const Dimension d = p.unit_info.dimension;
        if (d == Dimension::volume && !(v > 0))
            throw InputError("parameter '" + p.name + "': value " + fmt(v) + " " + p.unit + " must be > 0");
        if ((d == Dimension::flow || d == Dimension::rate || d == Dimension::time) && v < 0)
            throw InputError("parameter '" + p.name + "': value " + fmt(v) + " " + p.unit + " must be >= 0");
        if (d == Dimension::fraction && (v * p.unit_info.factor < 0 || v * p.unit_info.factor > 1))
            throw InputError("parameter '" + p.name + "': value " + fmt(v) + " must be a fraction in [0, 1]");
    }
    if (p.age_slope != 0.0) v += p.age_slope * std::max(0.0, s.age_years - p.age_reference);
    double c = v * p.unit_info.factor;
    if (p.unit_info.per_kg) c *= s.weight_kg;
    if (p.allometric_exponent != 0.0) c *= std::pow(s.weight_kg / p.reference_weight_kg, p.allometric_exponent);
    if (p.unit_info.dimension == Dimension::volume && !(c > 0))
        throw InputError("parameter '" + p.name + "' resolves to " + fmt(c) + " L for this subject; must be > 0");
    if ((p.unit_info.dimension == Dimension::flow || p.unit_info.dimension == Dimension::rate) && c < 0)
        throw InputError("parameter '" + p.name + "' resolves to " + fmt(c) + " for this subject (age " +
                         fmt(s.age_years) + " y); must be >= 0");
    return c;
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

LinearSystem compile(const Model& model, const Subject& subject) {
    subject.validate();
    for (const auto& kv : subject.parameters)
        if (!model.has_parameter(kv.first))
            throw InputError("model '" + model.name + "': subject sets unknown parameter '" + kv.first + "'");
    LinearSystem sys;
    for (const auto& p : model.parameters) sys.values[p.name] = resolve_parameter(p, subject);
    auto val = [&](const std::string& n) { return sys.values.at(n); };

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

    auto volume = [&](int ci) { return val(model.compartments[ci].volume); };
    for (const auto& fl : model.flows) {
        const int from = model.compartment_index(fl.from);
        const int to = fl.to.empty() ? sys.eliminated : model.compartment_index(fl.to);
        const Parameter& p = model.parameter(fl.rate);
        const bool is_flow = p.unit_info.dimension == Dimension::flow;
        const double k = is_flow ? val(fl.rate) / volume(from) : val(fl.rate);
        sys.A(from, from) -= k;
        sys.A(to, from) += k;
        if (fl.bidirectional) {
            const double kr = val(fl.rate) / volume(to);
            sys.A(to, to) -= kr;
            sys.A(from, to) += kr;
        }
    }

    const int no = static_cast<int>(model.outputs.size()) + (model.effect_site ? 1 : 0);
    sys.C = Eigen::MatrixXd::Zero(no, n);
    for (std::size_t i = 0; i < model.outputs.size(); ++i) {
        const int ci = model.compartment_index(model.outputs[i].compartment);
        sys.C(static_cast<int>(i), ci) = 1000.0 / volume(ci);   // mg/L -> ng/mL
        sys.output_names.push_back(model.outputs[i].name);
        sys.output_units.push_back("ng/mL");
    }
    if (model.effect_site) {
        const auto& es = *model.effect_site;
        const int e = nc + 2;
        sys.effect = e;
        sys.state_names.push_back(es.name);
        sys.state_kinds.push_back(StateKind::effect);
        int drv = 0;
        for (std::size_t i = 0; i < model.outputs.size(); ++i)
            if (model.outputs[i].name == es.driver) drv = static_cast<int>(i);
        const double ke0 = val(es.ke0);
        sys.A.row(e) += ke0 * sys.C.row(drv);
        sys.A(e, e) -= ke0;
        sys.C(no - 1, e) = 1.0;
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
            for (const auto& f : b.fraction) rb.fraction *= val(f);
            rb.remainder = b.remainder;
            if (!b.device_factor.empty()) rb.device_factor = val(b.device_factor);
            if (!b.duration.empty()) rb.duration = val(b.duration);
            if (!b.lag.empty()) rb.lag = val(b.lag);
            rr.branches.push_back(rb);
        }
        double total = 0;
        for (double f : rr.fractions(1)) total += f;
        if (total > 1.0 + 1e-12)
            throw InputError("model '" + model.name + "': route '" + r.name + "' sends " + fmt(total) +
                             " of a dose to its branches; the fractions must add up to <= 1");
        sys.routes.push_back(rr);
    }
    return sys;
}

}  // namespace ketasim
