// Treatment courses over a population: every subject's PK (covariates, random effects) and PD
// parameters (drawn from the PD files' variability blocks), the course with optional stopping
// rules, one row of session outcomes per subject, and the population rates.
#include <cmath>
#include <mutex>
#include <utility>

#include "core/text.hpp"
#include "io/population_toml.hpp"
#include "ketasim/errors.hpp"
#include "ketasim/population.hpp"

namespace ketasim {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Session index (0-based) of the first session whose 24 h MADRS meets `rule`, or -1.
template <class Rule>
int first_session(const std::vector<SessionReport>& sessions, Rule rule) {
    for (std::size_t k = 0; k < sessions.size(); ++k)
        if (rule(sessions[k])) return static_cast<int>(k);
    return -1;
}

// The course truncated to its first `k` sessions (doses before the start of session k + 1).
CourseSpec first_sessions(const CourseSpec& spec, std::size_t k) {
    if (k >= spec.session_starts_h.size()) return spec;
    CourseSpec c = spec;
    const double cut = spec.session_starts_h[k];
    c.regimen.events.clear();
    for (const auto& e : spec.regimen.events)
        if (e.time < cut) c.regimen.events.push_back(e);
    c.session_starts_h.resize(k);
    return c;
}
// Bands need a table to draw from: checked before any subject runs.
void check_uncertainty_table(const CoursePopulationOptions& o, const PdParameterSet& symptoms) {
    if (o.uncertainty > 0 && symptoms.uncertainty.empty())
        throw InputError("uncertainty = " + std::to_string(o.uncertainty) + ": " + symptoms.source_path +
                         " has no [uncertainty] table to draw from");
}
}   // namespace

PdParameterSet draw_pd_uncertainty(const PdParameterSet& set, std::uint64_t seed, std::uint64_t replicate) {
    const PdUncertainty& u = set.uncertainty;
    if (u.empty())
        throw InputError(set.source_path + ": uncertainty: the file has no [uncertainty] table to draw from");
    Eigen::LLT<Eigen::MatrixXd> llt(u.correlation);   // checked positive definite by the parser
    if (llt.info() != Eigen::Success)
        throw InputError(set.source_path + ": uncertainty.correlation: not positive definite");
    RandomStream rng(seed, replicate, 0, 0, StreamKind::pd_uncertainty);
    Eigen::VectorXd z(u.correlation.rows());
    for (Eigen::Index j = 0; j < z.size(); ++j) z(j) = rng.normal();
    const Eigen::VectorXd x = llt.matrixL() * z;   // correlated standard normals
    PdParameterSet out = set;
    for (std::size_t j = 0; j < u.names.size(); ++j)
        set_uncertainty_value(out, u.names[j], u.estimate[j] * std::exp(u.se[j] * x(static_cast<Eigen::Index>(j))));
    return out;
}

PdParameterSet draw_pd_parameters(const PdParameterSet& set, const PopulationSpec& spec, std::size_t subject,
                                  std::size_t stream_offset) {
    PdParameterSet out = set;
    if (!spec.variability || set.variability.empty()) return out;
    RandomStream rng(spec.seed, spec.replicate, subject, 0, StreamKind::pd);
    for (std::size_t k = 0; k < stream_offset; ++k) rng.normal();
    for (const auto& b : set.variability) {
        Eigen::LLT<Eigen::MatrixXd> llt(b.omega);
        if (llt.info() != Eigen::Success)
            throw InputError(set.source_path + ": a variability block is not positive definite");
        Eigen::VectorXd z(b.omega.rows());
        for (Eigen::Index j = 0; j < z.size(); ++j) z(j) = rng.normal();
        const Eigen::VectorXd eta = llt.matrixL() * z;
        for (std::size_t j = 0; j < b.parameters.size(); ++j) {
            for (auto& p : out.parameters) {
                if (p.name != b.parameters[j]) continue;
                const double e = eta(static_cast<Eigen::Index>(j));
                switch (b.distribution) {
                    case EtaDistribution::lognormal:
                        p.value *= std::exp(e);
                        break;
                    case EtaDistribution::normal:
                        p.value += e;
                        break;
                    case EtaDistribution::logit: {
                        const double x = std::log(p.value / (1 - p.value)) + e;
                        p.value = 1 / (1 + std::exp(-x));
                        break;
                    }
                }
            }
        }
    }
    return out;
}

