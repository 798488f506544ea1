// PLACEHOLDER (being written): regimen TOML reader.
#include "ketasim/errors.hpp"
#include "ketasim/io.hpp"
namespace ketasim {
Regimen parse_regimen(const std::string&, const std::string& f) { throw InputError(f + ": regimen TOML not implemented yet"); }
Regimen load_regimen(const std::string& p) { return parse_regimen("", p); }
}  // namespace ketasim
