// Acute effects: dissociation (sigmoid Emax of Ce), systolic BP rise (sigmoid Emax of plasma
// concentration with an acute-tolerance state), side-effect probabilities per session and course.
// Structure and calibration: docs/calibration.md, section 1.
#include <algorithm>
#include <cmath>

#include "ketasim/errors.hpp"
#include "ketasim/pd.hpp"
#include "pd/pd_check.hpp"

namespace ketasim {

namespace {
using detail::pd_num;
using detail::pd_require;

// Value of a parameter, checked against a rule; the message names file:line and key.
double checked(const PdParameterSet& p, const std::string& name, bool (*ok)(double), const std::string& rule) {
    const double v = p.value(name);
    if (!ok(v)) throw InputError(p.where(name) + ".value = " + pd_num(v) + ": " + rule);
    return v;
}

bool positive(double v) { return v > 0; }
bool non_negative(double v) { return v >= 0; }
bool unit_interval(double v) { return v > 0 && v <= 1; }

}   // namespace

double sigmoid_emax(double c, double emax, double ec50, double hill) {
    if (!(c > 0)) return 0.0;
    // c^h / (ec50^h + c^h) written as 1 / (1 + (ec50/c)^h): no overflow for large c or h.
    return emax / (1.0 + std::pow(ec50 / c, hill));
}

void AcuteEffectModel::validate() const {
    pd_require(std::isfinite(diss_emax) && diss_emax >= 0, "diss_emax", diss_emax, "must be finite and >= 0");
    pd_require(std::isfinite(diss_ec50) && diss_ec50 > 0, "diss_ec50", diss_ec50, "must be finite and > 0");
    pd_require(std::isfinite(diss_hill) && diss_hill > 0, "diss_hill", diss_hill, "must be finite and > 0");
    pd_require(std::isfinite(sbp_emax) && sbp_emax >= 0, "sbp_emax", sbp_emax, "must be finite and >= 0");
    pd_require(std::isfinite(sbp_ec50) && sbp_ec50 > 0, "sbp_ec50", sbp_ec50, "must be finite and > 0");
    pd_require(std::isfinite(sbp_hill) && sbp_hill > 0, "sbp_hill", sbp_hill, "must be finite and > 0");
    pd_require(std::isfinite(sbp_k_tol) && sbp_k_tol >= 0, "sbp_k_tol", sbp_k_tol, "must be finite and >= 0 (1/h)");
    for (const auto& [name, v] : {std::pair<const char*, double>{"nausea_c50", nausea_c50},
                                  {"dizziness_c50", dizziness_c50},
                                  {"drowsiness_c50", drowsiness_c50},
                                  {"dissociation_report_c50", dissociation_report_c50},
                                  {"se_slope", se_slope}})
        pd_require(std::isfinite(v) && v > 0, name, v, "must be finite and > 0");
    pd_require(diss_tolerance_per_session > 0 && diss_tolerance_per_session <= 1, "diss_tolerance_per_session",
               diss_tolerance_per_session, "must be in (0, 1] (1 = no tolerance)");
    pd_require(diss_discharge_threshold > 0, "diss_discharge_threshold", diss_discharge_threshold, "must be > 0");
    pd_require(sbp_discharge_threshold > 0, "sbp_discharge_threshold", sbp_discharge_threshold, "must be > 0");
}

AcuteEffectModel AcuteEffectModel::from_parameters(const PdParameterSet& file) {
    // The parameters this model reads and the unit each is read in (converted to canonical).
    static const std::vector<PdParameterSpec> kSpec = {
        {"diss_emax", PdUnit::percent_effect},
        {"diss_ec50", PdUnit::concentration},
        {"diss_hill", PdUnit::fraction},
        {"sbp_emax", PdUnit::mmhg},
        {"sbp_ec50", PdUnit::concentration},
        {"sbp_hill", PdUnit::fraction},
        {"diss_tolerance_per_session", PdUnit::fraction},
        {"diss_discharge_threshold", PdUnit::percent_effect},
        {"sbp_discharge_threshold", PdUnit::mmhg},
        {"sbp_k_tol", PdUnit::rate},
        {"se_slope", PdUnit::fraction},
        {"nausea_c50", PdUnit::concentration},
        {"dizziness_c50", PdUnit::concentration},
        {"drowsiness_c50", PdUnit::concentration},
        {"dissociation_report_c50", PdUnit::concentration},
    };
    if (!file.structure.empty())
        throw InputError(file.source_path + ":" + std::to_string(file.structure_line) + ": structure = '" +
                         file.structure +
                         "': the acute-effect model has one structure; `structure` belongs to "
                         "symptom-model files");
    const PdParameterSet p = conform_pd_parameters(file, kSpec);
    AcuteEffectModel m;
    m.diss_emax = checked(p, "diss_emax", non_negative, "must be >= 0");
    m.diss_ec50 = checked(p, "diss_ec50", positive, "must be > 0");
    m.diss_hill = checked(p, "diss_hill", positive, "must be > 0");
    m.sbp_emax = checked(p, "sbp_emax", non_negative, "must be >= 0");
    m.sbp_ec50 = checked(p, "sbp_ec50", positive, "must be > 0");
    m.sbp_hill = checked(p, "sbp_hill", positive, "must be > 0");
    m.sbp_k_tol = checked(p, "sbp_k_tol", non_negative, "must be >= 0 (1/h)");
    m.diss_tolerance_per_session = checked(p, "diss_tolerance_per_session", unit_interval, "must be in (0, 1]");
    m.diss_discharge_threshold = checked(p, "diss_discharge_threshold", positive, "must be > 0");
    m.sbp_discharge_threshold = checked(p, "sbp_discharge_threshold", positive, "must be > 0");
    m.nausea_c50 = checked(p, "nausea_c50", positive, "must be > 0");
    m.dizziness_c50 = checked(p, "dizziness_c50", positive, "must be > 0");
    m.drowsiness_c50 = checked(p, "drowsiness_c50", positive, "must be > 0");
    m.dissociation_report_c50 = checked(p, "dissociation_report_c50", positive, "must be > 0");
    m.se_slope = checked(p, "se_slope", positive, "must be > 0");
    return m;
}

SideEffectRisk side_effect_risk(const AcuteEffectModel& m, double peak_ce) {
    // sigmoid_emax with Emax 1 is the logistic in ln(peak Ce): p = 1 / (1 + (c50 / c)^slope).
    SideEffectRisk r;
    r.nausea = sigmoid_emax(peak_ce, 1.0, m.nausea_c50, m.se_slope);
    r.dizziness = sigmoid_emax(peak_ce, 1.0, m.dizziness_c50, m.se_slope);
    r.drowsiness = sigmoid_emax(peak_ce, 1.0, m.drowsiness_c50, m.se_slope);
    r.dissociation = sigmoid_emax(peak_ce, 1.0, m.dissociation_report_c50, m.se_slope);
    return r;
}

SideEffectRisk course_incidence(const std::vector<SideEffectRisk>& per_session) {
    // Product of the "no event" probabilities, accumulated as sums of log1p(-p) so that many small
    // probabilities lose no precision.
    double ln[4] = {0, 0, 0, 0};
    for (const auto& p : per_session) {
        const double v[4] = {p.nausea, p.dizziness, p.drowsiness, p.dissociation};
        for (int k = 0; k < 4; ++k) {
            if (!(v[k] >= 0 && v[k] <= 1))
                throw InputError("course_incidence: probability " + pd_num(v[k]) + " outside [0, 1]");
            ln[k] += std::log1p(-v[k]);
        }
    }
    SideEffectRisk r;
    r.nausea = -std::expm1(ln[0]);
    r.dizziness = -std::expm1(ln[1]);
    r.drowsiness = -std::expm1(ln[2]);
    r.dissociation = -std::expm1(ln[3]);
    return r;
}

AcuteCurves acute_effects(const Trajectory& tr, const AcuteEffectModel& m, const std::vector<double>& starts,
                          double ce_scale, const std::string& ce_name, const std::string& driver_name) {
    m.validate();
    pd_require(ce_scale > 0 && std::isfinite(ce_scale), "ce_scale", ce_scale, "must be finite and > 0");
    const auto ce = tr[ce_name];
    const auto cp = tr[driver_name];
    std::vector<double> s = starts;
    std::sort(s.begin(), s.end());
    const std::size_t n = tr.time.size();
    AcuteCurves a;
    a.time = tr.time;
    a.dissociation.resize(n);
    a.sbp_rise.resize(n);
    a.sbp_tolerance.resize(n);
    double x = 0.0, s_prev = 0.0;   // tolerance state and S(Cp) at the previous grid point
    for (std::size_t i = 0; i < n; ++i) {
        const auto ii = static_cast<Eigen::Index>(i);
        const double c = ce_scale * ce[ii];
        // Sessions started strictly before the current one: the current one counts from its start.
        const auto started = std::upper_bound(s.begin(), s.end(), tr.time[i] + 1e-12) - s.begin();
        const double prior = std::max<long>(0, static_cast<long>(started) - 1);
        const double emax = m.diss_emax * std::pow(m.diss_tolerance_per_session, prior);
        a.dissociation[i] = sigmoid_emax(c, emax, m.diss_ec50, m.diss_hill);
        const double sp = sigmoid_emax(ce_scale * cp[ii], 1.0, m.sbp_ec50, m.sbp_hill);
        if (i > 0) {
            x = detail::sbp_tolerance_step(m.sbp_k_tol, tr.time[i] - tr.time[i - 1], x, s_prev, sp);
        }
        s_prev = sp;
        a.sbp_tolerance[i] = x;
        a.sbp_rise[i] = m.sbp_emax * sp * (1.0 - x);
        if (!std::isfinite(a.dissociation[i]) || !std::isfinite(a.sbp_rise[i]))
            throw SolverError("acute_effects: non-finite effect at t = " + pd_num(tr.time[i]) + " h");
    }
    return a;
}

std::vector<SessionAcute> session_acute_metrics(const Trajectory& tr, const AcuteCurves& a, const AcuteEffectModel& m,
                                                const std::vector<double>& starts_in, double ce_scale,
                                                const std::string& ce_name) {
    std::vector<double> starts = starts_in;
    std::sort(starts.begin(), starts.end());
    const auto ce = tr[ce_name];
    const std::size_t n = tr.time.size();
    std::vector<SessionAcute> out;
    for (std::size_t k = 0; k < starts.size(); ++k) {
        SessionAcute s;
        s.start_h = starts[k];
        const double end = k + 1 < starts.size() ? starts[k + 1] : tr.time.back() + 1.0;
        std::size_t i0 = static_cast<std::size_t>(std::lower_bound(tr.time.begin(), tr.time.end(), s.start_h - 1e-12) -
                                                  tr.time.begin());
        std::size_t i1 = i0;
        while (i1 < n && tr.time[i1] < end - 1e-12) ++i1;   // window [i0, i1)
        std::size_t last_above_idx = i0;
        bool any_above = false;
        for (std::size_t i = i0; i < i1; ++i) {
            const double c = ce_scale * ce[static_cast<Eigen::Index>(i)];
            const double t = tr.time[i] - s.start_h;
            if (c > s.peak_ce) {
                s.peak_ce = c;
                s.t_peak_ce_h = t;
            }
            if (a.dissociation[i] > s.peak_diss) {
                s.peak_diss = a.dissociation[i];
                s.t_peak_diss_h = t;
            }
            if (a.sbp_rise[i] > s.peak_sbp) {
                s.peak_sbp = a.sbp_rise[i];
                s.t_peak_sbp_h = t;
            }
            const bool above =
                a.dissociation[i] >= m.diss_discharge_threshold || a.sbp_rise[i] >= m.sbp_discharge_threshold;
            if (above) {
                any_above = true;
                last_above_idx = i;
            }
        }
        if (i0 < i1) {
            if (!any_above)
                s.discharge_h = 0.0;
            else if (last_above_idx + 1 < i1)
                s.discharge_h = tr.time[last_above_idx + 1] - s.start_h;
        }
        s.side_effects = side_effect_risk(m, s.peak_ce);
        out.push_back(s);
    }
    return out;
}

}   // namespace ketasim