void CoursePopulationOptions::validate() const {
    course.validate();
    if (course.weight_kg != CourseOptions{}.weight_kg)
        throw InputError("course.weight_kg = " + detail::fmt(course.weight_kg) +
                         ": in a population every subject has its own weight (draw or tabulate the covariate)");
    if (max_sessions < 0) throw InputError("max_sessions: " + std::to_string(max_sessions) + " must be >= 0 (0 = all)");
    if (uncertainty < 0)
        throw InputError("uncertainty: " + std::to_string(uncertainty) +
                         " must be >= 0 (the number of parameter sets drawn for prediction bands; 0 = none)");
    for (double t : madrs_times_h)
        if (!(t >= 0 && std::isfinite(t)))
            throw InputError("madrs_times_h: " + detail::fmt(t) +
                             " must be finite and >= 0 (h after the first session)");
    parallel.validate();
}

std::size_t course_population_sessions(const CourseSpec& spec, const CoursePopulationOptions& o) {
    return o.max_sessions > 0
               ? std::min<std::size_t>(static_cast<std::size_t>(o.max_sessions), spec.session_starts_h.size())
               : spec.session_starts_h.size();
}

void run_course_population(const CourseSpec& spec, const PdParameterSet& acute_set, const PdParameterSet& symptom_set,
                           const PopulationSource& source, std::size_t begin, std::size_t end,
                           const CoursePopulationOptions& o, ResultSink& sink) {
    o.validate();
    if (end < begin || end > source.size())
        throw InputError("subject range [" + std::to_string(begin) + ", " + std::to_string(end) +
                         ") is not within the population of " + std::to_string(source.size()));
    if (&source.layout().model() != &spec.model && source.layout().model().name != spec.model.name)
        throw InputError("course population: the population is of model '" + source.layout().model().name +
                         "', the course runs on '" + spec.model.name + "'");
    check_uncertainty_table(o, symptom_set);
    const std::size_t n_sessions = course_population_sessions(spec, o);
    const CourseSpec course = first_sessions(spec, n_sessions);
    // The typical PD models first: a bad file fails before any subject runs.
    AcuteEffectModel::from_parameters(acute_set).validate();
    SymptomModel::from_parameters(symptom_set).validate();
    for (const PdParameterSet* set : {&acute_set, &symptom_set})
        detail::check_variability(set->variability, set->source_path, [&](const std::string& n, const std::string& w) {
            if (!set->has(n)) throw InputError(w + ": '" + n + "' is not a parameter of " + set->source_path);
            return set->value(n);
        });
    std::size_t acute_normals = 0;
    for (const auto& b : acute_set.variability) acute_normals += b.parameters.size();

    std::vector<std::string> names = {"subject"}, units = {""};
    for (std::size_t k = 0; k < source.describe_names().size(); ++k) {
        names.push_back(source.describe_names()[k]);
        units.push_back(source.describe_units()[k]);
    }
    std::vector<std::pair<const PdParameterSet*, std::string>> pd_varying;
    if (source.spec().variability)
        for (const PdParameterSet* set : {&acute_set, &symptom_set})
            for (const auto& b : set->variability)
                for (const auto& p : b.parameters) {
                    pd_varying.emplace_back(set, p);
                    names.push_back(p);
                    units.push_back(set->parameter(p).unit);
                }
    names.push_back("sessions_given");
    units.push_back("1");
    const char* per_session[] = {"madrs_24h",         "response",      "remission",
                                 "peak_dissociation", "peak_sbp_rise", "discharge"};
    const char* per_session_unit[] = {"MADRS points", "1", "1", "%", "mmHg", "h"};
    for (std::size_t k = 1; k <= n_sessions; ++k)
        for (std::size_t j = 0; j < 6; ++j) {
            names.push_back(std::string(per_session[j]) + "." + std::to_string(k));
            units.push_back(per_session_unit[j]);
        }
    for (const auto& [n, u] : std::vector<std::pair<const char*, const char*>>{{"sessions_to_response", "1"},
                                                                               {"sessions_to_remission", "1"},
                                                                               {"responder_at_last", "1"},
                                                                               {"relapse_h", "h"},
                                                                               {"relapse_observed", "1"},
                                                                               {"baseline_madrs", "MADRS points"},
                                                                               {"madrs_end", "MADRS points"}}) {
        names.push_back(n);
        units.push_back(u);
    }
    const double follow_end = course.session_starts_h.back() - course.session_starts_h.front() + o.course.follow_up_h;
    for (double t : o.madrs_times_h) {
        if (t > follow_end)
            throw InputError("madrs_times_h: " + detail::fmt(t) + " h is after the end of the simulation (" +
                             detail::fmt(follow_end) + " h after the first session): lengthen the follow-up");
        names.push_back("madrs_at." + detail::fmt(t));
        units.push_back("MADRS points");
    }
    sink.start(names, units, begin, end);
    const std::size_t n_desc = source.describe_names().size();
    const ClinicalOptions& clin = o.course.clinical;
    std::mutex sink_mutex;
    auto chunk = [&](std::size_t b, std::size_t e) {
        ColumnBlock block;
        block.begin = b;
        block.end = e;
        block.names = &names;
        block.columns.assign(names.size(), std::vector<double>(e - b, kNaN));
        std::vector<double> overrides, desc(n_desc);
        for (std::size_t i = b; i < e; ++i) {
            const std::size_t r = i - b;
            try {
                Subject s = source.subject(i, overrides);
                for (std::size_t p = 0; p < overrides.size(); ++p)
                    if (!std::isnan(overrides[p])) s.parameters[source.layout().names()[p]] = overrides[p];
                const PdParameterSet acute_i = draw_pd_parameters(acute_set, source.spec(), i, 0);
                const PdParameterSet symptom_i = draw_pd_parameters(symptom_set, source.spec(), i, acute_normals);
                const AcuteEffectModel acute = AcuteEffectModel::from_parameters(acute_i);
                const SymptomModel sym = SymptomModel::from_parameters(symptom_i);
                const LinearSystem sys = source.layout().compile(s);
                // One patient's outputs, from either path.
                std::vector<SessionReport> sessions;
                double relapse = kNaN, observed = kNaN, madrs_end = kNaN;
                std::vector<double> madrs_at(o.madrs_times_h.size(), kNaN);
                const double level = sym.baseline * (1.0 - clin.response_fraction);
                auto stop_index = [&](const std::vector<SessionReport>& v) {
                    for (std::size_t k = 0; k < v.size(); ++k)
                        if (v[k].remission) return k;
                    return v.size();
                };
                if (o.metrics_only) {
                    CourseMetrics cm = run_course_metrics(course, acute, sym, o.course, sys, o.madrs_times_h);
                    if (o.stop_at_remission) {
                        const std::size_t k = stop_index(cm.sessions);
                        if (k + 1 < cm.sessions.size())
                            cm = run_course_metrics(first_sessions(course, k + 1), acute, sym, o.course, sys,
                                                    o.madrs_times_h);
                    }
                    sessions = std::move(cm.sessions);
                    if (sessions.back().response) {
                        relapse = cm.relapse_h;
                        observed = cm.relapse_observed ? 1.0 : 0.0;
                    }
                    madrs_end = cm.madrs_end;
                    madrs_at = cm.madrs_at;
                } else {
                    CourseResult res = run_course(course, acute, sym, o.course, s);
                    if (o.stop_at_remission) {
                        const std::size_t k = stop_index(res.sessions);
                        if (k + 1 < res.sessions.size())
                            res = run_course(first_sessions(course, k + 1), acute, sym, o.course, s);
                    }
                    sessions = res.sessions;
                    // Relapse: response at 24 h after the last session given, then the first time the
                    // MADRS rises above the response level; censored at the end of follow-up.
                    const double t_last = res.spec.session_starts_h.back();
                    if (sessions.back().response) {
                        const auto& t = res.symptoms.time;
                        const auto& y = res.symptoms.madrs;
                        observed = 0.0;
                        relapse = t.back() - t_last;
                        for (std::size_t j = 0; j < t.size(); ++j)
                            if (t[j] > t_last + 24.0 && y[j] > level) {
                                // Linear interpolation of the crossing between grid points.
                                const double t0 = t[j - 1], y0 = y[j - 1];
                                const double tc = y[j] == y0 ? t[j] : t0 + (level - y0) * (t[j] - t0) / (y[j] - y0);
                                relapse = tc - t_last;
                                observed = 1.0;
                                break;
                            }
                    }
                    madrs_end = res.symptoms.madrs.back();
                    for (std::size_t j = 0; j < o.madrs_times_h.size(); ++j) {
                        // NaN past a course cut short at remission (its follow-up ends earlier).
                        const double ta = res.spec.session_starts_h.front() + o.madrs_times_h[j];
                        madrs_at[j] = ta <= res.symptoms.time.back()
                                          ? interpolate(res.symptoms.time, res.symptoms.madrs.data(), ta)
                                          : kNaN;
                    }
                }
                const std::size_t given = sessions.size();
                source.describe(s, sys, desc.data());
                std::size_t c = 0;
                block.columns[c++][r] = static_cast<double>(i);
                for (std::size_t k = 0; k < n_desc; ++k) block.columns[c++][r] = desc[k];
                for (const auto& [set, name] : pd_varying)
                    block.columns[c++][r] = (set == &acute_set ? acute_i : symptom_i).value(name);
                block.columns[c++][r] = static_cast<double>(given);
                for (std::size_t k = 0; k < n_sessions; ++k) {
                    if (k < given) {
                        const SessionReport& sr = sessions[k];
                        block.columns[c + 0][r] = sr.madrs_after_24h;
                        block.columns[c + 1][r] = sr.response ? 1.0 : 0.0;
                        block.columns[c + 2][r] = sr.remission ? 1.0 : 0.0;
                        block.columns[c + 3][r] = sr.acute.peak_diss;
                        block.columns[c + 4][r] = sr.acute.peak_sbp;
                        block.columns[c + 5][r] = sr.acute.discharge_h;
                    }
                    c += 6;
                }
                const int k_resp = first_session(sessions, [](const SessionReport& x) { return x.response; });
                const int k_rem = first_session(sessions, [](const SessionReport& x) { return x.remission; });
                block.columns[c++][r] = k_resp >= 0 ? k_resp + 1.0 : kNaN;
                block.columns[c++][r] = k_rem >= 0 ? k_rem + 1.0 : kNaN;
                block.columns[c++][r] = sessions.back().response ? 1.0 : 0.0;
                block.columns[c++][r] = relapse;
                block.columns[c++][r] = observed;
                block.columns[c++][r] = sym.baseline;
                block.columns[c++][r] = madrs_end;
                for (double v : madrs_at) block.columns[c++][r] = v;
            } catch (const InputError& ex) {
                throw InputError("subject " + std::to_string(i) + ": " + ex.what());
            } catch (const SolverError& ex) {
                throw SolverError("subject " + std::to_string(i) + ": " + ex.what());
            }
        }
        deliver(sink, sink_mutex, std::move(block));
    };
    parallel_for(begin, end, o.parallel, chunk);
}

