#pragma once
// Private: the exact solver's choice of propagation, for tests that compare both on one system.
#include <vector>

#include "inputs.hpp"

namespace ketasim::detail {

// `automatic` (what simulate_exact(sys, in, times, opt) does) carries the state in the
// eigenbasis when it is well conditioned (cond(V) < 1e4) and uses the Pade exponential of the
// augmented matrix otherwise (near-equal rate constants such as ka ~ k, complex spectra).
// `spectral` forces the eigenbasis at any finite condition number (SolverError when no computed
// basis passes the residual check A V = V L); `pade` forces the Pade exponential.
enum class ExactPath { automatic, spectral, pade };

Trajectory simulate_exact(const LinearSystem& sys, const InputSchedule& in, const std::vector<double>& times,
                          const SimOptions& opt, ExactPath path);

}   // namespace ketasim::detail
