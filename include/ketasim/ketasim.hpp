#pragma once
// Umbrella header: the whole public API.
#include "ketasim/errors.hpp"
#include "ketasim/io.hpp"
#include "ketasim/metrics.hpp"
#include "ketasim/model.hpp"
#include "ketasim/pd.hpp"
#include "ketasim/population.hpp"
#include "ketasim/regimen.hpp"
#include "ketasim/run.hpp"
#include "ketasim/simulate.hpp"
#include "ketasim/sweep.hpp"
#include "ketasim/units.hpp"
