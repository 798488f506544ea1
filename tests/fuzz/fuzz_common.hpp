#pragma once
// Shared by the libFuzzer harnesses (docs/fuzzing.md). The rule they enforce is issue 9's: bad
// input is a clean ketasim::InputError / SolverError / IoError; anything else (a crash, a
// sanitizer report, another exception type, a non-finite or negative output, lost mass) is a
// finding, reported by abort() so libFuzzer saves the input.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <exception>
#include <map>
#include <string>
#include <typeinfo>
#include <vector>

#include "ketasim/errors.hpp"
#include "ketasim/simulate.hpp"

namespace ketasim_fuzz {

// KETASIM_FUZZ_LENIENT=1 turns the value checks (finite, non-negative, mass balance) off, to fuzz
// past a known wrong-number bug while still catching crashes and foreign exceptions.
inline bool lenient() {
    static const bool v = [] {
        const char* e = std::getenv("KETASIM_FUZZ_LENIENT");
        return e && *e && std::string(e) != "0";
    }();
    return v;
}

[[noreturn]] inline void finding(const std::string& what) {
    std::fprintf(stderr, "KETASIM FUZZ FINDING: %s\n", what.c_str());
    std::fflush(stderr);
    std::abort();
}

// Runs f; the library's own exception types are the accepted outcome for bad input.
template <class F>
bool guarded(F&& f) {
    try {
        f();
        return true;
    } catch (const ketasim::InputError&) {
    } catch (const ketasim::SolverError&) {
    } catch (const ketasim::IoError&) {
    } catch (const std::exception& e) {
        finding(std::string("exception of type ") + typeid(e).name() + " escaped the library: " + e.what());
    } catch (...) {
        finding("a non-std exception escaped the library");
    }
    return false;
}

// A roundoff-sized negative value is not a finding: the exact solver's matrix exponential and
// the ODE solver's error control both leave relative errors far below this (rtol 1e-8 default).
// The scale is the total dose for amounts (A_*) and the largest concentration for the others: a
// state that never holds drug may carry 1e-16 rounding noise of either sign.
constexpr double kNegativeRel = 1e-6;
// Sum of all amounts (compartments and sinks) after the last input versus the total dose.
constexpr double kMassRel = 1e-6;

inline std::string num(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.17g", v);
    return b;
}

inline bool is_amount(const std::string& name) { return name.rfind("A_", 0) == 0; }

// `floor` (optional, per output row): an absolute noise level below which a negative value is not
// a finding. The ODE solver controls each state only to about atol (mg, or ng/mL for the effect
// site), so an output reading states through C has a noise floor of about atol x sum_j |C_kj|.
inline void check_trajectory(const ketasim::Trajectory& tr, const char* where, const std::vector<double>& floor = {}) {
    if (lenient()) return;
    for (std::size_t j = 0; j < tr.time.size(); ++j)
        if (!std::isfinite(tr.time[j])) finding(std::string(where) + ": non-finite output time");
    double conc_peak = 0;
    for (Eigen::Index k = 0; k < tr.values.rows(); ++k)
        for (Eigen::Index j = 0; j < tr.values.cols(); ++j) {
            const double v = tr.values(k, j);
            if (!std::isfinite(v))
                finding(std::string(where) + ": output " + tr.names[k] + " is " + num(v) + " at t = " + num(tr.time[j]) +
                        " h (returned without an error)");
            if (!is_amount(tr.names[k])) conc_peak = std::max(conc_peak, std::fabs(v));
        }
    for (Eigen::Index k = 0; k < tr.values.rows(); ++k) {
        const double scale = is_amount(tr.names[k]) ? tr.dose_total_mg : conc_peak;
        for (Eigen::Index j = 0; j < tr.values.cols(); ++j) {
            const double v = tr.values(k, j);
            const double abs_floor = static_cast<std::size_t>(k) < floor.size() ? floor[k] : 0.0;
            if (v < 0 && -v > kNegativeRel * scale + abs_floor)
                finding(std::string(where) + ": output " + tr.names[k] + " = " + num(v) + " < 0 at t = " +
                        num(tr.time[j]) + " h (scale " + num(scale) + ")");
        }
    }
}

// With output_amounts, every state that holds mg (compartments, depots, sinks) at a time after the
// last input has ended must add up to the total dose.
inline void check_mass(const ketasim::Trajectory& tr, double t_all_given, const char* where, double abs_tol = 0.0) {
    if (lenient() || tr.time.empty() || !(tr.time.back() >= t_all_given)) return;
    const Eigen::Index j = static_cast<Eigen::Index>(tr.time.size()) - 1;
    double sum = 0;
    for (Eigen::Index k = 0; k < tr.values.rows(); ++k)
        if (is_amount(tr.names[k])) sum += tr.values(k, j);
    if (!(std::fabs(sum - tr.dose_total_mg) <= kMassRel * tr.dose_total_mg + abs_tol))
        finding(std::string(where) + ": mass balance: amounts sum to " + num(sum) + " mg at t = " + num(tr.time[j]) +
                " h, total dose " + num(tr.dose_total_mg) + " mg");
}

}  // namespace ketasim_fuzz

#include "ketasim/io.hpp"
#include "ketasim/model.hpp"

namespace ketasim_fuzz {

// Latest time at which an input is still arriving: dose end, or a branch's lag plus its own
// zero-order duration.
inline double all_given_time(const ketasim::LinearSystem& sys, const ketasim::Regimen& r) {
    double t = 0;
    for (const auto& e : r.events) {
        double end = e.time + e.duration;
        if (e.compartment.empty())
            for (const auto& rr : sys.routes)
                if (rr.name == e.route)
                    for (const auto& br : rr.branches)
                        end = std::max(end, e.time + br.lag + (br.duration > 0 ? br.duration : e.duration));
        t = std::max(t, end);
    }
    return t;
}

// A library model, loaded once (the source tree's models/, set by tests/fuzz/CMakeLists.txt).
inline const ketasim::Model& library_model(const std::string& name) {
    static std::map<std::string, ketasim::Model> cache;
    auto it = cache.find(name);
    if (it == cache.end())
        it = cache.emplace(name, ketasim::load_library_model(name, KETASIM_FUZZ_MODELS_DIR)).first;
    return it->second;
}

// Simulates and checks one (model, regimen, grid) with the amounts on; clean errors are fine.
inline void simulate_and_check(const ketasim::Model& model, const ketasim::Regimen& regimen,
                               const ketasim::OutputGrid& grid, ketasim::SimOptions opt,
                               const ketasim::Subject& subject, const char* where) {
    opt.output_amounts = true;
    guarded([&] {
        const ketasim::Trajectory tr = ketasim::simulate(model, regimen, grid, opt, subject);
        const ketasim::LinearSystem sys = ketasim::compile(model, subject);
        std::vector<double> floor;
        if (opt.solver == ketasim::SolverKind::ode) {
            // Model outputs first (rows of C), then the amounts (atol each); 10x for accumulation.
            for (Eigen::Index k = 0; k < sys.C.rows(); ++k) floor.push_back(10 * opt.atol * sys.C.row(k).cwiseAbs().sum());
            floor.resize(static_cast<std::size_t>(tr.values.rows()), 10 * opt.atol);
        }
        check_trajectory(tr, where, floor);
        const double mass_floor = opt.solver == ketasim::SolverKind::ode ? 10 * opt.atol * sys.size() : 0.0;
        check_mass(tr, all_given_time(sys, regimen), where, mass_floor);
    });
}

}  // namespace ketasim_fuzz
