// PLACEHOLDER (being written): parallel sweep.
#include "ketasim/errors.hpp"
#include "ketasim/sweep.hpp"
namespace ketasim {
void SweepOptions::validate() const {}
SweepResult run_sweep(const Model&, const std::vector<SweepPoint>&, const OutputGrid&, const SimOptions&, const SweepOptions&) {
    throw SolverError("run_sweep: not implemented yet");
}
}  // namespace ketasim
