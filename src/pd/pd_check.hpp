#pragma once
// Private to src/pd: number formatting and the "field = value: rule" check of the PD validators.
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

}   // namespace ketasim::detail
