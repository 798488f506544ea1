#pragma once
// Private: the population sections of model and PD files ([covariates], [[covariate_effects]],
// [[variability]], [[residual_error]]); see docs/populations.md for the format.
#include <functional>
#include <string>
#include <vector>

#include "io/toml_util.hpp"
#include "ketasim/model.hpp"

namespace ketasim::detail {

// [[variability]] blocks. `unit_of(name)` returns the file unit of a parameter or throws for an
// unknown one (the message names the file and line).
std::vector<VariabilityBlock> parse_variability(const toml::table& root, const std::string& file);
std::vector<CovariateSpec> parse_covariates(const toml::table& root, const std::string& file);
std::vector<CovariateEffect> parse_covariate_effects(const toml::table& root, const std::string& file);
std::vector<ResidualError> parse_residual_error(const toml::table& root, const std::string& file);

// Checks a variability block set against a parameter lookup: names known and not repeated at the
// same level, omega symmetric positive definite, CV in (0, 1000) %, logit only on values in
// (0, 1), lognormal only on positive values. `value_of(name, where)` returns the parameter's file
// value or throws InputError naming `where` and the unknown name.
void check_variability(const std::vector<VariabilityBlock>& blocks, const std::string& file,
                       const std::function<double(const std::string&, const std::string&)>& value_of);

// Infers the built-in covariates (weight from per-kg/allometric parameters, age from age slopes),
// checks declared covariates are used, covariate effects, variability blocks and residual outputs.
void complete_population_layer(Model& model, const std::string& file);

}   // namespace ketasim::detail