CoursePopulationSummary summarize_course_population(const MemorySink& sink, std::size_t n_sessions) {
    CoursePopulationSummary s;
    s.n = sink.end - sink.begin;
    const auto& given = sink.column("sessions_given");
    const auto& to_resp = sink.column("sessions_to_response");
    const auto& to_rem = sink.column("sessions_to_remission");
    for (std::size_t k = 1; k <= n_sessions; ++k) {
        const auto& resp = sink.column("response." + std::to_string(k));
        const auto& rem = sink.column("remission." + std::to_string(k));
        std::size_t nr = 0, nm = 0, ever = 0;
        for (std::size_t i = 0; i < s.n; ++i) {
            const bool stopped = std::isnan(resp[i]);   // course ended at an earlier remission
            nr += stopped || resp[i] == 1.0;
            nm += stopped || rem[i] == 1.0;
            ever += !std::isnan(to_rem[i]) && to_rem[i] <= static_cast<double>(k);
        }
        s.response.push_back(wilson_interval(nr, s.n));
        s.remission.push_back(wilson_interval(nm, s.n));
        s.ever_remitted.push_back(wilson_interval(ever, s.n));
    }
    auto km_sessions = [&](const std::vector<double>& first) {
        std::vector<double> t(s.n);
        std::vector<bool> ev(s.n);
        for (std::size_t i = 0; i < s.n; ++i) {
            ev[i] = !std::isnan(first[i]);
            t[i] = ev[i] ? first[i] : given[i];
        }
        return kaplan_meier(t, ev);
    };
    s.sessions_to_response = km_sessions(to_resp);
    s.sessions_to_remission = km_sessions(to_rem);
    const auto& resp_last = sink.column("responder_at_last");
    const auto& relapse = sink.column("relapse_h");
    const auto& observed = sink.column("relapse_observed");
    std::vector<double> t;
    std::vector<bool> ev;
    std::size_t responders = 0;
    for (std::size_t i = 0; i < s.n; ++i) {
        if (resp_last[i] != 1.0) continue;
        ++responders;
        t.push_back(relapse[i]);
        ev.push_back(observed[i] == 1.0);
    }
    s.relapse_h = kaplan_meier(t, ev);
    s.responders_at_last = wilson_interval(responders, s.n);
    return s;
}

