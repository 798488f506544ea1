#pragma once
// Private to src/pd: number formatting and the "field = value: rule" check of the PD validators.
#include <cmath>
#include <sstream>
#include <string>

#include "ketasim/errors.hpp"

namespace ketasim::detail {

// Shortest natural form (ostream default, 6 significant digits): "75", "-1", "0.5".
inline std::string pd_num(double v) {
    std::ostringstream os;
    os << v;
    return os.str();
}

// Throws InputError("<field> = <value>: <rule>") unless ok.
inline void pd_require(bool ok, const std::string& field, double v, const std::string& rule) {
    if (!ok) throw InputError(field + " = " + pd_num(v) + ": " + rule);
}

// One step of the BP acute-tolerance state dX/dt = k (S - X) over h with S linear from s0 to s1:
// exact for that S (acute_effects and the metrics-only course share it, so both give the same X).
inline double sbp_tolerance_step(double k, double h, double x, double s0, double s1) {
    const double kh = k * h;
    if (kh > 1e-8) {
        // X1 = X0 e + S0 (1 - e) + (S1 - S0) (1 - (1 - e) / (k h)),  e = exp(-k h).
        const double one_minus_e = -std::expm1(-kh);
        return x * (1.0 - one_minus_e) + s0 * one_minus_e + (s1 - s0) * (1.0 - one_minus_e / kh);
    }
    return x + kh * (0.5 * (s0 + s1) - x);   // first order in kh (kh = 0: no tolerance)
}

}   // namespace ketasim::detail
