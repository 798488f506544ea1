// PLACEHOLDER (being written): NONMEM-style event table reader.
#include "ketasim/errors.hpp"
#include "ketasim/io.hpp"
namespace ketasim {
EventTable load_event_table(const std::string& p, const Model*, long) { throw InputError(p + ": event tables not implemented yet"); }
}  // namespace ketasim