CourseRateBands course_rate_bands(const CourseSpec& spec, const PdParameterSet& acute, const PdParameterSet& symptoms,
                                  const PopulationSource& source, const CoursePopulationOptions& o) {
    o.validate();
    CourseRateBands b;
    if (o.uncertainty == 0) return b;
    check_uncertainty_table(o, symptoms);
    const std::size_t n_sessions = course_population_sessions(spec, o);
    b.replicates = static_cast<std::size_t>(o.uncertainty);
    for (std::size_t k = 0; k < b.replicates; ++k) {
        MemorySink sink;
        run_course_population(spec, acute, draw_pd_uncertainty(symptoms, source.spec().seed, k), source, 0,
                              source.size(), o, sink);
        const CoursePopulationSummary s = summarize_course_population(sink, n_sessions);
        std::vector<double> resp, rem;
        for (std::size_t j = 0; j < n_sessions; ++j) {
            for (const auto& [what, p] :
                 {std::pair{"response", &s.response[j]}, std::pair{"remission", &s.remission[j]}})
                if (!std::isfinite(p->estimate))
                    throw InputError("uncertainty: replicate " + std::to_string(k) + "'s " + what +
                                     " rate at session " + std::to_string(j + 1) + " is not finite");
            resp.push_back(s.response[j].estimate);
            rem.push_back(s.remission[j].estimate);
        }
        b.response.push_back(std::move(resp));
        b.remission.push_back(std::move(rem));
    }
    auto band = [&](const std::vector<std::vector<double>>& rates, std::vector<double>& lo, std::vector<double>& hi) {
        for (std::size_t j = 0; j < n_sessions; ++j) {
            std::vector<double> v;
            for (const auto& r : rates) v.push_back(r[j]);
            lo.push_back(percentile(v, 2.5));
            hi.push_back(percentile(v, 97.5));
        }
    };
    band(b.response, b.response_plo, b.response_phi);
    band(b.remission, b.remission_plo, b.remission_phi);
    return b;
}

}   // namespace ketasim
